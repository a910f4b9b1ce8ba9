// The TBB-parallel paths on reduced data, for the sanitizer builds (scripts/sanitize.sh runs it
// under TSan and ASan+UBSan): chip programming, calibration, batch inference on the ideal
// backend with the progress line updated from its tasks, and tile execution in the chip (per-MVM
// and per-evaluation read noise, the activity probe's shared counters), each with several batches
// in flight on 2 threads. The same code as a full run, on 4 batches of 4 images instead of
// thousands. Results must not depend on threads.

#include <gtest/gtest.h>
#include <tbb/global_control.h>

#include "experiment/progress.hpp"
#include "io/chip_config.hpp"
#include "io/cifar10.hpp"
#include "io/model_file.hpp"
#include "network/analog_chip.hpp"
#include "network/input_activity.hpp"
#include "test_support.hpp"

namespace {

using aimc::network::AnalogChip;
using aimc::network::InferenceParams;
using aimc::network::Network;

const std::string k_configs = std::string(AIMC_SOURCE_DIR) + "/configs/chips/";
constexpr int k_images = 16;
constexpr int k_batch = 4;  // 4 batches: both threads have work, and take it from each other

struct Data {
  aimc::network::Model model;
  aimc::network::ImageSet test;
  aimc::network::ImageSet calibration;
};

Data load() {
  return {aimc::io::read_model(aimc::test::models_dir() + "/resnet20.h5"),
          aimc::io::read_cifar10_test(aimc::test::data_dir() + "/cifar-10", k_images),
          aimc::io::read_cifar10_train(aimc::test::data_dir() + "/cifar-10", 8)};
}

#define REQUIRE_DATA()                                                    \
  AIMC_REQUIRE_FILE(aimc::test::models_dir() + "/resnet20.h5");           \
  AIMC_REQUIRE_FILE(aimc::test::data_dir() + "/cifar-10/test_batch.bin"); \
  AIMC_REQUIRE_FILE(aimc::test::data_dir() + "/cifar-10/data_batch_1.bin")

InferenceParams params(bool fold) {
  InferenceParams p;
  p.batch_images = k_batch;
  p.fold_batchnorm = fold;
  return p;
}

TEST(ParallelPaths, IdealBatchInference) {
  REQUIRE_DATA();
  const Data d = load();
  const Network net(d.model, params(true));
  std::vector<std::vector<float>> runs;
  for (int threads : {1, 2}) {
    const tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
    // aimc eval and run report progress from the tasks; interval 0 prints at every batch, so the
    // shared line state is written by both threads.
    aimc::experiment::Progress progress("images", d.test.size(), true, 0.0);
    runs.push_back(net.infer(d.test.image(0), d.test.size(), aimc::network::IdealBackend{}, 0,
                             [&progress](int done) { progress.add(done); }));
  }
  EXPECT_EQ(runs[0], runs[1]);
}

class ChipPaths : public ::testing::TestWithParam<std::string> {};

TEST_P(ChipPaths, ProgramCalibrateAndInfer) {
  REQUIRE_DATA();
  const Data d = load();
  const auto chip_params = aimc::io::read_chip_config(k_configs + "hermes64.ini",
                                                      {"noise.read_noise_mode=" + GetParam()});
  const Network net(d.model, params(false));
  std::vector<std::vector<float>> runs;
  std::vector<std::vector<double>> activity;
  for (int threads : {1, 2}) {
    const tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
    AnalogChip chip(net, chip_params, d.model.name, 7, 1);  // programming
    chip.calibrate(d.calibration);
    chip.set_time(86400.0);  // drift and its compensation
    // The chip adds every image's DAC levels into shared counters from all threads.
    const aimc::network::InputActivity counts(net, d.test.size(), chip_params.converters.dac_bits);
    chip.set_input_activity(&counts);
    runs.push_back(net.infer(d.test.image(0), d.test.size(), chip));
    chip.set_input_activity(nullptr);
    activity.push_back(counts.activity(k_images - 1));
  }
  EXPECT_EQ(runs[0], runs[1]);
  EXPECT_EQ(activity[0], activity[1]);
}

INSTANTIATE_TEST_SUITE_P(ReadNoise, ChipPaths, ::testing::Values("per_mvm", "per_evaluation"));

// The chip counts DAC activity two ways: element by element over packed im2col rows, and by
// one weighted pass over the padded planes of a direct convolution (each input weighted by the
// number of taps that read it). Forcing every convolution through im2col must give the same logits
// and the same counts for every image. Without noise: per-MVM noise is keyed by the rows of each
// GEMM call, and the two paths cut a batch into calls differently.
TEST(ChipPaths, DirectConvolutionAndIm2colCountTheSameActivity) {
  REQUIRE_DATA();
  const Data d = load();
  const auto chip_params = aimc::io::read_chip_config(
      k_configs + "ideal.ini", {"converters.dac_bits=8", "converters.adc_bits=8"});
  std::vector<std::vector<float>> runs;
  std::vector<std::vector<std::vector<double>>> activity;
  for (const bool direct : {true, false}) {
    InferenceParams p = params(false);
    p.direct_conv = direct;
    const Network net(d.model, p);
    AnalogChip chip(net, chip_params, d.model.name, 7, 1);
    chip.calibrate(d.calibration);
    chip.set_time(3600.0);
    const aimc::network::InputActivity counts(net, d.test.size(), chip_params.converters.dac_bits);
    chip.set_input_activity(&counts);
    runs.push_back(net.infer(d.test.image(0), d.test.size(), chip));
    chip.set_input_activity(nullptr);
    activity.emplace_back();
    for (int i = 0; i < k_images; ++i)
      activity.back().push_back(counts.activity(i));
  }
  EXPECT_EQ(runs[0], runs[1]);
  EXPECT_EQ(activity[0], activity[1]);
  double total = 0;
  for (const auto& a : activity[0])
    for (double v : a)
      total += v;
  EXPECT_GT(total, 0.0);  // the counters ran
}

}  // namespace
