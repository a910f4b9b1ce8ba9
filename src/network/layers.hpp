#pragma once

// Batched layer kernels. A batch of n images with per-image shape (C, H, W) is stored
// channel-major over the whole batch, [c][n][h][w]: each channel is one column of an
// (n·H·W) × C column-major matrix. Convolution is then an im2col matrix (rows = output pixels,
// columns = C·k·k inputs) times a (C·k·k) × O weight matrix, and its result is already the next
// layer's [o][n][h][w] layout. The same orientation is a crossbar's: inputs on rows, one output
// per column.

#include <Eigen/Core>
#include <cstdint>

#include "network/model.hpp"

namespace aimc::network {

using MatrixRM = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using ColMap = Eigen::Map<Eigen::MatrixXf, 0, Eigen::OuterStride<>>;
using ConstColMap = Eigen::Map<const Eigen::MatrixXf, 0, Eigen::OuterStride<>>;

struct ConvGeometry {
  Shape in;
  Shape out;
  int kernel = 0;
  int stride = 1;
  int padding = 0;
  int patch_size() const { return in.c * kernel * kernel; }
};

// Writes the im2col rows of images [img_begin, img_end) of a batch of n images into `cols`
// (column-major, leading dimension `ld` ≥ (img_end - img_begin)·out.h·out.w). Column index is
// c·k·k + ky·k + kx, matching a PyTorch OIHW weight flattened per output channel.
void im2col(const float* x, int n, const ConvGeometry& g, int img_begin, int img_end, float* cols,
            std::int64_t ld);

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
