#pragma once

#include <csignal>
#include <cstdint>
#include <string>
#include <vector>

#include "experiment/experiment.hpp"
#include "experiment/mpi_session.hpp"
#include "network/dataset.hpp"
#include "network/model.hpp"

namespace aimc::experiment {

// The result of one sample: one chip instance evaluated at one sweep point.
struct SampleRecord {
  std::int64_t sample = 0;
  std::int64_t point = 0;
  std::int64_t chip = 0;
  std::int64_t correct = 0;
  std::int64_t total = 0;
  std::vector<std::int64_t> correct_per_class;
  std::vector<std::int64_t> total_per_class;
  double seconds = 0.0;  // wall time of this sample on its rank (not reproducible; kept apart)
  // What the real chip would show running this mapping (hardware/perf_model.hpp): energy per
  // image over the evaluated images (it depends on the inputs), and the data-independent
  // throughput, at the sample's mean energy.
  double energy_uJ_mean = 0.0;
  double energy_uJ_std = 0.0;
  double images_per_s = 0.0;
  double gops = 0.0;
  double tops_per_w = 0.0;
  double latency_us = 0.0;
  // Per dense layer, at the sample's mean input activity (NaN for a layer run digitally).
  std::vector<double> layer_energy_nJ;
  std::vector<double> layer_activity;
  std::vector<double> layer_latency_ns;
  std::vector<std::int64_t> layer_cores;
  double accuracy() const { return total > 0 ? static_cast<double>(correct) / total : 0.0; }
};

// Where rank 0 puts finished samples (io::ResultsFile). write() returns only once the sample is
// durable, so a crash right after it loses nothing.
class ResultSink {
 public:
  virtual ~ResultSink() = default;
  virtual bool is_done(std::int64_t sample) const = 0;
  virtual void write(const SampleRecord& record) = 0;
  // The software (ideal float32) accuracy on the same images, computed once per results file.
  virtual bool has_baseline() const = 0;
  virtual void write_baseline(std::int64_t correct, std::int64_t total) = 0;
};

struct RunOptions {
  // Job-array slicing: this job computes the work units u with u % slice_count == slice_index.
  std::int64_t slice_index = 0;
  std::int64_t slice_count = 1;
  bool progress = true;  // rank 0's throttled progress line on stderr
  // Test hooks (tests/run/test_run.py), so that a test acts at a point of the run instead of
  // after a delay that assumes a machine speed. -1: off. Rank 0, right after the k-th sample it
  // writes in this run, kills its own process (SIGKILL), to test that a crash loses nothing;
  std::int64_t die_after_samples = -1;
  // raises test_signal on itself, which then takes the same stop path as a signal from outside;
  std::int64_t signal_after_samples = -1;
  int test_signal = SIGTERM;
  // stops working and waits for a signal, so that a test can act from outside (kill another rank,
  // requeue a Slurm job) on a run that cannot have finished.
  std::int64_t wait_after_samples = -1;
};

struct RunOutcome {
  std::int64_t computed = 0;   // samples written by this run
  std::int64_t remaining = 0;  // samples of this slice still missing at the end
  int signal = 0;              // the signal that stopped the run, 0 if none
  bool ranks_lost = false;     // rank 0 only: other ranks stopped answering (killed)
};

// Installs SIGTERM and SIGINT handlers that ask a running experiment to stop at the next batch
// boundary: finished samples are already durable, the sample in flight is dropped and recomputed
// on resume. The flag is the one piece of process-global state in aimc: a signal handler can
// reach nothing else.
void install_stop_handlers();
int stop_signal();

// Runs the samples of `plan` that `sink` does not have yet. All ranks call it; rank 0 passes the
// sink, the others nullptr. Work units (program group, chip) go to ranks from a queue that rank 0
// serves between its own batches (dynamic: units differ in cost when points differ in images or
// chips in mapping, and rank counts need not divide the unit count). A unit programs its chip once
// and reads it at each of its group's points. The results do not depend on which rank computes
// what: every random draw is keyed by (seed, point, chip, tile, purpose).
RunOutcome run_experiment(const Plan& plan, const network::Model& model,
                          const network::ImageSet& images,
                          const network::ImageSet& calibration_images, ResultSink* sink,
                          const MpiSession& mpi, const RunOptions& options);

}  // namespace aimc::experiment
