#include <iostream>

#include "cli/commands.hpp"
#include "experiment/experiment.hpp"
#include "hardware/chip_params.hpp"
#include "util/json.hpp"

namespace aimc::cli {

namespace {

// One key table, as markdown after `intro`, or as one JSON object per key.
template <typename Root>
void print_keys(const KeyTable<Root>& keys, bool json, const char* intro) {
  const Root defaults{};
  if (!json) {
    std::cout << intro << "\n\n" << markdown_table(keys, defaults);
    return;
  }
  for (const auto& k : keys) {
    std::string phases;
    for (const std::string& name : phase_list(k.phases))
      phases += (phases.empty() ? "" : ", ") + JsonObject::quote(name);
    std::cout << JsonObject()
                     .add("name", k.name)
                     .add("type", k.type)
                     .add("default", k.get(defaults))
                     .add("unit", k.unit)
                     .add("range", k.range)
                     .add("expected", k.expected)
                     .raw("phases", "[" + phases + "]")
                     .add("doc", k.doc)
                     .str()
              << "\n";
  }
}

}  // namespace

int cmd_keys(const std::vector<std::string>& args, const experiment::MpiSession& mpi) {
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")(
      "experiment", po::bool_switch()->default_value(false),
      "the experiment file's own keys (aimc run) instead of the chip's")(
      "json", po::bool_switch()->default_value(false),
      "one JSON object per line: name, type, default, unit, range, expected, phases, doc");
  po::variables_map vm;
  if (!parse_args("keys", "[--experiment] [--json]", args, opts, {}, vm, mpi.is_root())) return 0;
  if (!mpi.is_root()) return 0;
  const bool json = vm["json"].as<bool>();
  if (vm["experiment"].as<bool>())
    print_keys(experiment::experiment_keys(), json,
               "Experiment file keys (aimc run; --set key=value). Besides these: "
               "chip.<section>.<key> sets a chip key (aimc keys), sweep.<axis> sweeps "
               "t_inference or chip.<section>.<key> (docs/experiments.md).");
  else
    print_keys(hardware::chip_keys(), json,
               "Chip configuration keys (configs/chips/*.ini, --set section.key=value, "
               "chip.<key> and sweep.chip.<key> in experiment files). Phases: program = a new "
               "chip, calibrate = a new converter calibration, read = read time, perf = the "
               "throughput and energy model only.");
  return 0;
}

}  // namespace aimc::cli
