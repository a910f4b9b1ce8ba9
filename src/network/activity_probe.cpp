#include "network/activity_probe.hpp"

#include <algorithm>
#include <cmath>

namespace aimc::network {

ActivityProbe::ActivityProbe(const AnalogChip& chip, const Network& net, int images, int dac_bits)
    : chip_(chip),
      layers_(static_cast<int>(net.dense_layers().size())),
      // An exact DAC (0 bits) has no levels; count in steps of 1/32767 instead.
      levels_(dac_bits > 0 ? static_cast<float>((1 << (dac_bits - 1)) - 1) : 32767.0F),
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
  const std::int64_t per_image = rows_per_image_[static_cast<std::size_t>(layer.index)];
  std::int64_t image = -1;
  std::int64_t sum = 0;
  const auto flush = [&] {
    if (image >= 0)
      level_sum_[static_cast<std::size_t>(image * layers_ + layer.index)].fetch_add(
          sum, std::memory_order_relaxed);
  };
  for (std::int64_t r = 0; r < x.rows; ++r) {
    const std::int64_t i = ctx.first_image + (ctx.row0 + r) / per_image;
    if (i != image) {
      flush();
      image = i;
      sum = 0;
    }
    // As the DAC: |q| = round(min(|x| / x_range, 1) · levels).
    const float* half = x.half[static_cast<std::size_t>(r / k_half_rows)];
    const std::int64_t lane = r % k_half_rows;
    for (int k = 0; k < x.k; ++k) {
      const float v = std::min(std::abs(half[x.k_offset[k] + lane]) * scale, levels_);
      sum += static_cast<std::int64_t>(std::nearbyint(v));
    }
  }
  flush();
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
