#pragma once

// Batched layer kernels. A batch of n images with per-image shape (C, H, W) is stored
// channel-major over the whole batch, [c][n][h][w]: each channel is one column of an
// (n·H·W) × C column-major matrix. Convolution is then an im2col matrix (rows = output pixels,
// columns = C·k·k inputs) times a (C·k·k) × O weight matrix, and its result is already the next
// layer's [o][n][h][w] layout. The same orientation is a crossbar's: inputs on rows, one output
// per column.

#include <Eigen/Core>
#include <array>
#include <cstdint>
#include <vector>

#include "network/gemm.hpp"
#include "network/model.hpp"

namespace aimc::network {

using MatrixRM = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct ConvGeometry {
  Shape in;
  Shape out;
  int kernel = 0;
  int stride = 1;
  int padding = 0;
  int patch_size() const { return in.c * kernel * kernel; }
};

// Floats needed for a packed im2col matrix of `rows` rows and k columns (whole strips).
std::int64_t packed_size(std::int64_t rows, int k);

// Describes a packed matrix (from im2col_packed or pack_colmajor) as StripRows; `offsets` must
// outlive the result.
StripRows packed_strips(const float* packed, std::int64_t rows, int k,
                        std::vector<std::int64_t>& offsets);

// Writes the im2col matrix of images [img_begin, img_end) of a batch of n images into `packed`
// as contiguous K × 16 strips (packed_size(rows, C·k·k) floats, padding rows zeroed). Rows are
// output pixels (image, i, j); column c·k·k + ky·k + kx matches a PyTorch OIHW weight flattened per
// output channel.
void im2col_packed(const float* x, int n, const ConvGeometry& g, int img_begin, int img_end,
                   float* packed);

// Packs a column-major matrix (rows × k, leading dimension ld) into the strip layout.
void pack_colmajor(const float* x, std::int64_t rows, int k, std::int64_t ld, float* packed);

// Whether a conv can run as a direct convolution: stride 1, and output rows a multiple of 8
// wide, so that every half-strip of 8 output pixels lies in one row of one image.
bool direct_conv_applies(const ConvGeometry& g);

// Copies n images' planes into planes with `pad` zero rows/columns on each side:
// [c][n][H + 2·pad][W + 2·pad].
void pad_planes(const float* x, int n, Shape s, int pad, float* padded);

// Describes rows [r_begin, r_end) of a direct convolution's GEMM operand over the padded input
// (from pad_planes with pad = g.padding). `offsets` (K entries, one per tap) must outlive it.
StripRows direct_strips(const float* padded, const ConvGeometry& g, std::int64_t r_begin,
                        std::int64_t r_end, const std::vector<std::int64_t>& offsets);
std::vector<std::int64_t> direct_offsets(int n, const ConvGeometry& g);

// An elementwise activation, applied on its own or fused into the step that produces its input
// (bias, batchnorm, add). Fused or not, it is the same float function of the same float values.
struct Activation {
  enum class Kind { none, relu, clip, leaky_relu };
  Kind kind = Kind::none;
  float lo = 0.0F;  // clip: y = min(max(x, lo), hi)
  float hi = 0.0F;
  float alpha = 0.0F;  // leaky_relu: y = x < 0 ? alpha·x : x
};

// Adds bias[o] to every row of column o of y (rows × O, leading dimension ld), then applies `act`.
void bias_activation(float* y, std::int64_t rows, int out_c, std::int64_t ld, const float* bias,
                     const Activation& act);

// Per-channel affine y = x·scale[c] + shift[c] (batchnorm in inference form), then `act`.
void channel_affine(const float* x, int n, Shape s, const float* scale, const float* shift,
                    const Activation& act, float* y);

// y = act(x) elementwise (y may be x).
void activate(const float* x, std::int64_t count, const Activation& act, float* y);
void add(const float* a, const float* b, std::int64_t count, const Activation& act, float* y);

// Channel concatenation: in the [c][n][h][w] layout each input is one contiguous block of
// channels[i]·plane floats (plane = n·H·W), so the output is the blocks one after another.
void concat(const std::vector<const float*>& inputs, const std::vector<int>& channels,
            std::int64_t plane, float* y);

// Keeps channels, rows and columns begin, begin + step, ... < end (per C, H, W).
void slice(const float* x, int n, Shape in, const std::array<int, 3>& begin,
           const std::array<int, 3>& step, Shape out, float* y);

// Constant padding of channels and space: pads = c, h, w before, then c, h, w after.
void pad(const float* x, int n, Shape in, const std::array<int, 6>& pads, float value, Shape out,
         float* y);

// Transposes [c][n][h·w] into [c·h·w][n]: each image flattened in C, H, W order, as the
// (C·H·W) × 1 × 1 activations of a flatten node or the input rows of a linear layer.
void flatten(const float* x, int n, Shape in, float* y);

// "Option A" shortcut (He et al. 2016): subsample rows/cols by `stride`, zero-pad channels.
void shortcut_a(const float* x, int n, Shape in, int stride, int pad_before, Shape out, float* y);

void max_pool(const float* x, int n, Shape in, int kernel, int stride, int padding, Shape out,
              float* y);
// With count_include_pad, zero padding counts in the divisor (PyTorch count_include_pad=True);
// without, the divisor is the number of input elements under the window (the ONNX default).
void avg_pool(const float* x, int n, Shape in, int kernel, int stride, int padding, Shape out,
              bool count_include_pad, float* y);
void global_avg_pool(const float* x, int n, Shape in, float* y);
void global_max_pool(const float* x, int n, Shape in, float* y);

// Input preprocessing from planar uint8 images (n × C·H·W) into the [c][n][h][w] layout.
void preprocess(const std::uint8_t* pixels, int n, Shape s, const Preprocess& p, float* y);

}  // namespace aimc::network
