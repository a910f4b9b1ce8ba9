#pragma once

#include <string>

#include "hardware/mapping.hpp"
#include "physics/device_model.hpp"

namespace aimc::hardware {

// How read noise reaches the outputs (docs/chip.md):
//  - per_evaluation: one draw per device for each (chip, t), applied to the weights, as aihwkit
//    does when it drifts a model;
//  - per_mvm: fresh noise on every MVM, exact in output space: y_j = Σ_i (g_ij + n_ij) x_i with
//    independent n_ij ~ N(0, σ_ij²) is y_j + N(0, Σ_i σ_ij² x_i²), one extra GEMM per MVM
//    instead of one draw per device.
enum class ReadNoiseMode { per_evaluation, per_mvm };
// Which weights share one weight-to-conductance scale (max |w| ↦ g_max).
enum class WeightScaling { per_column, per_core };
// Drift compensation (aihwkit GlobalDriftCompensation; Joshi et al. 2020): a readout of a fixed
// input at programming time and at t gives α = ref / now, applied digitally.
enum class DriftCompensation { none, global, per_column };

bool read_noise_mode_from_name(const std::string& s, ReadNoiseMode& out);
bool weight_scaling_from_name(const std::string& s, WeightScaling& out);
bool drift_compensation_from_name(const std::string& s, DriftCompensation& out);
const char* name_of(ReadNoiseMode m);
const char* name_of(WeightScaling m);
const char* name_of(DriftCompensation m);

struct ConverterParams {
  // Signed pulse-width-modulated inputs: 8 bits on the chip (Le Gallo et al. 2023; HERMES core,
  // Khaddam-Aljameh et al. JSSC 2022). 0 means exact (no quantisation).
  int dac_bits = 8;
  // Per-layer input range: this percentile of |x| over the calibration images.
  double dac_percentile = 99.99;
  // Current-controlled-oscillator ADC, 8 bits on the chip. 0 means exact.
  int adc_bits = 8;
  // Per-tile output range: this percentile of |MVM output| over the calibration images, times
  // the margin.
  double adc_percentile = 99.99;
  double adc_range_margin = 1.0;
  void validate() const;
};

struct ChipParams {
  physics::DeviceParams device;
  MappingParams mapping;
  ConverterParams converters;
  ReadNoiseMode read_noise_mode = ReadNoiseMode::per_mvm;
  // Additive Gaussian noise at the ADC input, per MVM, as a fraction of the tile's output range.
  double output_noise_fraction = 0.0;
  WeightScaling weight_scaling = WeightScaling::per_column;
  DriftCompensation drift_compensation = DriftCompensation::global;
  // Training images used to calibrate the DAC and ADC ranges.
  int calibration_images = 64;
  void validate() const;
};

}  // namespace aimc::hardware
