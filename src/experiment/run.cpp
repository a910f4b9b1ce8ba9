#include "experiment/run.hpp"

#include <mpi.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <memory>
#include <thread>

#include "experiment/evaluate.hpp"
#include "experiment/progress.hpp"
#include "hardware/perf_model.hpp"
#include "network/analog_chip.hpp"
#include "network/input_activity.hpp"
#include "network/network.hpp"
#include "network/perf_work.hpp"

namespace aimc::experiment {

namespace {

// The signal that asked the run to stop (0: none). Written only by the handler and read by
// TBB tasks on every thread between batches, so an atomic, not a volatile sig_atomic_t (a data
// race TSan found); a lock-free atomic may be written from a signal handler (C++17
// [support.signal]).
std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);

extern "C" void on_stop_signal(int sig) {
  g_stop_signal = sig;
}

// Message tags between rank 0 (which owns the queue and the results file) and the other ranks.
constexpr int k_tag_request = 11;  // worker -> 0: give me a unit
constexpr int k_tag_assign = 12;   // 0 -> worker: [unit, points...] or [-1]: no more work
constexpr int k_tag_result = 13;   // worker -> 0: one finished sample
constexpr int k_tag_bye = 14;      // worker -> 0: [signal]; the worker has stopped
constexpr int k_tag_stop = 15;     // 0 -> worker: stop now

// Thrown out of an evaluation (through TBB, which cancels the batch loop) when the run must stop.
struct Interrupted {};

using Clock = std::chrono::steady_clock;

bool on_main_thread(std::thread::id main_id) {
  return std::this_thread::get_id() == main_id;
}

void nap() {
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
}

void send(const std::vector<std::int64_t>& b, int dest, int tag) {
  MPI_Send(b.data(), static_cast<int>(b.size()), MPI_INT64_T, dest, tag, MPI_COMM_WORLD);
}

std::vector<std::int64_t> receive(const MPI_Status& st) {
  int count = 0;
  MPI_Get_count(&st, MPI_INT64_T, &count);
  std::vector<std::int64_t> b(static_cast<std::size_t>(count));
  MPI_Recv(b.data(), count, MPI_INT64_T, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD,
           MPI_STATUS_IGNORE);
  return b;
}

// What every rank needs to compute units: the network, the images, and its calibration cache.
class UnitRunner {
 public:
  UnitRunner(const Plan& plan, const network::Model& model, const network::ImageSet& images,
             const network::ImageSet& calibration_images)
      : plan_(plan),
        model_(model),
        images_(images),
        calibration_images_(calibration_images),
        net_(model, chip_inference()) {}

  // Programs chip `chip` of program group g once and evaluates it at each of `points`.
  template <typename Emit>
  void run(std::int64_t unit, const std::vector<int>& points, const std::function<void(int)>& hook,
           Emit&& emit) {
    const std::int64_t chip_index = unit % plan_.params.n_chips;
    std::unique_ptr<network::AnalogChip> chip;
    const std::string* programmed_as = nullptr;
    for (const int p : points) {
      const SweepPoint& sp = plan_.points[static_cast<std::size_t>(p)];
      const auto start = Clock::now();
      // Points of a group differ only in read-time settings; the chip's programmed state is a pure
      // function of (config, seed, chip index), so a rebuild reproduces the same programmed chip.
      if (!chip || *programmed_as != sp.chip_text) {
        chip = std::make_unique<network::AnalogChip>(net_, sp.chip, model_.name, plan_.params.seed,
                                                     static_cast<std::uint64_t>(chip_index));
        calibrate(*chip);
        chip->set_recalibration_images(calibration_images_, ideal_stats_);
        programmed_as = &sp.chip_text;
      }
      chip->set_time(sp.t_inference_s);
      const network::InputActivity activity(net_, images_.size(), sp.chip.converters.dac_bits);
      chip->set_input_activity(&activity);
      const EvalResult r = evaluate_local(net_, *chip, images_, hook);
      chip->set_input_activity(nullptr);
      SampleRecord rec;
      rec.sample = plan_.sample_index(p, chip_index);
      rec.point = p;
      rec.chip = chip_index;
      rec.correct = r.correct;
      rec.total = r.total;
      rec.correct_per_class = r.correct_per_class;
      rec.total_per_class = r.total_per_class;
      add_performance(rec, *chip, activity, sp.chip);
      rec.seconds = std::chrono::duration<double>(Clock::now() - start).count();
      emit(rec);
    }
  }

