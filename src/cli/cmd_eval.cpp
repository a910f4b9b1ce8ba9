#include <cmath>
#include <iostream>

#include "app/eval.hpp"
#include "cli/commands.hpp"
#include "util/error.hpp"

namespace aimc::cli {

int cmd_eval(const std::vector<std::string>& args, const experiment::MpiSession& mpi) {
  app::EvalRequest r;
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")("model", po::value(&r.model_path)->required(),
                                                 "aimc model file (.h5, from 'aimc import')")(
      "data", po::value(&r.data_dir),
      "CIFAR-10 binary directory (default: $AIMC_DATA/cifar-10, else data/cifar-10)")(
      "split", po::value(&r.split)->default_value("test"),
      "test (10,000 images) or train (50,000)")("images", po::value(&r.images)->default_value(-1),
                                                "evaluate the first N images (-1: all)")(
      "ideal", po::bool_switch()->default_value(false),
      "exact float32 software inference (the reference)")(
      "chip", po::value(&r.chip_path),
      "simulate one sampled chip with this configuration (e.g. configs/chips/hermes64.ini)")(
      "t-inference", po::value(&r.t_inference)->default_value(0.0),
      "seconds since programming (drift and read noise)")(
      "seed", po::value(&r.seed)->default_value(1), "master seed of the chip's random streams")(
      "chip-index", po::value(&r.chip_index)->default_value(0), "which chip instance of that seed")(
      "set", po::value(&r.overrides)->composing(),
      "override a chip configuration key: --set section.key=value (repeatable; aimc "
      "keys lists them)")("threads", po::value(&r.threads)->default_value(0),
                          "TBB threads per rank (0: all cores)")(
      "batch", po::value(&r.inference.batch_images)->default_value(r.inference.batch_images),
      "images per TBB task")("json", po::bool_switch(&r.json)->default_value(false),
                             "print one JSON object instead of text")(
      "logits", po::value(&r.logits_path),
      "also write every image's logits (images × classes, float32) to this .npy file");
  po::variables_map vm;
  if (!parse_args(
          "eval",
          "--model M.h5 (--ideal | --chip C.ini [--t-inference S] [--seed S] "
          "[--chip-index K] [--set k=v ...]) [--data DIR] [--images N] [--json] [--logits OUT.npy]",
          args, opts, {}, vm, mpi.is_root()))
    return 0;
  const bool ideal = vm["ideal"].as<bool>();
  r.on_chip = vm.count("chip") != 0U;
  if (ideal == r.on_chip) throw Error("give exactly one of --ideal and --chip");
  if (!(r.t_inference >= 0.0) || !std::isfinite(r.t_inference))
    throw Error("--t-inference " + std::to_string(r.t_inference) + ", expected seconds >= 0");
  if (ideal && !r.overrides.empty()) throw Error("--set applies to --chip only");
  if (r.threads < 0) throw Error("--threads " + std::to_string(r.threads) + ", expected ≥ 0");
  if (r.images == 0 || r.images < -1)
    throw Error("--images " + std::to_string(r.images) + ", expected a positive count or -1");
  if (r.split != "test" && r.split != "train")
    throw Error("--split '" + r.split + "', expected test or train");
  r.inference.validate();
  const std::string report = app::evaluate_model(r, mpi);
  if (mpi.is_root()) std::cout << report;
  return 0;
}

}  // namespace aimc::cli
