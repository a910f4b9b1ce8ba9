#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "io/cifar10.hpp"
#include "test_support.hpp"
#include "util/error.hpp"

namespace {

namespace fs = std::filesystem;
using aimc::io::Cifar10Format;

class Cifar10File : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("aimc_cifar_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes `records` records whose label is i % 10 and whose pixels are (i + p) % 256.
  std::string write(const std::string& name, int records, int extra_bytes = 0) {
    std::vector<unsigned char> bytes;
    for (int i = 0; i < records; ++i) {
      bytes.push_back(static_cast<unsigned char>(i % 10));
      for (int p = 0; p < Cifar10Format::k_image_bytes; ++p)
        bytes.push_back(static_cast<unsigned char>((i + p) % 256));
    }
    bytes.resize(bytes.size() + extra_bytes, 0);
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    return path;
  }

  // The message of the aimc::Error that reading `path` throws ("" if none).
  static std::string error_of(const std::string& path) {
    try {
      aimc::io::read_cifar10_file(path);
    } catch (const aimc::Error& e) {
      return e.what();
    }
    return "";
  }

  fs::path dir_;
};

TEST_F(Cifar10File, ReadsRecordsInOrder) {
  const auto path = write("ok.bin", Cifar10Format::k_records_per_file);
  const auto set = aimc::io::read_cifar10_file(path, 25);
  ASSERT_EQ(set.size(), 25);
  EXPECT_EQ(set.classes, 10);
  for (int i = 0; i < 25; ++i) {
    EXPECT_EQ(set.labels[i], i % 10);
    EXPECT_EQ(set.image(i)[0], i % 256);
    EXPECT_EQ(set.image(i)[3071], (i + 3071) % 256);
  }
}

TEST_F(Cifar10File, MissingFile) {
  const std::string path = (dir_ / "nope.bin").string();
  const std::string msg = error_of(path);
  EXPECT_NE(msg.find(path), std::string::npos) << msg;
  EXPECT_NE(msg.find("missing"), std::string::npos) << msg;
}

TEST_F(Cifar10File, TruncatedFile) {
  const auto path = write("short.bin", Cifar10Format::k_records_per_file - 1, 100);
  const std::string msg = error_of(path);
  EXPECT_NE(msg.find(path + ": truncated: "), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected 30730000"), std::string::npos) << msg;
}

TEST_F(Cifar10File, WrongSize) {
  const auto path = write("long.bin", Cifar10Format::k_records_per_file, 7);
  const std::string msg = error_of(path);
  EXPECT_NE(msg.find(path + ": wrong size: 30730007 bytes, expected 30730000"), std::string::npos)
      << msg;
}

TEST_F(Cifar10File, LabelOutOfRange) {
  const auto path = write("label.bin", Cifar10Format::k_records_per_file);
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(17L * Cifar10Format::k_record_bytes);
    f.put(static_cast<char>(12));
  }
  const std::string msg = error_of(path);
  EXPECT_NE(msg.find(path + ": record 17 has label 12, expected 0-9"), std::string::npos) << msg;
}

TEST(Cifar10Real, TestSetHasAThousandImagesPerClass) {
  const std::string path = aimc::test::data_dir() + "/cifar-10/test_batch.bin";
  AIMC_REQUIRE_FILE(path);
  const auto set = aimc::io::read_cifar10_file(path);
  ASSERT_EQ(set.size(), 10000);
  std::vector<int> per_class(10, 0);
  for (auto l : set.labels)
    ++per_class[l];
  for (int c = 0; c < 10; ++c)
    EXPECT_EQ(per_class[c], 1000) << "class " << c;
}

TEST(Cifar10Real, TrainingSetReadsAcrossFiles) {
  const std::string dir = aimc::test::data_dir() + "/cifar-10";
  AIMC_REQUIRE_FILE(dir + "/data_batch_5.bin");
  const auto set = aimc::io::read_cifar10_train(dir, 10005);
  ASSERT_EQ(set.size(), 10005);
  const auto second = aimc::io::read_cifar10_file(dir + "/data_batch_2.bin", 5);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(set.labels[10000 + i], second.labels[i]);
    EXPECT_EQ(set.image(10000 + i)[100], second.image(i)[100]);
  }
}

}  // namespace
