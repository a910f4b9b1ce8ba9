#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "hardware/chip_params.hpp"
#include "util/rng.hpp"

namespace aimc::hardware {

// The converters at a core's edges: the input DAC (signed pulse-width modulation) and one ADC per
// output column (current-controlled oscillator), 8 bits each on the chip (Le Gallo et al. 2023;
// HERMES core, Khaddam-Aljameh et al. JSSC 2022). Everything here runs per MVM element, so it is
// inline, branch-free and allocation-free; the chip composes it (network/analog_chip).

// Levels on each side of zero of a signed b-bit converter: 2^(b−1) − 1, so that the range is
// symmetric (the most negative code stays unused).
constexpr int converter_levels(int bits) {
  return (1 << (bits - 1)) - 1;
}

// Symmetric uniform quantiser with converter_levels(bits) levels on each side of zero over
// [−bound, bound], saturating outside; bits = 0 leaves the value exact (no saturation either).
class Quantizer {
 public:
  Quantizer(int bits, float bound)
      : exact_(bits == 0),
        levels_(bits == 0 ? 0.0F : static_cast<float>(converter_levels(bits))),
        step_(bits == 0 ? 1.0F : bound / levels_),
        inv_step_(1.0F / step_) {}
  float apply(float v) const {
    if (exact_) return v;
    // Round half to even (the FPU's default mode), as a converter's comparator ladder would
    // resolve a tie either way.
    return std::nearbyint(std::clamp(v * inv_step_, -levels_, levels_)) * step_;
  }

 private:
  bool exact_;
  float levels_;
  float step_;
  float inv_step_;
};

// The input DAC of one layer's crossbar rows: x_n = q(x / x_range), with q the dac_bits
// quantiser over [−1, 1] and x_range the layer's calibrated input range. q(0) = 0, so zero
// padding stays zero.
class Dac {
 public:
  Dac(int bits, float range) : q_(bits, 1.0F), range_(range), inv_range_(1.0F / range) {}
  float range() const { return range_; }
  float apply(float x) const { return q_.apply(x * inv_range_); }
  // x[i] = apply(x[i]) for i < n. The converter is copied to locals first, so that the stores
  // through x cannot alias it and the loop vectorises.
  void apply(float* x, std::int64_t n) const {
    const Quantizer q = q_;
    const float inv = inv_range_;
    for (std::int64_t i = 0; i < n; ++i)
      x[i] = q.apply(x[i] * inv);
  }

 private:
  Quantizer q_;
  float range_;
  float inv_range_;
};

// The ADCs of one tile's columns: signed adc_bits over the tile's output range ±B (from
// calibration), each column with its own gain and offset mismatch, applied before quantisation
// and fixed for the chip's life.
class Adc {
 public:
  // Draws the mismatch of `cols` columns, gain 1 + σ_g·N(0,1) and offset σ_o·N(0,1)·B with the
  // effective spreads of `params` (after ADC calibration or raw), from `mismatch_key` (purpose
  // adc_mismatch); with both spreads 0 it draws nothing.
  Adc(const ConverterParams& params, int cols, const StreamKey& mismatch_key);

  // One column's converter: the mismatch and the quantiser held by value, so that the per-MVM
  // loop keeps them in registers.
  struct Column {
    Quantizer q;
    float gain;
    float offset;
    float apply(float z) const { return q.apply(z * gain + offset); }
  };
  Column column(int j) const { return {quantizer_, gain_[j], offset_[j] * range_}; }

  void set_range(float bound) {
    range_ = bound;
    quantizer_ = Quantizer(bits_, bound);
  }
  float range() const { return range_; }
  const std::vector<float>& gain() const { return gain_; }
  const std::vector<float>& offset() const { return offset_; }  // × the range

 private:
  int bits_;
  float range_ = 0.0F;
  Quantizer quantizer_;
  std::vector<float> gain_;
  std::vector<float> offset_;
};

// A converter's range from calibration: the given percentile of the |values| it would see on the
// calibration images, times a margin. Keeps at most about k_max_samples of the stream, spread
// evenly over all of it: when the buffer fills, every other kept value is dropped and the
// sampling stride doubles. Deterministic, so the range depends on nothing but the values.
class RangeSampler {
 public:
  static constexpr std::size_t k_max_samples = 1 << 20;
  // Keeps the values whose position in the stream is a multiple of the stride.
  void add(float v) {
    if (seen_++ != next_keep_) return;
    next_keep_ += stride_;
    values_.push_back(std::abs(v));
    if (values_.size() >= k_max_samples) thin();
  }
  // The percentile (in %) of the kept |values| times the margin; 1 where that is 0 (a converter
  // that saw only zeros: any range converts them exactly).
  float range(double percentile, double margin = 1.0);

 private:
  void thin();

  std::vector<float> values_;
  std::uint64_t seen_ = 0;
  std::uint64_t next_keep_ = 0;
  std::uint64_t stride_ = 1;
};

}  // namespace aimc::hardware
