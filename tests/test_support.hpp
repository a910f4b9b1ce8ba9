#pragma once

#include <gtest/gtest.h>

#include <string>

namespace aimc::test {

// $AIMC_TEST_DATA (set by CTest to <repo>/data), or that default for a direct run.
std::string data_dir();
// $AIMC_TEST_MODELS: the models imported by the import_models fixture.
std::string models_dir();
bool require_data();
bool file_exists(const std::string& path);

}  // namespace aimc::test

// Skips the test loudly when `path` is absent, or fails it when AIMC_REQUIRE_DATA=1 (as in CI,
// which has the data and so must never skip).
#define AIMC_REQUIRE_FILE(path)                                                                   \
  do {                                                                                            \
    if (!::aimc::test::file_exists(path)) {                                                       \
      if (::aimc::test::require_data()) FAIL() << "required test data missing: " << (path);       \
      GTEST_SKIP() << "DATA MISSING, test skipped: " << (path) << " (run scripts/fetch_data.sh)"; \
    }                                                                                             \
  } while (0)
