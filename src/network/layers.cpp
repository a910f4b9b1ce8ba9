#include "network/layers.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <vector>

#include "network/gemm.hpp"

namespace aimc::network {

namespace {
int floor_div(int a, int b) {
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}
int ceil_div(int a, int b) {
  return -floor_div(-a, b);
}
}  // namespace

namespace {

// Copies a run of `len` consecutive rows of column `col`, starting at row r, into the strip
// layout, splitting it where it crosses a strip boundary.
void put_run(float* packed, int k, std::int64_t r, int col, const float* src, int len) {
  while (len > 0) {
    const std::int64_t strip = r / k_strip_rows;
    const int off = static_cast<int>(r % k_strip_rows);
    const int n = std::min(len, k_strip_rows - off);
    float* dst = packed + (strip * k + col) * k_strip_rows + off;
    // An inline loop, not memcpy: runs are at most 16 floats, too short for a library call.
    for (int t = 0; t < n; ++t)
      dst[t] = src[t];
    r += n;
    src += n;
    len -= n;
  }
}

void zero_padding_rows(float* packed, std::int64_t rows, int k) {
  const std::int64_t total = packed_size(rows, k) / k;
  if (total == rows) return;
  const std::int64_t strip = rows / k_strip_rows;
  const int off = static_cast<int>(rows % k_strip_rows);
  for (int col = 0; col < k; ++col)
    std::fill_n(packed + (strip * k + col) * k_strip_rows + off, k_strip_rows - off, 0.0F);
}

}  // namespace

std::int64_t packed_size(std::int64_t rows, int k) {
  return (rows + k_strip_rows - 1) / k_strip_rows * k_strip_rows * k;
}

StripRows packed_strips(const float* packed, std::int64_t rows, int k,
                        std::vector<std::int64_t>& offsets) {
  offsets.resize(k);
  for (int i = 0; i < k; ++i)
    offsets[i] = std::int64_t{i} * k_strip_rows;
  StripRows x;
  x.k = k;
  x.rows = rows;
  x.k_offset = offsets.data();
  x.half.resize(2 * x.strips());
  for (std::int64_t s = 0; s < x.strips(); ++s) {
    x.half[2 * s] = packed + s * k * k_strip_rows;
    x.half[2 * s + 1] = x.half[2 * s] + k_half_rows;
  }
  return x;
}

bool direct_conv_applies(const ConvGeometry& g) {
  return g.stride == 1 && g.out.w % k_half_rows == 0;
}

void pad_planes(const float* x, int n, Shape s, int pad, float* padded) {
  const int hp = s.h + 2 * pad;
  const int wp = s.w + 2 * pad;
  for (std::int64_t plane = 0; plane < std::int64_t{s.c} * n; ++plane) {
    const float* src = x + plane * s.h * s.w;
    float* dst = padded + plane * hp * wp;
    std::fill(dst, dst + std::int64_t{pad} * wp, 0.0F);
    for (int i = 0; i < s.h; ++i) {
      float* row = dst + std::int64_t{i + pad} * wp;
      std::fill(row, row + pad, 0.0F);
      std::copy(src + std::int64_t{i} * s.w, src + std::int64_t{i + 1} * s.w, row + pad);
      std::fill(row + pad + s.w, row + wp, 0.0F);
    }
    std::fill(dst + std::int64_t{s.h + pad} * wp, dst + std::int64_t{hp} * wp, 0.0F);
  }
}

std::vector<std::int64_t> direct_offsets(int n, const ConvGeometry& g) {
  const std::int64_t wp = g.in.w + 2 * g.padding;
  const std::int64_t plane = (g.in.h + 2 * g.padding) * wp;
  std::vector<std::int64_t> offsets;
  for (int c = 0; c < g.in.c; ++c)
    for (int ky = 0; ky < g.kernel; ++ky)
      for (int kx = 0; kx < g.kernel; ++kx)
        offsets.push_back(c * n * plane + ky * wp + kx);
  return offsets;
}

StripRows direct_strips(const float* padded, const ConvGeometry& g, std::int64_t r_begin,
                        std::int64_t r_end, const std::vector<std::int64_t>& offsets) {
  const std::int64_t wp = g.in.w + 2 * g.padding;
  const std::int64_t plane = (g.in.h + 2 * g.padding) * wp;
  const std::int64_t out_plane = std::int64_t{g.out.h} * g.out.w;
  StripRows x;
  x.k = g.patch_size();
  x.rows = r_end - r_begin;
  x.k_offset = offsets.data();
  x.half.resize(2 * x.strips());
  for (std::size_t h = 0; h < x.half.size(); ++h) {
    // A half past the last row is never stored; point it at the last valid half all the same.
    const std::int64_t r = std::min(r_begin + static_cast<std::int64_t>(h) * k_half_rows,
                                    (r_end - 1) / k_half_rows * k_half_rows);
    const std::int64_t img = r / out_plane;
    const std::int64_t i = r % out_plane / g.out.w;
    const std::int64_t j = r % g.out.w;
    x.half[h] = padded + img * plane + i * wp + j;
  }
  return x;
}

void im2col_packed(const float* x, int n, const ConvGeometry& g, int img_begin, int img_end,
                   float* packed) {
  const int k = g.kernel;
  const int s = g.stride;
  const int p = g.padding;
  const int cols = g.patch_size();
  const std::int64_t in_plane = std::int64_t{g.in.h} * g.in.w;
  const std::int64_t out_plane = std::int64_t{g.out.h} * g.out.w;
  std::vector<float> line(static_cast<std::size_t>(g.out.w));
  for (int c = 0; c < g.in.c; ++c) {
    for (int ky = 0; ky < k; ++ky) {
      for (int kx = 0; kx < k; ++kx) {
        const int col = (c * k + ky) * k + kx;
        // Output columns j whose input column s·j + kx - p lies inside [0, W): a contiguous range,
        // so the inner loop has no branches.
        const int j_lo = std::clamp(ceil_div(p - kx, s), 0, g.out.w);
        const int j_hi = std::clamp(floor_div(g.in.w - 1 + p - kx, s) + 1, j_lo, g.out.w);
        for (int img = img_begin; img < img_end; ++img) {
          const float* plane = x + (std::int64_t{c} * n + img) * in_plane;
          std::int64_t r = (img - img_begin) * out_plane;
          for (int i = 0; i < g.out.h; ++i, r += g.out.w) {
            const int iy = s * i + ky - p;
            if (iy >= 0 && iy < g.in.h) {
              const float* src = plane + std::int64_t{iy} * g.in.w;
              const int off = kx - p;
              std::fill(line.begin(), line.begin() + j_lo, 0.0F);
              if (s == 1) {
                for (int j = j_lo; j < j_hi; ++j)
                  line[j] = src[j + off];
              } else {
                for (int j = j_lo; j < j_hi; ++j)
                  line[j] = src[s * j + off];
              }
              std::fill(line.begin() + j_hi, line.end(), 0.0F);
            } else {
              std::fill(line.begin(), line.end(), 0.0F);
            }
            put_run(packed, cols, r, col, line.data(), g.out.w);
          }
        }
      }
    }
  }
  zero_padding_rows(packed, (img_end - img_begin) * out_plane, cols);
}

void pack_colmajor(const float* x, std::int64_t rows, int k, std::int64_t ld, float* packed) {
  for (int col = 0; col < k; ++col) {
    for (std::int64_t r0 = 0; r0 < rows; r0 += k_strip_rows) {
      const int len = static_cast<int>(std::min<std::int64_t>(k_strip_rows, rows - r0));
      put_run(packed, k, r0, col, x + col * ld + r0, len);
    }
  }
  zero_padding_rows(packed, rows, k);
}

namespace {

// Calls body(f) with the activation as a function object, so that each kind gets its own
// inner loops (no branch on the kind per element).
template <typename Body>
void with_activation(const Activation& act, Body&& body) {
  switch (act.kind) {
    case Activation::Kind::none:
      body([](float v) { return v; });
      return;
    case Activation::Kind::relu:
      body([](float v) { return std::max(v, 0.0F); });
      return;
    case Activation::Kind::clip: {
      const float lo = act.lo;
      const float hi = act.hi;
      body([lo, hi](float v) { return std::min(std::max(v, lo), hi); });
      return;
    }
    case Activation::Kind::leaky_relu: {
      const float alpha = act.alpha;
      body([alpha](float v) { return v < 0.0F ? v * alpha : v; });
      return;
    }
  }
}

}  // namespace

void bias_activation(float* y, std::int64_t rows, int out_c, std::int64_t ld, const float* bias,
                     const Activation& act) {
  with_activation(act, [&](auto f) {
    for (int o = 0; o < out_c; ++o) {
      float* col = y + o * ld;
      const float b = bias != nullptr ? bias[o] : 0.0F;
      // A zero bias is not added (x + 0 would turn -0 into +0), except before ReLU, which has
      // always added it; either way the values are those of an unfused bias step.
      if (act.kind == Activation::Kind::relu || b != 0.0F) {
        for (std::int64_t r = 0; r < rows; ++r)
          col[r] = f(col[r] + b);
      } else if (act.kind != Activation::Kind::none) {
        for (std::int64_t r = 0; r < rows; ++r)
          col[r] = f(col[r]);
      }
    }
  });
}

void channel_affine(const float* x, int n, Shape s, const float* scale, const float* shift,
                    const Activation& act, float* y) {
  const std::int64_t plane = std::int64_t{n} * s.h * s.w;
  with_activation(act, [&](auto f) {
    for (int c = 0; c < s.c; ++c) {
      const float* src = x + c * plane;
      float* dst = y + c * plane;
      for (std::int64_t i = 0; i < plane; ++i) {
        const float v = src[i] * scale[c] + shift[c];
        dst[i] = f(v);
      }
    }
  });
}

void activate(const float* x, std::int64_t count, const Activation& act, float* y) {
  with_activation(act, [&](auto f) {
    for (std::int64_t i = 0; i < count; ++i)
      y[i] = f(x[i]);
  });
}

void add(const float* a, const float* b, std::int64_t count, const Activation& act, float* y) {
  with_activation(act, [&](auto f) {
    for (std::int64_t i = 0; i < count; ++i)
      y[i] = f(a[i] + b[i]);
  });
}

void concat(const std::vector<const float*>& inputs, const std::vector<int>& channels,
            std::int64_t plane, float* y) {
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    const std::int64_t count = channels[i] * plane;
    std::copy(inputs[i], inputs[i] + count, y);
    y += count;
  }
}

