#include "experiment/progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
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
  const std::string line = progress_line(label_, done_, total_, elapsed, final_line);
  std::fprintf(stderr, "%s%s%s", tty_ ? "\r" : "", line.c_str(),
               tty_ && !final_line ? "   " : "\n");
  std::fflush(stderr);
  printed_ = true;
}

std::string format_duration(double seconds) {
  const auto total = static_cast<long long>(std::llround(std::max(0.0, seconds)));
  char buf[48];
  if (total < 60)
    std::snprintf(buf, sizeof buf, "%lld s", total);
  else if (total < 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld", total / 60, total % 60);
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", total / 3600, total / 60 % 60, total % 60);
  return buf;
}

std::string progress_line(const std::string& label, std::int64_t done, std::int64_t total,
                          double elapsed_s, bool final_line) {
  const double rate = elapsed_s > 0 ? static_cast<double>(done) / elapsed_s : 0.0;
  char head[160];
  std::snprintf(head, sizeof head, "%s: %lld/%lld (%.0f %%), ", label.c_str(),
                static_cast<long long>(done), static_cast<long long>(total),
                total > 0 ? 100.0 * static_cast<double>(done) / static_cast<double>(total) : 0.0);
  std::string line = head;
  char speed[64];
  if (rate >= 1.0)
    std::snprintf(speed, sizeof speed, "%.1f/s", rate);
  else if (rate > 0.0)
    std::snprintf(speed, sizeof speed, "%s each", format_duration(1.0 / rate).c_str());
  else
    std::snprintf(speed, sizeof speed, "starting");
  line += speed;
  if (final_line)
    line += ", took " + format_duration(elapsed_s);
  else if (rate > 0.0)
    line += ", ETA " + format_duration(static_cast<double>(total - done) / rate);
  return line;
}

}  // namespace aimc::experiment
