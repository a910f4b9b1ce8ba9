#pragma once

#include <array>
#include <csignal>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

#include "experiment/experiment.hpp"
#include "experiment/mpi_session.hpp"
#include "network/dataset.hpp"
#include "network/model.hpp"

namespace aimc::experiment {

// The result of one sample: one chip instance evaluated at one sweep point. Every member is
// listed once in k_sample_fields below, from which the MPI message, the results file's datasets,
// its reader, merge, the analysis loader and docs/results-format.md all derive.
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

// How many values a field holds per sample.
enum class Extent { Scalar, PerClass, PerLayer };

// What a field is to the results file (docs/results-format.md).
enum class Role {
  Index,    // the sample number, which is the row; no dataset of its own
  Key,      // which sample it is; known from the plan, so written for every row at creation
  Result,   // computed by the run and written with the sample
  Derived,  // computed from other fields by the writer; never sent between ranks
};

template <typename T>
struct FieldElement {
  using type = T;
};
template <typename E>
struct FieldElement<std::vector<E>> {
  using type = E;
};

// One field of SampleRecord: its name (the dataset's in the results file), where it lives, and
// what a reader needs to know about it.
template <typename T>
struct SampleField {
  using Value = T;
  using Element = typename FieldElement<T>::type;
  std::string_view name{};
  T SampleRecord::*member = nullptr;            // nullptr for a Derived field
  T (SampleRecord::*derive)() const = nullptr;  // a Derived field's formula
  Role role = Role::Result;
  Extent extent = Extent::Scalar;
  Element fill{};  // the value of a row not done yet
  std::string_view unit{};
  std::string_view doc{};
  // Wall time differs between two runs of one experiment, so it is kept in /timing, apart from
  // the datasets that are bit-identical whatever the ranks, threads or interruptions.
  bool reproducible = true;
  bool point_mean = false;  // /points holds its mean over each point's finished samples