void slice(const float* x, int n, Shape in, const std::array<int, 3>& begin,
           const std::array<int, 3>& step, Shape out, float* y) {
  const std::int64_t in_plane = std::int64_t{in.h} * in.w;
  for (int oc = 0; oc < out.c; ++oc) {
    const int c = begin[0] + oc * step[0];
    for (int img = 0; img < n; ++img) {
      const float* src = x + (std::int64_t{c} * n + img) * in_plane;
      for (int i = 0; i < out.h; ++i) {
        const float* row = src + std::int64_t{begin[1] + i * step[1]} * in.w + begin[2];
        for (int j = 0; j < out.w; ++j)
          *y++ = row[std::int64_t{j} * step[2]];
      }
    }
  }
}

void pad(const float* x, int n, Shape in, const std::array<int, 6>& pads, float value, Shape out,
         float* y) {
  const std::int64_t in_plane = std::int64_t{in.h} * in.w;
  const std::int64_t out_plane = std::int64_t{out.h} * out.w;
  std::fill(y, y + out_plane * n * out.c, value);
  for (int c = 0; c < in.c; ++c) {
    for (int img = 0; img < n; ++img) {
      const float* src = x + (std::int64_t{c} * n + img) * in_plane;
      float* dst = y + (std::int64_t{c + pads[0]} * n + img) * out_plane +
                   std::int64_t{pads[1]} * out.w + pads[2];
      for (int i = 0; i < in.h; ++i)
        std::copy(src + std::int64_t{i} * in.w, src + std::int64_t{i + 1} * in.w,
                  dst + std::int64_t{i} * out.w);
    }
  }
}

