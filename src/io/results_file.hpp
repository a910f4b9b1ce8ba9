#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "experiment/experiment.hpp"
#include "experiment/run.hpp"
#include "io/hdf5.hpp"

namespace aimc::io {

// The results file of `aimc run` (format: docs/results-format.md). Only rank 0 touches it: the
// per-sample rows are tiny (a few hundred bytes each, a few per second at most), so gathering
// them on rank 0 costs nothing measurable, and a single serial writer can flush every sample the
// moment it lands without collective calls that would tie all ranks to the slowest one.
//
// Durability: every dataset is allocated in full when the file is created (fixed size, early
// allocation), so writing a sample changes raw data only, never the file's structure. A sample's
// row is written and flushed first and its `done` flag after, so a crash at any moment leaves a
// readable file in which every sample marked done is whole.
class ResultsFile final : public experiment::ResultSink {
 public:
  struct RunInfo {
    std::string experiment_file;
    std::string command_line;
    std::string model_path;
    std::string model_name;
    int n_ranks = 1;
    int classes = 10;
    std::vector<std::string> layer_names;  // the network's dense layers, in order
  };

  // Creates `path` for `plan`, or reopens it to resume when it holds the same experiment (same
  // configuration hash). Refuses a file of another experiment, or one that is not aimc results.
  // `resumed` tells which happened.
  static std::unique_ptr<ResultsFile> open_for_run(const std::string& path,
                                                   const experiment::Plan& plan,
                                                   const RunInfo& info, bool& resumed);
  ~ResultsFile() override;
  ResultsFile(const ResultsFile&) = delete;
  ResultsFile& operator=(const ResultsFile&) = delete;

  bool is_done(std::int64_t sample) const override;
  void write(const experiment::SampleRecord& record) override;
  bool has_baseline() const override;
  void write_baseline(std::int64_t correct, std::int64_t total) override;

  std::int64_t n_samples() const { return static_cast<std::int64_t>(done_.size()); }
  std::int64_t n_done() const;
  // Recomputes the per-point summary from the finished samples, stamps the end time and sets
  // `complete` (every sample of the study done), then flushes.
  void finish();

  // Opens an existing results file for reading or updating (merge), checking its format.
  static std::unique_ptr<ResultsFile> open_existing(const std::string& path, bool writable);
  const std::string& config_hash() const { return config_hash_; }
  hid_t handle() const { return file_.get(); }
  std::uint64_t seed() const { return seed_; }
  // Sample `sample` as the file holds it (its key fields and fill values while not done).
  experiment::SampleRecord read_row(std::int64_t sample) const;
  // Copies the samples that `other` has and this file lacks. Returns the samples both have.
  std::vector<std::int64_t> merge_from(const ResultsFile& other);

 private:
  ResultsFile() = default;
  void load_state();
  void flush();
  // Rewrites point `p`'s row of /points (n, accuracy statistics, performance means) from its
  // finished samples. Called after every sample, so a reader of a running or killed study sees
  // statistics that match the samples marked done (at most the last one missing).
  void write_point(std::int64_t p);

  std::string path_;
  h5::Handle file_;
  std::string config_hash_;
  std::uint64_t seed_ = 0;
  std::int64_t n_points_ = 0;
  std::int64_t n_chips_ = 0;
  int classes_ = 0;
  int layers_ = 0;
  std::vector<std::uint8_t> done_;
  // The scalar fields of every row as filed (fill values until done); vectors left empty, so
  // that memory does not grow with classes and layers.
  std::vector<experiment::SampleRecord> rows_;
  std::vector<std::vector<std::int64_t>> samples_of_point_;  // sample indices, ascending
};

// A table of the per-point summary of a results file (markdown), for the terminal.
std::string summary_table(const std::string& path);

struct MergeReport {
  std::int64_t samples = 0;
  std::vector<std::int64_t> missing;  // sample indices no input had
};

// Combines job-array outputs of one experiment into `output` (which must not exist). Refuses
// inputs of different experiments (configuration hash or seed) and samples present in two
// inputs; reports the samples no input has (the output is then left marked incomplete).
MergeReport merge_results(const std::string& output, const std::vector<std::string>& inputs);

}  // namespace aimc::io
