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

// The chip's per-MVM path with integer DAC levels (network/analog_chip, docs/chip.md, "Fast
// per-MVM path"). Inputs are the DAC's signed levels q ∈ [−levels, levels], levels ≤ 127, of
// x.rows rows × k inputs, packed per 16-row strip by pack_dac_levels:
//  - q_pairs: ceil(k/2) × 16 int32 per strip; lane r of pair p holds q[r][2p] in its low and
//    q[r][2p+1] in its high 16 bits (the operand layout of AVX2's vpmaddwd);
//  - q_sq: 2·ceil(k/2) × 16 floats per strip, q², exact.
// Whether this build has the kernels (AVX2 and FMA); without them the chip keeps its float path.
bool level_kernels_available();

// Packs rows [row0, row0 + rows) of x (the layer's crossbar inputs k) through the DAC:
// q = nearbyint(clamp((x·inv_range)·inv_step, ±levels)), the same float operations, in the same
// order, as hardware::Quantizer, so q·step is bit for bit the float path's quantised input.
// Padding inputs (odd k) are 0.
void pack_dac_levels(const StripRows& x, int row0, int rows, float inv_range, float inv_step,
                     float levels, std::int32_t* q_pairs, float* q_sq);
std::int64_t dac_pairs_size(std::int64_t rows, int k);  // int32s of q_pairs
std::int64_t dac_sq_size(std::int64_t rows, int k);     // floats of q_sq

// One fused pass over the packed levels of `rows` rows and k inputs, for `out` columns:
//   z[j][r] = z_scale[j] · Σ_k q[r][k]·w[k][j]      exact int32 sum, then one float multiply
//   v[j][r] = v_scale · Σ_k q[r][k]²·var[k][j]        float, in ascending k (even and odd k
//                                                       summed apart, then added)
// Both weight operands are column-major, one contiguous run per output column: w_pairs
// (out × ceil(k/2) int32) holds int16 weights pairwise like q_pairs, w[2p][j] low and w[2p+1][j]
// high; var is out × 2·ceil(k/2) floats, its padding input 0. z and v are column-major with
// leading dimension ld. The caller bounds k·levels·max|w| below 2^31.
// The signal's integer multiply-adds (vpmaddwd) and the variance's float FMAs issue on different
// execution ports, so the pair costs about 1.3 float GEMMs instead of 2 (docs/chip.md).
void gemm_levels(const std::int32_t* q_pairs, const float* q_sq, std::int64_t rows, int k,
                 const std::int32_t* w_pairs, const float* var, int out, const float* z_scale,
                 float v_scale, float* z, float* v, std::int64_t ld);

}  // namespace aimc::network