void flatten(const float* x, int n, Shape in, float* y) {
  const std::int64_t hw = std::int64_t{in.h} * in.w;
  for (int c = 0; c < in.c; ++c)
    for (int img = 0; img < n; ++img)
      for (std::int64_t p = 0; p < hw; ++p)
        y[(c * hw + p) * n + img] = x[(std::int64_t{c} * n + img) * hw + p];
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
void pool(const float* x, int n, Shape in, int kernel, int stride, int padding, Shape out, float* y,
          Init init, Step step, Finish finish) {
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
              bool count_include_pad, float* y) {
  if (!count_include_pad) {
    // The window's input rows times its input columns: at least one each, since validate()
    // keeps the padding at most half the kernel.
    auto inside = [&](int o, int size) {
      const int lo = std::max(o * stride - padding, 0);
      const int hi = std::min(o * stride - padding + kernel, size);
      return hi - lo;
    };
    pool(
        x, n, in, kernel, stride, padding, out, y, [] { return 0.0F; },
        [](float acc, float v, bool) { return acc + v; }, [](float acc) { return acc; });
    const std::int64_t out_plane = std::int64_t{out.h} * out.w;
    for (int i = 0; i < out.h; ++i) {
      for (int j = 0; j < out.w; ++j) {
        const auto count = static_cast<float>(inside(i, in.h) * inside(j, in.w));
        for (std::int64_t plane = 0; plane < std::int64_t{in.c} * n; ++plane)
          y[plane * out_plane + std::int64_t{i} * out.w + j] /= count;
      }
    }
    return;
  }
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
    for (std::int64_t i = 0; i < plane; ++i)
      acc += src[i];
    y[p] = acc * inv;
  }
}

void global_max_pool(const float* x, int n, Shape in, float* y) {
  const std::int64_t plane = std::int64_t{in.h} * in.w;
  for (std::int64_t p = 0; p < std::int64_t{in.c} * n; ++p) {
    const float* src = x + p * plane;
    float acc = src[0];
    for (std::int64_t i = 1; i < plane; ++i)
      acc = std::max(acc, src[i]);
    y[p] = acc;
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
