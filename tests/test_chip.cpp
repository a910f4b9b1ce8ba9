// The simulated chip: exactness with every non-ideality off, the cost of quantisation alone, the
// read-noise modes against their variance formula, and independence from the thread count.

#include <gtest/gtest.h>
#include <tbb/global_control.h>

#include <cmath>
#include <iostream>
#include <map>
#include <random>

#include "experiment/evaluate.hpp"
#include "hardware/drift_compensation.hpp"
#include "io/chip_config.hpp"
#include "io/cifar10.hpp"
#include "io/model_file.hpp"
#include "network/analog_chip.hpp"
#include "test_support.hpp"
#include "util/error.hpp"

namespace {

using aimc::network::AnalogChip;
using aimc::network::InferenceParams;
using aimc::network::Model;
using aimc::network::Network;

const std::string k_configs = std::string(AIMC_SOURCE_DIR) + "/configs/chips/";

// The largest |a − b| over the largest |b|: how far logits are from a reference.
double max_relative_difference(const std::vector<float>& a, const std::vector<float>& b) {
  double max_diff = 0;
  double max_abs = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    max_diff = std::max(max_diff, std::abs(double{a[i]} - b[i]));
    max_abs = std::max(max_abs, std::abs(double{b[i]}));
  }
  return max_diff / max_abs;
}

using aimc::test::chip_inference;
using aimc::test::count_correct;

// The model, test images and calibration (training) images of a test.
aimc::test::ModelFixture load(const std::string& name, int images, int calibration) {
  return aimc::test::load_model_fixture(name, images, calibration);
}

TEST(Chip, EveryNonIdealityOffGivesTheIdealCount) {
  AIMC_REQUIRE_MODEL("resnet20");
  const auto f = load("resnet20", 1000, 64);
  const auto params = aimc::io::read_chip_config(k_configs + "ideal.ini", {});
  const Network ideal_net(f.model, {});
  const auto ideal = ideal_net.infer(f.test.image(0), f.test.size(), aimc::network::IdealBackend{});
  const Network net(f.model, chip_inference());
  AnalogChip chip(net, params, f.model.name, 1, 0);
  chip.calibrate(f.train);
  chip.set_time(3600.0);  // drift is off in ideal.ini: time must change nothing
  const auto analog = net.infer(f.test.image(0), f.test.size(), chip);
  EXPECT_EQ(count_correct(analog, f.test), count_correct(ideal, f.test));
  EXPECT_LT(max_relative_difference(analog, ideal), 1e-4);
}

TEST(Chip, QuantisationAloneCostsAtMostOnePointOnResnet32) {
  AIMC_REQUIRE_MODEL("resnet32");
  const auto f = load("resnet32", 2000, 64);
  const auto params = aimc::io::read_chip_config(
      k_configs + "hermes64.ini",
      {"device.prog_noise_scale=0", "device.drift_nu_mean_scale=0", "device.drift_nu_std_scale=0",
       "device.read_noise_scale=0", "drift.compensation=none"});
  ASSERT_EQ(params.converters.dac_bits, 8);
  ASSERT_EQ(params.converters.adc_bits, 8);
  const Network ideal_net(f.model, {});
  const auto ideal = ideal_net.infer(f.test.image(0), f.test.size(), aimc::network::IdealBackend{});
  const Network net(f.model, chip_inference());
  AnalogChip chip(net, params, f.model.name, 1, 0);
  chip.calibrate(f.train);
  const auto analog = net.infer(f.test.image(0), f.test.size(), chip);
  const auto lost = count_correct(ideal, f.test) - count_correct(analog, f.test);
  EXPECT_LE(lost, 20) << "8-bit DAC/ADC lost " << lost << " of 2000 images";
  // Quantisation must change the logits, or the converters are not in the path at all.
  EXPECT_NE(analog, ideal);
}

TEST(Chip, SameChipAnyThreadCount) {
  AIMC_REQUIRE_MODEL("resnet20");
  const auto f = load("resnet20", 96, 16);
  const auto params = aimc::io::read_chip_config(k_configs + "hermes64.ini", {});
  const Network net(f.model, chip_inference());
  std::vector<std::vector<float>> runs;
  for (int threads : {1, 2}) {
    const tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
    AnalogChip chip(net, params, f.model.name, 7, 3);
    chip.calibrate(f.train);
    chip.set_time(86400.0);
    runs.push_back(net.infer(f.test.image(0), f.test.size(), chip));
  }
  EXPECT_EQ(runs[0], runs[1]);
  // A different chip instance is a different sample.
  AnalogChip other(net, params, f.model.name, 7, 4);
  other.calibrate(f.train);
  other.set_time(86400.0);
  EXPECT_NE(net.infer(f.test.image(0), f.test.size(), other), runs[0]);
}

