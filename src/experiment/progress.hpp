#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace aimc::experiment {

// A throttled progress line on stderr for long runs: done/total, rate and ETA, at most one line
// every `interval_s` and none at all for runs shorter than that. Safe to call from TBB workers.
// On a terminal the line rewrites itself; in a log file (a Slurm job) each report is a new line.
class Progress {
 public:
  Progress(std::string label, std::int64_t total, bool enabled, double interval_s = 5.0);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void add(std::int64_t n);

 private:
  using Clock = std::chrono::steady_clock;
  void print(bool final_line);

  std::string label_;
  std::int64_t total_;
  bool enabled_;
  bool tty_;
  double interval_s_;
  std::mutex mutex_;
  std::int64_t done_ = 0;
  bool printed_ = false;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_ = start_;
};

}  // namespace aimc::experiment
