#include "hardware/chip_params.hpp"

#include <cmath>
#include <map>

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
    {WeightScaling::per_column, "per_column"}, {WeightScaling::per_tile, "per_tile"}};
const std::pair<InputScaling, const char*> k_input_scalings[] = {
    {InputScaling::calibrated, "calibrated"}, {InputScaling::per_vector, "per_vector"}};
const std::pair<CompensationReadout, const char*> k_readouts[] = {
    {CompensationReadout::chip, "chip"}, {CompensationReadout::aihwkit, "aihwkit"}};
const std::pair<ProgrammingMethod, const char*> k_methods[] = {
    {ProgrammingMethod::one_shot, "one_shot"}, {ProgrammingMethod::iterative, "iterative"}};
const std::pair<LastLayer, const char*> k_last_layers[] = {{LastLayer::analog, "analog"},
                                                           {LastLayer::digital, "digital"}};
const std::pair<DriftCompensation, const char*> k_compensations[] = {
    {DriftCompensation::none, "none"},
    {DriftCompensation::global, "global"},
    {DriftCompensation::per_column, "per_column"},
    {DriftCompensation::adabs, "adabs"},
    {DriftCompensation::affine, "affine"}};

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
const char* name_of(InputScaling m) {
  return reverse(m, k_input_scalings);
}
const char* name_of(CompensationReadout m) {
  return reverse(m, k_readouts);
}
const char* name_of(LastLayer m) {
  return reverse(m, k_last_layers);
}

const KeyTable<ChipParams>& chip_keys() {
  using P = ChipParams;
  static const KeyTable<P> keys = [] {
    constexpr Phases program = phase_program;
    constexpr Phases calibrate = phase_calibrate;
    constexpr Phases read = phase_read;
    KeyTable<P> k;
    lift_into(k, physics::device_keys(), AIMC_MEMBER(device));
    lift_into(k, mapping_keys(), AIMC_MEMBER(mapping));
    k.push_back(enum_key<P>("mapping.last_layer", AIMC_MEMBER(last_layer),
                            {LastLayer::analog, LastLayer::digital}, name_of,
                            program | calibrate | phase_perf,
                            "final layer on a core, or exact on the global digital unit"));
    // The chip: 8-bit pulse-width DAC and CCO ADC (Le Gallo 2023; Khaddam-Aljameh, JSSC 2022).
    // dac_bits reaches the activity count of the energy model too; adc_bits sets the verify
    // read's resolution of iterative programming.
    k.push_back(int_key<P>("converters.dac_bits", AIMC_MEMBER(converters.dac_bits), 0, 24, "bits",
                           calibrate | read | phase_perf, "input DAC resolution (0: exact)"));
    k.push_back(real_key<P>("converters.dac_percentile", AIMC_MEMBER(converters.dac_percentile),
                            above_up_to(0, 100), "%", calibrate,
                            "per-layer input range: this percentile of |x| on calibration images"));
    k.push_back(enum_key<P>("converters.input_scaling", AIMC_MEMBER(converters.input_scaling),
                            {InputScaling::calibrated, InputScaling::per_vector}, name_of,
                            calibrate | read,
                            "DAC input range: the layer's calibrated one, or each input vector's "
                            "max |x| (aihwkit's noise management)"));
    k.push_back(int_key<P>("converters.adc_bits", AIMC_MEMBER(converters.adc_bits), 0, 24, "bits",
                           program | read, "output ADC resolution (0: exact)"));
    k.push_back(real_key<P>("converters.adc_percentile", AIMC_MEMBER(converters.adc_percentile),
                            above_up_to(0, 100), "%", calibrate,
                            "per-tile output range: this percentile of |MVM output|"));
    k.push_back(real_key<P>("converters.adc_range_margin", AIMC_MEMBER(converters.adc_range_margin),
                            above(0), "", calibrate, "factor on the calibrated ADC range"));
    k.push_back(real_key<P>("converters.adc_bound", AIMC_MEMBER(converters.adc_bound), at_least(0),
                            "weight units", calibrate,
                            "fixed ADC range of sum x_n*w (aihwkit's out_bound; 0: calibrated)"));
    k.push_back(real_key<P>("converters.adc_gain_sigma", AIMC_MEMBER(converters.adc_gain_sigma),
                            between(0, 1), "", program,
                            "per-column ADC gain spread before calibration, sampled per chip"));
    k.push_back(real_key<P>("converters.adc_offset_sigma", AIMC_MEMBER(converters.adc_offset_sigma),
                            between(0, 1), "range", program,
                            "per-column ADC offset spread before calibration"));
    k.push_back(bool_key<P>("converters.adc_calibration", AIMC_MEMBER(converters.adc_calibration),
                            program, "ADC mismatch calibrated away down to the residual spreads"));
    k.push_back(real_key<P>("converters.adc_residual_gain_sigma",
                            AIMC_MEMBER(converters.adc_residual_gain_sigma), between(0, 1), "",
                            program, "gain spread left after ADC calibration (JSSC 2022: ~0.07)"));
    k.push_back(real_key<P>("converters.adc_residual_offset_sigma",
                            AIMC_MEMBER(converters.adc_residual_offset_sigma), between(0, 1),
                            "range", program, "offset spread left after ADC calibration"));
    k.push_back(enum_key<P>("noise.read_noise_mode", AIMC_MEMBER(read_noise_mode),
                            {ReadNoiseMode::per_evaluation, ReadNoiseMode::per_mvm}, name_of, read,
                            "read noise drawn per device per evaluation, or fresh on every MVM"));
    k.push_back(real_key<P>("noise.output_noise_fraction", AIMC_MEMBER(output_noise_fraction),
                            at_least(0), "range", read,
                            "Gaussian noise at the ADC input, per MVM, times the ADC range"));
    k.push_back(enum_key<P>("programming.weight_scaling", AIMC_MEMBER(programming.weight_scaling),
                            {WeightScaling::per_column, WeightScaling::per_tile}, name_of,
                            program | calibrate, "weights sharing one max |w| -> g_max scale"));
    k.push_back(enum_key<P>("programming.method", AIMC_MEMBER(programming.method),
                            {ProgrammingMethod::one_shot, ProgrammingMethod::iterative}, name_of,
                            program, "one-shot, or program-and-verify as on the chip"));
    k.push_back(int_key<P>("programming.max_iterations", AIMC_MEMBER(programming.max_iterations), 1,
                           1000, "", program, "program-and-verify iterations (Methods: 30)"));
    k.push_back(real_key<P>("programming.tolerance_counts",
                            AIMC_MEMBER(programming.tolerance_counts), above(0), "ADC counts",
                            program, "program-and-verify margin (Methods: 5 counts)"));
    k.push_back(real_key<P>("faults.stuck_fraction", AIMC_MEMBER(faults.stuck_fraction),
                            between(0, 1), "", program,
                            "share of devices stuck, sampled per chip"));
    k.push_back(real_key<P>("faults.stuck_at_gmax_share", AIMC_MEMBER(faults.stuck_at_gmax_share),
                            between(0, 1), "", program,
                            "of the stuck devices, the share at g_max"));
    k.push_back(enum_key<P>(
        "drift.compensation", AIMC_MEMBER(drift_compensation),
        {DriftCompensation::none, DriftCompensation::global, DriftCompensation::per_column,
         DriftCompensation::adabs, DriftCompensation::affine},
        name_of, read,
        "drift compensation from a reference readout: one alpha per tile (global) or per column; "
        "or recalibration from training images to the float network's (adabs) or the fresh "
        "chip's (affine) output statistics"));
    k.push_back(enum_key<P>("drift.readout", AIMC_MEMBER(compensation_readout),
                            {CompensationReadout::chip, CompensationReadout::aihwkit}, name_of,
                            read,
                            "compensation readout: a random-sign pattern through DAC, crossbar and "
                            "ADC (chip), or aihwkit's one-hot inputs"));
    k.push_back(int_key<P>("drift.readout_vectors", AIMC_MEMBER(compensation_vectors), 1, 4096, "",
                           read, "input vectors of the chip readout's pattern"));
    // At most the CIFAR-10 training split's 50,000 images.
    k.push_back(int_key<P>("drift.recalibration_images", AIMC_MEMBER(recalibration_images), 1,
                           50000, "", read,
                           "training images that adabs and affine recalibrate on, per read"));
    k.push_back(int_key<P>("calibration.images", AIMC_MEMBER(calibration_images), 1, 50000, "",
                           calibrate, "training images that calibrate the DAC and ADC ranges"));
    lift_into(k, perf_keys(), AIMC_MEMBER(perf));
    return k;
  }();
  return keys;
}