// A single linear layer on a tiny input, so each output's read-noise variance has a closed form:
// Var y_j = (x_range · s_j · α_j)² Σ_i x_n,i² σ²_n,ij.
class ReadNoise : public ::testing::Test {
 protected:
  void SetUp() override {
    model_.name = "tiny";
    model_.input = {3, 2, 2};
    model_.num_classes = 4;
    model_.preprocess.mean.assign(3, 0.5);
    model_.preprocess.std.assign(3, 0.25);
    aimc::network::Node in;
    in.name = "input";
    model_.nodes.push_back(in);
    aimc::network::Node fc;
    fc.name = "fc";
    fc.op = aimc::network::OpType::linear;
    fc.inputs = {0};
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(-1.0F, 1.0F);
    fc.tensors["weight"].shape = {4, 12};
    for (int i = 0; i < 48; ++i)
      fc.tensors["weight"].data.push_back(u(rng));
    model_.nodes.push_back(fc);
    model_.validate("tiny");
    pixels_.resize(12);
    for (int i = 0; i < 12; ++i)
      pixels_[i] = static_cast<std::uint8_t>(20 * i + 7);
    calibration_.shape = model_.input;
    calibration_.classes = 4;
    calibration_.labels = {0};
    calibration_.pixels = pixels_;
  }

  aimc::hardware::ChipParams params(aimc::hardware::ReadNoiseMode mode) const {
    auto p = aimc::io::read_chip_config(
        k_configs + "ideal.ini",
        {"device.read_noise_scale=1", "converters.dac_bits=8", "mapping.cores=1"});
    p.read_noise_mode = mode;
    return p;
  }

  Model model_;
  std::vector<std::uint8_t> pixels_;
  aimc::network::ImageSet calibration_;
};

// Expected per-output variance from the tile's own state and the DAC-quantised input.
std::vector<double> expected_variance(const std::vector<std::uint8_t>& pixels,
                                      const aimc::hardware::AnalogTile& tile, double x_range) {
  std::vector<double> x(12);
  for (int c = 0; c < 3; ++c)
    for (int p = 0; p < 4; ++p)
      x[c * 4 + p] = (pixels[c * 4 + p] / 255.0 - 0.5) / 0.25;
  const aimc::hardware::Quantizer dac(8, 1.0F);
  std::vector<double> var(4, 0.0);
  for (int j = 0; j < 4; ++j) {
    const double gain = x_range * tile.column_scale()[j] * tile.compensation()[j];
    for (int i = 0; i < 12; ++i) {
      const double xn = dac.apply(static_cast<float>(x[i] / x_range));
      var[j] += xn * xn * tile.variance_n()[i * 4 + j] * gain * gain;
    }
  }
  return var;
}

void check_variance(const std::vector<std::vector<float>>& samples,
                    const std::vector<double>& expected) {
  const auto n = static_cast<double>(samples.size());
  for (std::size_t j = 0; j < expected.size(); ++j) {
    double mean = 0;
    for (const auto& s : samples)
      mean += s[j];
    mean /= n;
    double var = 0;
    for (const auto& s : samples)
      var += (s[j] - mean) * (s[j] - mean);
    var /= n - 1;
    // The sample variance of n normals has standard error var·sqrt(2/(n−1)); allow 5 of them.
    EXPECT_NEAR(var, expected[j], 5 * expected[j] * std::sqrt(2 / (n - 1))) << "output " << j;
    EXPECT_GT(expected[j], 0);
  }
}

TEST_F(ReadNoise, PerMvmIsFreshOnEveryImageWithTheExpectedVariance) {
  const auto p = params(aimc::hardware::ReadNoiseMode::per_mvm);
  InferenceParams ip = chip_inference();
  ip.batch_images = 64;
  const Network net(model_, ip);
  AnalogChip chip(net, p, "tiny", 5, 0);
  chip.calibrate(calibration_);
  chip.set_time(3600.0);
  // The expectation comes from a twin chip (same seed and index: a chip is a pure function of
  // them), so the chip under test is only ever used through the network.
  AnalogChip twin(net, p, "tiny", 5, 0);
  twin.calibrate(calibration_);
  twin.set_time(3600.0);
  const int n = 4000;
  std::vector<std::uint8_t> many;
  for (int i = 0; i < n; ++i)
    many.insert(many.end(), pixels_.begin(), pixels_.end());
  const auto logits = net.infer(many.data(), n, chip);
  std::vector<std::vector<float>> samples;
  for (int i = 0; i < n; ++i)
    samples.emplace_back(logits.begin() + i * 4, logits.begin() + i * 4 + 4);
  EXPECT_NE(samples[0], samples[1]);
  check_variance(samples, expected_variance(pixels_, twin.tile(0), twin.x_range(0)));
}

