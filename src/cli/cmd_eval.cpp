#include <tbb/global_control.h>
#include <tbb/info.h>

#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "experiment/evaluate.hpp"
#include "io/chip_config.hpp"
#include "io/cifar10.hpp"
#include "io/model_file.hpp"
#include "network/analog_chip.hpp"
#include "network/network.hpp"
#include "util/error.hpp"
#include "util/json.hpp"

namespace aimc::cli {

int cmd_eval(const std::vector<std::string>& args, const experiment::MpiSession& mpi) {
  std::string model_path;
  std::string data_dir;
  std::string split;
  int images = -1;
  int threads = 0;
  std::string chip_path;
  std::vector<std::string> overrides;
  double t_inference = 0.0;
  std::uint64_t seed = 1;
  std::uint64_t chip_index = 0;
  network::InferenceParams inference;
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")("model", po::value(&model_path)->required(),
                                                 "aimc model file (.h5, from 'aimc import')")(
      "data", po::value(&data_dir),
      "CIFAR-10 binary directory (default: $AIMC_DATA/cifar-10, else data/cifar-10)")(
      "split", po::value(&split)->default_value("test"), "test (10,000 images) or train (50,000)")(
      "images", po::value(&images)->default_value(-1), "evaluate the first N images (-1: all)")(
      "ideal", po::bool_switch()->default_value(false),
      "exact float32 software inference (the reference)")(
      "chip", po::value(&chip_path),
      "simulate one sampled chip with this configuration (e.g. configs/chips/hermes64.ini)")(
      "t-inference", po::value(&t_inference)->default_value(0.0),
      "seconds since programming (drift and read noise)")(
      "seed", po::value(&seed)->default_value(1), "master seed of the chip's random streams")(
      "chip-index", po::value(&chip_index)->default_value(0), "which chip instance of that seed")(
      "set", po::value(&overrides)->composing(),
      "override a chip configuration key: --set section.key=value (repeatable)")(
      "threads", po::value(&threads)->default_value(0), "TBB threads per rank (0: all cores)")(
      "batch", po::value(&inference.batch_images)->default_value(inference.batch_images),
      "images per TBB task")("json", po::bool_switch()->default_value(false),
                             "print one JSON object instead of text");
  po::variables_map vm;
  if (!parse_args("eval",
                  "--model M.h5 (--ideal | --chip C.ini [--t-inference S] [--seed S] "
                  "[--chip-index K] [--set k=v ...]) [--data DIR] [--images N] [--json]",
                  args, opts, {}, vm, mpi.is_root()))
    return 0;
  const bool ideal = vm["ideal"].as<bool>();
  const bool on_chip = vm.count("chip") != 0U;
  if (ideal == on_chip) throw Error("give exactly one of --ideal and --chip");
  if (!(t_inference >= 0.0) || !std::isfinite(t_inference))
    throw Error("--t-inference " + std::to_string(t_inference) + ", expected seconds >= 0");
  if (ideal && !overrides.empty()) throw Error("--set applies to --chip only");
  if (threads < 0) throw Error("--threads " + std::to_string(threads) + ", expected ≥ 0");
  if (images == 0 || images < -1)
    throw Error("--images " + std::to_string(images) + ", expected a positive count or -1");
  if (split != "test" && split != "train")
    throw Error("--split '" + split + "', expected test or train");
  inference.validate();
  if (data_dir.empty()) data_dir = default_data_dir();

  std::unique_ptr<tbb::global_control> limit;
  if (threads > 0)
    limit = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                  threads);
  const int used_threads = threads > 0 ? threads : tbb::info::default_concurrency();

  const network::Model model = io::read_model(model_path);
  const network::ImageSet data = split == "test" ? io::read_cifar10_test(data_dir, images)
                                                 : io::read_cifar10_train(data_dir, images);
  if (!(data.shape == model.input) || data.classes != model.num_classes)
    throw Error(model_path + ": model expects input " + std::to_string(model.input.c) + "x" +
                std::to_string(model.input.h) + "x" + std::to_string(model.input.w) + " and " +
                std::to_string(model.num_classes) + " classes; CIFAR-10 has 3x32x32 and 10");

  const hardware::ChipParams chip_params =
      on_chip ? io::read_chip_config(chip_path, overrides) : hardware::ChipParams{};
  // On the chip, BatchNorm is the local digital unit's affine and stays out of the weights.
  inference.fold_batchnorm = !on_chip;
  const network::Network net(model, inference);
  std::unique_ptr<network::MatmulBackend> backend;
  std::unique_ptr<network::AnalogChip> chip;
  if (on_chip) {
    chip = std::make_unique<network::AnalogChip>(net, chip_params, model.name, seed, chip_index);
    chip->calibrate(io::read_cifar10_train(data_dir, chip_params.calibration_images));
    chip->set_time(t_inference);
  } else {
    backend = std::make_unique<network::IdealBackend>();
  }
  const network::MatmulBackend& used =
      on_chip ? static_cast<network::MatmulBackend&>(*chip) : *backend;
  const experiment::EvalResult r = experiment::evaluate(net, used, data, mpi, nullptr, true);
  const double gflops = 2.0 * static_cast<double>(net.macs_per_image()) * r.images_per_s() / 1e9;

  if (!mpi.is_root()) return 0;
  if (vm["json"].as<bool>()) {
    JsonObject j;
    j.add("model", model.name)
        .add("mode", on_chip ? "chip" : "ideal")
        .add("split", split)
        .add("correct", r.correct)
        .add("total", r.total)
        .add("accuracy", r.accuracy())
        .add("images_per_s", r.images_per_s())
        .add("gflops", gflops)
        .add("seconds", r.seconds)
        .add("macs_per_image", net.macs_per_image())
        .add("threads", used_threads)
        .add("ranks", mpi.size());
    if (on_chip) {
      j.add("chip_config", chip_path)
          .add("t_inference_s", t_inference)
          .add("seed", static_cast<std::int64_t>(seed))
          .add("chip_index", static_cast<std::int64_t>(chip_index))
          .add("cores_used", chip->mapping().cores_used())
          .add("mapping_strategy", hardware::mapping_strategy_name(chip_params.mapping.strategy));
    }
    std::cout << j.str() << '\n';
  } else {
    std::printf("model     %s (%s, %.3f M parameters, %.1f M MAC/image)\n", model.name.c_str(),
                model_path.c_str(), static_cast<double>(model.parameter_count()) / 1e6,
                static_cast<double>(net.macs_per_image()) / 1e6);
    std::printf("data      %s/%s, %lld images; %s, %d rank(s) x %d thread(s)\n", data_dir.c_str(),
                split == "test" ? "test_batch.bin" : "data_batch_*.bin",
                static_cast<long long>(r.total), on_chip ? "analog chip" : "ideal float32",
                mpi.size(), used_threads);
    if (on_chip)
      std::printf("chip      %s, seed %llu, chip %llu, t = %g s; %d of %d cores (%s)\n",
                  chip_path.c_str(), static_cast<unsigned long long>(seed),
                  static_cast<unsigned long long>(chip_index), t_inference,
                  chip->mapping().cores_used(), chip_params.mapping.cores,
                  hardware::mapping_strategy_name(chip_params.mapping.strategy));
    std::printf("accuracy  %.2f %% top-1 (%lld / %lld correct)\n", 100.0 * r.accuracy(),
                static_cast<long long>(r.correct), static_cast<long long>(r.total));
    std::printf("speed     %.1f images/s, %.1f GFLOP/s (conv + linear), %.2f s\n", r.images_per_s(),
                gflops, r.seconds);
  }
  return 0;
}

}  // namespace aimc::cli
