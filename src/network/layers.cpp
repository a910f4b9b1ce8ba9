#include "network/layers.hpp"

#include <algorithm>
#include <cstring>
#include <limits>

namespace aimc::network {

namespace {
int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
int ceil_div(int a, int b) { return -floor_div(-a, b); }
}  // namespace

void im2col(const float* x, int n, const ConvGeometry& g, int img_begin, int img_end, float* cols,
            std::int64_t ld) {
  const int k = g.kernel;
  const int s = g.stride;
  const int p = g.padding;
  const std::int64_t in_plane = std::int64_t{g.in.h} * g.in.w;
  const std::int64_t out_plane = std::int64_t{g.out.h} * g.out.w;
  for (int c = 0; c < g.in.c; ++c) {
    for (int ky = 0; ky < k; ++ky) {
      for (int kx = 0; kx < k; ++kx) {
        float* col = cols + ld * ((std::int64_t{c} * k + ky) * k + kx);
        // Output columns j whose input column s·j + kx - p lies inside [0, W): a contiguous range,
        // so the inner loop has no branches.
        const int j_lo = std::clamp(ceil_div(p - kx, s), 0, g.out.w);
        const int j_hi = std::clamp(floor_div(g.in.w - 1 + p - kx, s) + 1, j_lo, g.out.w);
        for (int img = img_begin; img < img_end; ++img) {
          const float* plane = x + (std::int64_t{c} * n + img) * in_plane;
          float* dst = col + (img - img_begin) * out_plane;
          for (int i = 0; i < g.out.h; ++i, dst += g.out.w) {
            const int iy = s * i + ky - p;
            if (iy < 0 || iy >= g.in.h) {
              std::fill(dst, dst + g.out.w, 0.0F);
              continue;
            }
            const std::int64_t base = std::int64_t{iy} * g.in.w + kx - p;
            std::fill(dst, dst + j_lo, 0.0F);
            if (s == 1) {
              std::memcpy(dst + j_lo, plane + base + j_lo, sizeof(float) * (j_hi - j_lo));
            } else {
              for (int j = j_lo; j < j_hi; ++j) dst[j] = plane[base + std::int64_t{s} * j];
            }
            std::fill(dst + j_hi, dst + g.out.w, 0.0F);
          }
        }
      }
    }
  }
}

void bias_relu(float* y, std::int64_t rows, int out_c, std::int64_t ld, const float* bias,
               bool relu) {
  for (int o = 0; o < out_c; ++o) {
    float* col = y + o * ld;
    const float b = bias != nullptr ? bias[o] : 0.0F;
    if (relu) {
      for (std::int64_t r = 0; r < rows; ++r) col[r] = std::max(col[r] + b, 0.0F);
    } else if (b != 0.0F) {
      for (std::int64_t r = 0; r < rows; ++r) col[r] += b;
    }
  }
}

void channel_affine(const float* x, int n, Shape s, const float* scale, const float* shift,
                    bool relu, float* y) {
  const std::int64_t plane = std::int64_t{n} * s.h * s.w;
  for (int c = 0; c < s.c; ++c) {
    const float* src = x + c * plane;
    float* dst = y + c * plane;
    for (std::int64_t i = 0; i < plane; ++i) {
      const float v = src[i] * scale[c] + shift[c];
      dst[i] = relu ? std::max(v, 0.0F) : v;
    }
  }
}

void relu_inplace(float* x, std::int64_t count) {
  for (std::int64_t i = 0; i < count; ++i) x[i] = std::max(x[i], 0.0F);
}

void add(const float* a, const float* b, std::int64_t count, bool relu, float* y) {
  if (relu) {
    for (std::int64_t i = 0; i < count; ++i) y[i] = std::max(a[i] + b[i], 0.0F);
  } else {
    for (std::int64_t i = 0; i < count; ++i) y[i] = a[i] + b[i];
  }
}

void shortcut_a(const float* x, int n, Shape in, int stride, int pad_before, Shape out, float* y) {
  const std::int64_t in_plane = std::int64_t{in.h} * in.w;
  const std::int64_t out_plane = std::int64_t{out.h} * out.w;
  std::fill(y, y + out_plane * n * out.c, 0.0F);
  for (int c = 0; c < in.c; ++c) {
    for (int img = 0; img < n; ++img) {
      const float* src = x + (std::int64_t{c} * n + img) * in_plane;
      float* dst = y + (std::int64_t{c + pad_before} * n + img) * out_plane;
      for (int i = 0; i < out.h; ++i)
        for (int j = 0; j < out.w; ++j)
          dst[std::int64_t{i} * out.w + j] = src[std::int64_t{i} * stride * in.w + j * stride];
    }
  }
}

namespace {

// Shared loop of max and average pooling; `reduce` folds a window into one value.
template <typename Init, typename Step, typename Finish>
void pool(const float* x, int n, Shape in, int kernel, int stride, int padding, Shape out,
          float* y, Init init, Step step, Finish finish) {
  const std::int64_t in_plane = std::int64_t{in.h} * in.w;
  const std::int64_t out_plane = std::int64_t{out.h} * out.w;
  for (std::int64_t plane = 0; plane < std::int64_t{in.c} * n; ++plane) {
    const float* src = x + plane * in_plane;
    float* dst = y + plane * out_plane;
    for (int i = 0; i < out.h; ++i) {
      for (int j = 0; j < out.w; ++j) {
        float acc = init();
        for (int ky = 0; ky < kernel; ++ky) {
          const int iy = i * stride + ky - padding;
          for (int kx = 0; kx < kernel; ++kx) {
            const int ix = j * stride + kx - padding;
            const bool inside = iy >= 0 && iy < in.h && ix >= 0 && ix < in.w;
            acc = step(acc, inside ? src[std::int64_t{iy} * in.w + ix] : 0.0F, inside);
          }
        }
        dst[std::int64_t{i} * out.w + j] = finish(acc);
      }
    }
  }
}

}  // namespace

void max_pool(const float* x, int n, Shape in, int kernel, int stride, int padding, Shape out,
              float* y) {
  pool(
      x, n, in, kernel, stride, padding, out, y,
      [] { return -std::numeric_limits<float>::infinity(); },
      [](float acc, float v, bool inside) { return inside ? std::max(acc, v) : acc; },
      [](float acc) { return acc; });
}

void avg_pool(const float* x, int n, Shape in, int kernel, int stride, int padding, Shape out,
              float* y) {
  const float inv = 1.0F / static_cast<float>(kernel * kernel);
  pool(
      x, n, in, kernel, stride, padding, out, y, [] { return 0.0F; },
      [](float acc, float v, bool) { return acc + v; }, [inv](float acc) { return acc * inv; });
}

void global_avg_pool(const float* x, int n, Shape in, float* y) {
  const std::int64_t plane = std::int64_t{in.h} * in.w;
  const float inv = 1.0F / static_cast<float>(plane);
  for (std::int64_t p = 0; p < std::int64_t{in.c} * n; ++p) {
    const float* src = x + p * plane;
    float acc = 0.0F;
    for (std::int64_t i = 0; i < plane; ++i) acc += src[i];
    y[p] = acc * inv;
  }
}

void preprocess(const std::uint8_t* pixels, int n, Shape s, const Preprocess& p, float* y) {
  const std::int64_t plane = std::int64_t{s.h} * s.w;
  for (int c = 0; c < s.c; ++c) {
    const auto scale = static_cast<float>(p.scale);
    const auto mean = static_cast<float>(p.mean[c]);
    const auto std = static_cast<float>(p.std[c]);
    for (int img = 0; img < n; ++img) {
      const std::uint8_t* src = pixels + (std::int64_t{img} * s.c + c) * plane;
      float* dst = y + (std::int64_t{c} * n + img) * plane;
      for (std::int64_t i = 0; i < plane; ++i)
        dst[i] = (static_cast<float>(src[i]) * scale - mean) / std;
    }
  }
}

}  // namespace aimc::network