  // The throughput and energy model of this chip's mapping, fed with the inputs each image drove
  // into the crossbars. Energy per image is summed in image order, so it is reproducible.
  void add_performance(SampleRecord& rec, const network::AnalogChip& chip,
                       const network::InputActivity& activity,
                       const hardware::ChipParams& params) const {
    const std::size_t dense = net_.dense_layers().size();
    const std::size_t mapped = chip.mapping().layers.size();
    const hardware::PerfModel perf(params.perf, chip.mapping(),
                                   network::layer_work(model_, net_, mapped));
    const int n = images_.size();
    std::vector<double> mean_activity(mapped, 0.0);
    std::vector<double> energy_nJ(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      std::vector<double> a = activity.activity(i);
      a.resize(mapped);
      energy_nJ[static_cast<std::size_t>(i)] = perf.energy_per_image_nJ(a);
      for (std::size_t l = 0; l < mapped; ++l)
        mean_activity[l] += a[l];
    }
    for (double& a : mean_activity)
      a /= n;
    double sum = 0;
    for (const double e : energy_nJ)
      sum += e;
    const double mean = sum / n;
    double ss = 0;
    for (const double e : energy_nJ)
      ss += (e - mean) * (e - mean);
    const hardware::NetworkPerf np = perf.evaluate(mean_activity);
    rec.energy_uJ_mean = mean / 1e3;
    rec.energy_uJ_std = n > 1 ? std::sqrt(ss / (n - 1)) / 1e3 : 0.0;
    rec.images_per_s = np.images_per_s;
    rec.gops = np.gops;
    rec.tops_per_w = perf.tops_per_w(mean);
    rec.latency_us = np.latency_ns / 1e3;
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    rec.layer_energy_nJ.assign(dense, nan);
    rec.layer_activity.assign(dense, nan);
    rec.layer_latency_ns.assign(dense, nan);
    rec.layer_cores.assign(dense, 0);
    for (std::size_t l = 0; l < mapped && l < np.layers.size(); ++l) {
      rec.layer_energy_nJ[l] = np.layers[l].energy_nJ();
      rec.layer_activity[l] = np.layers[l].input_activity;
      rec.layer_latency_ns[l] = np.layers[l].latency_ns;
      rec.layer_cores[l] = np.layers[l].cores;
    }
  }

  EvalResult baseline(const std::function<void(int)>& hook) const {
    return evaluate_local(net_, network::IdealBackend{}, images_, hook);
  }

 private:
  static network::InferenceParams chip_inference() {
    network::InferenceParams p;
    // On the chip BatchNorm is the local digital unit's affine and stays out of the weights.
    p.fold_batchnorm = false;
    return p;
  }

  // The converter ranges depend on the network and the calibration keys only (the schema's
  // phase_calibrate), never on the chip's random draws, so each rank computes each distinct
  // calibration once; apply() checks that the key matches.
  void calibrate(network::AnalogChip& chip) {
    const std::string key = chip.calibration_key();
    const auto it = calibrations_.find(key);
    if (it != calibrations_.end()) {
      chip.apply(it->second);
      return;
    }
    calibrations_.emplace(key, chip.calibrate(calibration_images_));
  }

  const Plan& plan_;
  const network::Model& model_;
  const network::ImageSet& images_;
  const network::ImageSet& calibration_images_;
  network::Network net_;
  std::map<std::string, network::AnalogChip::Calibration> calibrations_;
  // The adabs target: the float network's statistics on the recalibration images, per count.
  std::shared_ptr<network::IdealStatsCache> ideal_stats_ =
      std::make_shared<network::IdealStatsCache>();
};

// Rank 0: owns the queue of units and the results file, and answers the other ranks between its
// own batches.
class Coordinator {
 public:
  Coordinator(const Plan& plan, ResultSink& sink, const MpiSession& mpi, const RunOptions& options)
      : plan_(plan), sink_(sink), options_(options), active_(mpi.size(), true) {
    active_[0] = false;
    workers_ = mpi.size() - 1;
    std::int64_t todo = 0;
    for (std::int64_t u = options.slice_index; u < plan.n_units(); u += options.slice_count) {
      const std::size_t n = points_to_do(u).size();
      if (n > 0) queue_.push_back(u);
      todo += static_cast<std::int64_t>(n);
    }
    todo_ = todo;
  }

