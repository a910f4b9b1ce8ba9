#include "hardware/converters.hpp"

namespace aimc::hardware {

Adc::Adc(const ConverterParams& params, int cols, const StreamKey& mismatch_key)
    : bits_(params.adc_bits),
      quantizer_(params.adc_bits, 0.0F),
      gain_(cols, 1.0F),
      offset_(cols, 0.0F) {
  const double gain_sd = params.effective_gain_sigma();
  const double offset_sd = params.effective_offset_sigma();
  if (gain_sd > 0 || offset_sd > 0) {
    RandomStream rng(mismatch_key);
    for (int j = 0; j < cols; ++j) {
      gain_[j] = static_cast<float>(1.0 + gain_sd * rng.normal());
      offset_[j] = static_cast<float>(offset_sd * rng.normal());
    }
  }
}

void RangeSampler::thin() {
  for (std::size_t i = 0; 2 * i < values_.size(); ++i)
    values_[i] = values_[2 * i];
  values_.resize((values_.size() + 1) / 2);
  stride_ *= 2;
  next_keep_ = (seen_ + stride_ - 1) / stride_ * stride_;
}

float RangeSampler::range(double percentile, double margin) {
  float p = 0.0F;
  if (!values_.empty()) {
    // By selection: the k-th smallest kept value, k rounded down.
    const double last = static_cast<double>(values_.size() - 1);
    const auto k = static_cast<std::size_t>(std::clamp(percentile / 100.0 * last, 0.0, last));
    std::nth_element(values_.begin(), values_.begin() + static_cast<std::ptrdiff_t>(k),
                     values_.end());
    p = values_[k];
  }
  const float r = p * static_cast<float>(margin);
  return r > 0 ? r : 1.0F;
}

}  // namespace aimc::hardware
