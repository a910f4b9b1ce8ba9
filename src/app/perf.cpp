#include "app/perf.hpp"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "app/common.hpp"
#include "hardware/mapping.hpp"
#include "hardware/perf_model.hpp"
#include "io/chip_config.hpp"
#include "io/model_file.hpp"
#include "io/peak_experiment.hpp"
#include "network/analog_chip.hpp"
#include "network/network.hpp"
#include "network/perf_work.hpp"
#include "util/error.hpp"
#include "util/json.hpp"

namespace aimc::app {

namespace {

using hardware::ReadMode;

// A model as the chip runs it, and the layers the chip itself maps (mapping.last_layer = digital
// leaves the last one out).
struct ChipLayout {
  ChipLayout(const std::string& model_path, const hardware::ChipParams& params)
      : model(io::read_model(model_path)),
        net(model, unfolded()),
        shapes(network::mapped_layers(net, params)),
        mapping(hardware::map_layers(model.name, shapes, params.mapping)) {}

  // BatchNorm is the local digital unit's affine on the chip, so it stays out of the weights.
  static network::InferenceParams unfolded() {
    network::InferenceParams inference;
    inference.fold_batchnorm = false;
    return inference;
  }

  network::Model model;
  network::Network net;
  std::vector<hardware::LayerShape> shapes;
  hardware::Mapping mapping;
};

struct PeakCheck {
  std::string key;  // e.g. four_phase.gops_per_mm2
  double value = 0;
  double expected = 0;
  double relative_error() const { return std::abs(value - expected) / expected; }
};

Report peak(const hardware::ChipParams& params, const std::string& chip_path,
            const std::vector<ReadMode>& modes, const io::PeakExperiment* ex, bool json) {
  JsonObject out;
  std::vector<PeakCheck> checks;
  std::ostringstream text;
  text << "peak  " << chip_path << ": " << params.mapping.cores << " cores of "
       << params.mapping.core_rows << " x " << params.mapping.core_cols
       << ", full-utilisation 8-bit MVMs, mean |x_n| = " << params.perf.calibration_input_activity
       << "\n";
  text << format("%-12s %9s %9s %10s\n", "read mode", "TOPS", "TOPS/W", "GOPS/mm2");
  for (ReadMode m : modes) {
    const hardware::PeakPerf p = hardware::peak_performance(params.perf, params.mapping, m);
    JsonObject o;
    o.add("tops", p.tops).add("tops_per_w", p.tops_per_w).add("gops_per_mm2", p.gops_per_mm2);
    out.raw(hardware::read_mode_name(m), o.str());
    text << format("%-12s %9.2f %9.3f %10.1f\n", hardware::read_mode_name(m), p.tops, p.tops_per_w,
                   p.gops_per_mm2);
    if (ex == nullptr) continue;
    const double values[] = {p.tops, p.tops_per_w, p.gops_per_mm2};
    for (std::size_t f = 0; f < 3; ++f) {
      const std::string key =
          std::string(hardware::read_mode_name(m)) + "." + io::k_peak_figures[f];
      if (const auto it = ex->expect.find(key); it != ex->expect.end())
        checks.push_back({key, values[f], it->second});
    }
  }
  bool passed = true;
  if (ex != nullptr) {
    std::string checks_json = "[";
    text << "check against the published figures, tolerance " << format("%.1f", 100 * ex->tolerance)
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
      text << format("  %-24s %10.3f  expected %10.3f  %+6.2f %%  %s\n", c.key.c_str(), c.value,
                     c.expected, 100.0 * (c.value - c.expected) / c.expected, ok ? "ok" : "FAIL");
    }
    out.raw("checks", checks_json + "]").add("passed", passed);
    text << (passed ? "all figures within tolerance\n" : "some figures outside tolerance\n");
  }
  return {json ? out.str() + "\n" : text.str(), passed ? 0 : 1};
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

std::string map_report(const std::string& model_path, const std::string& chip_path,
                       const std::vector<std::string>& overrides, bool json) {
  const hardware::ChipParams params = io::read_chip_config(chip_path, overrides);
  const ChipLayout layout(model_path, params);
  return json ? layout.mapping.json() + "\n" : layout.mapping.table();
}

Report perf_report(const PerfRequest& request) {
  if (!request.experiment_path.empty()) {
    const io::PeakExperiment ex = io::read_peak_experiment(request.experiment_path);
    const std::string chip =
        request.chip_path.empty() ? resolve_in_tree(ex.chip) : request.chip_path;
    return peak(io::read_chip_config(chip, request.overrides), chip, ex.modes, &ex, request.json);
  }
  if (request.chip_path.empty()) throw Error("--chip is required (see 'aimc perf --help')");
  const hardware::ChipParams params = io::read_chip_config(request.chip_path, request.overrides);
  if (request.peak)
    return peak(params, request.chip_path, {ReadMode::one_phase, ReadMode::four_phase}, nullptr,
                request.json);
  if (request.model_path.empty())
    throw Error("--model is required without --peak (see 'aimc perf --help')");

  const ChipLayout layout(request.model_path, params);
  const hardware::PerfModel perf(
      params.perf, layout.mapping,
      network::layer_work(layout.model, layout.net, layout.shapes.size()),
      replication(request.replicate, layout.mapping));
  const hardware::NetworkPerf result = perf.evaluate();
  return {request.json ? result.json() + "\n" : result.table(), 0};
}

}  // namespace aimc::app