  std::int64_t todo() const { return todo_; }
  std::int64_t written() const { return written_; }
  bool stopping() const { return stop_signal_ != 0 || stop_requested_; }
  int stop_signal() const { return stop_signal_; }
  void attach_progress(Progress* p) { progress_ = p; }

  // The points of unit u whose samples are not in the results file yet.
  std::vector<int> points_to_do(std::int64_t u) const {
    std::vector<int> out;
    const int g = static_cast<int>(u / plan_.params.n_chips);
    const std::int64_t c = u % plan_.params.n_chips;
    for (const int p : plan_.group_points(g))
      if (!sink_.is_done(plan_.sample_index(p, c))) out.push_back(p);
    return out;
  }

  // [unit, points...] for the next unit in the queue, or [-1].
  std::vector<std::int64_t> next_assignment() {
    if (stopping() || next_ >= queue_.size()) return {-1};
    const std::int64_t u = queue_[next_++];
    std::vector<std::int64_t> a = {u};
    for (const int p : points_to_do(u))
      a.push_back(p);
    return a;
  }

  void record(const SampleRecord& r) {
    sink_.write(r);
    ++written_;
    if (progress_ != nullptr) progress_->add(1);
    if (options_.die_after_samples > 0 && written_ == options_.die_after_samples)
      std::raise(SIGKILL);
    if (options_.signal_after_samples > 0 && written_ == options_.signal_after_samples)
      std::raise(options_.test_signal);
    if (options_.wait_after_samples > 0 && written_ == options_.wait_after_samples) {
      // The line is what a test waits for before it acts.
      std::fprintf(stderr,
                   "aimc run: test hook: waiting for a signal after %lld samples of this run\n",
                   static_cast<long long>(written_));
      while (g_stop_signal == 0)
        nap();
    }
  }

  // Answers every pending message. Called on the main thread only (MPI_THREAD_FUNNELED).
  void service() {
    check_signal();
    for (;;) {
      int flag = 0;
      MPI_Status st;
      MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
      if (flag == 0) return;
      const std::vector<std::int64_t> msg = receive(st);
      const int from = st.MPI_SOURCE;
      if (st.MPI_TAG == k_tag_request) {
        // Once stopping, a request is answered by the stop message sent to every active worker.
        if (!stopping()) send(next_assignment(), from, k_tag_assign);
      } else if (st.MPI_TAG == k_tag_result) {
        record(unpack(msg));
      } else if (st.MPI_TAG == k_tag_bye) {
        active_[static_cast<std::size_t>(from)] = false;
        --workers_;
        if (!msg.empty() && msg[0] != 0 && stop_signal_ == 0)
          stop_signal_ = static_cast<int>(msg[0]);
      }
      if (stopping()) broadcast_stop();
    }
  }

  // Waits for every other rank to finish (or stop), answering them meanwhile.
  // Returns false when, once stopping, some rank has not answered within 30 s: it is gone (a
  // killed rank), and only an MPI abort can end the job.
  bool drain() {
    Clock::time_point stop_seen{};
    for (;;) {
      service();
      if (stopping()) {
        broadcast_stop();
        if (stop_seen == Clock::time_point{}) stop_seen = Clock::now();
        if (Clock::now() - stop_seen > std::chrono::seconds(30)) return false;
      }
      if (workers_ == 0) return true;
      nap();
    }
  }

 private:
  void check_signal() {
    if (stop_signal_ == 0 && g_stop_signal != 0) stop_signal_ = g_stop_signal.load();
  }

  void broadcast_stop() {
    if (stop_sent_) return;
    stop_sent_ = true;
    for (std::size_t r = 1; r < active_.size(); ++r)
      if (active_[r]) send({0}, static_cast<int>(r), k_tag_stop);
  }

