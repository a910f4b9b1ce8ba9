#pragma once

// The peak-check experiment file (experiments/peak_mvm.ini): which chip, which read modes, and the
// published peak figures to check `aimc perf --experiment` against.

#include <map>
#include <string>
#include <vector>

#include "hardware/perf_model.hpp"

namespace aimc::io {

// [peak] chip, read_modes, tolerance; [expect] <mode>.<figure>.
struct PeakExperiment {
  std::string chip;
  std::vector<hardware::ReadMode> modes{hardware::ReadMode::one_phase,
                                        hardware::ReadMode::four_phase};
  double tolerance = 0.02;
  std::map<std::string, double> expect;  // e.g. four_phase.gops_per_mm2 -> 1000
};

// The figures a peak check can expect, per read mode: tops, tops_per_w, gops_per_mm2.
extern const char* const k_peak_figures[3];

// Throws Error naming the file and key for anything missing or out of range.
PeakExperiment read_peak_experiment(const std::string& path);

}  // namespace aimc::io
