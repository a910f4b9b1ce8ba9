#include <iostream>

#include "app/perf.hpp"
#include "cli/commands.hpp"

namespace aimc::cli {

int cmd_map(const std::vector<std::string>& args, const experiment::MpiSession& mpi) {
  std::string model_path;
  std::string chip_path;
  std::vector<std::string> overrides;
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")("model", po::value(&model_path)->required(),
                                                 "aimc model file (.h5)")(
      "chip", po::value(&chip_path)->required(), "chip configuration (.ini)")(
      "set", po::value(&overrides)->composing(),
      "override a chip key: --set section.key=value (aimc keys lists them)")(
      "json", po::bool_switch()->default_value(false), "print one JSON object");
  po::variables_map vm;
  if (!parse_args("map", "--model M.h5 --chip C.ini [--set k=v ...] [--json]", args, opts, {}, vm,
                  mpi.is_root()))
    return 0;
  const std::string report =
      app::map_report(model_path, chip_path, overrides, vm["json"].as<bool>());
  if (mpi.is_root()) std::cout << report;
  return 0;
}

}  // namespace aimc::cli
