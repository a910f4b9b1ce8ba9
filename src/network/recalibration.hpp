#pragma once

// Recalibration at inference time (drift.compensation = adabs | affine; docs/chip.md,
// "Recalibration"). At each read time t the chip drives training images (never test images)
// through its noisy crossbars, layer by layer, measures each analog layer's outputs per column
// (mean and standard deviation over every image and output pixel, before the bias), and loads a
// per-column gain and offset into the local digital unit that maps them onto target statistics:
//  - adabs: the float network's statistics on the same images. This is Joshi et al.'s adaptive
//    batch-norm statistics (Nature Communications 11:2473, 2020, "AdaBS"): their BatchNorm
//    normalises with the mean and variance re-measured on the chip, and then applies its trained
//    γ and β; a BatchNorm folded into its conv (or none at all) is the same map once the outputs
//    are matched to the statistics the BatchNorm expects. The one difference: AdaBS expects the
//    running statistics of training, adabs here the float network's statistics on the
//    recalibration images, so that on an ideal chip it is the identity (up to float rounding)
//    instead of a change of its own.
//  - affine: the same chip's statistics right after programming (read at t = 0 with its own
//    noise draw, once per chip), so it needs nothing but the chip, as a drift compensation
//    would, and corrects drift (scale and offset per column) but not programming error.
// Layer by layer: layer l is measured with layers < l already corrected (Network::
// forward_layerwise), as a chip recalibrating in place would see it. The gain and offset are
// the first two moments' fit, gain = σ_target / σ_now and offset = μ_target − gain · μ_now.

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "network/dataset.hpp"
#include "network/network.hpp"

namespace aimc::network {

// Per output column of one dense layer: the mean and standard deviation of its MVM outputs
// y = x·W (before the bias) over every image and output pixel.
struct ColumnStats {
  std::vector<double> mean;
  std::vector<double> stddev;
};
// Per dense layer (Network::dense_layers order).
using LayerStats = std::vector<ColumnStats>;

// Recalibration image i keys its per-MVM noise as image k_recalibration_first_image + i: apart
// from every test image's (its index in the test split), so the two never share noise.
constexpr std::int64_t k_recalibration_first_image = std::int64_t{1} << 40;

// A backend that forwards every call to `inner` and sums each dense layer's outputs (and their
// squares) per (image, column) in double. Each image's sums are accumulated in row order by the
// one thread that runs its batch, and stats() adds them up in image order, so the statistics
// are the same bits for any thread count. A layer's sums stop after stats() took them, so a
// rerun of the layer (Network::forward_layerwise) does not count twice.
class StatsRecorder final : public MatmulBackend {
 public:
  StatsRecorder(const Network& net, const MatmulBackend& inner, int images,
                std::int64_t first_image);
  void prepare_input(const DenseLayer& layer, float* x, std::int64_t count,
                     const InputLayout& layout) const override {
    inner_->prepare_input(layer, x, count, layout);
  }
  void matmul(const DenseLayer& layer, const StripRows& x, float* y, std::int64_t ld_y,
              const MatmulContext& ctx) const override;
  // Layer d's statistics so far; stops recording it.
  ColumnStats stats(int d);

 private:
  const Network* net_;
  const MatmulBackend* inner_;
  int images_;
  std::int64_t first_image_;
  std::vector<char> open_;  // per dense layer: still recording
  // Per dense layer, images × columns: Σy and Σy².
  mutable std::vector<std::vector<double>> sum_;
  mutable std::vector<std::vector<double>> sum_sq_;
};

// The float network's statistics on the first `count` images (the adabs target).
LayerStats ideal_layer_stats(const Network& net, const ImageSet& images, int count);

// ideal_layer_stats of one network and image set, computed once per image count and shared by
// the chips that use it (not thread-safe: one rank's chips recalibrate one at a time).
class IdealStatsCache {
 public:
  const LayerStats& get(const Network& net, const ImageSet& images, int count);

 private:
  std::map<int, LayerStats> by_count_;
};

// Per column: gain = target σ / now σ and offset = target μ − gain · now μ; gain 1 where the
// column is constant now (nothing to scale). Equal statistics give gain 1 and offset 0 exactly.
struct ColumnCorrection {
  std::vector<float> gain;
  std::vector<float> offset;
  bool identity() const;
};
ColumnCorrection match_moments(const ColumnStats& target, const ColumnStats& now);

}  // namespace aimc::network
