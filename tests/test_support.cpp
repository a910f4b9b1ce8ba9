#include "test_support.hpp"

#include <cstdlib>
#include <filesystem>

namespace aimc::test {

namespace {
std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}
}  // namespace

std::string data_dir() {
  return env_or("AIMC_TEST_DATA", std::string(AIMC_SOURCE_DIR) + "/data");
}
std::string models_dir() {
  return env_or("AIMC_TEST_MODELS", "test-models");
}
bool require_data() {
  return env_or("AIMC_REQUIRE_DATA", "0") == "1";
}
bool file_exists(const std::string& path) {
  return std::filesystem::exists(path);
}

}  // namespace aimc::test