  const Plan& plan_;
  ResultSink& sink_;
  RunOptions options_;
  std::vector<std::int64_t> queue_;
  std::size_t next_ = 0;
  std::vector<bool> active_;
  int workers_ = 0;
  std::int64_t todo_ = 0;
  std::int64_t written_ = 0;
  // Written on the main thread, read by every thread's between-batch hook (stopping()).
  std::atomic<int> stop_signal_{0};
  std::atomic<bool> stop_requested_{false};
  bool stop_sent_ = false;
  Progress* progress_ = nullptr;
};

RunOutcome run_root(const Plan& plan, UnitRunner& runner, ResultSink& sink, const MpiSession& mpi,
                    const RunOptions& options) {
  Coordinator coord(plan, sink, mpi, options);
  bool lost = false;
  const std::thread::id main_id = std::this_thread::get_id();
  // Between batches: answer the other ranks (main thread only) and honour a stop request.
  const std::function<void(int)> hook = [&](int) {
    if (on_main_thread(main_id)) coord.service();
    if (g_stop_signal != 0 || coord.stopping()) throw Interrupted{};
  };
  try {
    if (!sink.has_baseline()) {
      const EvalResult b = runner.baseline(hook);
      sink.write_baseline(b.correct, b.total);
    }
    Progress progress("samples", coord.todo(), options.progress);
    coord.attach_progress(&progress);
    while (!coord.stopping()) {
      const std::vector<std::int64_t> a = coord.next_assignment();
      if (a[0] < 0) break;
      const std::vector<int> points(a.begin() + 1, a.end());
      runner.run(a[0], points, hook, [&](const SampleRecord& r) { coord.record(r); });
    }
    lost = !coord.drain();
    coord.attach_progress(nullptr);
  } catch (const Interrupted&) {
    lost = !coord.drain();
  }
  RunOutcome out;
  out.ranks_lost = lost;
  out.computed = coord.written();
  out.signal = coord.stop_signal() != 0 ? coord.stop_signal() : g_stop_signal.load();
  for (std::int64_t u = options.slice_index; u < plan.n_units(); u += options.slice_count)
    out.remaining += static_cast<std::int64_t>(coord.points_to_do(u).size());
  return out;
}

void run_worker(UnitRunner& runner) {
  const std::thread::id main_id = std::this_thread::get_id();
  std::atomic<bool> stop{false};  // set on the main thread, read by every task
  const std::function<void(int)> hook = [&](int) {
    if (on_main_thread(main_id) && !stop) {
      int flag = 0;
      MPI_Iprobe(0, k_tag_stop, MPI_COMM_WORLD, &flag, MPI_STATUS_IGNORE);
      if (flag != 0) {
        std::int64_t ignored = 0;  // the stop message carries one int64
        MPI_Recv(&ignored, 1, MPI_INT64_T, 0, k_tag_stop, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        stop = true;
      }
    }
    if (stop || g_stop_signal != 0) throw Interrupted{};
  };
  for (;;) {
    if (g_stop_signal != 0) break;
    send({0}, 0, k_tag_request);
    std::vector<std::int64_t> a;
    // Wait for the answer without spinning: with more ranks than cores a spinning rank would
    // steal the CPU from the one doing the work.
    while (a.empty() && !stop && g_stop_signal == 0) {
      int flag = 0;
      MPI_Status st;
      MPI_Iprobe(0, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
      if (flag == 0) {
        nap();
        continue;
      }
      const std::vector<std::int64_t> msg = receive(st);
      if (st.MPI_TAG == k_tag_stop) stop = true;
      if (st.MPI_TAG == k_tag_assign) a = msg;
    }
    if (stop || g_stop_signal != 0 || a.empty() || a[0] < 0) break;
    const std::vector<int> points(a.begin() + 1, a.end());
    try {
      runner.run(a[0], points, hook, [](const SampleRecord& r) { send(pack(r), 0, k_tag_result); });
    } catch (const Interrupted&) {
      break;
    }
  }
  send({static_cast<std::int64_t>(g_stop_signal.load())}, 0, k_tag_bye);
}

}  // namespace

void install_stop_handlers() {
  struct sigaction sa = {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
}

int stop_signal() {
  return g_stop_signal.load();
}

RunOutcome run_experiment(const Plan& plan, const network::Model& model,
                          const network::ImageSet& images,
                          const network::ImageSet& calibration_images, ResultSink* sink,
                          const MpiSession& mpi, const RunOptions& options) {
  UnitRunner runner(plan, model, images, calibration_images);
  if (mpi.is_root()) return run_root(plan, runner, *sink, mpi, options);
  run_worker(runner);
  return {};
}

}  // namespace aimc::experiment
