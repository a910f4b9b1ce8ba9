#include "experiment/progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace aimc::experiment {

Progress::Progress(std::string label, std::int64_t total, bool enabled, double interval_s)
    : label_(std::move(label)),
      total_(total),
      enabled_(enabled && total > 0),
      tty_(::isatty(STDERR_FILENO) != 0),
      interval_s_(interval_s) {}

Progress::~Progress() {
  // Close the line with the final count, but only if the run was long enough to report at all.
  if (enabled_ && printed_) print(true);
}

void Progress::add(std::int64_t n) {
  if (!enabled_) return;
  const std::lock_guard<std::mutex> lock(mutex_);
  done_ += n;
  if (done_ >= total_) return;  // the destructor prints the final line
  const auto now = Clock::now();
  if (std::chrono::duration<double>(now - last_).count() < interval_s_) return;
  last_ = now;
  print(false);
}

void Progress::print(bool final_line) {
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0;
  const double eta = rate > 0 ? static_cast<double>(total_ - done_) / rate : 0.0;
  std::fprintf(stderr, "%s%s: %lld/%lld (%.0f %%), %.1f/s, %s %.0f s%s", tty_ ? "\r" : "",
               label_.c_str(), static_cast<long long>(done_), static_cast<long long>(total_),
               100.0 * static_cast<double>(done_) / static_cast<double>(total_), rate,
               final_line ? "took" : "ETA", final_line ? elapsed : eta,
               tty_ && !final_line ? "   " : "\n");
  std::fflush(stderr);
  printed_ = true;
}

}  // namespace aimc::experiment
