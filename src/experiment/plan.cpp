#include <cmath>
#include <map>
#include <sstream>

#include "experiment/experiment.hpp"
#include "util/error.hpp"

// Sweep expansion: from the experiment as read (io::read_experiment parses it) to its points.
namespace aimc::experiment {

namespace {

// A linked axis, "chip.a.x+chip.a.y", sets several keys to the same value at each point (e.g. the
// mean and the spread of the drift exponent together). A plain axis is a list of one.
std::vector<std::string> linked_keys(const std::string& axis) {
  std::vector<std::string> out;
  std::stringstream ss(axis);
  std::string part;
  while (std::getline(ss, part, '+')) {
    const auto b = part.find_first_not_of(" \t");
    const auto e = part.find_last_not_of(" \t");
    out.push_back(b == std::string::npos ? std::string() : part.substr(b, e - b + 1));
  }
  return out;
}

// t_inference as the schema reads it, for a sweep value.
double seconds(const SweepAxis& axis, const std::string& value) {
  ExperimentParams probe;
  const KeySpec<ExperimentParams>& key = *find_key(experiment_keys(), "t_inference");
  if (!key.set(probe, value) || !key.in_range(probe))
    throw Error(axis.origin + ": sweep." + axis.key + " = '" + value + "', expected " +
                key.expected);
  return probe.t_inference_s;
}

}  // namespace

Plan make_plan(const ExperimentParams& x) {
  std::map<std::string, std::string> chip_set_at;  // chip key -> origin of its setting
  for (const auto* list : {&x.chip_cli, &x.chip_study})
    for (const Setting& s : *list)
      chip_set_at.emplace(s.key, s.origin);
  std::int64_t n_points = 1;
  for (const SweepAxis& a : x.sweep) {
    for (const std::string& part : linked_keys(a.key)) {
      const bool chip_axis =
          part.rfind("chip.", 0) == 0 && find_key(hardware::chip_keys(), part.substr(5)) != nullptr;
      if (part != "t_inference" && !chip_axis)
        throw Error(a.origin + ": unknown sweep axis '" + part +
                    "', expected t_inference or chip.<section>.<key> (docs/experiments.md)");
      if (chip_axis && chip_set_at.count(part.substr(5)) != 0U)
        throw Error(chip_set_at[part.substr(5)] + ": " + part +
                    " is also a sweep axis; set sweep." + a.key + " instead");
      if (part == "t_inference")
        for (const std::string& v : a.values)
          seconds(a, v);
    }
    n_points *= static_cast<std::int64_t>(a.values.size());
    if (n_points > 10'000'000)
      throw Error(a.origin + ": the sweep has more than 10,000,000 points at sweep." + a.key +
                  ", expected a smaller sweep");
  }
  if (n_points * x.n_chips > 1'000'000'000)
    throw Error(x.source + ": " + std::to_string(n_points) + " points x " +
                std::to_string(x.n_chips) + " chips is more than 10^9 samples, expected fewer");

  const std::string chip_where = x.chip_path.empty() ? x.source : x.chip_path;
  auto settings_with = [&x](const std::vector<Setting>& point) {
    std::vector<Setting> all = x.chip_cli;
    all.insert(all.end(), point.begin(), point.end());
    all.insert(all.end(), x.chip_study.begin(), x.chip_study.end());
    all.insert(all.end(), x.chip_file.begin(), x.chip_file.end());
    return all;
  };
  hardware::ChipParams base;
  try {
    base = hardware::chip_from_settings(settings_with({}), chip_where);
  } catch (const Error& e) {
    throw Error(x.source + ": chip: " + e.what());
  }

  Plan plan;
  plan.params = x;
  const std::string point_origin = "sweep point";
  std::map<std::string, int> groups;
  for (std::int64_t p = 0; p < n_points; ++p) {
    SweepPoint sp;
    sp.t_inference_s = x.t_inference_s;
    std::vector<Setting> point;
    std::string label;
    std::int64_t rest = p;
    std::int64_t stride = n_points;
    for (const SweepAxis& axis : x.sweep) {
      stride /= static_cast<std::int64_t>(axis.values.size());
      const std::string& v = axis.values[static_cast<std::size_t>(rest / stride)];
      rest %= stride;
      sp.values.push_back(v);
      label += (label.empty() ? "" : ", ") + axis.key + " = " + v;
      for (const std::string& part : linked_keys(axis.key)) {
        if (part == "t_inference")
          sp.t_inference_s = seconds(axis, v);
        else
          point.push_back({part.substr(5), v, point_origin});
      }
    }
    try {
      sp.chip = hardware::chip_from_settings(settings_with(point), chip_where);
    } catch (const Error& e) {
      throw Error(x.source + ": sweep point " + std::to_string(p) + " (" + label +
                  "): " + without_origin(e.what(), point_origin));
    }
    sp.chip_text = hardware::chip_text(sp.chip);
    // Points whose programming keys (the schema's phase_program) are equal share a chip.
    const auto it =
        groups.emplace(hardware::chip_text(sp.chip, phase_program), static_cast<int>(groups.size()))
            .first;
    sp.program_group = it->second;
    plan.points.push_back(std::move(sp));
  }
  plan.n_groups = static_cast<int>(groups.size());

  // The resolved experiment: everything the results depend on, nothing they do not (the output
  // path, the data directory, threads and ranks), so a moved or resumed run keeps its hash.
  std::ostringstream t;
  t << "model_fnv1a = " << x.model_fnv1a << "\n"
    << canonical_text(experiment_keys(), x) << "[sweep]\n";
  for (const SweepAxis& a : x.sweep) {
    t << a.key << " =";
    for (std::size_t i = 0; i < a.values.size(); ++i)
      t << (i == 0 ? " " : ", ") << a.values[i];
    t << "\n";
  }
  t << "# resolved chip configuration, before sweep values\n" << hardware::chip_text(base);
  plan.config_text = t.str();
  plan.config_hash = fnv1a_hex(plan.config_text);
  return plan;
}

}  // namespace aimc::experiment
