#include "app/common.hpp"

#include <tbb/info.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "util/error.hpp"

namespace aimc::app {

std::string default_data_dir() {
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("AIMC_DATA"); env != nullptr && *env != '\0')
    return std::string(env) + "/cifar-10";
  if (fs::exists("data/cifar-10")) return "data/cifar-10";
  return std::string(AIMC_SOURCE_DIR) + "/data/cifar-10";
}

std::string resolve_in_tree(const std::string& path) {
  namespace fs = std::filesystem;
  if (path.empty() || fs::path(path).is_absolute() || fs::exists(path)) return path;
  const fs::path in_tree = fs::path(AIMC_SOURCE_DIR) / path;
  return fs::exists(in_tree) ? in_tree.string() : path;
}

ThreadLimit::ThreadLimit(int threads)
    : threads_(threads > 0 ? threads : tbb::info::default_concurrency()) {
  if (threads > 0)
    limit_ = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                   threads);
}

void check_takes_cifar10(const network::Model& model, const network::ImageSet& images,
                         const std::string& model_path) {
  if (!(images.shape == model.input) || images.classes != model.num_classes)
    throw Error(model_path + ": model expects input " + std::to_string(model.input.c) + "x" +
                std::to_string(model.input.h) + "x" + std::to_string(model.input.w) + " and " +
                std::to_string(model.num_classes) + " classes; CIFAR-10 has 3x32x32 and 10");
}

std::string format(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  va_list again;
  va_copy(again, args);
  const int n = std::vsnprintf(nullptr, 0, fmt, args);
  va_end(args);
  std::string out(n > 0 ? static_cast<std::size_t>(n) : 0U, '\0');
  std::vsnprintf(out.data(), out.size() + 1, fmt, again);
  va_end(again);
  return out;
}

}  // namespace aimc::app
