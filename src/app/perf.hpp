#pragma once

// aimc map and aimc perf: how a model lands on the chip's cores, and what the throughput and
// energy model (hardware/perf_model, docs/performance-model.md) makes of it. With a model, the
// per-layer table and totals of that network on the chip; with peak, the full-utilisation MVM
// figures of the chip; with an experiment file, the peak figures checked against the published
// ones listed in it (experiments/peak_mvm.ini).

#include <string>
#include <vector>

namespace aimc::app {

// What a command prints (text, or one JSON object and a newline) and its exit code.
struct Report {
  std::string text;
  int code = 0;
};

// The mapping of `model_path` onto the chip of `chip_path` (with --set overrides) as a table, or
// JSON.
std::string map_report(const std::string& model_path, const std::string& chip_path,
                       const std::vector<std::string>& overrides, bool json);

struct PerfRequest {
  std::string model_path;
  std::string chip_path;  // with experiment_path, empty means the experiment file's chip
  std::string experiment_path;
  std::vector<std::string> overrides;
  std::vector<std::string> replicate;  // LAYER=N: N copies of a mapped layer
  bool peak = false;
  bool json = false;
};

// Throws Error for bad inputs; the code is 1 when a peak check fails its tolerance.
Report perf_report(const PerfRequest& request);

}  // namespace aimc::app
