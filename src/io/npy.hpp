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

}  // namespace aimc::io
