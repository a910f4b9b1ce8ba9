#pragma once

#include <string>

#include "network/model.hpp"

namespace aimc::io {

inline constexpr const char* k_model_format = "aimc-model";
// The newest format version this reader knows; it reads every version from 1 up to it (a version
// 1 file is a valid version 2 file).
inline constexpr int k_model_format_version = 2;

// Reads and validates an aimc model file (docs/model-format.md). Any problem throws aimc::Error
// with one line naming the file, the node and the tensor or attribute.
network::Model read_model(const std::string& path);

}  // namespace aimc::io
