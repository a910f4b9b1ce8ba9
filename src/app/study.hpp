#pragma once

// aimc run and aimc merge: the Monte Carlo study from experiment file to results file. These
// drivers report as they go (a header line, progress, the final summary), so they write to
// stdout and stderr themselves.

#include <string>
#include <vector>

#include "experiment/mpi_session.hpp"
#include "experiment/run.hpp"

namespace aimc::app {

struct StudyRequest {
  std::string experiment_path;
  std::vector<std::string> overrides;  // --set key=value, in order (output= first if given)
  bool resume = false;                 // require an existing results file
  int threads = 0;                     // TBB threads per rank (0: all cores)
  std::string command_line;            // recorded in the results file
  experiment::RunOptions options;
};

// Runs (or resumes) the study on every rank and returns the process exit code: 0 done, 1 samples
// missing, 128 + signal when stopped by one, 2 when the run failed. Throws Error, before any work
// starts, for anything wrong with the inputs.
int run_study(const StudyRequest& request, const experiment::MpiSession& mpi);

// Combines job-array results files into `output`; prints the summary, and the missing samples if
// any (exit code 1).
int merge_study(const std::string& output, const std::vector<std::string>& inputs);

}  // namespace aimc::app
