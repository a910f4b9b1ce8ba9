#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "network/analog_chip.hpp"
#include "network/network.hpp"

namespace aimc::network {

// Wraps the chip's matmul and counts, per image and dense layer, the DAC input levels |q| that
// drive the crossbar. The chip's PWM pulse lasts |q| steps, so the input-proportional part of the
// MVM energy follows this count (docs/performance-model.md). The activity of layer l for image i is
// Σ|q| / (levels · inputs), the mean |x_n| after the DAC, padding zeros included.
//
// Counts are integers added atomically, so they do not depend on how rows are spread over threads.
class ActivityProbe final : public MatmulBackend {
 public:
  ActivityProbe(const AnalogChip& chip, const Network& net, int images, int dac_bits);

  void matmul(const DenseLayer& layer, const StripRows& x, float* y, std::int64_t ld_y,
              const MatmulContext& ctx) const override;

  // Per dense layer, the activity of image i, in [0, 1].
  std::vector<double> activity(int image) const;

 private:
  const AnalogChip& chip_;
  int layers_;
  float levels_;
  std::vector<std::int64_t> rows_per_image_;    // per dense layer: output pixels
  std::vector<std::int64_t> inputs_per_image_;  // per dense layer: pixels × crossbar inputs
  mutable std::vector<std::atomic<std::int64_t>> level_sum_;  // [image][layer]
};

}  // namespace aimc::network
