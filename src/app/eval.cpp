#include "app/eval.hpp"

#include <algorithm>
#include <memory>

#include "app/common.hpp"
#include "experiment/evaluate.hpp"
#include "io/chip_config.hpp"
#include "io/cifar10.hpp"
#include "io/model_file.hpp"
#include "io/npy.hpp"
#include "network/analog_chip.hpp"
#include "util/json.hpp"

namespace aimc::app {

std::string evaluate_model(EvalRequest request, const experiment::MpiSession& mpi) {
  const bool on_chip = request.on_chip;
  const std::string data_dir = request.data_dir.empty() ? default_data_dir() : request.data_dir;
  const ThreadLimit limit(request.threads);

  const network::Model model = io::read_model(request.model_path);
  const network::ImageSet data = request.split == "test"
                                     ? io::read_cifar10_test(data_dir, request.images)
                                     : io::read_cifar10_train(data_dir, request.images);
  check_takes_cifar10(model, data, request.model_path);

  const hardware::ChipParams chip_params =
      on_chip ? io::read_chip_config(request.chip_path, request.overrides) : hardware::ChipParams{};
  // On the chip, BatchNorm is the local digital unit's affine and stays out of the weights.
  request.inference.fold_batchnorm = !on_chip;
  const network::Network net(model, request.inference);
  std::unique_ptr<network::MatmulBackend> backend;
  std::unique_ptr<network::AnalogChip> chip;
  network::ImageSet training;  // calibration and recalibration images; outlives the chip
  if (on_chip) {
    chip = std::make_unique<network::AnalogChip>(net, chip_params, model.name, request.seed,
                                                 request.chip_index);
    training = io::read_cifar10_train(
        data_dir, hardware::recalibrates(chip_params.drift_compensation)
                      ? std::max(chip_params.calibration_images, chip_params.recalibration_images)
                      : chip_params.calibration_images);
    chip->calibrate(training);
    chip->set_recalibration_images(training);
    chip->set_time(request.t_inference);
  } else {
    backend = std::make_unique<network::IdealBackend>();
  }
  const network::MatmulBackend& used =
      on_chip ? static_cast<network::MatmulBackend&>(*chip) : *backend;
  std::vector<float> logits;
  if (!request.logits_path.empty()) {
    if (mpi.size() > 1) throw Error("--logits needs one rank (run it without mpiexec)");
    logits.resize(static_cast<std::size_t>(data.size()) * net.num_classes());
  }
  const experiment::EvalResult r = experiment::evaluate(
      net, used, data, mpi, request.logits_path.empty() ? nullptr : &logits, true);
  if (!request.logits_path.empty())
    io::write_npy_float32(request.logits_path, {data.size(), net.num_classes()}, logits);
  const double gflops = 2.0 * static_cast<double>(net.macs_per_image()) * r.images_per_s() / 1e9;

  if (request.json) {
    JsonObject j;
    j.add("model", model.name)
        .add("mode", on_chip ? "chip" : "ideal")
        .add("split", request.split)
        .add("correct", r.correct)
        .add("total", r.total)
        .add("accuracy", r.accuracy())
        .add("images_per_s", r.images_per_s())
        .add("gflops", gflops)
        .add("seconds", r.seconds)
        .add("macs_per_image", net.macs_per_image())
        .add("threads", limit.threads())
        .add("ranks", mpi.size());
    if (on_chip) {
      j.add("chip_config", request.chip_path)
          .add("t_inference_s", request.t_inference)
          .add("seed", static_cast<std::int64_t>(request.seed))
          .add("chip_index", static_cast<std::int64_t>(request.chip_index))
          .add("cores_used", chip->mapping().cores_used())
          .add("mapping_strategy", hardware::mapping_strategy_name(chip_params.mapping.strategy));
    }
    return j.str() + '\n';
  }
  std::string text =
      format("model     %s (%s, %.3f M parameters, %.1f M MAC/image)\n", model.name.c_str(),
             request.model_path.c_str(), static_cast<double>(model.parameter_count()) / 1e6,
             static_cast<double>(net.macs_per_image()) / 1e6);
  text += format("data      %s/%s, %lld images; %s, %d rank(s) x %d thread(s)\n", data_dir.c_str(),
                 request.split == "test" ? "test_batch.bin" : "data_batch_*.bin",
                 static_cast<long long>(r.total), on_chip ? "analog chip" : "ideal float32",
                 mpi.size(), limit.threads());
  if (on_chip)
    text += format("chip      %s, seed %llu, chip %llu, t = %g s; %d of %d cores (%s)\n",
                   request.chip_path.c_str(), static_cast<unsigned long long>(request.seed),
                   static_cast<unsigned long long>(request.chip_index), request.t_inference,
                   chip->mapping().cores_used(), chip_params.mapping.cores,
                   hardware::mapping_strategy_name(chip_params.mapping.strategy));
  text += format("accuracy  %.2f %% top-1 (%lld / %lld correct)\n", 100.0 * r.accuracy(),
                 static_cast<long long>(r.correct), static_cast<long long>(r.total));
  text += format("speed     %.1f images/s, %.1f GFLOP/s (conv + linear), %.2f s\n",
                 r.images_per_s(), gflops, r.seconds);
  return text;
}

}  // namespace aimc::app
