#pragma once

// Batched layer kernels. A batch of n images with per-image shape (C, H, W) is stored
// channel-major over the whole batch, [c][n][h][w]: each channel is one column of an
// (n·H·W) × C column-major matrix. Convolution is then an im2col matrix (rows = output pixels,
// columns = C·k·k inputs) times a (C·k·k) × O weight matrix, and its result is already the next
// layer's [o][n][h][w] layout. The same orientation is a crossbar's: inputs on rows, one output
// per column.

#include <Eigen/Core>
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

// Adds bias[o] to every row of column o of y (rows × O, leading dimension ld) and applies ReLU.
void bias_relu(float* y, std::int64_t rows, int out_c, std::int64_t ld, const float* bias,
               bool relu);

// Per-channel affine y = x·scale[c] + shift[c] (batchnorm in inference form), optional ReLU.
void channel_affine(const float* x, int n, Shape s, const float* scale, const float* shift,
                    bool relu, float* y);

void relu_inplace(float* x, std::int64_t count);
void add(const float* a, const float* b, std::int64_t count, bool relu, float* y);

// "Option A" shortcut (He et al. 2016): subsample rows/cols by `stride`, zero-pad channels.
void shortcut_a(const float* x, int n, Shape in, int stride, int pad_before, Shape out, float* y);

void max_pool(const float* x, int n, Shape in, int kernel, int stride, int padding, Shape out,
              float* y);
// Zero padding counts in the divisor (PyTorch count_include_pad=True).
void avg_pool(const float* x, int n, Shape in, int kernel, int stride, int padding, Shape out,
              float* y);
void global_avg_pool(const float* x, int n, Shape in, float* y);

// Input preprocessing from planar uint8 images (n × C·H·W) into the [c][n][h][w] layout.
void preprocess(const std::uint8_t* pixels, int n, Shape s, const Preprocess& p, float* y);

}  // namespace aimc::network
