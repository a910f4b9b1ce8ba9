#include "network/gemm.hpp"

#include <algorithm>
#include <cstring>

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#define AIMC_LEVEL_KERNELS 1
#endif

namespace aimc::network {

namespace {

// Eight floats; GCC lowers it to one AVX register, or two SSE registers on a portable build.
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

static_assert(k_strip_rows == 16, "the tile below holds two 8-float vectors per column");
constexpr int k_cols = 6;

// One strip (16 rows) × C ≤ 6 output columns starting at o0. The last strip may have fewer
// than 16 valid rows (`valid`); its padding rows are computed but not stored.
template <int C>
void tile(const float* lo, const float* hi, const std::int64_t* k_offset, int k, const float* w,
          int out, float* y, std::int64_t ld_y, int o0, int valid) {
  v8 acc[C][2];
  for (int c = 0; c < C; ++c)
    acc[c][0] = acc[c][1] = splat(0.0F);
  const float* wp = w + o0;
  for (int i = 0; i < k; ++i, wp += out) {
    const v8 x0 = load(lo + k_offset[i]);
    const v8 x1 = load(hi + k_offset[i]);
    for (int c = 0; c < C; ++c) {
      const v8 b = splat(wp[c]);
      acc[c][0] += x0 * b;
      acc[c][1] += x1 * b;
    }
  }
  for (int c = 0; c < C; ++c) {
    float* yp = y + (o0 + c) * ld_y;
    if (valid == k_strip_rows) {
      store(yp, acc[c][0]);
      store(yp + 8, acc[c][1]);
    } else {
      float buf[k_strip_rows];
      store(buf, acc[c][0]);
      store(buf + 8, acc[c][1]);
      std::copy(buf, buf + valid, yp);
    }
  }
}

}  // namespace

void gemm_strips(const StripRows& x, const float* w, int out, float* y, std::int64_t ld_y) {
  for (std::int64_t s = 0; s < x.strips(); ++s) {
    const float* lo = x.half[2 * s];
    const float* hi = x.half[2 * s + 1];
    float* ys = y + s * k_strip_rows;
    const int valid =
        static_cast<int>(std::min<std::int64_t>(k_strip_rows, x.rows - s * k_strip_rows));
    const std::int64_t* off = x.k_offset;
    int o0 = 0;
    for (; o0 + k_cols <= out; o0 += k_cols)
      tile<k_cols>(lo, hi, off, x.k, w, out, ys, ld_y, o0, valid);
    switch (out - o0) {
      case 5:
        tile<5>(lo, hi, off, x.k, w, out, ys, ld_y, o0, valid);
        break;
      case 4:
        tile<4>(lo, hi, off, x.k, w, out, ys, ld_y, o0, valid);
        break;
      case 3:
        tile<3>(lo, hi, off, x.k, w, out, ys, ld_y, o0, valid);
        break;
      case 2:
        tile<2>(lo, hi, off, x.k, w, out, ys, ld_y, o0, valid);
        break;
      case 1:
        tile<1>(lo, hi, off, x.k, w, out, ys, ld_y, o0, valid);
        break;
      default:
        break;
    }
  }
}

std::int64_t dac_pairs_size(std::int64_t rows, int k) {
  const std::int64_t strips = (rows + k_strip_rows - 1) / k_strip_rows;
  return strips * ((k + 1) / 2) * k_strip_rows;
}

std::int64_t dac_sq_size(std::int64_t rows, int k) {
  return 2 * dac_pairs_size(rows, k);
}

#ifdef AIMC_LEVEL_KERNELS

bool level_kernels_available() {
  return true;
}

namespace {

// Eight inputs through the DAC: the levels as float (exact integers) and as int32.
struct Levels {
  __m256 f;
  __m256i i;
};

inline Levels dac_levels(const float* p, __m256 inv_range, __m256 inv_step, __m256 levels) {
  // As hardware::Quantizer::apply: (x·inv_range)·inv_step, clamped, rounded half to even (the
  // MXCSR default that _mm256_round_ps's current-direction mode uses, like std::nearbyint).
  __m256 t = _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(p), inv_range), inv_step);
  t = _mm256_min_ps(_mm256_max_ps(t, _mm256_sub_ps(_mm256_setzero_ps(), levels)), levels);
  t = _mm256_round_ps(t, _MM_FROUND_CUR_DIRECTION);
  return {t, _mm256_cvtps_epi32(t)};
}