TEST_F(ReadNoise, PerEvaluationIsFixedWithinAnEvaluationAndVariesAcrossThem) {
  const auto p = params(aimc::hardware::ReadNoiseMode::per_evaluation);
  const Network net(model_, chip_inference());
  AnalogChip chip(net, p, "tiny", 5, 0);
  chip.calibrate(calibration_);
  // Same image twice in one evaluation: identical outputs.
  std::vector<std::uint8_t> two(pixels_);
  two.insert(two.end(), pixels_.begin(), pixels_.end());
  chip.set_time(3600.0);
  const auto pair = net.infer(two.data(), 2, chip);
  EXPECT_TRUE(std::equal(pair.begin(), pair.begin() + 4, pair.begin() + 4));
  // Across evaluations (time points), the variance of the per_mvm formula, as the noise is the
  // same Gaussian applied once per device instead of once per MVM (clamping at 0 aside, which
  // these conductances are far from).
  const auto per_mvm = params(aimc::hardware::ReadNoiseMode::per_mvm);
  AnalogChip twin(net, per_mvm, "tiny", 5, 0);
  twin.calibrate(calibration_);
  twin.set_time(3600.0);
  std::vector<std::vector<float>> samples;
  // Each read time its own noise draws (read_occasion); 0.1 ms apart, the drift is the same to
  // 1e-7 relative.
  for (int k = 0; k < 4000; ++k) {
    chip.set_time(3600.0 + 1e-4 * k);
    samples.push_back(net.infer(pixels_.data(), 1, chip));
  }
  check_variance(samples, expected_variance(pixels_, twin.tile(0), twin.x_range(0)));
}

}  // namespace

namespace {

// A 256 × 256 block of weights spread over [-1, 1].
std::vector<float> block_weights() {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-1.0F, 1.0F);
  std::vector<float> w(256 * 256);
  for (float& v : w)
    v = u(rng);
  return w;
}

aimc::hardware::AnalogTile make_tile(const aimc::hardware::ChipParams& p,
                                     const aimc::physics::DeviceModel& device,
                                     const std::vector<float>& w) {
  return {
      w.data(), 256, 256, 256, p, device, aimc::StreamKey{3, 0, 0, 9, aimc::Purpose::programming}};
}

TEST(Tile, StuckDevicesAppearAtTheConfiguredRate) {
  auto p =
      aimc::io::read_chip_config(k_configs + "hermes64.ini",
                                 {"faults.stuck_fraction=0.02", "faults.stuck_at_gmax_share=0.25"});
  const aimc::physics::DeviceModel device(p.device);
  const auto w = block_weights();
  const auto tile = make_tile(p, device, w);
  const double g_max = p.device.g_max_uS;
  std::int64_t stuck = 0;
  std::int64_t at_max = 0;
  for (bool pos : {true, false}) {
    for (std::size_t k = 0; k < w.size(); ++k) {
      const float g = tile.programmed(pos)[k];
      const bool frozen = tile.drift_exponent(pos)[k] == 0.0F;
      if (frozen && (g == 0.0F || g == static_cast<float>(g_max))) {
        ++stuck;
        at_max += g != 0.0F;
      }
    }
  }
  const double n = 2.0 * 256 * 256;
  // Binomial counts; 5 standard deviations.
  EXPECT_NEAR(stuck, 0.02 * n, 5 * std::sqrt(n * 0.02 * 0.98));
  EXPECT_NEAR(at_max, 0.25 * stuck, 5 * std::sqrt(stuck * 0.25 * 0.75));
}

TEST(Tile, ProgramAndVerifyBringsDevicesWithinTolerance) {
  auto one = aimc::io::read_chip_config(k_configs + "hermes64.ini", {});
  auto it =
      aimc::io::read_chip_config(k_configs + "hermes64.ini", {"programming.method=iterative"});
  const aimc::physics::DeviceModel device(one.device);
  const auto w = block_weights();
  const auto a = make_tile(one, device, w);
  const auto b = make_tile(it, device, w);
  const double g_max = one.device.g_max_uS;
  const double tol = 5.0 * g_max / 127.0;  // 5 counts of an 8-bit ADC over g_max
  std::int64_t outside_one = 0;
  std::int64_t outside_it = 0;
  for (int i = 0; i < 256; ++i) {
    for (int j = 0; j < 256; ++j) {
      const float v = w[i * 256 + j];
      const double target = std::abs(v) / a.column_scale()[j] * g_max;
      const std::size_t k = static_cast<std::size_t>(i) * 256 + j;
      const bool pos = v > 0;
      outside_one += std::abs(a.programmed(pos)[k] - target) > tol;
      outside_it += std::abs(b.programmed(pos)[k] - target) > tol;
    }
  }
  EXPECT_GT(outside_one, 1000);  // one-shot errors often exceed 5 counts
  // After up to 30 iterations, a device stays outside only if all 30 draws missed.
  EXPECT_LT(outside_it, 50);
  EXPECT_GT(b.verify_iterations(), 0);
  EXPECT_EQ(a.verify_iterations(), 0);
}

