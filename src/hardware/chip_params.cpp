#include "hardware/chip_params.hpp"

#include <cmath>

#include "util/error.hpp"

namespace aimc::hardware {

namespace {

template <typename E, std::size_t N>
bool lookup(const std::string& s, E& out, const std::pair<E, const char*> (&table)[N]) {
  for (const auto& [value, name] : table) {
    if (s == name) {
      out = value;
      return true;
    }
  }
  return false;
}

template <typename E, std::size_t N>
const char* reverse(E v, const std::pair<E, const char*> (&table)[N]) {
  for (const auto& [value, name] : table)
    if (value == v) return name;
  return "?";
}

const std::pair<ReadNoiseMode, const char*> k_read_modes[] = {
    {ReadNoiseMode::per_evaluation, "per_evaluation"}, {ReadNoiseMode::per_mvm, "per_mvm"}};
const std::pair<WeightScaling, const char*> k_scalings[] = {
    {WeightScaling::per_column, "per_column"}, {WeightScaling::per_core, "per_core"}};
const std::pair<ProgrammingMethod, const char*> k_methods[] = {
    {ProgrammingMethod::one_shot, "one_shot"}, {ProgrammingMethod::iterative, "iterative"}};
const std::pair<DriftCompensation, const char*> k_compensations[] = {
    {DriftCompensation::none, "none"},
    {DriftCompensation::global, "global"},
    {DriftCompensation::per_column, "per_column"}};

void require(bool ok, const std::string& key, double value, const std::string& expected) {
  if (!ok) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%g", value);
    throw Error(key + " = " + buf + ", expected " + expected);
  }
}

}  // namespace

bool read_noise_mode_from_name(const std::string& s, ReadNoiseMode& out) {
  return lookup(s, out, k_read_modes);
}
bool weight_scaling_from_name(const std::string& s, WeightScaling& out) {
  return lookup(s, out, k_scalings);
}
bool drift_compensation_from_name(const std::string& s, DriftCompensation& out) {
  return lookup(s, out, k_compensations);
}
bool programming_method_from_name(const std::string& s, ProgrammingMethod& out) {
  return lookup(s, out, k_methods);
}
const char* name_of(ProgrammingMethod m) {
  return reverse(m, k_methods);
}
const char* name_of(ReadNoiseMode m) {
  return reverse(m, k_read_modes);
}
const char* name_of(WeightScaling m) {
  return reverse(m, k_scalings);
}
const char* name_of(DriftCompensation m) {
  return reverse(m, k_compensations);
}

void ConverterParams::validate() const {
  require(dac_bits >= 0 && dac_bits <= 24, "converters.dac_bits", dac_bits,
          "an integer in [0, 24] (0: exact)");
  require(adc_bits >= 0 && adc_bits <= 24, "converters.adc_bits", adc_bits,
          "an integer in [0, 24] (0: exact)");
  require(dac_percentile > 0 && dac_percentile <= 100, "converters.dac_percentile", dac_percentile,
          "a percentile in (0, 100]");
  require(adc_percentile > 0 && adc_percentile <= 100, "converters.adc_percentile", adc_percentile,
          "a percentile in (0, 100]");
  require(adc_range_margin > 0 && std::isfinite(adc_range_margin), "converters.adc_range_margin",
          adc_range_margin, "a positive number");
  for (const auto& [key, v] : {std::pair{"converters.adc_gain_sigma", adc_gain_sigma},
                               {"converters.adc_offset_sigma", adc_offset_sigma},
                               {"converters.adc_residual_gain_sigma", adc_residual_gain_sigma},
                               {"converters.adc_residual_offset_sigma", adc_residual_offset_sigma}})
    require(v >= 0 && v <= 1, key, v, "a spread in [0, 1]");
}

void ProgrammingParams::validate() const {
  require(max_iterations >= 1 && max_iterations <= 1000, "programming.max_iterations",
          max_iterations, "an integer in [1, 1000]");
  require(tolerance_counts > 0 && std::isfinite(tolerance_counts), "programming.tolerance_counts",
          tolerance_counts, "a positive number of ADC counts");
}

void FaultParams::validate() const {
  require(stuck_fraction >= 0 && stuck_fraction <= 1, "faults.stuck_fraction", stuck_fraction,
          "a fraction in [0, 1]");
  require(stuck_at_gmax_share >= 0 && stuck_at_gmax_share <= 1, "faults.stuck_at_gmax_share",
          stuck_at_gmax_share, "a fraction in [0, 1]");
}

void ChipParams::validate() const {
  device.validate();
  mapping.validate();
  converters.validate();
  programming.validate();
  faults.validate();
  perf.validate();
  require(output_noise_fraction >= 0 && std::isfinite(output_noise_fraction),
          "noise.output_noise_fraction", output_noise_fraction, "a non-negative number");
  require(calibration_images >= 1 && calibration_images <= 50000, "calibration.images",
          calibration_images, "an integer in [1, 50000]");
}

}  // namespace aimc::hardware
