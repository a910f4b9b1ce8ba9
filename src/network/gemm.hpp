#pragma once

#include <cstdint>
#include <vector>

#include "util/isa.hpp"

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
// register tile (two 8-float vectors per column) loads 16 rows of x per k and broadcasts 6
// weights (AVX2, baseline) or 12 (AVX-512). Each output is summed in ascending k with the same
// instructions wherever its row falls, so results do not depend on how a batch is chunked. The
// kernel is the one of util/isa.hpp's active_isa(): avx2 and avx512 give the same bits (both
// fuse each multiply-add), baseline rounds each product and sum apart (gemm_kernels.hpp).
void gemm_strips(const StripRows& x, const float* w, int out, float* y, std::int64_t ld_y);

// The same product over columns [k0, k0 + k) of x only, with w (k × O) row-major: one crossbar
// row block of a layer, read straight from the layer's input without copying it.
void gemm_strips_rows(const StripRows& x, int k0, int k, const float* w, int out, float* y,
                      std::int64_t ld_y);
// As gemm_strips_rows with every x value squared: y = (x∘x) · w, the per-MVM read-noise
// variance Σ_i σ_ij² x_i² without a second copy of x.
void gemm_strips_rows_squared(const StripRows& x, int k0, int k, const float* w, int out, float* y,
                              std::int64_t ld_y);
// gemm_strips_rows (square: _squared) with the kernel of `isa`, which the CPU must support
// (cpu_supports): for the tests and benchmarks that compare levels.
void gemm_strips_rows_with(Isa isa, const StripRows& x, int k0, int k, const float* w, int out,
                           float* y, std::int64_t ld_y, bool square);

// The machine's FMA limit on the calling thread, in GFLOP/s: a register-only probe of `isa`'s
// widest fused multiply-add (gemm_kernels.hpp), best of repeated timings over about `seconds`.
// The baseline level has no FMA: its probe times a multiply and an add.
double fma_peak_gflops(Isa isa, double seconds = 0.5);

}  // namespace aimc::network