TEST(Tile, AdcMismatchHasTheConfiguredSpreadAndCalibrationLeavesTheResidual) {
  const auto raw =
      aimc::io::read_chip_config(k_configs + "hermes64.ini", {"converters.adc_calibration=false",
                                                              "converters.adc_gain_sigma=0.2",
                                                              "converters.adc_offset_sigma=0.05"});
  const auto cal = aimc::io::read_chip_config(
      k_configs + "hermes64.ini",
      {"converters.adc_gain_sigma=0.2", "converters.adc_residual_gain_sigma=0.07"});
  const aimc::physics::DeviceModel device(raw.device);
  const auto w = block_weights();
  for (const auto& [params, gain_sd, offset_sd] :
       {std::tuple{raw, 0.2, 0.05}, std::tuple{cal, 0.07, 0.0}}) {
    const auto tile = make_tile(params, device, w);
    double m = 0;
    double q = 0;
    double oq = 0;
    for (int j = 0; j < 256; ++j) {
      m += tile.adc().gain()[j];
      q += (tile.adc().gain()[j] - 1.0) * (tile.adc().gain()[j] - 1.0);
      oq += tile.adc().offset()[j] * tile.adc().offset()[j];
    }
    const double n = 256;
    // Sample standard deviation of n normals: standard error σ/sqrt(2n); 5 of them.
    EXPECT_NEAR(std::sqrt(q / n), gain_sd, 5 * gain_sd / std::sqrt(2 * n));
    EXPECT_NEAR(m / n, 1.0, 5 * gain_sd / std::sqrt(n));
    if (offset_sd > 0) {
      EXPECT_NEAR(std::sqrt(oq / n), offset_sd, 5 * offset_sd / std::sqrt(2 * n));
    } else {
      EXPECT_EQ(oq, 0.0);
    }
  }
}

TEST(Chip, DigitalLastLayerLeavesTheLinearOffTheCores) {
  AIMC_REQUIRE_MODEL("resnet20");
  const auto f = load("resnet20", 64, 16);
  const Network net(f.model, chip_inference());
  const auto analog = aimc::io::read_chip_config(k_configs + "ideal.ini", {});
  const auto digital =
      aimc::io::read_chip_config(k_configs + "ideal.ini", {"mapping.last_layer=digital"});
  AnalogChip a(net, analog, f.model.name, 1, 0);
  AnalogChip d(net, digital, f.model.name, 1, 0);
  EXPECT_EQ(a.mapping().blocks.size(), 36U);
  EXPECT_EQ(d.mapping().blocks.size(), 35U);
  d.calibrate(f.train);
  const Network ideal_net(f.model, {});
  const auto ideal = ideal_net.infer(f.test.image(0), f.test.size(), aimc::network::IdealBackend{});
  EXPECT_EQ(count_correct(net.infer(f.test.image(0), f.test.size(), d), f.test),
            count_correct(ideal, f.test));
}

}  // namespace

