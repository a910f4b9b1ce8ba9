#pragma once

#include <cstdint>
#include <vector>

#include "hardware/chip_params.hpp"
#include "hardware/converters.hpp"
#include "physics/device_model.hpp"
#include "util/rng.hpp"

namespace aimc::hardware {

// One weight block programmed on a crossbar: rows = inputs (word lines), cols = outputs (bit
// lines). Each weight w is one 8T4R unit cell: a G+ and a G− polarity, each 1 or 2 PCM devices
// (Le Gallo et al. 2023, Fig. 1); w > 0 programs G+ to |w|/s·g_max and leaves G− at 0, w < 0 the
// reverse, with s the weight scale of its column (or core). Programming error and the drift
// exponent ν are drawn once, here; drift and read noise depend on the inference time.
//
// All analog quantities are normalised as in aihwkit: inputs x_n = x / x_range ∈ [−1, 1],
// weights W_n = (G+ − G−) / g_max ∈ [−1, 1], outputs z = x_n · W_n. A weight-space output is
// y_j = z_j · x_range · s_j · α_j, with α the drift compensation factor (digital, in the local
// digital unit).
class AnalogTile {
 public:
  AnalogTile(const float* w, int rows, int cols, std::int64_t ld_w, const ChipParams& params,
             const physics::DeviceModel& device, const StreamKey& programming_key);

  int rows() const { return rows_; }
  int cols() const { return cols_; }

  // Drift to t_inference_s and (per_evaluation) draw the read noise with `read_key`; fills the
  // normalised weights W_n and, for per_mvm, their per-device read-noise variance.
  void set_time(double t_inference_s, const StreamKey& read_key);
  // The programmed weights as they are right after programming, without drift or read noise
  // (aihwkit's drift-compensation reference, hardware/drift_compensation.hpp); no per-MVM variance.
  void set_programmed();
  // The drift-compensation factors α of the columns (hardware/drift_compensation).
  void set_compensation(std::vector<float> alpha) { alpha_ = std::move(alpha); }
  // The ADC output range B of the columns (from calibration).
  void set_adc_range(float bound) { adc_.set_range(bound); }

  const std::vector<float>& weight_n() const { return w_n_; }      // rows × cols, row-major
  const std::vector<float>& variance_n() const { return var_n_; }  // same; empty unless per_mvm
  const std::vector<float>& column_scale() const { return scale_; }
  // The columns' ADCs, with their mismatch drawn at programming time.
  const Adc& adc() const { return adc_; }
  // Programmed conductances (µS) and drift exponents of one polarity, rows × cols row-major.
  const std::vector<float>& programmed(bool positive) const {
    return positive ? g_prog_pos_ : g_prog_neg_;
  }
  const std::vector<float>& drift_exponent(bool positive) const {
    return positive ? nu_pos_ : nu_neg_;
  }
  // Re-programming iterations that program-and-verify needed beyond the first (both polarities).
  std::int64_t verify_iterations() const { return verify_iterations_; }
  const std::vector<float>& compensation() const { return alpha_; }

 private:
  std::int64_t program_and_verify(const std::vector<float>& target, std::vector<float>& g,
                                  RandomStream& rng) const;
  void stick(std::vector<float>& g, std::vector<float>& nu, RandomStream& rng) const;
  // device.pair_model = aihwkit: re-split each programmed weight into a one-sided pair.
  void resplit_one_sided();

  int rows_;
  int cols_;
  const ChipParams* params_;
  const physics::DeviceModel* device_;
  std::vector<float> scale_;  // per column: weight units per g_max
  // Per polarity, rows × cols: programmed conductance (µS) and drift exponent.
  std::vector<float> g_prog_pos_, g_prog_neg_, nu_pos_, nu_neg_;
  std::vector<float> w_n_;
  std::vector<float> var_n_;
  std::vector<float> alpha_;
  Adc adc_;
  std::int64_t verify_iterations_ = 0;
};

}  // namespace aimc::hardware
