#pragma once

#include <cstdint>
#include <vector>

#include "network/model.hpp"

namespace aimc::network {

// A labelled set of images, each stored planar (C·H·W bytes) as the network's input expects.
struct ImageSet {
  Shape shape;
  int classes = 0;
  std::vector<std::uint8_t> labels;
  std::vector<std::uint8_t> pixels;

  int size() const { return static_cast<int>(labels.size()); }
  std::int64_t image_bytes() const { return shape.size(); }
  const std::uint8_t* image(int i) const { return pixels.data() + i * image_bytes(); }
};

}  // namespace aimc::network