namespace {

// After a day of drift, compensation must recover most of what drift took (measured by the
// README's drift table: ResNet-32 at 1 day, about 20 % without and 80 % with global
// compensation); both compensations must beat none by a wide margin on the same chip.
TEST(Chip, DriftCompensationRecoversAccuracy) {
  AIMC_REQUIRE_MODEL("resnet20");
  const auto f = load("resnet20", 300, 32);
  const Network net(f.model, chip_inference());
  std::map<std::string, std::int64_t> correct;
  for (const char* mode : {"none", "global", "per_column"}) {
    const auto p = aimc::io::read_chip_config(k_configs + "hermes64.ini",
                                              {std::string("drift.compensation=") + mode});
    AnalogChip chip(net, p, f.model.name, 1, 0);
    chip.calibrate(f.train);
    chip.set_time(86400.0);
    correct[mode] = count_correct(net.infer(f.test.image(0), f.test.size(), chip), f.test);
  }
  EXPECT_GT(correct["global"], correct["none"] + 30)
      << correct["global"] << " vs " << correct["none"];
  EXPECT_GT(correct["per_column"], correct["none"] + 30)
      << correct["per_column"] << " vs " << correct["none"];
}

// The factors themselves: global is one α per tile (its readouts summed over the columns),
// per_column one per column, and a readout that is not positive leaves its α at 1.
TEST(DriftCompensation, FactorsPerMode) {
  using aimc::hardware::drift_compensation_factors;
  using aimc::hardware::DriftCompensation;
  const std::vector<double> ref{2.0, 4.0, 6.0};
  const std::vector<double> now{1.0, 2.0, 0.0};
  using Alpha = std::vector<float>;
  EXPECT_EQ(drift_compensation_factors(DriftCompensation::none, ref, now), (Alpha{1, 1, 1}));
  EXPECT_EQ(drift_compensation_factors(DriftCompensation::global, ref, now), (Alpha{4, 4, 4}));
  EXPECT_EQ(drift_compensation_factors(DriftCompensation::per_column, ref, now), (Alpha{2, 2, 1}));
  EXPECT_EQ(drift_compensation_factors(DriftCompensation::global, ref, {0.0, 0.0, 0.0}),
            (Alpha{1, 1, 1}));
}

// A converter's range is the percentile of |values| times the margin, also once the sampler has
// thinned its buffer, and 1 for a converter that saw only zeros.
TEST(Converters, RangeFromPercentile) {
  aimc::hardware::RangeSampler zeros;
  zeros.add(0.0F);
  EXPECT_EQ(zeros.range(99.0), 1.0F);
  aimc::hardware::RangeSampler ramp;
  const int n = 3 * static_cast<int>(aimc::hardware::RangeSampler::k_max_samples);
  for (int i = 0; i < n; ++i)
    ramp.add(static_cast<float>(i % 2 == 0 ? i : -i) / static_cast<float>(n));
  EXPECT_NEAR(ramp.range(50.0), 0.5, 1e-5);
  EXPECT_NEAR(ramp.range(100.0, 2.0), 2.0, 1e-5);
}

// The ADC applies a column's gain and offset mismatch before quantising over its range.
TEST(Converters, AdcColumnAppliesMismatchThenQuantises) {
  aimc::hardware::ConverterParams p;
  p.adc_bits = 3;  // 3 levels per side
  p.adc_calibration = false;
  p.adc_gain_sigma = 0.1;
  p.adc_offset_sigma = 0.1;
  aimc::hardware::Adc adc(p, 2, aimc::StreamKey{1, 0, 0, 0, aimc::Purpose::adc_mismatch});
  adc.set_range(3.0F);
  const aimc::hardware::Quantizer q(3, 3.0F);
  for (int j = 0; j < 2; ++j) {
    const auto column = adc.column(j);
    for (const float z : {-4.0F, -0.7F, 0.0F, 0.4F, 1.6F, 5.0F})
      EXPECT_EQ(column.apply(z), q.apply(z * adc.gain()[j] + adc.offset()[j] * 3.0F));
    EXPECT_NE(adc.gain()[j], 1.0F);
  }
  EXPECT_EQ(q.apply(1.6F), 2.0F);
  EXPECT_EQ(q.apply(5.0F), 3.0F);
}

}  // namespace

