// The GEMM strip kernel, compiled once per ISA level (src/CMakeLists.txt defines AIMC_ISA_NS as
// the level's namespace and AIMC_GEMM_COLS as its register tile's width, and passes its flags).
// Everything but the entry point has internal linkage, and nothing here comes from a header
// that other translation units compile too (gemm_kernels.hpp).

#include "network/gemm_kernels.hpp"

#include <cstring>

#ifndef AIMC_ISA_NS
#error "compile gemm_kernels.cpp through src/CMakeLists.txt, which defines AIMC_ISA_NS"
#endif

namespace aimc::network::kernels::AIMC_ISA_NS {

namespace {

// Eight floats: one AVX register, or two SSE registers in the baseline build.
typedef float v8 __attribute__((vector_size(32)));  // NOLINT(modernize-use-using)

inline v8 load(const float* p) {
  v8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, v8 v) {
  std::memcpy(p, &v, sizeof v);
}
inline v8 splat(float s) {
  return v8{s, s, s, s, s, s, s, s};
}

constexpr int k_rows = 16;  // network::k_strip_rows
// The register tile: 16 rows (two 8-float vectors) × AIMC_GEMM_COLS output columns. With the
// 16 vector registers of AVX2, 6 columns (12 accumulators, 2 inputs, 1 broadcast); with the 32
// of AVX-512, 12 columns (24 accumulators): half as many loads of x per FMA.
constexpr int k_cols = AIMC_GEMM_COLS;

// One strip × C columns from o0. Each output is summed in ascending k with the same
// instructions wherever its row or column falls, so results do not depend on how a batch is
// chunked, nor on the tile width (avx2 and avx512 give the same bits). With Square, x is
// squared as it is loaded.
template <int C, bool Square>
void tile(const float* lo, const float* hi, const std::int64_t* k_offset, int k, const float* w,
          int out, float* y, std::int64_t ld_y, int o0, int valid) {
  v8 acc[C][2];
  for (int c = 0; c < C; ++c)
    acc[c][0] = acc[c][1] = splat(0.0F);
  const float* wp = w + o0;
  for (int i = 0; i < k; ++i, wp += out) {
    v8 x0 = load(lo + k_offset[i]);
    v8 x1 = load(hi + k_offset[i]);
    if constexpr (Square) {
      x0 *= x0;
      x1 *= x1;
    }
    for (int c = 0; c < C; ++c) {
      const v8 b = splat(wp[c]);
      acc[c][0] += x0 * b;
      acc[c][1] += x1 * b;
    }
  }
  for (int c = 0; c < C; ++c) {
    float* yp = y + (o0 + c) * ld_y;
    if (valid == k_rows) {
      store(yp, acc[c][0]);
      store(yp + 8, acc[c][1]);
    } else {
      float buf[k_rows];
      store(buf, acc[c][0]);
      store(buf + 8, acc[c][1]);
      for (int r = 0; r < valid; ++r)
        yp[r] = buf[r];
    }
  }
}

// The last `rem` < k_cols columns, as one tile of exactly that width.
template <int C, bool Square>
void tail(int rem, const float* lo, const float* hi, const std::int64_t* k_offset, int k,
          const float* w, int out, float* y, std::int64_t ld_y, int o0, int valid) {
  if constexpr (C > 0) {
    if (rem == C)
      tile<C, Square>(lo, hi, k_offset, k, w, out, y, ld_y, o0, valid);
    else
      tail<C - 1, Square>(rem, lo, hi, k_offset, k, w, out, y, ld_y, o0, valid);
  }
}

template <bool Square>
void strips_times(const StripsArgs& a) {
  const std::int64_t* off = a.k_offset + a.k0;
  const std::int64_t strips = (a.rows + k_rows - 1) / k_rows;
  for (std::int64_t s = 0; s < strips; ++s) {
    const float* lo = a.half[2 * s];
    const float* hi = a.half[2 * s + 1];
    float* ys = a.y + s * k_rows;
    const std::int64_t left = a.rows - s * k_rows;
    const int valid = left < k_rows ? static_cast<int>(left) : k_rows;
    int o0 = 0;
    for (; o0 + k_cols <= a.out; o0 += k_cols)
      tile<k_cols, Square>(lo, hi, off, a.k, a.w, a.out, ys, a.ld_y, o0, valid);
    tail<k_cols - 1, Square>(a.out - o0, lo, hi, off, a.k, a.w, a.out, ys, a.ld_y, o0, valid);
  }
}

}  // namespace

void strips(const StripsArgs& a) {
  if (a.square)
    strips_times<true>(a);
  else
    strips_times<false>(a);
}

namespace {
// The probe's vector: AVX-512's full width where the level has it (a CPU with full-width 512-bit
// FMA units doubles its peak with it; on Zen 4 it only halves the instruction count).
#if AIMC_PROBE_FLOATS == 16
typedef float vp __attribute__((vector_size(64)));  // NOLINT(modernize-use-using)
#else
typedef v8 vp;  // NOLINT(modernize-use-using)
#endif
constexpr int k_probe_floats = AIMC_PROBE_FLOATS;
constexpr int k_chains = 12;  // more than FMA latency × throughput (4 × 2) in flight
}  // namespace

float fma_probe(std::int64_t iterations, float seed, double& flop) {
  vp acc[k_chains];
  vp a;
  vp b;
  for (int i = 0; i < k_probe_floats; ++i) {
    a[i] = 1.0F + 1e-7F * static_cast<float>(i);
    b[i] = 1e-7F * seed;
  }
  for (int c = 0; c < k_chains; ++c)
    acc[c] = b * static_cast<float>(c + 1);
  for (std::int64_t it = 0; it < iterations; ++it)
    for (int c = 0; c < k_chains; ++c)
      acc[c] = acc[c] * a + b;
  float sum = 0.0F;
  for (int c = 0; c < k_chains; ++c)
    for (int i = 0; i < k_probe_floats; ++i)
      sum += acc[c][i];
  flop = 2.0 * static_cast<double>(iterations) * k_chains * k_probe_floats;
  return sum;
}

}  // namespace aimc::network::kernels::AIMC_ISA_NS
