#include "io/experiment_config.hpp"

#include <algorithm>
#include <boost/program_options.hpp>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include "io/chip_config.hpp"
#include "util/error.hpp"

namespace aimc::io {

namespace po = boost::program_options;

namespace {

using Entry = IniEntry;

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// read_chip_config names overrides "--set"; in an experiment they may come from the file.
std::string without_set_prefix(const std::string& message) {
  const std::string prefix = "--set: ";
  return message.rfind(prefix, 0) == 0 ? message.substr(prefix.size()) : message;
}

[[noreturn]] void bad(const Entry& e, const std::string& expected) {
  throw Error(e.origin + ": " + e.key + " = '" + e.value + "', expected " + expected);
}

std::int64_t to_int(const Entry& e, std::int64_t lo, std::int64_t hi) {
  errno = 0;
  char* end = nullptr;
  const long long v = std::strtoll(e.value.c_str(), &end, 10);
  if (e.value.empty() || *end != '\0' || errno != 0 || v < lo || v > hi)
    bad(e, "an integer from " + std::to_string(lo) + " to " + std::to_string(hi));
  return v;
}

double to_seconds(const Entry& e, const std::string& text) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(v) || v < 0)
    bad(e, "seconds >= 0 (a finite number)");
  return v;
}

std::vector<std::string> split_list(const Entry& e) {
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

// A linked axis, "chip.a.x+chip.a.y", sets several keys to the same value at each point (e.g. the
// mean and the spread of the drift exponent together). A plain axis is a list of one.
std::vector<std::string> linked_keys(const std::string& axis) {
  std::vector<std::string> out;
  std::stringstream ss(axis);
  std::string part;
  while (std::getline(ss, part, '+'))
    out.push_back(trim(part));
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
  std::vector<Entry> entries = parse_overrides(overrides);
  std::map<std::string, const Entry*> from_cli;
  for (const Entry& e : entries)
    from_cli[e.key] = &e;
  const std::vector<Entry> file_entries = parse_ini(read_text_file(path, "experiment file"), path);
  // Sweep axes keep the file's order (the first varies slowest), values from --set where given;
  // axes only given with --set come last.
  std::vector<Entry> sweep_entries;
  for (const Entry& e : file_entries)
    if (e.key.rfind("sweep.", 0) == 0) {
      const auto cli = from_cli.find(e.key);
      sweep_entries.push_back(cli != from_cli.end() ? *cli->second : e);
    }
  for (const Entry& e : entries)
    if (e.key.rfind("sweep.", 0) == 0 &&
        std::none_of(file_entries.begin(), file_entries.end(),
                     [&e](const Entry& f) { return f.key == e.key; }))
      sweep_entries.push_back(e);
  for (const Entry& e : file_entries)
    if (from_cli.count(e.key) == 0U) entries.push_back(e);

  experiment::Plan plan;
  experiment::ExperimentParams& x = plan.params;
  x.source = path;
  std::vector<std::string> chip_cli;
  std::vector<std::string> chip_file;
  std::map<std::string, std::string> chip_set_origin;
  for (const Entry& e : entries) {
    const std::string& k = e.key;
    if (k == "model") {
      x.model_path = e.value;
    } else if (k == "chip") {
      x.chip_path = e.value;
    } else if (k == "n_chips") {
      x.n_chips = to_int(e, 1, 1'000'000);
    } else if (k == "seed") {
      x.seed = static_cast<std::uint64_t>(to_int(e, 0, INT64_MAX));
    } else if (k == "output") {
      x.output_path = e.value;
    } else if (k == "t_inference") {
      x.t_inference_s = to_seconds(e, e.value);
    } else if (k == "data.dir") {
      x.data.dir = e.value;
    } else if (k == "data.split") {
      if (e.value != "test" && e.value != "train") bad(e, "test or train");
      x.data.split = e.value;
    } else if (k == "data.images") {
      x.data.images = static_cast<int>(to_int(e, -1, 50'000));
      if (x.data.images == 0) bad(e, "a positive count, or -1 for the whole split");
    } else if (k == "data.subset") {
      if (e.value != "first" && e.value != "random") bad(e, "first or random");
      x.data.subset = e.value;
    } else if (k.rfind("chip.", 0) == 0) {
      const std::string ck = k.substr(5);
      if (!is_chip_key(ck))
        throw Error(e.origin + ": unknown chip key '" + ck + "' in " + k +
                    ", expected one of the keys in docs/chip.md");
      // Each value on its own first, against the defaults, so that a bad one is reported at
      // its own line (the file's [chip] section or --set), not as part of the combined list.
      try {
        read_chip_config("", {ck + "=" + e.value});
      } catch (const Error& err) {
        throw Error(e.origin + ": " + k + ": " + without_set_prefix(err.what()));
      }
      (e.origin == "--set" ? chip_cli : chip_file).push_back(ck + "=" + e.value);
      chip_set_origin[ck] = e.origin;
    } else if (k.rfind("sweep.", 0) == 0) {
      for (const std::string& axis : linked_keys(k.substr(6)))
        if (axis != "t_inference" && !(axis.rfind("chip.", 0) == 0 && is_chip_key(axis.substr(5))))
          throw Error(e.origin + ": unknown sweep axis '" + axis +
                      "', expected t_inference or chip.<section>.<key> (docs/experiments.md)");
    } else {
      throw Error(e.origin + ": unknown key '" + k +
                  "', expected one of: model, chip, n_chips, seed, output, t_inference, "
                  "data.{dir,split,images,subset}, chip.<section>.<key>, sweep.<axis> "
                  "(docs/experiments.md)");
    }
  }
  std::int64_t n_points = 1;
  std::vector<const Entry*> axis_entries;
  for (const Entry& e : sweep_entries) {
    experiment::SweepAxis a{e.key.substr(6), split_list(e)};
    for (const std::string& part : linked_keys(a.key)) {
      if (part.rfind("chip.", 0) == 0 && chip_set_origin.count(part.substr(5)) != 0U)
        throw Error(chip_set_origin[part.substr(5)] + ": " + part +
                    " is also a sweep axis; set sweep." + a.key + " instead");
      if (part == "t_inference")
        for (const std::string& v : a.values)
          to_seconds(e, v);
    }
    n_points *= static_cast<std::int64_t>(a.values.size());
    if (n_points > 10'000'000)
      throw Error(e.origin + ": the sweep has more than 10,000,000 points at " + e.key +
                  ", expected a smaller sweep");
    x.sweep.push_back(std::move(a));
    axis_entries.push_back(&e);
  }
  if (n_points * x.n_chips > 1'000'000'000)
    throw Error(path + ": " + std::to_string(n_points) + " points x " + std::to_string(x.n_chips) +
                " chips is more than 10^9 samples, expected fewer");
  try {
    x.validate();
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }

  std::vector<std::string> base_overrides = chip_cli;
  base_overrides.insert(base_overrides.end(), chip_file.begin(), chip_file.end());
  hardware::ChipParams base;
  try {
    base = read_chip_config(x.chip_path, base_overrides);
  } catch (const Error& e) {
    throw Error(path + ": chip: " + e.what());
  }

  std::map<std::string, int> groups;
  for (std::int64_t p = 0; p < n_points; ++p) {
    experiment::SweepPoint sp;
    sp.t_inference_s = x.t_inference_s;
    std::vector<std::string> point_overrides = chip_cli;
    std::string label;
    std::int64_t rest = p;
    std::int64_t stride = n_points;
    for (std::size_t a = 0; a < x.sweep.size(); ++a) {
      const experiment::SweepAxis& axis = x.sweep[a];
      stride /= static_cast<std::int64_t>(axis.values.size());
      const std::string& v = axis.values[static_cast<std::size_t>(rest / stride)];
      rest %= stride;
      sp.values.push_back(v);
      label += (label.empty() ? "" : ", ") + axis.key + " = " + v;
      for (const std::string& part : linked_keys(axis.key)) {
        if (part == "t_inference")
          sp.t_inference_s = to_seconds(*axis_entries[a], v);
        else
          point_overrides.push_back(part.substr(5) + "=" + v);
      }
    }
    point_overrides.insert(point_overrides.end(), chip_file.begin(), chip_file.end());
    try {
      sp.chip = read_chip_config(x.chip_path, point_overrides);
    } catch (const Error& e) {
      throw Error(path + ": sweep point " + std::to_string(p) + " (" + label +
                  "): " + without_set_prefix(e.what()));
    }
    sp.chip_text = hardware::chip_text(sp.chip);
    // Points whose programming keys (the schema's phase_program) are equal share a chip.
    const auto it = groups
                        .emplace(hardware::chip_text(sp.chip, phase_program),
                                 static_cast<int>(groups.size()))
                        .first;
    sp.program_group = it->second;
    plan.points.push_back(std::move(sp));
  }
  plan.n_groups = static_cast<int>(groups.size());

  // The resolved experiment: everything the results depend on, nothing they do not (the output
  // path, the data directory, threads and ranks), so a moved or resumed run keeps its hash.
  std::ostringstream t;
  t << "[experiment]\nmodel_fnv1a = " << file_hash(x.model_path, path)
    << "\nn_chips = " << x.n_chips << "\nseed = " << x.seed << "\nt_inference = " << x.t_inference_s
    << "\n[data]\nsplit = " << x.data.split << "\nimages = " << x.data.images
    << "\nsubset = " << x.data.subset << "\n[sweep]\n";
  for (const experiment::SweepAxis& a : x.sweep) {
    t << a.key << " =";
    for (std::size_t i = 0; i < a.values.size(); ++i)
      t << (i == 0 ? " " : ", ") << a.values[i];
    t << "\n";
  }
  t << "# resolved chip configuration, before sweep values\n" << hardware::chip_text(base);
  plan.config_text = t.str();
  plan.config_hash = experiment::fnv1a_hex(plan.config_text);
  return plan;
}

}  // namespace aimc::io
