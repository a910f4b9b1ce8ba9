#pragma once

#include <string>
#include <vector>

namespace aimc::app {

// The importer is a Python script on Debian's numpy and h5py (reading .npz and torch pickles is
// their job): runs scripts/import_model.py with `args` under $AIMC_PYTHON (default
// /usr/bin/python3) and returns its exit code. It spawns rather than execs so that MPI is
// finalised normally.
int run_importer(const std::vector<std::string>& args);

}  // namespace aimc::app
