#include "network/gemm.hpp"

#include <algorithm>
#include <cstring>

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
// than 16 valid rows (`valid`); its padding rows are computed but not stored. With Square, the
// x values are squared as they are loaded (two multiplies per k, against 12 FMAs).
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

template <bool Square>
void strips_times(const StripRows& x, int k0, int k, const float* w, int out, float* y,
                  std::int64_t ld_y) {
  const std::int64_t* off = x.k_offset + k0;
  for (std::int64_t s = 0; s < x.strips(); ++s) {
    const float* lo = x.half[2 * s];
    const float* hi = x.half[2 * s + 1];
    float* ys = y + s * k_strip_rows;
    const int valid =
        static_cast<int>(std::min<std::int64_t>(k_strip_rows, x.rows - s * k_strip_rows));
    int o0 = 0;
    for (; o0 + k_cols <= out; o0 += k_cols)
      tile<k_cols, Square>(lo, hi, off, k, w, out, ys, ld_y, o0, valid);
    switch (out - o0) {
      case 5:
        tile<5, Square>(lo, hi, off, k, w, out, ys, ld_y, o0, valid);
        break;
      case 4:
        tile<4, Square>(lo, hi, off, k, w, out, ys, ld_y, o0, valid);
        break;
      case 3:
        tile<3, Square>(lo, hi, off, k, w, out, ys, ld_y, o0, valid);
        break;
      case 2:
        tile<2, Square>(lo, hi, off, k, w, out, ys, ld_y, o0, valid);
        break;
      case 1:
        tile<1, Square>(lo, hi, off, k, w, out, ys, ld_y, o0, valid);
        break;
      default:
        break;
    }
  }
}

}  // namespace

void gemm_strips(const StripRows& x, const float* w, int out, float* y, std::int64_t ld_y) {
  strips_times<false>(x, 0, x.k, w, out, y, ld_y);
}

void gemm_strips_rows(const StripRows& x, int k0, int k, const float* w, int out, float* y,
                      std::int64_t ld_y) {
  strips_times<false>(x, k0, k, w, out, y, ld_y);
}

void gemm_strips_rows_squared(const StripRows& x, int k0, int k, const float* w, int out, float* y,
                              std::int64_t ld_y) {
  strips_times<true>(x, k0, k, w, out, y, ld_y);
}

}  // namespace aimc::network