ChipParams chip_from_settings(const std::vector<Setting>& settings, const std::string& where) {
  const auto& keys = chip_keys();
  std::map<std::string, const Setting*> given;
  for (const Setting& s : settings) {
    if (find_key(keys, s.key) == nullptr)
      throw Error(s.origin + ": unknown chip key '" + s.key +
                  "', expected one of the keys that 'aimc keys' lists (docs/chip.md)");
    given.emplace(s.key, &s);
  }
  ChipParams p;
  for (const auto& k : keys) {
    const auto it = given.find(k.name);
    if (it != given.end() && !k.set(p, it->second->value))
      throw Error(it->second->origin + ": " + k.name + " = '" + it->second->value + "', expected " +
                  k.expected);
  }
  // Ranges first, each reported where its value came from; then the constraints between keys.
  for (const auto& k : keys)
    if (!k.in_range(p)) {
      const auto it = given.find(k.name);
      throw Error((it != given.end() ? it->second->origin : where) + ": " + k.name + " = " +
                  k.get(p) + ", expected " + k.expected);
    }
  try {
    p.validate();
  } catch (const Error& e) {
    throw Error(where + ": " + e.what());
  }
  return p;
}

std::string chip_text(const ChipParams& p, Phases phases) {
  return canonical_text(chip_keys(), p, phases);
}

void ChipParams::validate() const {
  check_ranges(chip_keys(), *this);
  device.validate();  // and the device model's constraints between keys
  if (converters.adc_bound > 0 && programming.weight_scaling != WeightScaling::per_tile)
    throw Error("converters.adc_bound = " + canonical_number(converters.adc_bound) +
                " needs programming.weight_scaling = per_tile, expected per_tile or "
                "converters.adc_bound = 0");
}

}  // namespace aimc::hardware