  T get(const SampleRecord& r) const { return member != nullptr ? r.*member : (r.*derive)(); }
};

// The sample record's fields, once, in message order. Adding a member to SampleRecord means adding
// it here (tests/test_sample_record.cpp fails otherwise); nothing else lists the fields.
inline constexpr auto k_sample_fields = std::tuple{
    SampleField<std::int64_t>{.name = "sample",
                              .member = &SampleRecord::sample,
                              .role = Role::Index,
                              .doc = "the row: point * n_chips + chip"},
    SampleField<std::int64_t>{.name = "point",
                              .member = &SampleRecord::point,
                              .role = Role::Key,
                              .doc = "the sweep point p (row of /points)"},
    SampleField<std::int64_t>{.name = "chip",
                              .member = &SampleRecord::chip,
                              .role = Role::Key,
                              .doc = "the chip instance, 0 .. n_chips - 1"},
    SampleField<std::int64_t>{.name = "correct",
                              .member = &SampleRecord::correct,
                              .fill = -1,
                              .unit = "images",
                              .doc = "correct top-1 predictions"},
    SampleField<std::int64_t>{.name = "total",
                              .member = &SampleRecord::total,
                              .unit = "images",
                              .doc = "images evaluated"},
    SampleField<double>{.name = "accuracy",
                        .derive = &SampleRecord::accuracy,
                        .role = Role::Derived,
                        .fill = std::numeric_limits<double>::quiet_NaN(),
                        .unit = "1",
                        .doc = "correct / total"},
    SampleField<std::vector<std::int64_t>>{.name = "correct_per_class",
                                           .member = &SampleRecord::correct_per_class,
                                           .extent = Extent::PerClass,
                                           .fill = -1,
                                           .unit = "images",
                                           .doc = "correct, per true class"},
    SampleField<std::vector<std::int64_t>>{.name = "total_per_class",
                                           .member = &SampleRecord::total_per_class,
                                           .extent = Extent::PerClass,
                                           .unit = "images",
                                           .doc = "total, per true class"},
    SampleField<double>{.name = "seconds",
                        .member = &SampleRecord::seconds,
                        .fill = std::numeric_limits<double>::quiet_NaN(),
                        .unit = "s",
                        .doc = "wall time of the sample on its rank (programming, calibration if "
                               "new, evaluation)",
                        .reproducible = false},
    SampleField<double>{.name = "energy_per_image_uJ_mean",
                        .member = &SampleRecord::energy_uJ_mean,
                        .fill = std::numeric_limits<double>::quiet_NaN(),
                        .unit = "uJ",
                        .doc = "energy per image the chip would spend on this mapping, mean over "
                               "the evaluated images (it depends on each image's inputs)",
                        .point_mean = true},
    SampleField<double>{.name = "energy_per_image_uJ_std",
                        .member = &SampleRecord::energy_uJ_std,
                        .fill = std::numeric_limits<double>::quiet_NaN(),
                        .unit = "uJ",
                        .doc = "the same, standard deviation (n - 1)",
                        .point_mean = true},
    SampleField<double>{.name = "images_per_s",
                        .member = &SampleRecord::images_per_s,
                        .fill = std::numeric_limits<double>::quiet_NaN(),
                        .unit = "1/s",
                        .doc = "pipelined throughput (data-independent)",
                        .point_mean = true},
    SampleField<double>{.name = "gops",
                        .member = &SampleRecord::gops,
                        .fill = std::numeric_limits<double>::quiet_NaN(),
                        .unit = "GOPS",
                        .doc = "2 * MACs * images/s",
                        .point_mean = true},
    SampleField<double>{.name = "tops_per_w",
                        .member = &SampleRecord::tops_per_w,
                        .fill = std::numeric_limits<double>::quiet_NaN(),
                        .unit = "TOPS/W",
                        .doc = "2 * MACs / mean energy per image",
                        .point_mean = true},
    SampleField<double>{.name = "latency_us",
                        .member = &SampleRecord::latency_us,
                        .fill = std::numeric_limits<double>::quiet_NaN(),
                        .unit = "us",
                        .doc = "latency per image (data-independent)",
                        .point_mean = true},
    SampleField<std::vector<double>>{.name = "layer_energy_nJ",
                                     .member = &SampleRecord::layer_energy_nJ,
                                     .extent = Extent::PerLayer,
                                     .fill = std::numeric_limits<double>::quiet_NaN(),
                                     .unit = "nJ",
                                     .doc = "energy per image at the sample's mean input "
                                            "activity; NaN for a layer run digitally"},
    SampleField<std::vector<double>>{.name = "layer_activity",
                                     .member = &SampleRecord::layer_activity,
                                     .extent = Extent::PerLayer,
                                     .fill = std::numeric_limits<double>::quiet_NaN(),
                                     .unit = "1",
                                     .doc = "mean input activity (mean abs(x) after the DAC, in "
                                            "[0, 1]); NaN for a layer run digitally"},
    SampleField<std::vector<double>>{.name = "layer_latency_ns",
                                     .member = &SampleRecord::layer_latency_ns,
                                     .extent = Extent::PerLayer,
                                     .fill = std::numeric_limits<double>::quiet_NaN(),
                                     .unit = "ns",
                                     .doc = "the layer's share of the latency; NaN for a layer "
                                            "run digitally"},
    SampleField<std::vector<std::int64_t>>{.name = "layer_cores",
                                           .member = &SampleRecord::layer_cores,
                                           .extent = Extent::PerLayer,
                                           .unit = "cores",
                                           .doc = "cores holding the layer's blocks"},
};

// Calls f(field) for each field of k_sample_fields, in order.
template <typename F>
constexpr void for_each_sample_field(F&& f) {
  std::apply([&f](const auto&... field) { (f(field), ...); }, k_sample_fields);
}

// The table's rules, checked when compiling: names are unique; vectors, and only they, are per
// class or per layer; keys, the index and per-point means are scalars; only results may be kept
// out of /samples. (That a field is Derived exactly when it has no member, and then has a
// formula, compares member pointers, which GCC's sanitizer builds refuse in a constant
// expression: test_sample_record checks it.)
constexpr bool sample_fields_consistent() {
  bool ok = true;
  for_each_sample_field([&ok](const auto& f) {
    using Field = std::decay_t<decltype(f)>;
    constexpr bool scalar = std::is_same_v<typename Field::Value, typename Field::Element>;
    ok = ok && scalar == (f.extent == Extent::Scalar) && (!f.point_mean || scalar) &&
         ((f.role != Role::Key && f.role != Role::Index) || scalar) &&
         (f.reproducible || f.role == Role::Result);
  });
  const auto names = std::apply(
      [](const auto&... f) { return std::array<std::string_view, sizeof...(f)>{f.name...}; },
      k_sample_fields);
  for (std::size_t i = 0; i < names.size(); ++i)
    for (std::size_t j = i + 1; j < names.size(); ++j)
      ok = ok && names[i] != names[j];
  return ok;
}
static_assert(sample_fields_consistent());

// The name of the field stored in `member`, for code that needs one particular field.
template <typename T>
constexpr std::string_view sample_field_name(T SampleRecord::*member) {
  std::string_view out;
  for_each_sample_field([&](const auto& field) {
    if constexpr (std::is_same_v<typename std::decay_t<decltype(field)>::Value, T>)
      if (field.member == member) out = field.name;
  });
  return out;
}

// A sample as one int64 MPI message, field by field in k_sample_fields order: integers as they
// are, doubles bit for bit, vectors as their length and then their elements. Derived fields are
// not sent. unpack throws Error on a message of another length.
std::vector<std::int64_t> pack(const SampleRecord& record);
SampleRecord unpack(const std::vector<std::int64_t>& message);

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