namespace {

// Calibration depends on the network and converters only, so a calibration from one chip applied
// to another gives exactly what calibrating that chip itself gives.
TEST(Chip, OneCalibrationServesEveryChipInstance) {
  AIMC_REQUIRE_MODEL("resnet20");
  const auto f = load("resnet20", 48, 16);
  const Network net(f.model, chip_inference());
  const auto p = aimc::io::read_chip_config(k_configs + "hermes64.ini", {});
  AnalogChip first(net, p, f.model.name, 1, 0);
  const auto calibration = first.calibrate(f.train);
  AnalogChip own(net, p, f.model.name, 1, 5);
  EXPECT_EQ(own.calibrate(f.train).z_bound, calibration.z_bound);
  AnalogChip reused(net, p, f.model.name, 1, 5);
  reused.apply(calibration);
  own.set_time(3600.0);
  reused.set_time(3600.0);
  EXPECT_EQ(net.infer(f.test.image(0), f.test.size(), own),
            net.infer(f.test.image(0), f.test.size(), reused));
  const auto other =
      aimc::io::read_chip_config(k_configs + "hermes64.ini", {"mapping.last_layer=digital"});
  AnalogChip smaller(net, other, f.model.name, 1, 0);
  EXPECT_THROW(smaller.apply(calibration), aimc::Error);
}

// Issue 15: a calibration carries the keys it was computed with (phase calibrate in the schema),
// and a chip with other calibration keys refuses it. aimc run reused a per_core calibration for
// per_column chips before, since its cache key left programming.weight_scaling out.
TEST(Chip, ACalibrationIsRefusedByAChipWithOtherCalibrationKeys) {
  AIMC_REQUIRE_MODEL("resnet20");
  const auto f = load("resnet20", 16, 8);
  const Network net(f.model, chip_inference());
  const auto per_core = aimc::io::read_chip_config(
      k_configs + "hermes64.ini", {"programming.weight_scaling=per_tile", "calibration.images=8"});
  const auto per_column =
      aimc::io::read_chip_config(k_configs + "hermes64.ini",
                                 {"programming.weight_scaling=per_column", "calibration.images=8"});
  AnalogChip a(net, per_core, f.model.name, 1, 0);
  const auto calibration = a.calibrate(f.train);
  AnalogChip b(net, per_column, f.model.name, 1, 0);
  try {
    b.apply(calibration);
    FAIL() << "a per_core calibration was applied to a per_column chip";
  } catch (const aimc::Error& e) {
    EXPECT_NE(std::string(e.what()).find("programming.weight_scaling = per_tile"),
              std::string::npos)
        << e.what();
  }
  // Read-time keys are not calibration keys: the same calibration serves both compensations.
  const auto none = aimc::io::read_chip_config(
      k_configs + "hermes64.ini",
      {"programming.weight_scaling=per_tile", "calibration.images=8", "drift.compensation=none"});
  AnalogChip c(net, none, f.model.name, 1, 0);
  EXPECT_NO_THROW(c.apply(calibration));
  // And calibration.images: the first that many of the images given, whatever their number.
  AnalogChip d(net, per_core, f.model.name, 1, 0);
  auto more = aimc::io::read_cifar10_train(aimc::test::data_dir() + "/cifar-10", 12);
  EXPECT_EQ(d.calibrate(more).z_bound, calibration.z_bound);
}

// Issue 15: per-MVM draws belong to (image, output pixel, column), so the direct-convolution and
// im2col paths and any batch size draw the same read and output noise for the same image; only
// the summation order of the signal differs. With exact converters nothing else can amplify that
// rounding, so the logits agree to float precision; with noise keyed by chunk offsets (before)
// they differed by the noise itself.
TEST(Chip, PerMvmNoiseDoesNotDependOnTheExecutionPath) {
  AIMC_REQUIRE_MODEL("resnet20");
  const auto f = load("resnet20", 24, 8);
  const auto p = aimc::io::read_chip_config(
      k_configs + "hermes64.ini",
      {"noise.read_noise_mode=per_mvm", "noise.output_noise_fraction=0.02", "converters.dac_bits=0",
       "converters.adc_bits=0"});
  auto logits = [&](bool direct, int batch) {
    InferenceParams ip = chip_inference();
    ip.direct_conv = direct;
    ip.batch_images = batch;
    const Network net(f.model, ip);
    AnalogChip chip(net, p, f.model.name, 3, 1);
    chip.calibrate(f.train);
    chip.set_time(86400.0);
    return net.infer(f.test.image(0), f.test.size(), chip);
  };
  const auto reference = logits(true, 24);
  float scale = 0;
  for (const float v : reference)
    scale = std::max(scale, std::abs(v));
  for (const auto& [direct, batch] : {std::pair{false, 24}, {true, 5}, {false, 7}}) {
    const auto other = logits(direct, batch);
    ASSERT_EQ(other.size(), reference.size());
    float worst = 0;
    for (std::size_t i = 0; i < other.size(); ++i)
      worst = std::max(worst, std::abs(other[i] - reference[i]));
    EXPECT_LT(worst, 1e-4F * scale) << "direct " << direct << ", batch " << batch;
  }
  // The noise is there: another read time (its own draws) moves the logits far more.
  InferenceParams ip = chip_inference();
  const Network net(f.model, ip);
  AnalogChip chip(net, p, f.model.name, 3, 1);
  chip.calibrate(f.train);
  chip.set_time(86400.5);
  const auto moved = net.infer(f.test.image(0), f.test.size(), chip);
  float change = 0;
  for (std::size_t i = 0; i < moved.size(); ++i)
    change = std::max(change, std::abs(moved[i] - reference[i]));
  EXPECT_GT(change, 1e-2F * scale);
}

}  // namespace

