// Exact software inference of the pretrained CIFAR-10 ResNets against golden logits from an
// independent numpy implementation (shared/data/README.md) and the published correct counts.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "experiment/evaluate.hpp"
#include "io/cifar10.hpp"
#include "io/model_file.hpp"
#include "io/npy.hpp"
#include "network/network.hpp"
#include "test_support.hpp"

namespace {

using aimc::test::data_dir;
using aimc::test::models_dir;

struct Loaded {
  aimc::network::Model model;
  aimc::network::ImageSet images;
};

Loaded load(const std::string& name, int images) {
  return {aimc::io::read_model(models_dir() + "/" + name + ".h5"),
          aimc::io::read_cifar10_test(data_dir() + "/cifar-10", images)};
}

TEST(Golden, Resnet20LogitsOnFirst500Images) {
  const std::string npy = data_dir() + "/models/resnet20.test_logits.npy";
  AIMC_REQUIRE_FILE(npy);
  AIMC_REQUIRE_FILE(models_dir() + "/resnet20.h5");
  AIMC_REQUIRE_FILE(data_dir() + "/cifar-10/test_batch.bin");
  const int n = 500;
  const auto [model, images] = load("resnet20", n);
  const auto golden = aimc::io::read_npy_float32(npy);
  ASSERT_EQ(golden.shape, (std::vector<std::int64_t>{10000, 10}));

  const aimc::network::Network net(model, {});
  const auto logits = net.infer(images.image(0), n, aimc::network::IdealBackend{});
  double max_abs_diff = 0;
  double max_abs = 0;
  int argmax_mismatch = 0;
  for (int i = 0; i < n; ++i) {
    for (int c = 0; c < 10; ++c) {
      max_abs_diff =
          std::max(max_abs_diff, std::abs(double{logits[i * 10 + c]} - golden.data[i * 10 + c]));
      max_abs = std::max(max_abs, std::abs(double{golden.data[i * 10 + c]}));
    }
    argmax_mismatch += aimc::experiment::argmax(&logits[i * 10], 10) !=
                       aimc::experiment::argmax(&golden.data[i * 10], 10);
  }
  // The bound is 1e-3 relative; float32 with folded BN lands near 1e-5.
  EXPECT_LT(max_abs_diff / max_abs, 1e-4) << "max |diff| " << max_abs_diff << " of " << max_abs;
  EXPECT_EQ(argmax_mismatch, 0);
}

// Published correct counts on all 10,000 test images (shared/data/README.md), allowing 2 images
// of slack only where the golden logits themselves are near-ties.
void expect_full_test_set(const std::string& name, std::int64_t expected) {
  AIMC_REQUIRE_FILE(models_dir() + "/" + name + ".h5");
  AIMC_REQUIRE_FILE(data_dir() + "/cifar-10/test_batch.bin");
  const auto [model, images] = load(name, -1);
  const aimc::network::Network net(model, {});
  const auto logits = net.infer(images.image(0), images.size(), aimc::network::IdealBackend{});
  std::int64_t correct = 0;
  for (int i = 0; i < images.size(); ++i)
    correct += aimc::experiment::argmax(&logits[i * 10], 10) == images.labels[i];
  EXPECT_EQ(correct, expected) << name;
}

TEST(Golden, Resnet20FullTestSet) {
  expect_full_test_set("resnet20", 9173);
}
TEST(Golden, Resnet32FullTestSet) {
  expect_full_test_set("resnet32", 9263);
}
TEST(Golden, Resnet44FullTestSet) {
  expect_full_test_set("resnet44", 9310);
}

}  // namespace
