#include <iostream>

#include "cli/commands.hpp"
#include "hardware/mapping.hpp"
#include "io/chip_config.hpp"
#include "io/model_file.hpp"
#include "network/analog_chip.hpp"
#include "network/network.hpp"
#include "util/error.hpp"

namespace aimc::cli {

int cmd_map(const std::vector<std::string>& args, const experiment::MpiSession& mpi) {
  std::string model_path;
  std::string chip_path;
  std::vector<std::string> overrides;
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")("model", po::value(&model_path)->required(),
                                                 "aimc model file (.h5)")(
      "chip", po::value(&chip_path)->required(), "chip configuration (.ini)")(
      "set", po::value(&overrides)->composing(), "override a key: --set section.key=value")(
      "json", po::bool_switch()->default_value(false), "print one JSON object");
  po::variables_map vm;
  if (!parse_args("map", "--model M.h5 --chip C.ini [--set k=v ...] [--json]", args, opts, {}, vm,
                  mpi.is_root()))
    return 0;
  const hardware::ChipParams params = io::read_chip_config(chip_path, overrides);
  const network::Model model = io::read_model(model_path);
  network::InferenceParams inference;
  inference.fold_batchnorm = false;
  const network::Network net(model, inference);
  // The layers the chip itself maps (mapping.last_layer = digital leaves the last one out).
  const hardware::Mapping mapping =
      hardware::map_layers(model.name, network::mapped_layers(net, params), params.mapping);
  if (mpi.is_root()) std::cout << (vm["json"].as<bool>() ? mapping.json() + "\n" : mapping.table());
  return 0;
}

}  // namespace aimc::cli
