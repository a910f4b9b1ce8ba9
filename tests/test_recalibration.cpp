// Recalibration at inference time (drift.compensation = adabs | affine): the layer-by-layer
// executor it runs on, the moment fit, what is exact on an ideal chip, independence from the
// thread count, and that a recalibrated layer's outputs have the target statistics.

#include <gtest/gtest.h>
#include <tbb/global_control.h>

#include <cmath>

#include "io/chip_config.hpp"
#include "network/analog_chip.hpp"
#include "network/recalibration.hpp"
#include "test_support.hpp"
#include "util/error.hpp"

namespace {

using aimc::network::AnalogChip;
using aimc::network::ColumnStats;
using aimc::network::k_recalibration_first_image;
using aimc::network::Network;

const std::string k_configs = std::string(AIMC_SOURCE_DIR) + "/configs/chips/";

using aimc::test::chip_inference;
using aimc::test::count_correct;

aimc::test::ModelFixture load(const std::string& name, int test, int train) {
  return aimc::test::load_model_fixture(name, test, train);
}

TEST(Recalibration, LayerwiseForwardEqualsInferBitForBit) {
  AIMC_REQUIRE_MODEL("resnet20");
  // 70 images: two full batches of 32 and a partial one.
  const auto f = load("resnet20", 70, 1);
  const Network net(f.model, chip_inference());
  const aimc::network::IdealBackend ideal;
  const auto batched = net.infer(f.test.image(0), f.test.size(), ideal);
  std::vector<float> layerwise(batched.size(), -1.0F);
  int calls = 0;
  net.forward_layerwise(
      f.test.image(0), f.test.size(), ideal, 0,
      [&](int d) {
        EXPECT_EQ(d, calls++);  // once per dense layer, in order
        return false;
      },
      layerwise.data());
  EXPECT_EQ(calls, static_cast<int>(net.dense_layers().size()));
  EXPECT_EQ(layerwise, batched);
}

TEST(Recalibration, MomentFitMapsTheStatisticsAndIsExactWhenTheyAreEqual) {
  const ColumnStats target{{1.0, -2.0, 0.5}, {2.0, 0.5, 0.0}};
  const ColumnStats now{{3.0, -2.0, 1.5}, {4.0, 0.0, 0.25}};
  const auto c = aimc::network::match_moments(target, now);
  // gain = σ* / σ, offset = μ* − gain·μ; a constant column (σ = 0) is only shifted.
  EXPECT_EQ(c.gain, (std::vector<float>{0.5F, 1.0F, 0.0F}));
  EXPECT_EQ(c.offset, (std::vector<float>{-0.5F, 0.0F, 0.5F}));
  EXPECT_FALSE(c.identity());
  const auto same = aimc::network::match_moments(now, now);
  EXPECT_TRUE(same.identity());
}

// With every non-ideality off the chip right after programming and at t are the same chip, so
// affine measures equal statistics and its correction is exactly the identity: the logits are
// those of the uncorrected chip, bit for bit.
TEST(Recalibration, AffineOnTheIdealChipIsTheIdentityBitForBit) {
  AIMC_REQUIRE_MODEL("resnet20");
  const auto f = load("resnet20", 500, 128);
  const Network net(f.model, chip_inference());
  std::vector<std::vector<float>> runs;
  for (const char* mode : {"none", "affine"}) {
    const auto params = aimc::io::read_chip_config(
        k_configs + "ideal.ini",
        {std::string("drift.compensation=") + mode, "drift.recalibration_images=128"});
    AnalogChip chip(net, params, f.model.name, 1, 0);
    chip.calibrate(f.train);
    chip.set_recalibration_images(f.train);
    chip.set_time(3600.0);
    for (std::size_t l = 0; l < net.dense_layers().size(); ++l)
      EXPECT_TRUE(chip.recalibration(l).gain.empty()) << "layer " << l;
    runs.push_back(net.infer(f.test.image(0), f.test.size(), chip));
  }
  EXPECT_EQ(runs[0], runs[1]);
}

// adabs matches the chip to the float network's statistics. The ideal chip computes the same
// products in another order and scaling (x/x_range · w/s, then · x_range·s), so its statistics
// equal the float network's only up to float rounding: the gains are 1 within a few float ulps,
// and the correct count is exactly the float network's.
TEST(Recalibration, AdabsOnTheIdealChipKeepsTheIdealCount) {
  AIMC_REQUIRE_MODEL("resnet20");
  const auto f = load("resnet20", 1000, 128);
  const Network ideal_net(f.model, {});
  const auto ideal = ideal_net.infer(f.test.image(0), f.test.size(), aimc::network::IdealBackend{});
  const Network net(f.model, chip_inference());
  const auto params = aimc::io::read_chip_config(
      k_configs + "ideal.ini", {"drift.compensation=adabs", "drift.recalibration_images=128"});
  AnalogChip chip(net, params, f.model.name, 1, 0);
  chip.calibrate(f.train);
  chip.set_recalibration_images(f.train);
  chip.set_time(3600.0);
  double worst_gain = 0;
  for (std::size_t l = 0; l < net.dense_layers().size(); ++l)
    for (const float g : chip.recalibration(l).gain)
      worst_gain = std::max(worst_gain, std::abs(double{g} - 1.0));
  EXPECT_LT(worst_gain, 1e-5);
  const auto analog = net.infer(f.test.image(0), f.test.size(), chip);
  EXPECT_EQ(count_correct(analog, f.test), count_correct(ideal, f.test));
}

TEST(Recalibration, SameResultAnyThreadCount) {
  AIMC_REQUIRE_MODEL("resnet20");
  const auto f = load("resnet20", 64, 64);
  const Network net(f.model, chip_inference());
  for (const char* mode : {"adabs", "affine"}) {
    const auto params = aimc::io::read_chip_config(
        k_configs + "hermes64.ini",
        {std::string("drift.compensation=") + mode, "drift.recalibration_images=48"});
    std::vector<std::vector<float>> runs;
    for (int threads : {1, 2}) {
      const tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
      AnalogChip chip(net, params, f.model.name, 7, 3);
      chip.calibrate(f.train);
      chip.set_recalibration_images(f.train);
      chip.set_time(86400.0);
      runs.push_back(net.infer(f.test.image(0), f.test.size(), chip));
    }
    EXPECT_EQ(runs[0], runs[1]) << mode;
  }
}

// After adabs, each analog layer's outputs on the recalibration images have the float
// network's mean and standard deviation per column (re-measured with every layer corrected: the
// same MVMs and noise draws, since the noise is keyed by image and pixel).
TEST(Recalibration, AdabsOutputsHaveTheFloatNetworksStatistics) {
  AIMC_REQUIRE_MODEL("resnet20");
  const auto f = load("resnet20", 1, 64);
  const Network net(f.model, chip_inference());
  const auto params = aimc::io::read_chip_config(
      k_configs + "hermes64.ini", {"drift.compensation=adabs", "drift.recalibration_images=64",
                                   "device.devices_per_polarity=2"});
  AnalogChip chip(net, params, f.model.name, 3, 1);
  chip.calibrate(f.train);
  chip.set_recalibration_images(f.train);
  chip.set_time(86400.0);
  const auto target = aimc::network::ideal_layer_stats(net, f.train, 64);
  aimc::network::StatsRecorder recorder(net, chip, 64, k_recalibration_first_image);
  (void)net.infer(f.train.image(0), 64, recorder, k_recalibration_first_image);
  int corrected = 0;
  for (std::size_t l = 0; l < net.dense_layers().size(); ++l) {
    const ColumnStats now = recorder.stats(static_cast<int>(l));
    corrected += chip.recalibration(l).gain.empty() ? 0 : 1;
    for (std::size_t j = 0; j < now.mean.size(); ++j) {
      // Float rounding of the corrected outputs, relative to the column's spread.
      const double tol = 1e-4 * (target[l].stddev[j] + std::abs(target[l].mean[j])) + 1e-7;
      EXPECT_NEAR(now.mean[j], target[l].mean[j], tol) << "layer " << l << " column " << j;
      EXPECT_NEAR(now.stddev[j], target[l].stddev[j], tol) << "layer " << l << " column " << j;
    }
  }
  EXPECT_EQ(corrected, static_cast<int>(net.dense_layers().size()));
}

TEST(Recalibration, NeedsItsImagesAndEnoughOfThem) {
  AIMC_REQUIRE_MODEL("resnet20");
  const auto f = load("resnet20", 1, 32);
  const Network net(f.model, chip_inference());
  const auto params = aimc::io::read_chip_config(
      k_configs + "hermes64.ini", {"drift.compensation=affine", "drift.recalibration_images=64"});
  AnalogChip chip(net, params, f.model.name, 1, 0);
  EXPECT_THROW(chip.set_time(60.0), aimc::Error);  // not calibrated
  chip.calibrate(f.train);
  EXPECT_THROW(chip.set_time(60.0), aimc::Error);  // no images
  chip.set_recalibration_images(f.train);
  EXPECT_THROW(chip.set_time(60.0), aimc::Error);  // 32 images for 64
}

}  // namespace
