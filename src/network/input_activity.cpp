#include "network/input_activity.hpp"

#include <algorithm>

#include "hardware/converters.hpp"

namespace aimc::network {

InputActivity::InputActivity(const Network& net, int images, int dac_bits)
    : layers_(static_cast<int>(net.dense_layers().size())),
      levels_(dac_bits > 0 ? static_cast<float>(hardware::converter_levels(dac_bits))
                           : k_exact_levels),
      counts_(static_cast<std::size_t>(images) * net.dense_layers().size()) {
  for (const DenseLayer& d : net.dense_layers()) {
    const std::int64_t pixels =
        std::max<std::int64_t>(std::int64_t{d.geometry.out.h} * d.geometry.out.w, 1);
    rows_per_image_.push_back(pixels);
    inputs_per_image_.push_back(pixels * d.weight.rows());
  }
  for (auto& c : counts_)
    c.store(0, std::memory_order_relaxed);
}

std::vector<double> InputActivity::activity(int image) const {
  std::vector<double> a(static_cast<std::size_t>(layers_));
  for (int l = 0; l < layers_; ++l)
    a[static_cast<std::size_t>(l)] =
        static_cast<double>(
            counts_[static_cast<std::size_t>(std::int64_t{image} * layers_ + l)].load()) /
        (static_cast<double>(levels_) *
         static_cast<double>(inputs_per_image_[static_cast<std::size_t>(l)]));
  return a;
}

}  // namespace aimc::network
