#include <iostream>

#include "cli/commands.hpp"
#include "io/chip_config.hpp"
#include "util/json.hpp"

namespace aimc::cli {

int cmd_keys(const std::vector<std::string>& args, const experiment::MpiSession& mpi) {
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")(
      "json", po::bool_switch()->default_value(false),
      "one JSON object per line: name, type, default, unit, range, expected, phases, doc");
  po::variables_map vm;
  if (!parse_args("keys", "[--json]", args, opts, {}, vm, mpi.is_root())) return 0;
  if (!mpi.is_root()) return 0;
  if (!vm["json"].as<bool>()) {
    std::cout << "Chip configuration keys (configs/chips/*.ini, --set section.key=value, "
                 "chip.<key> and sweep.chip.<key> in experiment files). Phases: program = a new "
                 "chip, calibrate = a new converter calibration, read = read time, perf = the "
                 "throughput and energy model only.\n\n"
              << io::chip_keys_markdown();
    return 0;
  }
  const hardware::ChipParams defaults;
  for (const auto& k : hardware::chip_keys()) {
    std::string phases = "[";
    for (const auto& [bit, name] : {std::pair{phase_program, "program"},
                                    {phase_calibrate, "calibrate"},
                                    {phase_read, "read"},
                                    {phase_perf, "perf"}})
      if ((k.phases & bit) != 0U)
        phases += (phases.size() > 1 ? ", " : "") + JsonObject::quote(name);
    std::cout << JsonObject()
                     .add("name", k.name)
                     .add("type", k.type)
                     .add("default", k.get(defaults))
                     .add("unit", k.unit)
                     .add("range", k.range)
                     .add("expected", k.expected)
                     .raw("phases", phases + "]")
                     .add("doc", k.doc)
                     .str()
              << "\n";
  }
  return 0;
}

}  // namespace aimc::cli