namespace {

using aimc::hardware::AnalogTile;
using aimc::hardware::ChipParams;

// The global α of every tile of `chip`, as the tiles apply them.
std::vector<float> tile_alphas(const AnalogChip& chip) {
  std::vector<float> a;
  for (std::size_t t = 0; t < chip.mapping().blocks.size(); ++t)
    a.push_back(chip.tile(t).compensation().front());
  return a;
}

// The compensation readout carries read noise in every read-noise mode and with either readout:
// with drift off, two read times draw different read noise and so give different α; with the
// read noise scaled to 0 as well, they give the same α (issue 16).
TEST(DriftCompensation, ReadoutCarriesReadNoiseInEveryMode) {
  AIMC_REQUIRE_MODEL("resnet20");
  const auto f = load("resnet20", 8, 8);
  const Network net(f.model, chip_inference());
  for (const char* mode : {"per_mvm", "per_evaluation"})
    for (const char* readout : {"chip", "aihwkit"})
      for (const char* read_noise : {"1", "0"}) {
        const auto p = aimc::io::read_chip_config(
            k_configs + "hermes64.ini",
            {std::string("noise.read_noise_mode=") + mode, std::string("drift.readout=") + readout,
             std::string("device.read_noise_scale=") + read_noise, "device.drift_nu_mean_scale=0",
             "device.drift_nu_std_scale=0", "calibration.images=8"});
        AnalogChip chip(net, p, f.model.name, 1, 0);
        chip.calibrate(f.train);
        chip.set_time(3600.0);
        const auto first = tile_alphas(chip);
        chip.set_time(3601.0);
        const auto second = tile_alphas(chip);
        if (read_noise == std::string("1"))
          EXPECT_NE(first, second) << mode << ", " << readout;
        else
          EXPECT_EQ(first, second) << mode << ", " << readout;
      }
}

// With drift off, α = 1 up to the readout's noise, in both readouts and both read-noise modes:
// over 12 read times and every tile, no single α strays beyond 6 standard deviations of 1 (the
// spread measured here is the readout noise itself), and the mean is within one of them. Not
// within its standard error: noise inside |y| biases a readout up by about σ²/(2y²), and read
// noise grows with log t, so α at later times sits a little below 1 (0.9991 here, per-MVM, chip
// readout); that bias is below the noise of a single readout.
TEST(DriftCompensation, WithoutDriftAlphaIsOneWithinTheReadoutNoise) {
  AIMC_REQUIRE_MODEL("resnet20");
  const auto f = load("resnet20", 8, 8);
  const Network net(f.model, chip_inference());
  for (const char* mode : {"per_mvm", "per_evaluation"})
    for (const char* readout : {"chip", "aihwkit"}) {
      const auto p = aimc::io::read_chip_config(
          k_configs + "hermes64.ini",
          {std::string("noise.read_noise_mode=") + mode, std::string("drift.readout=") + readout,
           "device.drift_nu_mean_scale=0", "device.drift_nu_std_scale=0", "calibration.images=8"});
      AnalogChip chip(net, p, f.model.name, 1, 0);
      chip.calibrate(f.train);
      std::vector<double> alpha;
      for (int k = 0; k < 12; ++k) {
        chip.set_time(3600.0 * (k + 1));
        for (const float a : tile_alphas(chip))
          alpha.push_back(a);
      }
      double mean = 0;
      for (const double a : alpha)
        mean += a;
      mean /= static_cast<double>(alpha.size());
      double ss = 0;
      for (const double a : alpha)
        ss += (a - mean) * (a - mean);
      const double sd = std::sqrt(ss / static_cast<double>(alpha.size() - 1));
      std::cout << mode << ", " << readout << " readout: alpha without drift " << mean << " ± "
                << sd << " over " << alpha.size() << " tile reads\n";
      EXPECT_GT(sd, 0.0) << mode << ", " << readout;  // the readout is noisy
      EXPECT_LT(sd, 0.02) << mode << ", " << readout;
      EXPECT_NEAR(mean, 1.0, sd) << mode << ", " << readout;
      for (const double a : alpha)
        EXPECT_NEAR(a, 1.0, 6 * sd) << mode << ", " << readout;
    }
}

// Compensation does what it is for: at one day, with drift, the readout's α undoes most of the
// mean drift. Per column, α·W_n(t) must be closer to the programmed W_n than W_n(t) is, for both
// readouts.
TEST(DriftCompensation, AlphaUndoesTheMeanDrift) {
  AIMC_REQUIRE_MODEL("resnet20");
  const auto f = load("resnet20", 8, 8);
  const Network net(f.model, chip_inference());
  for (const char* readout : {"chip", "aihwkit"}) {
    const auto p = aimc::io::read_chip_config(
        k_configs + "hermes64.ini", {std::string("drift.readout=") + readout,
                                     "drift.compensation=global", "calibration.images=8"});
    AnalogChip chip(net, p, f.model.name, 1, 0);
    chip.calibrate(f.train);
    chip.set_time(86400.0);
    for (std::size_t t = 0; t < chip.mapping().blocks.size(); ++t) {
      const AnalogTile& tile = chip.tile(t);
      double now = 0;
      double programmed = 0;
      for (std::size_t k = 0; k < tile.weight_n().size(); ++k) {
        now += std::abs(tile.weight_n()[k]);
        programmed += std::abs(tile.programmed(true)[k] - tile.programmed(false)[k]);
      }
      programmed /= p.device.g_max_uS;
      const double drift = programmed / now;  // the tile's mean drift, > 1
      const double alpha = tile.compensation().front();
      EXPECT_GT(drift, 1.1) << readout << ", tile " << t;
      EXPECT_LT(std::abs(alpha - drift), 0.25 * (drift - 1)) << readout << ", tile " << t;
    }
  }
}

// device.pair_model = aihwkit re-splits each programmed weight into a one-sided pair: the net
// programmed weight is that of the separate pair (the same draws), the zero side holds 0 µS, and
// that device contributes no drift and no read noise: at t, W_n is the held device's drifted
// conductance and the per-MVM variance is its read noise alone (issue 16).
TEST(PairModel, AihwkitZeroSideCarriesNoDriftOrReadNoise) {
  const int rows = 64;
  const int cols = 32;
  std::mt19937 gen(7);
  std::normal_distribution<float> normal(0.0F, 0.3F);
  std::vector<float> w(static_cast<std::size_t>(rows) * cols);
  for (float& v : w)
    v = normal(gen);
  ChipParams separate = aimc::io::read_chip_config(k_configs + "hermes64.ini", {});
  ChipParams aihwkit =
      aimc::io::read_chip_config(k_configs + "hermes64.ini", {"device.pair_model=aihwkit"});
  const aimc::physics::DeviceModel device_s(separate.device);
  const aimc::physics::DeviceModel device_a(aihwkit.device);
  const aimc::StreamKey key{5, 0, 3, 1, aimc::Purpose::programming};
  const AnalogTile a(w.data(), rows, cols, cols, separate, device_s, key);
  AnalogTile b(w.data(), rows, cols, cols, aihwkit, device_a, key);
  std::size_t both_on = 0;
  for (std::size_t k = 0; k < w.size(); ++k) {
    const float pos = b.programmed(true)[k];
    const float neg = b.programmed(false)[k];
    EXPECT_EQ(std::min(pos, neg), 0.0F) << k;
    EXPECT_EQ(pos - neg, a.programmed(true)[k] - a.programmed(false)[k]) << k;
    both_on += a.programmed(true)[k] > 0 && a.programmed(false)[k] > 0;
  }
  EXPECT_GT(both_on, w.size() / 10);  // the separate pair does program both sides

  const double t = 86400.0;
  b.set_time(t, aimc::StreamKey{5, 9, 3, 1, aimc::Purpose::read_noise});
  const double g_max = aihwkit.device.g_max_uS;
  for (std::size_t k = 0; k < w.size(); ++k) {
    const bool positive = b.programmed(true)[k] > 0;
    const double g = b.programmed(positive)[k];
    const double g_t = g * device_a.drift_factor(b.drift_exponent(positive)[k], t);
    const double sd = g_t * device_a.read_noise_sigma(g, t);
    EXPECT_NEAR(b.weight_n()[k], (positive ? g_t : -g_t) / g_max, 1e-5) << k;
    EXPECT_NEAR(b.variance_n()[k], sd * sd / (g_max * g_max),
                1e-4 * sd * sd / (g_max * g_max) + 1e-12)
        << k;
  }
}

}  // namespace

