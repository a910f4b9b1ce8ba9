#pragma once

#include <cstdint>
#include <vector>

namespace aimc::network {

// The GEMM operand x (rows × K) of a conv or linear layer, described without copying it: rows
// come in strips of 16, each strip as two halves of 8 consecutive rows. Element (r, k) of a
// strip's half is half_base[k_offset[k] + lane]. Two sources use this:
//  - direct convolution (stride 1): the halves point into a zero-padded copy of the input
//    planes, and k_offset[k] is the offset of tap (c, ky, kx); x is never materialised.
//  - packed im2col: each strip is a contiguous K × 16 block, k_offset[k] = 16·k.
// Eigen's GEMM would first copy ("pack") all of x into the second form; on ResNet-CIFAR that copy
// and the im2col before it took longer than the arithmetic.
inline constexpr int k_strip_rows = 16;
inline constexpr int k_half_rows = 8;

struct StripRows {
  std::vector<const float*> half;  // 2 per strip: rows [0, 8) and [8, 16)
  const std::int64_t* k_offset = nullptr;
  int k = 0;
  std::int64_t rows = 0;

  std::int64_t strips() const { return (rows + k_strip_rows - 1) / k_strip_rows; }
  float at(std::int64_t r, int col) const {
    return half[r / k_half_rows][k_offset[col] + r % k_half_rows];
  }
};

// y (rows × O, column-major, leading dimension ld_y) = x · w, with w (K × O) row-major. A 16-row
// × 6-column register tile (2 × 6 vector accumulators) loads 16 rows of x per k and broadcasts 6
// weights. Each output is summed in ascending k with the same instructions wherever its row
// falls, so results do not depend on how a batch is chunked.
void gemm_strips(const StripRows& x, const float* w, int out, float* y, std::int64_t ld_y);

// The same product over columns [k0, k0 + k) of x only, with w (k × O) row-major: one crossbar
// row block of a layer, read straight from the layer's input without copying it.
void gemm_strips_rows(const StripRows& x, int k0, int k, const float* w, int out, float* y,
                      std::int64_t ld_y);
// As gemm_strips_rows with every x value squared: y = (x∘x) · w, the per-MVM read-noise
// variance Σ_i σ_ij² x_i² without a second copy of x.
void gemm_strips_rows_squared(const StripRows& x, int k0, int k, const float* w, int out, float* y,
                              std::int64_t ld_y);

}  // namespace aimc::network
