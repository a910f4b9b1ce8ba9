// MPI smoke test, run under `mpiexec -n 2`: evaluation split over ranks must give the same counts
// and bit-identical logits as one process evaluating everything. Every rank reports its own
// failures, and the exit code is reduced over ranks, so a failure on rank 1 is not hidden.

#include <gtest/gtest.h>
#include <mpi.h>

#include <iostream>

#include "experiment/evaluate.hpp"
#include "io/chip_config.hpp"
#include "io/cifar10.hpp"
#include "io/model_file.hpp"
#include "network/analog_chip.hpp"
#include "network/network.hpp"
#include "test_support.hpp"

namespace {

const aimc::experiment::MpiSession* g_mpi = nullptr;

// Every rank's own rows of an evaluation's logits, summed over ranks: rows of other ranks are
// zero in each buffer, and x + 0 = x, so the result is exact.
std::vector<float> gather_rows(const std::vector<float>& split, int images, int batch) {
  const int batches = (images + batch - 1) / batch;
  const int first = std::min(images, batches * g_mpi->rank() / g_mpi->size() * batch);
  const int last = std::min(images, batches * (g_mpi->rank() + 1) / g_mpi->size() * batch);
  std::vector<float> rows(split.size(), 0.0F);
  std::copy(split.begin() + first * 10, split.begin() + last * 10, rows.begin() + first * 10);
  MPI_Allreduce(MPI_IN_PLACE, rows.data(), static_cast<int>(rows.size()), MPI_FLOAT, MPI_SUM,
                MPI_COMM_WORLD);
  return rows;
}

TEST(MpiEval, SplitOverRanksMatchesOneProcess) {
  ASSERT_GE(g_mpi->size(), 2) << "run under mpiexec -n 2 or more";
  const std::string model_path = aimc::test::models_dir() + "/resnet20.h5";
  const std::string data = aimc::test::data_dir() + "/cifar-10";
  AIMC_REQUIRE_FILE(model_path);
  AIMC_REQUIRE_FILE(data + "/test_batch.bin");
  const auto model = aimc::io::read_model(model_path);
  const auto images = aimc::io::read_cifar10_test(data, 300);
  aimc::network::InferenceParams p;
  p.batch_images = 16;  // 19 batches: the ranks get unequal shares, the last batch is partial
  const aimc::network::Network net(model, p);
  const aimc::network::IdealBackend backend;

  std::vector<float> split_logits;
  const auto r = aimc::experiment::evaluate(net, backend, images, *g_mpi, &split_logits);
  const auto rows = gather_rows(split_logits, images.size(), p.batch_images);

  const auto whole = net.infer(images.image(0), images.size(), backend);
  EXPECT_EQ(rows, whole) << "rank " << g_mpi->rank();
  std::int64_t correct = 0;
  for (int i = 0; i < images.size(); ++i)
    correct += aimc::experiment::argmax(&whole[i * 10], 10) == images.labels[i];
  EXPECT_EQ(r.correct, correct);
  EXPECT_EQ(r.total, images.size());
  std::int64_t per_class = 0;
  for (auto c : r.correct_per_class)
    per_class += c;
  EXPECT_EQ(per_class, r.correct);
}

// The noisy chip too: per-MVM noise streams are keyed by image index, so a rank's share of the
// images gets exactly the draws it would get in a one-process run.
TEST(MpiEval, NoisyChipSplitOverRanksMatchesOneProcess) {
  const std::string model_path = aimc::test::models_dir() + "/resnet20.h5";
  const std::string data = aimc::test::data_dir() + "/cifar-10";
  AIMC_REQUIRE_FILE(model_path);
  AIMC_REQUIRE_FILE(data + "/data_batch_1.bin");
  const auto model = aimc::io::read_model(model_path);
  const auto images = aimc::io::read_cifar10_test(data, 100);
  const auto params =
      aimc::io::read_chip_config(std::string(AIMC_SOURCE_DIR) + "/configs/chips/hermes64.ini", {});
  aimc::network::InferenceParams p;
  p.batch_images = 16;
  p.fold_batchnorm = false;
  const aimc::network::Network net(model, p);
  aimc::network::AnalogChip chip(net, params, model.name, 11, 2);
  chip.calibrate(aimc::io::read_cifar10_train(data, 16));
  chip.set_time(86400.0);

  std::vector<float> split_logits;
  const auto r = aimc::experiment::evaluate(net, chip, images, *g_mpi, &split_logits);
  const auto rows = gather_rows(split_logits, images.size(), p.batch_images);
  const auto whole = net.infer(images.image(0), images.size(), chip);
  EXPECT_EQ(rows, whole) << "rank " << g_mpi->rank();
  std::int64_t correct = 0;
  for (int i = 0; i < images.size(); ++i)
    correct += aimc::experiment::argmax(&whole[i * 10], 10) == images.labels[i];
  EXPECT_EQ(r.correct, correct);
}

}  // namespace

int main(int argc, char** argv) {
  aimc::experiment::MpiSession mpi(&argc, &argv);
  g_mpi = &mpi;
  ::testing::InitGoogleTest(&argc, argv);
  const int local = RUN_ALL_TESTS();
  if (local != 0) std::cerr << "test_mpi_eval: FAILED on rank " << mpi.rank() << '\n';
  std::vector<std::int64_t> failures{local != 0 ? 1 : 0};
  mpi.sum(failures);
  return failures[0] == 0 ? 0 : 1;
}
