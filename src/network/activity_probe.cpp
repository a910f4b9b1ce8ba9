#include "network/activity_probe.hpp"

#include <algorithm>
#include <cmath>

#include "util/error.hpp"

namespace aimc::network {

ActivityProbe::ActivityProbe(const AnalogChip& chip, const Network& net, int images, int dac_bits)
    : chip_(chip),
      layers_(static_cast<int>(net.dense_layers().size())),
      // An exact DAC (0 bits) has no levels; count in steps of 1/1023 instead.
      levels_(dac_bits > 0 ? static_cast<float>((1 << (dac_bits - 1)) - 1) : 1023.0F),
      level_sum_(static_cast<std::size_t>(images) * net.dense_layers().size()) {
  for (const DenseLayer& d : net.dense_layers()) {
    const std::int64_t pixels = std::int64_t{d.geometry.out.h} * d.geometry.out.w;
    rows_per_image_.push_back(std::max<std::int64_t>(pixels, 1));
    inputs_per_image_.push_back(std::max<std::int64_t>(pixels, 1) * d.weight.rows());
  }
  for (auto& v : level_sum_)
    v.store(0, std::memory_order_relaxed);
}

void ActivityProbe::matmul(const DenseLayer& layer, const StripRows& x, float* y, std::int64_t ld_y,
                           const MatmulContext& ctx) const {
  chip_.matmul(layer, x, y, ld_y, ctx);
  const float scale = levels_ / chip_.x_range(static_cast<std::size_t>(layer.index));
  // Float sums of integer terms are exact below 2^24.
  if (static_cast<double>(levels_) * x.k >= 16777216.0)
    throw Error(layer.name + ": " + std::to_string(x.k) +
                " crossbar inputs are too many for the activity count");
  const std::int64_t per_image = rows_per_image_[static_cast<std::size_t>(layer.index)];
  // Per 8-row half strip, the rows' level sums in float, vectorised over the 8 lanes: every term
  // is an integer and the sums stay below 2^24 (checked above), so they are exact and do not
  // depend on the order they are added in.
  const std::int64_t halves = (x.rows + k_half_rows - 1) / k_half_rows;
  for (std::int64_t h = 0; h < halves; ++h) {
    const float* base = x.half[static_cast<std::size_t>(h)];
    float acc[k_half_rows] = {};
    for (int k = 0; k < x.k; ++k) {
      const float* v = base + x.k_offset[k];
      for (int lane = 0; lane < k_half_rows; ++lane)
        acc[lane] += std::nearbyint(std::min(std::abs(v[lane]) * scale, levels_));
    }
    for (int lane = 0; lane < k_half_rows; ++lane) {
      const std::int64_t r = h * k_half_rows + lane;
      if (r >= x.rows) break;
      const std::int64_t image = ctx.first_image + (ctx.row0 + r) / per_image;
      level_sum_.at(static_cast<std::size_t>(image * layers_ + layer.index))
          .fetch_add(static_cast<std::int64_t>(acc[lane]), std::memory_order_relaxed);
    }
  }
}

std::vector<double> ActivityProbe::activity(int image) const {
  std::vector<double> a(static_cast<std::size_t>(layers_));
  for (int l = 0; l < layers_; ++l)
    a[static_cast<std::size_t>(l)] =
        static_cast<double>(
            level_sum_[static_cast<std::size_t>(std::int64_t{image} * layers_ + l)].load()) /
        (static_cast<double>(levels_) *
         static_cast<double>(inputs_per_image_[static_cast<std::size_t>(l)]));
  return a;
}

}  // namespace aimc::network
