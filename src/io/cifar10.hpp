#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "network/dataset.hpp"

namespace aimc::io {

// CIFAR-10, binary version (Krizhevsky 2009): records of 1 label byte (0–9) and 3,072 pixel
// bytes (1,024 R, 1,024 G, 1,024 B; each plane 32×32 row-major). Every official file holds
// exactly 10,000 records.
struct Cifar10Format {
  static constexpr int k_channels = 3;
  static constexpr int k_height = 32;
  static constexpr int k_width = 32;
  static constexpr int k_image_bytes = k_channels * k_height * k_width;
  static constexpr int k_record_bytes = 1 + k_image_bytes;
  static constexpr int k_records_per_file = 10000;
  static constexpr int k_classes = 10;
};

// Reads one batch file, validating its size and every label; `max_images` < 0 reads all.
// Errors name the file and what is wrong (missing, truncated, wrong size, bad label).
network::ImageSet read_cifar10_file(const std::string& path, int max_images = -1);

// The 10,000 test images of `dir`/test_batch.bin (or the first `max_images`).
network::ImageSet read_cifar10_test(const std::string& dir, int max_images = -1);

// The 50,000 training images of `dir`/data_batch_{1..5}.bin (or the first `max_images`).
network::ImageSet read_cifar10_train(const std::string& dir, int max_images = -1);

}  // namespace aimc::io
