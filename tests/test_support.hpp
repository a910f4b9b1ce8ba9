#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "network/dataset.hpp"
#include "network/model.hpp"
#include "network/network.hpp"

namespace aimc::test {

// $AIMC_TEST_DATA (set by CTest to <repo>/data), or that default for a direct run.
std::string data_dir();
// $AIMC_TEST_MODELS: the models imported by the import_models fixture.
std::string models_dir();
bool require_data();
bool file_exists(const std::string& path);

// A model of models_dir() with the first `test` test images and `train` training images.
struct ModelFixture {
  network::Model model;
  network::ImageSet test;
  network::ImageSet train;
};
ModelFixture load_model_fixture(const std::string& name, int test, int train);

// The chip's inference settings: BatchNorm stays out of the weights (the local digital unit's
// affine on the chip).
network::InferenceParams chip_inference();

// Images of `set` whose 10 logits (row-major) have their largest value at the label.
std::int64_t count_correct(const std::vector<float>& logits, const network::ImageSet& set);

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

// AIMC_REQUIRE_FILE for a model of models_dir() and the CIFAR-10 files the tests read.
#define AIMC_REQUIRE_MODEL(name)                                            \
  AIMC_REQUIRE_FILE(::aimc::test::models_dir() + "/" + (name) + ".h5");     \
  AIMC_REQUIRE_FILE(::aimc::test::data_dir() + "/cifar-10/test_batch.bin"); \
  AIMC_REQUIRE_FILE(::aimc::test::data_dir() + "/cifar-10/data_batch_1.bin")
