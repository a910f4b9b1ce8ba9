#include "io/experiment_config.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

#include "io/chip_config.hpp"
#include "util/error.hpp"

namespace aimc::io {

namespace {

[[noreturn]] void bad(const Setting& e, const std::string& expected) {
  throw Error(e.origin + ": " + e.key + " = '" + e.value + "', expected " + expected);
}

std::vector<std::string> split_list(const Setting& e) {
  std::vector<std::string> out;
  std::stringstream ss(e.value);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item = trim(item);
    if (item.empty()) bad(e, "a comma-separated list of values, none empty");
    out.push_back(item);
  }
  if (out.empty()) bad(e, "a comma-separated list of at least one value");
  return out;
}

// FNV-1a of a file's bytes: ties results to the exact model they were computed with.
std::string file_hash(const std::string& path, const std::string& origin) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(origin + ": model = '" + path + "': cannot open the model file");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return experiment::fnv1a_hex(bytes.str());
}

}  // namespace

experiment::Plan read_experiment(const std::string& path,
                                 const std::vector<std::string>& overrides) {
  for (const std::string& o : overrides)
    if (o.find('=') == std::string::npos) throw Error("--set '" + o + "': expected key=value");
  std::vector<Setting> entries = parse_overrides(overrides);
  std::map<std::string, const Setting*> from_cli;
  for (const Setting& e : entries)
    from_cli[e.key] = &e;
  const std::vector<Setting> file_entries =
      parse_ini(read_text_file(path, "experiment file"), path);
  // Sweep axes keep the file's order (the first varies slowest), values from --set where given;
  // axes only given with --set come last.
  std::vector<Setting> sweep_entries;
  for (const Setting& e : file_entries)
    if (e.key.rfind("sweep.", 0) == 0) {
      const auto cli = from_cli.find(e.key);
      sweep_entries.push_back(cli != from_cli.end() ? *cli->second : e);
    }
  for (const Setting& e : entries)
    if (e.key.rfind("sweep.", 0) == 0 &&
        std::none_of(file_entries.begin(), file_entries.end(),
                     [&e](const Setting& f) { return f.key == e.key; }))
      sweep_entries.push_back(e);
  for (const Setting& e : file_entries)
    if (from_cli.count(e.key) == 0U) entries.push_back(e);

  experiment::ExperimentParams x;
  x.source = path;
  const auto& keys = experiment::experiment_keys();
  std::string key_names;
  for (const auto& k : keys)
    key_names += k.name + ", ";
  for (const Setting& e : entries) {
    const std::string& k = e.key;
    if (const auto* spec = find_key(keys, k)) {
      if (!spec->set(x, e.value) || !spec->in_range(x)) bad(e, spec->expected);
    } else if (k.rfind("chip.", 0) == 0) {
      const std::string ck = k.substr(5);
      if (!is_chip_key(ck))
        throw Error(e.origin + ": unknown chip key '" + ck + "' in " + k +
                    ", expected one of the keys that 'aimc keys' lists (docs/chip.md)");
      // Each value on its own first (its type and range), so that a bad one is reported at its
      // own line (the file's [chip] section or --set), not as part of the combined list. The
      // constraints between keys are checked on the combined configuration (make_plan), where
      // the chip file's other keys are known.
      const auto& chip_spec = *find_key(hardware::chip_keys(), ck);
      hardware::ChipParams probe;
      if (!chip_spec.set(probe, e.value))
        throw Error(e.origin + ": " + k + ": " + ck + " = '" + e.value + "', expected " +
                    chip_spec.expected);
      if (!chip_spec.in_range(probe))
        throw Error(e.origin + ": " + k + ": " + ck + " = " + chip_spec.get(probe) + ", expected " +
                    chip_spec.expected);
      (e.origin == "--set" ? x.chip_cli : x.chip_study).push_back({ck, e.value, e.origin});
    } else if (k.rfind("sweep.", 0) != 0) {  // sweep axes: collected below, checked by make_plan
      throw Error(e.origin + ": unknown key '" + k + "', expected one of: " + key_names +
                  "chip.<section>.<key>, sweep.<axis> (docs/experiments.md)");
    }
  }
  for (const Setting& e : sweep_entries)
    x.sweep.push_back({e.key.substr(6), split_list(e), e.origin});
  try {
    x.validate();
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
  if (!x.chip_path.empty()) {
    try {
      x.chip_file = parse_ini(read_text_file(x.chip_path, "chip configuration"), x.chip_path);
    } catch (const Error& e) {
      throw Error(path + ": chip: " + e.what());
    }
  }
  x.model_fnv1a = file_hash(x.model_path, path);
  return experiment::make_plan(x);
}

}  // namespace aimc::io
