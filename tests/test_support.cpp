#include "test_support.hpp"

#include <cstdlib>
#include <filesystem>

#include "experiment/evaluate.hpp"
#include "io/cifar10.hpp"
#include "io/model_file.hpp"

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

ModelFixture load_model_fixture(const std::string& name, int test, int train) {
  return {io::read_model(models_dir() + "/" + name + ".h5"),
          io::read_cifar10_test(data_dir() + "/cifar-10", test),
          io::read_cifar10_train(data_dir() + "/cifar-10", train)};
}

network::InferenceParams chip_inference() {
  network::InferenceParams p;
  p.fold_batchnorm = false;
  return p;
}

std::int64_t count_correct(const std::vector<float>& logits, const network::ImageSet& set) {
  std::int64_t correct = 0;
  for (int i = 0; i < set.size(); ++i)
    correct += experiment::argmax(&logits[static_cast<std::size_t>(i) * 10], 10) == set.labels[i];
  return correct;
}

}  // namespace aimc::test