inline __m256i pair_levels(__m256i even, __m256i odd) {
  return _mm256_or_si256(_mm256_and_si256(even, _mm256_set1_epi32(0xffff)),
                         _mm256_slli_epi32(odd, 16));
}

// One strip (16 rows) × one column: two int32 accumulators of the signal and four float
// accumulators of the variance (even and odd k apart, so that consecutive FMAs into one
// accumulator do not wait on each other). One column at a time keeps all six in registers with
// the inputs read from memory; wider tiles made GCC spill accumulators to the stack.
inline void level_column(const std::int32_t* qp, const float* qs, int pairs, const std::int32_t* wp,
                         const float* vp, float z_scale, float v_scale, float* z, float* v,
                         int valid) {
  __m256i sig0 = _mm256_setzero_si256();
  __m256i sig1 = _mm256_setzero_si256();
  __m256 even0 = _mm256_setzero_ps();
  __m256 even1 = _mm256_setzero_ps();
  __m256 odd0 = _mm256_setzero_ps();
  __m256 odd1 = _mm256_setzero_ps();
  for (int p = 0; p < pairs; ++p, qp += k_strip_rows, qs += 2 * k_strip_rows) {
    const __m256i b = _mm256_set1_epi32(wp[p]);
    sig0 = _mm256_add_epi32(
        sig0, _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(qp)), b));
    sig1 = _mm256_add_epi32(
        sig1, _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(qp + 8)), b));
    const __m256 g0 = _mm256_broadcast_ss(vp + 2 * p);
    const __m256 g1 = _mm256_broadcast_ss(vp + 2 * p + 1);
    even0 = _mm256_fmadd_ps(_mm256_loadu_ps(qs), g0, even0);
    even1 = _mm256_fmadd_ps(_mm256_loadu_ps(qs + 8), g0, even1);
    odd0 = _mm256_fmadd_ps(_mm256_loadu_ps(qs + 16), g1, odd0);
    odd1 = _mm256_fmadd_ps(_mm256_loadu_ps(qs + 24), g1, odd1);
  }
  const __m256 zs = _mm256_set1_ps(z_scale);
  const __m256 vs = _mm256_set1_ps(v_scale);
  const __m256 z0 = _mm256_mul_ps(_mm256_cvtepi32_ps(sig0), zs);
  const __m256 z1 = _mm256_mul_ps(_mm256_cvtepi32_ps(sig1), zs);
  const __m256 v0 = _mm256_mul_ps(_mm256_add_ps(even0, odd0), vs);
  const __m256 v1 = _mm256_mul_ps(_mm256_add_ps(even1, odd1), vs);
  if (valid == k_strip_rows) {
    _mm256_storeu_ps(z, z0);
    _mm256_storeu_ps(z + 8, z1);
    _mm256_storeu_ps(v, v0);
    _mm256_storeu_ps(v + 8, v1);
    return;
  }
  float zb[k_strip_rows];
  float vb[k_strip_rows];
  _mm256_storeu_ps(zb, z0);
  _mm256_storeu_ps(zb + 8, z1);
  _mm256_storeu_ps(vb, v0);
  _mm256_storeu_ps(vb + 8, v1);
  std::copy(zb, zb + valid, z);
  std::copy(vb, vb + valid, v);
}

}  // namespace

