// The throughput and energy model: the published peak figures, per-layer figures that add up to
// the chip's, energy that grows with the inputs from the fixed part at zero input, and the
// throughput gained by replicating the bottleneck layer.

#include <gtest/gtest.h>

#include <numeric>
#include <string>

#include "hardware/perf_model.hpp"
#include "io/chip_config.hpp"
#include "util/error.hpp"

namespace {

using aimc::hardware::LayerWork;
using aimc::hardware::Mapping;
using aimc::hardware::MappingParams;
using aimc::hardware::PerfModel;
using aimc::hardware::PerfParams;
using aimc::hardware::ReadMode;

const std::string k_configs = std::string(AIMC_SOURCE_DIR) + "/configs/chips/";

void expect_within(double value, double expected, double tolerance) {
  EXPECT_LE(std::abs(value - expected), tolerance * expected) << value << " vs " << expected;
}

// Three layers of a small CNN: 1024, 256 and 64 MVMs per image, the first two smaller than a
// core, the last split into 2 row blocks × 2 column blocks.
struct Net {
  Mapping mapping;
  std::vector<LayerWork> work;
};

Net small_net(const MappingParams& mp = {}) {
  Net n;
  n.mapping =
      aimc::hardware::map_layers("small", {{"a", 27, 16}, {"b", 144, 32}, {"c", 288, 300}}, mp);
  const std::int64_t mvms[] = {1024, 256, 64};
  const std::int64_t inputs[] = {3 * 1024, 16 * 1024, 32 * 256};
  const std::int64_t outs[] = {16, 32, 300};
  for (int l = 0; l < 3; ++l) {
    LayerWork w;
    w.mvms_per_image = mvms[l];
    w.input_activations = inputs[l];
    w.local.affine = mvms[l] * outs[l];
    w.local.relu = mvms[l] * outs[l];
    w.global.add = l == 2 ? mvms[l] * outs[l] : 0;
    w.global.pool = l == 2 ? mvms[l] * outs[l] : 0;
    n.work.push_back(w);
  }
  return n;
}

TEST(PerfModel, PeakFiguresMatchThePaperWithin2Percent) {
  const auto chip = aimc::io::read_chip_config(k_configs + "hermes64.ini", {});
  const auto one = aimc::hardware::peak_performance(chip.perf, chip.mapping, ReadMode::one_phase);
  const auto four = aimc::hardware::peak_performance(chip.perf, chip.mapping, ReadMode::four_phase);
  // Le Gallo et al., Nature Electronics 2023.
  expect_within(one.tops, 63.1, 0.02);
  expect_within(one.tops_per_w, 9.76, 0.02);
  expect_within(four.tops, 16.1, 0.02);
  expect_within(four.tops_per_w, 2.48, 0.02);
  expect_within(four.gops_per_mm2, 400.0, 0.02);
  // The energy per full-chip MVM behind them: 0.86 and 3.38 µJ.
  expect_within(64 * chip.perf.mvm_energy_nJ(ReadMode::one_phase) * 1e-3, 0.86, 0.02);
  expect_within(64 * chip.perf.mvm_energy_nJ(ReadMode::four_phase) * 1e-3, 3.38, 0.02);
}

TEST(PerfModel, OneFullCoreLayerAtTheCalibrationActivityCostsThePublishedMvmEnergy) {
  PerfParams p;
  p.affine_energy_pJ = p.relu_energy_pJ = p.add_energy_pJ = p.pool_energy_pJ = 0;
  p.mesh_energy_pJ_per_byte = 0;
  const Mapping m = aimc::hardware::map_layers("full", {{"x", 256, 256}}, {});
  LayerWork w;
  w.mvms_per_image = 100;
  for (ReadMode mode : {ReadMode::one_phase, ReadMode::four_phase}) {
    p.read_mode = mode;
    const PerfModel model(p, m, {w});
    const auto r = model.evaluate({p.calibration_input_activity});
    EXPECT_NEAR(r.energy_nJ, 100 * p.mvm_energy_nJ(mode), 1e-9 * r.energy_nJ);
    EXPECT_NEAR(r.cycle_ns, 100 * p.mvm_latency_ns(mode), 1e-9 * r.cycle_ns);
    EXPECT_NEAR(r.tops_per_w, 2.0 * 256 * 256 / (p.mvm_energy_nJ(mode) * 1e3), 1e-9);
  }
}

TEST(PerfModel, LayerFiguresAddUpToTheChipTotals) {
  const Net n = small_net();
  for (ReadMode mode : {ReadMode::one_phase, ReadMode::four_phase}) {
    PerfParams p;
    p.read_mode = mode;
    const PerfModel model(p, n.mapping, n.work);
    const auto r = model.evaluate({0.3, 0.1, 0.05});
    double energy = 0;
    double latency = 0;
    double layer_input = 0;
    std::int64_t macs = 0;
    int cores = 0;
    double slowest = 0;
    for (const auto& l : r.layers) {
      energy += l.energy_nJ();
      latency += l.latency_ns;
      layer_input += l.energy_nJ() / static_cast<double>(l.mvms_per_image);
      macs += l.macs_per_image;
      cores += l.cores;
      slowest = std::max(slowest, l.stage_ns);
    }
    EXPECT_NEAR(energy, r.energy_nJ, 1e-9 * energy);
    EXPECT_NEAR(latency, r.latency_ns, 1e-9 * latency);
    EXPECT_NEAR(layer_input, r.layer_input_nJ, 1e-9 * layer_input);
    EXPECT_EQ(macs, 1024 * 27 * 16 + 256 * 144 * 32 + 64 * 288 * 300);
    EXPECT_EQ(macs, r.macs_per_image);
    EXPECT_EQ(cores, r.cores_used);
    EXPECT_EQ(cores, n.mapping.cores_used());
    // One layer per core: the slowest stage sets the pace, here the 1024-MVM layer.
    EXPECT_NEAR(r.cycle_ns, slowest, 1e-9 * slowest);
    EXPECT_EQ(r.bottleneck, 0);
    EXPECT_NEAR(r.images_per_s, 1e9 / r.cycle_ns, 1e-9 * r.images_per_s);
    EXPECT_NEAR(r.gops, 2.0 * static_cast<double>(macs) * r.images_per_s * 1e-9, 1e-9 * r.gops);
    EXPECT_NEAR(r.tops_per_w, 2.0 * static_cast<double>(macs) / (r.energy_nJ * 1e3), 1e-12);
    EXPECT_NEAR(r.energy_nJ, model.energy_per_image_nJ({0.3, 0.1, 0.05}), 1e-9 * r.energy_nJ);
  }
}

TEST(PerfModel, PackedCoresAddTheirBlocksMvmTimes) {
  MappingParams mp;
  mp.strategy = aimc::hardware::MappingStrategy::packed;
  const Net n = small_net(mp);
  const PerfModel model(PerfParams{}, n.mapping, n.work);
  const auto r = model.evaluate();
  // Layers a and b share core 0 (their MVMs run one after another), so the cycle is at least
  // the sum of their stages.
  ASSERT_EQ(n.mapping.blocks[0].core, n.mapping.blocks[1].core);
  EXPECT_GE(r.cycle_ns, r.layers[0].stage_ns + r.layers[1].stage_ns - 1e-6);
}

TEST(PerfModel, ZeroInputsGiveOnlyTheFixedPartAndEnergyGrowsWithTheInputs) {
  const Net n = small_net();
  PerfParams p;
  const PerfModel model(p, n.mapping, n.work);
  const auto zero = model.evaluate({0, 0, 0});
  EXPECT_DOUBLE_EQ(zero.energy_nJ, model.fixed_energy_nJ());
  for (const auto& l : zero.layers)
    EXPECT_EQ(l.mvm_input_nJ, 0.0);

  // Linear in each layer's activity, with the documented slope: per MVM, the full-scale input
  // energy times the share of the core's cells the block uses.
  const double e_full = p.mvm_input_energy_full_nJ(p.read_mode);
  const auto& slope = model.activity_slope_nJ();
  EXPECT_NEAR(slope[0], 1024 * e_full * (27.0 * 16) / (256 * 256), 1e-9 * slope[0]);
  double previous = zero.energy_nJ;
  for (double a : {0.05, 0.1, 0.2, 0.5, 1.0}) {
    const double e = model.energy_per_image_nJ({a, a, a});
    EXPECT_GT(e, previous);
    EXPECT_NEAR(e - zero.energy_nJ, a * (slope[0] + slope[1] + slope[2]), 1e-9 * e);
    previous = e;
  }
  // Raising one layer's activity raises only its own input energy.
  const auto one = model.evaluate({0, 0.4, 0});
  EXPECT_EQ(one.layers[0].mvm_input_nJ, 0.0);
  EXPECT_NEAR(one.layers[1].mvm_input_nJ, 0.4 * slope[1], 1e-12);
  // Throughput does not depend on the data: the PWM window is fixed.
  EXPECT_EQ(one.images_per_s, zero.images_per_s);
  // The default activity is used without measured statistics.
  const double d = p.default_input_activity;
  EXPECT_DOUBLE_EQ(model.evaluate().energy_nJ, model.energy_per_image_nJ({d, d, d}));
}

TEST(PerfModel, ReplicatingTheBottleneckRaisesThroughputAsPredicted) {
  const Net n = small_net();
  const PerfParams p;
  const PerfModel base(p, n.mapping, n.work);
  const auto r1 = base.evaluate();
  ASSERT_EQ(r1.bottleneck, 0);
  // Layer a has 1024 MVMs per image, b 256: replicating a by r divides its stage by r until b's
  // stage becomes the slowest, at r = 4.
  for (int rep : {2, 4, 8}) {
    const PerfModel model(p, n.mapping, n.work, {rep, 1, 1});
    const auto r = model.evaluate();
    const double predicted = std::max(r1.layers[0].stage_ns / rep, r1.layers[1].stage_ns);
    EXPECT_NEAR(r.cycle_ns, predicted, 1e-9 * predicted) << rep;
    EXPECT_NEAR(r.images_per_s / r1.images_per_s, r1.cycle_ns / predicted, 1e-9) << rep;
    EXPECT_EQ(r.cores_used, r1.cores_used + (rep - 1) * r1.layers[0].cores);
    // The same MVMs spread over more cores: the energy per image does not change.
    EXPECT_NEAR(r.energy_nJ, r1.energy_nJ, 1e-9 * r.energy_nJ);
  }
  EXPECT_EQ(PerfModel(p, n.mapping, n.work, {8, 1, 1}).evaluate().bottleneck, 1);
  // Replicating a layer that is not the bottleneck changes nothing.
  EXPECT_DOUBLE_EQ(PerfModel(p, n.mapping, n.work, {1, 2, 2}).images_per_s(), r1.images_per_s);
}

TEST(PerfModel, BadInputIsOneLineNamingTheKey) {
  const Net n = small_net();
  PerfParams p;
  EXPECT_THROW(PerfModel(p, n.mapping, n.work, {100, 1, 1}), aimc::Error);
  EXPECT_THROW(PerfModel(p, n.mapping, {n.work[0]}), aimc::Error);
  const PerfModel model(p, n.mapping, n.work);
  EXPECT_THROW(model.energy_per_image_nJ({0.1, 0.1}), aimc::Error);
  EXPECT_THROW(model.energy_per_image_nJ({0.1, 1.5, 0.1}), aimc::Error);
  try {
    aimc::io::read_chip_config(k_configs + "hermes64.ini", {"perf.input_energy_share=1.5"});
    FAIL() << "expected an error";
  } catch (const aimc::Error& e) {
    EXPECT_NE(std::string(e.what()).find("perf.input_energy_share = 1.5"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(aimc::io::read_chip_config(k_configs + "hermes64.ini", {"perf.read_mode=two"}),
               aimc::Error);
}

TEST(PerfModel, ConfigRoundTripsAndIdealChipHasTheDefaults) {
  const auto chip =
      aimc::io::read_chip_config(k_configs + "hermes64.ini", {"perf.read_mode=one_phase"});
  EXPECT_EQ(chip.perf.read_mode, ReadMode::one_phase);
  EXPECT_DOUBLE_EQ(chip.perf.chip_area_mm2, 40.25);
  // The resolved text names every [perf] key and reads back to the same values.
  const std::string text = aimc::hardware::chip_text(chip);
  EXPECT_NE(text.find("[perf]"), std::string::npos);
  EXPECT_NE(text.find("mesh_bandwidth_GBps_per_core = 8"), std::string::npos);
  const PerfParams defaults;
  const auto ideal = aimc::io::read_chip_config(k_configs + "ideal.ini", {});
  EXPECT_EQ(ideal.perf.read_mode, defaults.read_mode);
  EXPECT_DOUBLE_EQ(ideal.perf.mvm_energy_nJ_four_phase, defaults.mvm_energy_nJ_four_phase);
  // hermes64.ini states the defaults of PerfParams.
  EXPECT_DOUBLE_EQ(chip.perf.mvm_latency_ns_four_phase, defaults.mvm_latency_ns_four_phase);
  EXPECT_DOUBLE_EQ(chip.perf.input_energy_share, defaults.input_energy_share);
  EXPECT_DOUBLE_EQ(chip.perf.default_input_activity, defaults.default_input_activity);
}

}  // namespace
