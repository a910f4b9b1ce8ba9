#pragma once

#include <string>
#include <vector>

#include "hardware/mapping.hpp"
#include "hardware/perf_model.hpp"
#include "physics/device_model.hpp"

namespace aimc::hardware {

// How read noise reaches the outputs (docs/chip.md):
//  - per_evaluation: one draw per device for each (chip, t), applied to the weights, as aihwkit
//    does when it drifts a model;
//  - per_mvm: fresh noise on every MVM, exact in output space: y_j = Σ_i (g_ij + n_ij) x_i with
//    independent n_ij ~ N(0, σ_ij²) is y_j + N(0, Σ_i σ_ij² x_i²), one extra GEMM per MVM
//    instead of one draw per device.
enum class ReadNoiseMode { per_evaluation, per_mvm };
// Which weights share one weight-to-conductance scale (max |w| ↦ g_max): each column of a tile
// (the local digital unit rescales every output column anyway), or the whole tile (aihwkit's
// default: weight_scaling_omega = 0 and weight_scaling_columnwise = False give one scale per
// tile, simulator/parameters/mapping.py).
enum class WeightScaling { per_column, per_tile };
// Drift compensation (aihwkit GlobalDriftCompensation; Joshi et al. 2020): a readout of a fixed
// input at programming time and at t gives α = ref / now, applied digitally per tile (global) or
// per column (hardware/drift_compensation.hpp). Or recalibration at t from training images driven
// through the chip, a per-column gain and offset in the local digital unit
// (network/recalibration.hpp): adabs (the statistics of the float network on those images,
// Joshi et al. 2020's adaptive batch-norm statistics) or affine (those of the same chip right
// after programming).
enum class DriftCompensation { none, global, per_column, adabs, affine };
// Whether `m` recalibrates from images (adabs, affine) rather than from a fixed readout.
inline bool recalibrates(DriftCompensation m) {
  return m == DriftCompensation::adabs || m == DriftCompensation::affine;
}
// Whether `m` scales by α from a reference readout (global, per_column).
inline bool reads_reference(DriftCompensation m) {
  return m == DriftCompensation::global || m == DriftCompensation::per_column;
}
// The readout that compensation compares (hardware/drift_compensation.hpp, docs/chip.md):
//  - chip: a fixed pattern of random-sign inputs at a calibrated amplitude, through the DAC, the
//    noisy crossbar and the ADC, as the chip itself can read; the reference is read right after
//    programming, with read noise;
//  - aihwkit: one-hot inputs (every row alone at full scale), mean |y| (aihwkit
//    inference/compensation/drift.py), the reference read from the programmed weights without
//    read noise (simulator/tiles/inference.py, program_weights).
enum class CompensationReadout { chip, aihwkit };
// How a tile's inputs are scaled onto the DAC's [−1, 1]:
//  - calibrated: by the layer's input range from calibration, once per layer input (the chip);
//  - per_vector: each input vector of a tile (one output pixel's rows of that tile) by its own
//    max |x|, the output multiplied back, as aihwkit's default noise management (ABS_MAX;
//    simulator/parameters/io.py, IOParameters.noise_management).
enum class InputScaling { calibrated, per_vector };
// One-shot statistical programming, or iterative program-and-verify as on the chip: re-program a
// device until its read-back conductance is within a tolerance of the target (Le Gallo et al.
// 2023, Methods: at most 30 iterations, a 5-ADC-count margin).
enum class ProgrammingMethod { one_shot, iterative };
// Where the network's final layer runs: on a core like the others, or exactly on the global
// digital unit.
enum class LastLayer { analog, digital };

bool read_noise_mode_from_name(const std::string& s, ReadNoiseMode& out);
bool weight_scaling_from_name(const std::string& s, WeightScaling& out);
bool drift_compensation_from_name(const std::string& s, DriftCompensation& out);
bool programming_method_from_name(const std::string& s, ProgrammingMethod& out);
const char* name_of(ReadNoiseMode m);
const char* name_of(WeightScaling m);
const char* name_of(DriftCompensation m);
const char* name_of(ProgrammingMethod m);
const char* name_of(LastLayer m);
const char* name_of(CompensationReadout m);
const char* name_of(InputScaling m);

struct ConverterParams {
  // Signed pulse-width-modulated inputs: 8 bits on the chip (Le Gallo et al. 2023; HERMES core,
  // Khaddam-Aljameh et al. JSSC 2022). 0 means exact (no quantisation).
  int dac_bits = 8;
  // Per-layer input range: this percentile of |x| over the calibration images.
  double dac_percentile = 99.99;
  InputScaling input_scaling = InputScaling::calibrated;
  // Current-controlled-oscillator ADC, 8 bits on the chip. 0 means exact.
  int adc_bits = 8;
  // Per-tile output range: this percentile of |MVM output| over the calibration images, times
  // the margin.
  double adc_percentile = 99.99;
  double adc_range_margin = 1.0;
  // A fixed ADC range in weight units of the MVM output (Σ x_n·w, inputs on [−1, 1], weights
  // unscaled), instead of the calibrated one: aihwkit's out_bound, whose tiles hold unscaled
  // weights (weight_scaling_omega = 0). 0: calibrated. Needs per_tile weight scaling (one scale
  // converts it to the tile's normalised outputs).
  double adc_bound = 0.0;
  // Per-column ADC gain and offset mismatch, sampled once per chip: gain 1 + σ_g·N(0,1), offset
  // σ_o·N(0,1) times the ADC range. With adc_calibration on, the local digital unit calibrates
  // them away up to the residual spreads (HERMES core, Khaddam-Aljameh et al. JSSC 2022, report
  // a residual gain spread of about 7 % after calibration); off, the raw spreads apply.
  double adc_gain_sigma = 0.0;
  double adc_offset_sigma = 0.0;
  bool adc_calibration = true;
  double adc_residual_gain_sigma = 0.0;
  double adc_residual_offset_sigma = 0.0;
  double effective_gain_sigma() const {
    return adc_calibration ? adc_residual_gain_sigma : adc_gain_sigma;
  }
  double effective_offset_sigma() const {
    return adc_calibration ? adc_residual_offset_sigma : adc_offset_sigma;
  }
};

struct ProgrammingParams {
  ProgrammingMethod method = ProgrammingMethod::one_shot;
  int max_iterations = 30;        // Le Gallo et al. 2023, Methods
  double tolerance_counts = 5.0;  // margin in ADC counts (Le Gallo et al. 2023, Methods)
  WeightScaling weight_scaling = WeightScaling::per_column;
};

// Device yield: a fraction of unit-cell devices stuck, at 0 or at g_max, sampled once per chip.
// The chip had more than 99 % working unit cells on 63 of its 64 cores (Le Gallo et al. 2023).
struct FaultParams {
  double stuck_fraction = 0.0;
  double stuck_at_gmax_share = 0.5;  // of the stuck devices, the share stuck at g_max
};

struct ChipParams {
  physics::DeviceParams device;
  MappingParams mapping;
  ConverterParams converters;
  ReadNoiseMode read_noise_mode = ReadNoiseMode::per_mvm;
  // Additive Gaussian noise at the ADC input, per MVM, as a fraction of the tile's output range.
  double output_noise_fraction = 0.0;
  ProgrammingParams programming;
  FaultParams faults;
  LastLayer last_layer = LastLayer::analog;
  DriftCompensation drift_compensation = DriftCompensation::global;
  CompensationReadout compensation_readout = CompensationReadout::chip;
  // Input vectors of the chip readout's pattern.
  int compensation_vectors = 32;
  // Training images used to calibrate the DAC and ADC ranges.
  int calibration_images = 64;
  // Training images driven through the chip at each read time by drift.compensation = adabs or
  // affine (the first ones of the training split; disjoint from the test images). The default
  // comes from the measured accuracy-versus-images curve (docs/chip.md, "Recalibration").
  int recalibration_images = 256;
  // Throughput and energy model ([perf]; hardware/perf_model.hpp).
  PerfParams perf;
  void validate() const;
};

// Every chip configuration key, declared once (util/key_schema.hpp), in the order of the
// canonical text: [device] (physics), [mapping], [converters], [noise], [programming], [faults],
// [drift], [calibration], [perf].
const KeyTable<ChipParams>& chip_keys();

// The chip configuration from `settings` ("section.key" = value, with origins); where a key is
// given more than once the first wins, so callers list overrides before what they override. Keys
// are applied in their declared order: device.kind and device.devices_per_polarity first start
// from the published values of that device model, and the keys after them override single
// values. An unknown key, a value of the wrong type or out of range throws aimc::Error naming the
// setting's origin, the key and what was expected; a conflict between keys names `where`.
ChipParams chip_from_settings(const std::vector<Setting>& settings, const std::string& where);

// The canonical text of the keys that touch `phases`, in declaration order. Equal texts for
// phase_program mean the same programmed chip; for phase_calibrate, the same converter
// calibration. chip_text(p) (every key) is what results files store and hash.
std::string chip_text(const ChipParams& p, Phases phases = ~0U);

}  // namespace aimc::hardware
