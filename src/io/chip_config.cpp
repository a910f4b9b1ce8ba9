#include "io/chip_config.hpp"

#include <boost/program_options.hpp>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "util/error.hpp"

namespace aimc::io {

namespace po = boost::program_options;

namespace {

// The [perf] keys that hold a double, with their member of PerfParams.
const std::vector<std::pair<const char*, double hardware::PerfParams::*>>& perf_doubles() {
  using P = hardware::PerfParams;
  static const std::vector<std::pair<const char*, double P::*>> keys = {
      {"perf.mvm_latency_ns_one_phase", &P::mvm_latency_ns_one_phase},
      {"perf.mvm_latency_ns_four_phase", &P::mvm_latency_ns_four_phase},
      {"perf.mvm_energy_nJ_one_phase", &P::mvm_energy_nJ_one_phase},
      {"perf.mvm_energy_nJ_four_phase", &P::mvm_energy_nJ_four_phase},
      {"perf.calibration_input_activity", &P::calibration_input_activity},
      {"perf.input_energy_share", &P::input_energy_share},
      {"perf.default_input_activity", &P::default_input_activity},
      {"perf.affine_energy_pJ", &P::affine_energy_pJ},
      {"perf.relu_energy_pJ", &P::relu_energy_pJ},
      {"perf.add_energy_pJ", &P::add_energy_pJ},
      {"perf.pool_energy_pJ", &P::pool_energy_pJ},
      {"perf.local_ops_per_ns", &P::local_ops_per_ns},
      {"perf.global_ops_per_ns", &P::global_ops_per_ns},
      {"perf.mesh_energy_pJ_per_byte", &P::mesh_energy_pJ_per_byte},
      {"perf.mesh_bandwidth_GBps_per_core", &P::mesh_bandwidth_GBps_per_core},
      {"perf.mesh_latency_ns", &P::mesh_latency_ns},
      {"perf.chip_area_mm2", &P::chip_area_mm2},
  };
  return keys;
}

po::options_description chip_options() {
  po::options_description o;
  o.add_options()
      // [device]: physics/device_model.hpp
      ("device.kind", po::value<std::string>(), "hermes | pcm")("device.devices_per_polarity",
                                                                po::value<int>(), "1 or 2")(
          "device.g_max_uS", po::value<double>(), "")("device.t0_s", po::value<double>(), "")(
          "device.t_read_s", po::value<double>(), "")(
          "device.prog_noise_scale", po::value<double>(), "")("device.drift_nu_mean_scale",
                                                              po::value<double>(), "")(
          "device.drift_nu_std_scale", po::value<double>(), "")("device.read_noise_scale",
                                                                po::value<double>(), "")
      // [mapping]: hardware/mapping.hpp
      ("mapping.strategy", po::value<std::string>(), "one_layer_per_core | packed")(
          "mapping.cores", po::value<int>(), "")("mapping.core_rows", po::value<int>(), "")(
          "mapping.core_cols", po::value<int>(), "")
      // [converters], [noise], [programming], [drift], [calibration]: hardware/chip_params.hpp
      ("converters.dac_bits", po::value<int>(), "")("converters.dac_percentile",
                                                    po::value<double>(), "")("converters.adc_bits",
                                                                             po::value<int>(), "")(
          "converters.adc_percentile", po::value<double>(), "")("converters.adc_range_margin",
                                                                po::value<double>(), "")(
          "noise.read_noise_mode", po::value<std::string>(), "per_evaluation | per_mvm")(
          "noise.output_noise_fraction", po::value<double>(), "")(
          "programming.weight_scaling", po::value<std::string>(), "per_column | per_core")(
          "drift.compensation", po::value<std::string>(), "none | global | per_column")(
          "calibration.images", po::value<int>(), "");
  o.add_options()("programming.method", po::value<std::string>(), "one_shot | iterative")(
      "programming.max_iterations", po::value<int>(), "")("programming.tolerance_counts",
                                                          po::value<double>(), "")(
      "faults.stuck_fraction", po::value<double>(), "")("faults.stuck_at_gmax_share",
                                                        po::value<double>(), "")(
      "converters.adc_gain_sigma", po::value<double>(), "")("converters.adc_offset_sigma",
                                                            po::value<double>(), "")(
      "converters.adc_calibration", po::value<bool>(), "")("converters.adc_residual_gain_sigma",
                                                           po::value<double>(), "")(
      "converters.adc_residual_offset_sigma", po::value<double>(), "")(
      "mapping.last_layer", po::value<std::string>(), "analog | digital");
  // [perf]: hardware/perf_model.hpp
  o.add_options()("perf.read_mode", po::value<std::string>(), "one_phase | four_phase")(
      "perf.activation_bytes", po::value<int>(), "")("perf.partial_sum_bytes", po::value<int>(),
                                                     "");
  for (const auto& [key, member] : perf_doubles())
    o.add_options()(key, po::value<double>(), "");
  return o;
}

template <typename T>
void set_if(const po::variables_map& vm, const char* key, T& out) {
  if (vm.count(key) != 0U) out = vm[key].as<T>();
}

template <typename E>
void set_enum(const po::variables_map& vm, const char* key, E& out,
              bool (*parse)(const std::string&, E&), const char* expected,
              const std::string& where) {
  if (vm.count(key) == 0U) return;
  const std::string v = vm[key].as<std::string>();
  if (!parse(v, out))
    throw Error(where + ": " + key + " = '" + v + "', expected one of: " + expected);
}

}  // namespace

void check_no_percent(const std::string& text, const std::string& origin) {
  std::istringstream in(text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    const std::string code = line.substr(0, line.find('#'));
    if (code.find('%') != std::string::npos)
      throw Error(origin + ": line " + std::to_string(n) +
                  ": '%' in a key or value, expected none (keys are section.name, values numbers, "
                  "names or paths)");
  }
}

bool is_chip_key(const std::string& key) {
  // Program_options treats an empty name as a prefix of every option and throws
  // ambiguous_option even from find_nothrow (found by fuzz_config: "chip. = 1").
  if (key.empty()) return false;
  try {
    return chip_options().find_nothrow(key, false) != nullptr;
  } catch (const po::error&) {
    return false;
  }
}

hardware::ChipParams read_chip_config(const std::string& path,
                                      const std::vector<std::string>& overrides) {
  const po::options_description options = chip_options();
  po::variables_map vm;
  // Overrides first: Program_options keeps the first value stored for a key.
  std::string set_text;
  for (const std::string& o : overrides) {
    if (o.find('=') == std::string::npos)
      throw Error("--set '" + o + "': expected section.key=value");
    set_text += o + "\n";
  }
  check_no_percent(set_text, "--set");
  try {
    std::istringstream set_stream(set_text);
    po::store(po::parse_config_file(set_stream, options, false), vm);
  } catch (const po::error& e) {
    throw Error(std::string("--set: ") + e.what());
  }
  const std::string where = path.empty() ? std::string("--set") : path;
  if (!path.empty()) {
    std::ifstream file(path);
    if (!file) throw Error(path + ": cannot open chip configuration");
    std::ostringstream text;
    text << file.rdbuf();
    check_no_percent(text.str(), path);
    try {
      std::istringstream parsed(text.str());
      po::store(po::parse_config_file(parsed, options, false), vm);
    } catch (const po::error& e) {
      throw Error(path + ": " + e.what());
    }
  }

  hardware::ChipParams p;
  physics::DeviceKind kind = physics::DeviceKind::hermes;
  set_enum(vm, "device.kind", kind, physics::device_kind_from_name, "hermes, pcm", where);
  int per_polarity = p.device.devices_per_polarity;
  set_if(vm, "device.devices_per_polarity", per_polarity);
  if (per_polarity != 1 && per_polarity != 2)
    throw Error(where + ": device.devices_per_polarity = " + std::to_string(per_polarity) +
                ", expected 1 or 2");
  p.device = physics::DeviceParams::defaults(kind, per_polarity);
  set_if(vm, "device.g_max_uS", p.device.g_max_uS);
  set_if(vm, "device.t0_s", p.device.t0_s);
  set_if(vm, "device.t_read_s", p.device.t_read_s);
  set_if(vm, "device.prog_noise_scale", p.device.prog_noise_scale);
  set_if(vm, "device.drift_nu_mean_scale", p.device.drift_nu_mean_scale);
  set_if(vm, "device.drift_nu_std_scale", p.device.drift_nu_std_scale);
  set_if(vm, "device.read_noise_scale", p.device.read_noise_scale);
  set_enum(vm, "mapping.strategy", p.mapping.strategy, hardware::mapping_strategy_from_name,
           "one_layer_per_core, packed", where);
  set_if(vm, "mapping.cores", p.mapping.cores);
  set_if(vm, "mapping.core_rows", p.mapping.core_rows);
  set_if(vm, "mapping.core_cols", p.mapping.core_cols);
  set_if(vm, "converters.dac_bits", p.converters.dac_bits);
  set_if(vm, "converters.dac_percentile", p.converters.dac_percentile);
  set_if(vm, "converters.adc_bits", p.converters.adc_bits);
  set_if(vm, "converters.adc_percentile", p.converters.adc_percentile);
  set_if(vm, "converters.adc_range_margin", p.converters.adc_range_margin);
  set_enum(vm, "noise.read_noise_mode", p.read_noise_mode, hardware::read_noise_mode_from_name,
           "per_evaluation, per_mvm", where);
  set_if(vm, "noise.output_noise_fraction", p.output_noise_fraction);
  set_enum(vm, "programming.weight_scaling", p.programming.weight_scaling,
           hardware::weight_scaling_from_name, "per_column, per_core", where);
  set_enum(vm, "drift.compensation", p.drift_compensation, hardware::drift_compensation_from_name,
           "none, global, per_column", where);
  set_if(vm, "calibration.images", p.calibration_images);
  set_enum(vm, "programming.method", p.programming.method, hardware::programming_method_from_name,
           "one_shot, iterative", where);
  set_if(vm, "programming.max_iterations", p.programming.max_iterations);
  set_if(vm, "programming.tolerance_counts", p.programming.tolerance_counts);
  set_if(vm, "faults.stuck_fraction", p.faults.stuck_fraction);
  set_if(vm, "faults.stuck_at_gmax_share", p.faults.stuck_at_gmax_share);
  set_if(vm, "converters.adc_gain_sigma", p.converters.adc_gain_sigma);
  set_if(vm, "converters.adc_offset_sigma", p.converters.adc_offset_sigma);
  set_if(vm, "converters.adc_calibration", p.converters.adc_calibration);
  set_if(vm, "converters.adc_residual_gain_sigma", p.converters.adc_residual_gain_sigma);
  set_if(vm, "converters.adc_residual_offset_sigma", p.converters.adc_residual_offset_sigma);
  if (vm.count("mapping.last_layer") != 0U) {
    const std::string v = vm["mapping.last_layer"].as<std::string>();
    if (v != "analog" && v != "digital")
      throw Error(where + ": mapping.last_layer = '" + v + "', expected one of: analog, digital");
    p.digital_last_layer = v == "digital";
  }
  set_enum(vm, "perf.read_mode", p.perf.read_mode, hardware::read_mode_from_name,
           "one_phase, four_phase", where);
  set_if(vm, "perf.activation_bytes", p.perf.activation_bytes);
  set_if(vm, "perf.partial_sum_bytes", p.perf.partial_sum_bytes);
  for (const auto& [key, member] : perf_doubles())
    set_if(vm, key, p.perf.*member);
  try {
    p.validate();
  } catch (const Error& e) {
    throw Error(where + ": " + e.what());
  }
  return p;
}

std::string chip_config_text(const hardware::ChipParams& p) {
  std::ostringstream os;
  os << "[device]\nkind = " << physics::device_kind_name(p.device.kind)
     << "\ndevices_per_polarity = " << p.device.devices_per_polarity
     << "\ng_max_uS = " << p.device.g_max_uS << "\nt0_s = " << p.device.t0_s
     << "\nt_read_s = " << p.device.t_read_s << "\nprog_noise_scale = " << p.device.prog_noise_scale
     << "\ndrift_nu_mean_scale = " << p.device.drift_nu_mean_scale
     << "\ndrift_nu_std_scale = " << p.device.drift_nu_std_scale
     << "\nread_noise_scale = " << p.device.read_noise_scale
     << "\n[mapping]\nstrategy = " << hardware::mapping_strategy_name(p.mapping.strategy)
     << "\ncores = " << p.mapping.cores << "\ncore_rows = " << p.mapping.core_rows
     << "\ncore_cols = " << p.mapping.core_cols
     << "\nlast_layer = " << (p.digital_last_layer ? "digital" : "analog")
     << "\n[converters]\ndac_bits = " << p.converters.dac_bits
     << "\ndac_percentile = " << p.converters.dac_percentile
     << "\nadc_bits = " << p.converters.adc_bits
     << "\nadc_percentile = " << p.converters.adc_percentile
     << "\nadc_range_margin = " << p.converters.adc_range_margin
     << "\nadc_gain_sigma = " << p.converters.adc_gain_sigma
     << "\nadc_offset_sigma = " << p.converters.adc_offset_sigma
     << "\nadc_calibration = " << (p.converters.adc_calibration ? "true" : "false")
     << "\nadc_residual_gain_sigma = " << p.converters.adc_residual_gain_sigma
     << "\nadc_residual_offset_sigma = " << p.converters.adc_residual_offset_sigma
     << "\n[noise]\nread_noise_mode = " << hardware::name_of(p.read_noise_mode)
     << "\noutput_noise_fraction = " << p.output_noise_fraction
     << "\n[programming]\nweight_scaling = " << hardware::name_of(p.programming.weight_scaling)
     << "\nmethod = " << hardware::name_of(p.programming.method)
     << "\nmax_iterations = " << p.programming.max_iterations
     << "\ntolerance_counts = " << p.programming.tolerance_counts
     << "\n[faults]\nstuck_fraction = " << p.faults.stuck_fraction
     << "\nstuck_at_gmax_share = " << p.faults.stuck_at_gmax_share
     << "\n[drift]\ncompensation = " << hardware::name_of(p.drift_compensation)
     << "\n[calibration]\nimages = " << p.calibration_images
     << "\n[perf]\nread_mode = " << hardware::read_mode_name(p.perf.read_mode)
     << "\nactivation_bytes = " << p.perf.activation_bytes
     << "\npartial_sum_bytes = " << p.perf.partial_sum_bytes;
  for (const auto& [key, member] : perf_doubles())
    os << "\n" << std::string(key).substr(5) << " = " << p.perf.*member;
  os << "\n";
  return os.str();
}

}  // namespace aimc::io