namespace {

// converters.input_scaling = per_vector (aihwkit's abs-max noise management): with exact
// converters it changes nothing, so the chip reproduces the ideal network; with a fixed ADC bound
// (converters.adc_bound, in weight units) the tile's ADC range is that bound over the tile's one
// weight scale.
TEST(InputScaling, PerVectorWithExactConvertersIsIdealAndTheBoundIsInWeightUnits) {
  AIMC_REQUIRE_MODEL("resnet20");
  const auto f = load("resnet20", 200, 16);
  const Network ideal_net(f.model, {});
  const auto ideal = ideal_net.infer(f.test.image(0), f.test.size(), aimc::network::IdealBackend{});
  const Network net(f.model, chip_inference());
  const auto params = aimc::io::read_chip_config(
      k_configs + "ideal.ini",
      {"converters.input_scaling=per_vector", "programming.weight_scaling=per_tile",
       "converters.adc_bound=12", "calibration.images=16"});
  AnalogChip chip(net, params, f.model.name, 1, 0);
  chip.calibrate(f.train);
  chip.set_time(3600.0);
  const auto analog = net.infer(f.test.image(0), f.test.size(), chip);
  EXPECT_LT(max_relative_difference(analog, ideal), 1e-4);
  for (std::size_t t = 0; t < chip.mapping().blocks.size(); ++t)
    EXPECT_FLOAT_EQ(chip.tile(t).adc().range() * chip.tile(t).column_scale().front(), 12.0F);
  // The bound is in weight units, so it needs one weight scale per tile.
  EXPECT_THROW(aimc::io::read_chip_config(k_configs + "ideal.ini", {"converters.adc_bound=12"}),
               aimc::Error);
}

}  // namespace
