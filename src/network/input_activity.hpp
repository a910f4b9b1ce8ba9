#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "network/network.hpp"

namespace aimc::network {

// Per image and dense layer, the DAC levels |q| that drive the crossbar: the chip's PWM pulse
// lasts |q| steps, so the input-proportional part of the MVM energy follows this count
// (docs/performance-model.md). The activity of layer l for image i is Σ|q| / (levels · inputs),
// the mean |x_n| after the DAC, padding zeros included; in [0, 1].
//
// AnalogChip adds to it while it quantises its inputs (AnalogChip::set_input_activity), from
// many threads at once. Counts are integers added atomically, so they do not depend on how rows
// are spread over threads.
class InputActivity {
 public:
  InputActivity(const Network& net, int images, int dac_bits);

  // The levels an exact DAC (0 bits) is counted in.
  static constexpr float k_exact_levels = 1023.0F;
  float levels() const { return levels_; }
  std::int64_t rows_per_image(int layer) const {
    return rows_per_image_[static_cast<std::size_t>(layer)];
  }
  void add(int layer, std::int64_t image, std::int64_t level_sum) const {
    counts_.at(static_cast<std::size_t>(image * layers_ + layer))
        .fetch_add(level_sum, std::memory_order_relaxed);
  }
  std::vector<double> activity(int image) const;

 private:
  int layers_;
  float levels_;
  std::vector<std::int64_t> rows_per_image_;    // per dense layer: output pixels
  std::vector<std::int64_t> inputs_per_image_;  // per dense layer: pixels × crossbar inputs
  mutable std::vector<std::atomic<std::int64_t>> counts_;  // [image][layer]
};

}  // namespace aimc::network
