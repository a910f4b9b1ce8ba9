#include "io/cifar10.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "util/error.hpp"

namespace aimc::io {

network::ImageSet read_cifar10_file(const std::string& path, int max_images) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw Error(path + ": missing CIFAR-10 file (run scripts/fetch_data.sh)");
  // A directory opens as a stream but has no size (tellg fails): say what it is.
  if (std::filesystem::is_directory(path, ec))
    throw Error(path + ": is a directory, expected a CIFAR-10 binary file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open: " + std::strerror(errno));
  in.seekg(0, std::ios::end);
  const auto size = static_cast<std::int64_t>(in.tellg());
  in.seekg(0);
  constexpr std::int64_t expected =
      std::int64_t{Cifar10Format::k_records_per_file} * Cifar10Format::k_record_bytes;
  if (size < expected)
    throw Error(path + ": truncated: " + std::to_string(size) + " bytes, expected " +
                std::to_string(expected) + " (10000 records of 3073 bytes)");
  if (size != expected)
    throw Error(path + ": wrong size: " + std::to_string(size) + " bytes, expected " +
                std::to_string(expected) + " (10000 records of 3073 bytes)");

  const int count = max_images < 0 ? Cifar10Format::k_records_per_file
                                   : std::min(max_images, Cifar10Format::k_records_per_file);
  std::vector<std::uint8_t> raw(static_cast<std::size_t>(count) * Cifar10Format::k_record_bytes);
  if (!in.read(reinterpret_cast<char*>(raw.data()), static_cast<std::streamsize>(raw.size())))
    throw Error(path + ": read failed: " + std::strerror(errno));

  network::ImageSet out;
  out.shape = {Cifar10Format::k_channels, Cifar10Format::k_height, Cifar10Format::k_width};
  out.classes = Cifar10Format::k_classes;
  out.labels.resize(count);
  out.pixels.resize(static_cast<std::size_t>(count) * Cifar10Format::k_image_bytes);
  for (int i = 0; i < count; ++i) {
    const std::uint8_t* rec =
        raw.data() + static_cast<std::size_t>(i) * Cifar10Format::k_record_bytes;
    if (rec[0] >= Cifar10Format::k_classes)
      throw Error(path + ": record " + std::to_string(i) + " has label " + std::to_string(rec[0]) +
                  ", expected 0-9");
    out.labels[i] = rec[0];
    std::memcpy(out.pixels.data() + static_cast<std::size_t>(i) * Cifar10Format::k_image_bytes,
                rec + 1, Cifar10Format::k_image_bytes);
  }
  return out;
}

network::ImageSet read_cifar10_test(const std::string& dir, int max_images) {
  return read_cifar10_file(dir + "/test_batch.bin", max_images);
}

network::ImageSet read_cifar10_train(const std::string& dir, int max_images) {
  network::ImageSet all;
  for (int b = 1; b <= 5; ++b) {
    const int left = max_images < 0 ? -1 : max_images - all.size();
    if (left == 0) break;
    network::ImageSet part =
        read_cifar10_file(dir + "/data_batch_" + std::to_string(b) + ".bin", left);
    all.shape = part.shape;
    all.classes = part.classes;
    all.labels.insert(all.labels.end(), part.labels.begin(), part.labels.end());
    all.pixels.insert(all.pixels.end(), part.pixels.begin(), part.pixels.end());
  }
  return all;
}

}  // namespace aimc::io
