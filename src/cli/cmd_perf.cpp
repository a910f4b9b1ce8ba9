// aimc perf: the throughput and energy model (hardware/perf_model, docs/performance-model.md).
// With a model, the per-layer table and totals of that network on the chip; with --peak, the
// full-utilisation MVM figures of the chip; with --experiment, the peak figures checked against
// the published ones listed in the experiment file (experiments/peak_mvm.ini).

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "cli/commands.hpp"
#include "hardware/mapping.hpp"
#include "hardware/perf_model.hpp"
#include "io/chip_config.hpp"
#include "io/model_file.hpp"
#include "network/analog_chip.hpp"
#include "network/network.hpp"
#include "network/perf_work.hpp"
#include "util/error.hpp"
#include "util/json.hpp"

namespace aimc::cli {

namespace {

using hardware::ReadMode;

// A path as given, else relative to the source tree (for experiment files run from anywhere).
std::string resolve(const std::string& path) {
  namespace fs = std::filesystem;
  if (path.empty() || fs::path(path).is_absolute() || fs::exists(path)) return path;
  const fs::path in_tree = fs::path(AIMC_SOURCE_DIR) / path;
  return fs::exists(in_tree) ? in_tree.string() : path;
}

struct PeakCheck {
  std::string key;  // e.g. four_phase.gops_per_mm2
  double value = 0;
  double expected = 0;
  double relative_error() const { return std::abs(value - expected) / expected; }
};

// experiments/peak_mvm.ini: [peak] chip, read_modes, tolerance; [expect] <mode>.<figure>.
struct PeakExperiment {
  std::string chip;
  std::vector<ReadMode> modes{ReadMode::one_phase, ReadMode::four_phase};
  double tolerance = 0.02;
  std::map<std::string, double> expect;
};

const char* const k_figures[] = {"tops", "tops_per_w", "gops_per_mm2"};

PeakExperiment read_peak_experiment(const std::string& path) {
  po::options_description o;
  o.add_options()("peak.chip", po::value<std::string>(), "")(
      "peak.read_modes", po::value<std::string>(), "")("peak.tolerance", po::value<double>(), "");
  for (const char* mode : {"one_phase", "four_phase"})
    for (const char* fig : k_figures)
      o.add_options()((std::string("expect.") + mode + "." + fig).c_str(), po::value<double>(), "");
  std::ifstream file(path);
  if (!file) throw Error(path + ": cannot open experiment file");
  po::variables_map vm;
  try {
    po::store(po::parse_config_file(file, o, false), vm);
  } catch (const po::error& e) {
    throw Error(path + ": " + e.what());
  }
  PeakExperiment ex;
  if (vm.count("peak.chip") == 0U) throw Error(path + ": peak.chip is missing, expected a path");
  ex.chip = vm["peak.chip"].as<std::string>();
  if (vm.count("peak.read_modes") != 0U) {
    ex.modes.clear();
    std::istringstream modes(vm["peak.read_modes"].as<std::string>());
    for (std::string name; modes >> name;) {
      ReadMode m{};
      if (!hardware::read_mode_from_name(name, m))
        throw Error(path + ": peak.read_modes has '" + name +
                    "', expected one_phase and/or four_phase");
      ex.modes.push_back(m);
    }
    if (ex.modes.empty())
      throw Error(path + ": peak.read_modes is empty, expected one_phase and/or four_phase");
  }
  if (vm.count("peak.tolerance") != 0U) ex.tolerance = vm["peak.tolerance"].as<double>();
  if (!(ex.tolerance > 0 && ex.tolerance < 1))
    throw Error(path + ": peak.tolerance = " + std::to_string(ex.tolerance) +
                ", expected a relative tolerance in (0, 1)");
  for (const auto& [key, value] : vm) {
    if (key.rfind("expect.", 0) != 0) continue;
    const double v = value.as<double>();
    if (!(v > 0 && std::isfinite(v)))
      throw Error(path + ": " + key + " = " + std::to_string(v) + ", expected a positive number");
    ex.expect[key.substr(7)] = v;
  }
  return ex;
}

std::string fmt(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

int run_peak(const hardware::ChipParams& params, const std::string& chip_path,
             const std::vector<ReadMode>& modes, const PeakExperiment* ex, bool json, bool print) {
  JsonObject out;
  std::vector<PeakCheck> checks;
  std::ostringstream text;
  text << "peak  " << chip_path << ": " << params.mapping.cores << " cores of "
       << params.mapping.core_rows << " x " << params.mapping.core_cols
       << ", full-utilisation 8-bit MVMs, mean |x_n| = " << params.perf.calibration_input_activity
       << "\n";
  char line[160];
  std::snprintf(line, sizeof line, "%-12s %9s %9s %10s\n", "read mode", "TOPS", "TOPS/W",
                "GOPS/mm2");
  text << line;
  for (ReadMode m : modes) {
    const hardware::PeakPerf p = hardware::peak_performance(params.perf, params.mapping, m);
    JsonObject o;
    o.add("tops", p.tops).add("tops_per_w", p.tops_per_w).add("gops_per_mm2", p.gops_per_mm2);
    out.raw(hardware::read_mode_name(m), o.str());
    std::snprintf(line, sizeof line, "%-12s %9.2f %9.3f %10.1f\n", hardware::read_mode_name(m),
                  p.tops, p.tops_per_w, p.gops_per_mm2);
    text << line;
    if (ex == nullptr) continue;
    const double values[] = {p.tops, p.tops_per_w, p.gops_per_mm2};
    for (std::size_t f = 0; f < 3; ++f) {
      const std::string key = std::string(hardware::read_mode_name(m)) + "." + k_figures[f];
      if (const auto it = ex->expect.find(key); it != ex->expect.end())
        checks.push_back({key, values[f], it->second});
    }
  }
  bool passed = true;
  if (ex != nullptr) {
    std::string checks_json = "[";
    text << "check against the published figures, tolerance " << fmt(100 * ex->tolerance, 1)
         << " %:\n";
    for (std::size_t i = 0; i < checks.size(); ++i) {
      const PeakCheck& c = checks[i];
      const bool ok = c.relative_error() <= ex->tolerance;
      passed = passed && ok;
      JsonObject o;
      o.add("figure", c.key)
          .add("value", c.value)
          .add("expected", c.expected)
          .add("relative_error", c.relative_error())
          .add("pass", ok);
      checks_json += (i ? ", " : "") + o.str();
      std::snprintf(line, sizeof line, "  %-24s %10.3f  expected %10.3f  %+6.2f %%  %s\n",
                    c.key.c_str(), c.value, c.expected, 100.0 * (c.value - c.expected) / c.expected,
                    ok ? "ok" : "FAIL");
      text << line;
    }
    out.raw("checks", checks_json + "]").add("passed", passed);
    text << (passed ? "all figures within tolerance\n" : "some figures outside tolerance\n");
  }
  if (print) std::cout << (json ? out.str() + "\n" : text.str());
  return passed ? 0 : 1;
}

// --replicate NAME=N: parses the replication factor of a named mapped layer.
std::vector<int> replication(const std::vector<std::string>& specs,
                             const hardware::Mapping& mapping) {
  std::vector<int> r(mapping.layers.size(), 1);
  for (const std::string& s : specs) {
    const auto eq = s.find('=');
    int n = 0;
    try {
      n = eq == std::string::npos ? 0 : std::stoi(s.substr(eq + 1));
    } catch (const std::exception&) {
      n = 0;
    }
    if (n < 1) throw Error("--replicate '" + s + "': expected LAYER=N with N a positive integer");
    const std::string name = s.substr(0, eq);
    bool found = false;
    for (std::size_t l = 0; l < mapping.layers.size(); ++l) {
      if (mapping.layers[l].name == name) {
        r[l] = n;
        found = true;
      }
    }
    if (!found) throw Error("--replicate '" + s + "': no mapped layer named '" + name + "'");
  }
  return r;
}

}  // namespace

int cmd_perf(const std::vector<std::string>& args, const experiment::MpiSession& mpi) {
  std::string model_path;
  std::string chip_path;
  std::string experiment_path;
  std::vector<std::string> overrides;
  std::vector<std::string> replicate;
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")(
      "model", po::value(&model_path), "aimc model file (.h5)")("chip", po::value(&chip_path),
                                                                "chip configuration (.ini)")(
      "set", po::value(&overrides)->composing(), "override a key: --set section.key=value")(
      "peak", po::bool_switch()->default_value(false),
      "full-utilisation 8-bit MVMs on every core, in both read modes")(
      "experiment", po::value(&experiment_path),
      "peak check against published figures (e.g. experiments/peak_mvm.ini)")(
      "replicate", po::value(&replicate)->composing(),
      "run N copies of a layer on cores of their own: --replicate LAYER=N (repeatable)")(
      "json", po::bool_switch()->default_value(false), "print one JSON object");
  po::variables_map vm;
  if (!parse_args("perf",
                  "(--model M.h5 --chip C.ini [--replicate LAYER=N ...] | --chip C.ini --peak | "
                  "--experiment E.ini [--chip C.ini]) [--set k=v ...] [--json]",
                  args, opts, {}, vm, mpi.is_root()))
    return 0;
  const bool json = vm["json"].as<bool>();
  if (!experiment_path.empty()) {
    const PeakExperiment ex = read_peak_experiment(experiment_path);
    const std::string chip = chip_path.empty() ? resolve(ex.chip) : chip_path;
    const hardware::ChipParams params = io::read_chip_config(chip, overrides);
    return run_peak(params, chip, ex.modes, &ex, json, mpi.is_root());
  }
  if (chip_path.empty()) throw Error("--chip is required (see 'aimc perf --help')");
  const hardware::ChipParams params = io::read_chip_config(chip_path, overrides);
  if (vm["peak"].as<bool>())
    return run_peak(params, chip_path, {ReadMode::one_phase, ReadMode::four_phase}, nullptr, json,
                    mpi.is_root());
  if (model_path.empty())
    throw Error("--model is required without --peak (see 'aimc perf --help')");

  const network::Model model = io::read_model(model_path);
  network::InferenceParams inference;
  inference.fold_batchnorm = false;  // BatchNorm is the local digital unit's affine on the chip
  const network::Network net(model, inference);
  const std::vector<hardware::LayerShape> shapes = network::mapped_layers(net, params);
  const hardware::Mapping mapping = hardware::map_layers(model.name, shapes, params.mapping);
  const hardware::PerfModel perf(params.perf, mapping,
                                 network::layer_work(model, net, shapes.size()),
                                 replication(replicate, mapping));
  const hardware::NetworkPerf result = perf.evaluate();
  if (mpi.is_root()) std::cout << (json ? result.json() + "\n" : result.table());
  return 0;
}

}  // namespace aimc::cli
