#pragma once

#include <string>
#include <vector>

#include "experiment/experiment.hpp"

namespace aimc::io {

// Reads an experiment file (INI, Boost.Program_options syntax; docs/experiments.md) with
// `overrides` ("key=value" as given to --set: `n_chips=2`, `data.images=100`,
// `chip.drift.compensation=none`, `sweep.t_inference=0,60`), which win over the file. Expands the
// sweep into points and resolves each point's chip configuration, so every error (unknown key, bad
// type, out-of-range value, in the file or in any sweep value) is found before any work starts.
// Errors are one line naming the file (or --set), the key and what was expected.
experiment::Plan read_experiment(const std::string& path,
                                 const std::vector<std::string>& overrides);

}  // namespace aimc::io
