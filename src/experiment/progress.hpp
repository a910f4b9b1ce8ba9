#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace aimc::experiment {

// "42 s", "12:08" (minutes:seconds) or "5:34:52" (hours:minutes:seconds), rounded to the second.
std::string format_duration(double seconds);

// One progress report: "samples: 14/400 (4 %), 52 s each, ETA 5:34:52", or "... took 5:47:00"
// for the final line. The rate reads as items per second when at least one finishes per second
// and as seconds per item when fewer do (a full-size study's samples take a minute each, and
// "0.0/s" would tell the user nothing).
std::string progress_line(const std::string& label, std::int64_t done, std::int64_t total,
                          double elapsed_s, bool final_line);

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
