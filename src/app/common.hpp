#pragma once

// Helpers the application drivers (src/app) share: where inputs live, the thread limit, text.

#include <tbb/global_control.h>

#include <memory>
#include <string>

#include "network/dataset.hpp"
#include "network/model.hpp"

namespace aimc::app {

// The CIFAR-10 directory to use when none is given: $AIMC_DATA/cifar-10, else ./data/cifar-10,
// else the source tree's data/cifar-10 (where scripts/fetch_data.sh puts it).
std::string default_data_dir();

// A path as given, else relative to the source tree (for experiment files run from anywhere).
std::string resolve_in_tree(const std::string& path);

// Caps TBB at `threads` per rank while it lives (0: no cap, all cores).
class ThreadLimit {
 public:
  explicit ThreadLimit(int threads);
  int threads() const { return threads_; }  // the threads TBB may use

 private:
  std::unique_ptr<tbb::global_control> limit_;
  int threads_ = 1;
};

// Throws Error unless `model` (read from `model_path`) takes CIFAR-10's images and classes.
void check_takes_cifar10(const network::Model& model, const network::ImageSet& images,
                         const std::string& model_path);

// printf into a string: the reports keep their C format strings, and the caller picks the stream.
[[gnu::format(printf, 1, 2)]] std::string format(const char* fmt, ...);

}  // namespace aimc::app
