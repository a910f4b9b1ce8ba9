#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hardware/chip_params.hpp"
#include "network/dataset.hpp"

namespace aimc::experiment {

// One sweep axis of an experiment: a configuration key and the values it takes, as written in the
// experiment file (`sweep.t_inference = 0, 60, 3600`, `sweep.chip.drift.compensation = none,
// global`).
struct SweepAxis {
  std::string key;
  std::vector<std::string> values;
  std::string origin;  // the file, or "--set", for messages
};

// Which test images a sample is evaluated on.
struct DataParams {
  std::string dir;               // CIFAR-10 binary directory; empty: the default search
  std::string split = "test";    // test (10,000 images) or train (50,000)
  int images = 1000;             // how many; -1: the whole split
  std::string subset = "first";  // first: images 0..N-1; random: a seeded random N-subset
};

// The experiment as written in the file (after --set overrides), before it is expanded into sweep
// points. Keys and meanings: experiment_keys() (docs/experiments.md).
struct ExperimentParams {
  std::string source;  // where it came from (file name), for messages
  std::string model_path;
  std::string chip_path;
  std::int64_t n_chips = 1;
  std::uint64_t seed = 1;
  std::string output_path;
  double t_inference_s = 0.0;
  DataParams data;
  // The chip configuration, highest precedence first: --set chip.<key>, then chip.<key> and [chip]
  // in the experiment file, then the chip file's own keys. A sweep value goes between the first
  // two (hardware::chip_from_settings takes the first setting of a key).
  std::vector<Setting> chip_cli;
  std::vector<Setting> chip_study;
  std::vector<Setting> chip_file;
  std::vector<SweepAxis> sweep;  // in file order; the first axis varies slowest
  std::string model_fnv1a;       // the model file's bytes, hashed: results belong to that model
  // Throws aimc::Error for a required key left unset or a key out of its declared range.
  void validate() const;
};

// The experiment file's own keys (not chip.<key> or sweep.<axis>), declared once like the chip's
// (util/key_schema.hpp): the reader, --set, `aimc keys --experiment`, the table in
// docs/experiments.md and the stored configuration text come from it. The keys with a phase are
// those the results depend on; paths have none (the model enters by the hash of its bytes, the
// chip file by its resolved keys).
const KeyTable<ExperimentParams>& experiment_keys();

// One point of the Cartesian product of the sweep axes, fully resolved.
struct SweepPoint {
  std::vector<std::string> values;  // one per axis, as written
  hardware::ChipParams chip;
  std::string chip_text;  // the resolved chip configuration (hardware::chip_text)
  double t_inference_s = 0.0;
  int program_group = 0;  // points with equal programming share the programmed chip
};

// The expanded experiment. Samples are (point, chip) pairs, numbered point * n_chips + chip.
// Work units are (program group, chip) pairs: one programmed chip read at each of its group's
// points. Units are numbered group * n_chips + chip.
struct Plan {
  ExperimentParams params;
  std::vector<SweepPoint> points;
  int n_groups = 0;
  std::string config_text;  // the resolved experiment, every key, as stored in the results file
  std::string config_hash;  // 16 hex digits of FNV-1a 64 over config_text

  std::int64_t n_samples() const {
    return static_cast<std::int64_t>(points.size()) * params.n_chips;
  }
  std::int64_t n_units() const { return std::int64_t{n_groups} * params.n_chips; }
  std::int64_t sample_index(int point, std::int64_t chip) const {
    return std::int64_t{point} * params.n_chips + chip;
  }
  // The points of program group g, in point order.
  std::vector<int> group_points(int g) const;
};

// Expands the sweep into points, resolving each point's chip configuration, so every error
// (unknown key, bad value, out of range, in any sweep value) is found before any work starts.
// Points whose programming keys (phase_program) are equal share a programming group. Errors are
// one line naming the file (or --set), the point or key, and what was expected.
Plan make_plan(const ExperimentParams& x);

// The images an experiment evaluates: the first data.images of `all`, or a random subset of that
// size drawn from the stream (seed, dataset_subset) and kept in file order.
network::ImageSet select_images(const network::ImageSet& all, const DataParams& data,
                                std::uint64_t seed);

// FNV-1a 64-bit hash (Fowler, Noll, Vo), as 16 lowercase hex digits. Identifies a configuration;
// not a cryptographic hash.
std::string fnv1a_hex(const std::string& text);

// Per sweep point statistics of accuracy over its chips (the results file's summary).
struct PointSummary {
  std::int64_t n = 0;
  double mean = 0, std = 0, sem = 0, ci95_low = 0, ci95_high = 0, min = 0, median = 0, max = 0;
};
// `values` are the accuracies of one point's finished samples. std is the sample standard
// deviation (n - 1); the 95 % confidence interval of the mean uses Student's t with n - 1 degrees
// of freedom. With n = 0 every field is NaN; with n = 1, std, sem and the interval are NaN.
PointSummary summarize(std::vector<double> values);

}  // namespace aimc::experiment