void pack_dac_levels(const StripRows& x, int row0, int rows, float inv_range, float inv_step,
                     float levels, std::int32_t* q_pairs, float* q_sq) {
  const int pairs = (rows + 1) / 2;
  const __m256 inv = _mm256_set1_ps(inv_range);
  const __m256 is = _mm256_set1_ps(inv_step);
  const __m256 lv = _mm256_set1_ps(levels);
  const __m256 zero_f = _mm256_setzero_ps();
  const __m256i zero_i = _mm256_setzero_si256();
  for (std::int64_t s = 0; s < x.strips(); ++s) {
    const float* lo = x.half[2 * s];
    const float* hi = x.half[2 * s + 1];
    std::int32_t* qp = q_pairs + s * pairs * k_strip_rows;
    float* qs = q_sq + s * 2 * pairs * k_strip_rows;
    for (int p = 0; p < pairs; ++p, qp += k_strip_rows, qs += 2 * k_strip_rows) {
      const std::int64_t a = x.k_offset[row0 + 2 * p];
      const Levels a0 = dac_levels(lo + a, inv, is, lv);
      const Levels a1 = dac_levels(hi + a, inv, is, lv);
      Levels b0{zero_f, zero_i};
      Levels b1{zero_f, zero_i};
      if (2 * p + 1 < rows) {
        const std::int64_t b = x.k_offset[row0 + 2 * p + 1];
        b0 = dac_levels(lo + b, inv, is, lv);
        b1 = dac_levels(hi + b, inv, is, lv);
      }
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(qp), pair_levels(a0.i, b0.i));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(qp + 8), pair_levels(a1.i, b1.i));
      _mm256_storeu_ps(qs, _mm256_mul_ps(a0.f, a0.f));
      _mm256_storeu_ps(qs + 8, _mm256_mul_ps(a1.f, a1.f));
      _mm256_storeu_ps(qs + 16, _mm256_mul_ps(b0.f, b0.f));
      _mm256_storeu_ps(qs + 24, _mm256_mul_ps(b1.f, b1.f));
    }
  }
}

void gemm_levels(const std::int32_t* q_pairs, const float* q_sq, std::int64_t rows, int k,
                 const std::int32_t* w_pairs, const float* var, int out, const float* z_scale,
                 float v_scale, float* z, float* v, std::int64_t ld) {
  const int pairs = (k + 1) / 2;
  const std::int64_t strips = (rows + k_strip_rows - 1) / k_strip_rows;
  for (std::int64_t s = 0; s < strips; ++s) {
    const std::int32_t* qp = q_pairs + s * pairs * k_strip_rows;
    const float* qs = q_sq + s * 2 * pairs * k_strip_rows;
    const int valid =
        static_cast<int>(std::min<std::int64_t>(k_strip_rows, rows - s * k_strip_rows));
    float* zs = z + s * k_strip_rows;
    float* vs = v + s * k_strip_rows;
    for (int j = 0; j < out; ++j)
      level_column(qp, qs, pairs, w_pairs + std::int64_t{j} * pairs,
                   var + std::int64_t{j} * 2 * pairs, z_scale[j], v_scale, zs + j * ld, vs + j * ld,
                   valid);
  }
}

#else  // no AVX2: the chip keeps its float path (level_kernels_available() is false)

bool level_kernels_available() {
  return false;
}

void pack_dac_levels(const StripRows& /*x*/, int /*row0*/, int /*rows*/, float /*inv_range*/,
                     float /*inv_step*/, float /*levels*/, std::int32_t* /*q_pairs*/,
                     float* /*q_sq*/) {}

void gemm_levels(const std::int32_t* /*q_pairs*/, const float* /*q_sq*/, std::int64_t /*rows*/,
                 int /*k*/, const std::int32_t* /*w_pairs*/, const float* /*var*/, int /*out*/,
                 const float* /*z_scale*/, float /*v_scale*/, float* /*z*/, float* /*v*/,
                 std::int64_t /*ld*/) {}

#endif

}  // namespace aimc::network
