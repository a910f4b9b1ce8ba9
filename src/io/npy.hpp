#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace aimc::io {

// A little-endian float32 C-order array from a NumPy .npy file (format versions 1–3). Used for
// golden reference outputs; anything else is rejected with a line naming the file.
struct NpyArray {
  std::vector<std::int64_t> shape;
  std::vector<float> data;
};

NpyArray read_npy_float32(const std::string& path);

// Writes a float32 C-order array as a version 1.0 .npy file (little-endian), through a temporary
// file renamed into place, so a reader never sees half of it.
void write_npy_float32(const std::string& path, const std::vector<std::int64_t>& shape,
                       const std::vector<float>& data);

}  // namespace aimc::io
