#include "hardware/drift_compensation.hpp"

#include <algorithm>
#include <cmath>

#include "hardware/converters.hpp"
#include "util/normal.hpp"

namespace aimc::hardware {

std::vector<float> readout_pattern(int vectors, int rows) {
  RandomStream rng(StreamKey{0, 0, 0, 0, Purpose::compensation_pattern});
  std::vector<float> s(static_cast<std::size_t>(vectors) * rows);
  for (float& v : s)
    v = rng.uniform() < 0.5 ? -1.0F : 1.0F;
  return s;
}

float readout_amplitude(const std::vector<float>& w_n, int rows, int cols, float adc_bound,
                        int dac_bits) {
  std::vector<double> norm2(static_cast<std::size_t>(cols), 0.0);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j) {
      const double w = w_n[static_cast<std::size_t>(i) * cols + j];
      norm2[static_cast<std::size_t>(j)] += w * w;
    }
  const double largest = std::sqrt(*std::max_element(norm2.begin(), norm2.end()));
  const double a = largest > 0 ? std::min(1.0, adc_bound / (3.0 * largest)) : 1.0;
  const Quantizer dac(dac_bits, 1.0F);
  const float smallest =
      dac_bits > 0 ? 1.0F / static_cast<float>(converter_levels(dac_bits)) : 0.0F;
  return std::max(dac.apply(static_cast<float>(a)), smallest);
}

std::vector<double> compensation_readout(const AnalogTile& tile, const ChipParams& params,
                                         float amplitude, const StreamKey& noise_key) {
  const int rows = tile.rows();
  const int cols = tile.cols();
  const std::vector<float>& w = tile.weight_n();
  const std::vector<float>& var = tile.variance_n();  // empty: no per-MVM read noise
  const Adc& adc = tile.adc();
  const double out_sd = params.output_noise_fraction * adc.range();
  const bool aihwkit = params.compensation_readout == CompensationReadout::aihwkit;
  const int vectors = aihwkit ? rows : params.compensation_vectors;

  // z: vectors × cols, the noise-free MVM outputs; v: per column (chip) or per element (aihwkit),
  // the per-MVM read-noise variance Σ_i x_i² σ_ij².
  std::vector<float> z(static_cast<std::size_t>(vectors) * cols, 0.0F);
  std::vector<float> v;
  if (aihwkit) {
    // Row i alone at x_n = 1 reads W_ij, with variance σ_ij².
    std::copy(w.begin(), w.end(), z.begin());
    v = var;
  } else {
    const std::vector<float> s = readout_pattern(vectors, rows);
    for (int k = 0; k < vectors; ++k) {
      float* zk = z.data() + static_cast<std::size_t>(k) * cols;
      for (int i = 0; i < rows; ++i) {
        const float x = amplitude * s[static_cast<std::size_t>(k) * rows + i];
        const float* wi = w.data() + static_cast<std::size_t>(i) * cols;
        for (int j = 0; j < cols; ++j)
          zk[j] += x * wi[j];
      }
    }
    // Every row is driven at ±a, so each vector's read-noise variance is a² Σ_i σ_ij².
    if (!var.empty()) {
      std::vector<float> column(static_cast<std::size_t>(cols), 0.0F);
      for (int i = 0; i < rows; ++i)
        for (int j = 0; j < cols; ++j)
          column[static_cast<std::size_t>(j)] += var[static_cast<std::size_t>(i) * cols + j];
      v.resize(z.size());
      for (int k = 0; k < vectors; ++k)
        for (int j = 0; j < cols; ++j)
          v[static_cast<std::size_t>(k) * cols + j] =
              amplitude * amplitude * column[static_cast<std::size_t>(j)];
    }
  }
  const auto out_var = static_cast<float>(out_sd * out_sd);
  if (!v.empty() || out_var > 0) {
    std::vector<float> n(z.size());
    fill_standard_normal_at(noise_key, 0, n.data(), n.size());
    for (std::size_t e = 0; e < z.size(); ++e)
      z[e] += std::sqrt((v.empty() ? 0.0F : v[e]) + out_var) * n[e];
  }
  std::vector<double> readout(static_cast<std::size_t>(cols), 0.0);
  for (int k = 0; k < vectors; ++k)
    for (int j = 0; j < cols; ++j)
      readout[static_cast<std::size_t>(j)] +=
          std::abs(adc.column(j).apply(z[static_cast<std::size_t>(k) * cols + j]));
  return readout;
}

std::vector<float> drift_compensation_factors(DriftCompensation mode,
                                              const std::vector<double>& reference,
                                              const std::vector<double>& now) {
  std::vector<float> alpha(now.size(), 1.0F);
  switch (mode) {
    case DriftCompensation::none:
    // Recalibration corrects in the local digital unit after the tile sum, not per tile.
    case DriftCompensation::adabs:
    case DriftCompensation::affine:
      break;
    case DriftCompensation::global: {
      // Column by column: this order fixes the rounding.
      double ref_sum = 0;
      double now_sum = 0;
      for (std::size_t j = 0; j < now.size(); ++j) {
        ref_sum += reference[j];
        now_sum += now[j];
      }
      if (now_sum > 0) std::fill(alpha.begin(), alpha.end(), static_cast<float>(ref_sum / now_sum));
      break;
    }
    case DriftCompensation::per_column:
      for (std::size_t j = 0; j < now.size(); ++j)
        if (now[j] > 0) alpha[j] = static_cast<float>(reference[j] / now[j]);
      break;
  }
  return alpha;
}

}  // namespace aimc::hardware
