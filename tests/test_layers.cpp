// The batched engine (im2col + GEMM, fused BN/ReLU, buffer reuse) against a naive per-image
// reference that follows the formulas of docs/model-format.md literally, in double precision.

#include <gtest/gtest.h>
#include <tbb/global_control.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "network/network.hpp"
#include "util/error.hpp"

namespace {

using aimc::network::Model;
using aimc::network::Node;
using aimc::network::OpType;
using aimc::network::Shape;
using aimc::network::Tensor;

class Builder {
 public:
  explicit Builder(Shape input, unsigned seed = 1) : rng_(seed) {
    model_.name = "synthetic";
    model_.input = input;
    model_.preprocess.mean.assign(input.c, 0.4);
    model_.preprocess.std.assign(input.c, 0.25);
    Node n;
    n.name = "input";
    n.out_shape = input;
    model_.nodes.push_back(n);
  }
  int conv(int in, int out_c, int k, int stride, int pad, bool bias = false) {
    Node n = node(OpType::conv2d, {in});
    n.kernel = k;
    n.stride = stride;
    n.padding = pad;
    n.tensors["weight"] = random({out_c, channels(in), k, k}, -0.3F, 0.3F);
    if (bias) n.tensors["bias"] = random({out_c}, -0.5F, 0.5F);
    return push(n);
  }
  int bn(int in) {
    Node n = node(OpType::batchnorm, {in});
    const std::int64_t c = channels(in);
    n.tensors["weight"] = random({c}, 0.5F, 1.5F);
    n.tensors["bias"] = random({c}, -0.5F, 0.5F);
    n.tensors["running_mean"] = random({c}, -0.2F, 0.2F);
    n.tensors["running_var"] = random({c}, 0.2F, 2.0F);
    return push(n);
  }
  int op(OpType type, std::vector<int> in) { return push(node(type, std::move(in))); }
  int pool(OpType type, int in, int k, int stride, int pad) {
    Node n = node(type, {in});
    n.kernel = k;
    n.stride = stride;
    n.padding = pad;
    return push(n);
  }
  int shortcut(int in, int stride, int before, int after) {
    Node n = node(OpType::shortcut_a, {in});
    n.stride = stride;
    n.pad_before = before;
    n.pad_after = after;
    return push(n);
  }
  // Ends the graph with a linear layer of `classes` outputs on the flattened input.
  Model finish(int in, int classes) {
    Node n = node(OpType::linear, {in});
    const Shape s = model_.nodes[in].out_shape;
    n.tensors["weight"] = random({classes, s.size()}, -0.2F, 0.2F);
    n.tensors["bias"] = random({classes}, -0.1F, 0.1F);
    push(n);
    model_.num_classes = classes;
    model_.validate("synthetic");
    return model_;
  }

 private:
  Node node(OpType type, std::vector<int> in) {
    Node n;
    n.name = "n" + std::to_string(model_.nodes.size());
    n.op = type;
    n.inputs = std::move(in);
    return n;
  }
  int push(const Node& n) {
    model_.nodes.push_back(n);
    // Partial validation to learn the new node's shape (num_classes check fails until finish()).
    model_.num_classes = static_cast<int>(0x7fffffff);
    try {
      model_.validate("synthetic");
    } catch (const aimc::Error&) {
    }
    return static_cast<int>(model_.nodes.size()) - 1;
  }
  std::int64_t channels(int node) const { return model_.nodes[node].out_shape.c; }
  Tensor random(std::vector<std::int64_t> shape, float lo, float hi) {
    Tensor t;
    t.shape = std::move(shape);
    std::uniform_real_distribution<float> u(lo, hi);
    t.data.resize(t.numel());
    for (float& v : t.data)
      v = u(rng_);
    return t;
  }

  Model model_;
  std::mt19937 rng_;
};

// Per-image CHW reference in double, straight from the formulas.
using Image = std::vector<double>;

std::vector<double> reference(const Model& m, const std::uint8_t* pixels) {
  std::vector<Image> v(m.nodes.size());
  const Shape in = m.input;
  v[0].resize(in.size());
  for (int c = 0; c < in.c; ++c)
    for (int p = 0; p < in.h * in.w; ++p)
      v[0][c * in.h * in.w + p] =
          (pixels[c * in.h * in.w + p] * m.preprocess.scale - m.preprocess.mean[c]) /
          m.preprocess.std[c];
  for (std::size_t i = 1; i < m.nodes.size(); ++i) {
    const Node& n = m.nodes[i];
    const Shape xs = m.nodes[n.inputs[0]].out_shape;
    const Shape ys = n.out_shape;
    const Image& x = v[n.inputs[0]];
    Image& y = v[i];
    y.assign(ys.size(), 0.0);
    auto at = [&](int c, int h, int w) -> double {
      if (h < 0 || h >= xs.h || w < 0 || w >= xs.w) return 0.0;
      return x[(c * xs.h + h) * xs.w + w];
    };
    switch (n.op) {
      case OpType::conv2d: {
        const auto& w = n.tensors.at("weight").data;
        const Tensor* b = n.find("bias");
        const int k = n.kernel;
        for (int o = 0; o < ys.c; ++o)
          for (int r = 0; r < ys.h; ++r)
            for (int q = 0; q < ys.w; ++q) {
              double acc = b != nullptr ? b->data[o] : 0.0;
              for (int c = 0; c < xs.c; ++c)
                for (int ky = 0; ky < k; ++ky)
                  for (int kx = 0; kx < k; ++kx)
                    acc += w[((o * xs.c + c) * k + ky) * k + kx] *
                           at(c, r * n.stride + ky - n.padding, q * n.stride + kx - n.padding);
              y[(o * ys.h + r) * ys.w + q] = acc;
            }
        break;
      }
      case OpType::batchnorm: {
        const int plane = xs.h * xs.w;
        for (int c = 0; c < xs.c; ++c)
          for (int p = 0; p < plane; ++p)
            y[c * plane + p] = (x[c * plane + p] - n.tensors.at("running_mean").data[c]) /
                                   std::sqrt(n.tensors.at("running_var").data[c] + n.eps) *
                                   n.tensors.at("weight").data[c] +
                               n.tensors.at("bias").data[c];
        break;
      }
      case OpType::relu:
        for (std::size_t j = 0; j < y.size(); ++j)
          y[j] = std::max(x[j], 0.0);
        break;
      case OpType::add:
        for (std::size_t j = 0; j < y.size(); ++j)
          y[j] = x[j] + v[n.inputs[1]][j];
        break;
      case OpType::shortcut_a:
        for (int c = 0; c < xs.c; ++c)
          for (int r = 0; r < ys.h; ++r)
            for (int q = 0; q < ys.w; ++q)
              y[((c + n.pad_before) * ys.h + r) * ys.w + q] = at(c, r * n.stride, q * n.stride);
        break;
      case OpType::maxpool:
      case OpType::avgpool:
        for (int c = 0; c < ys.c; ++c)
          for (int r = 0; r < ys.h; ++r)
            for (int q = 0; q < ys.w; ++q) {
              double mx = -1e300;
              double sum = 0;
              for (int ky = 0; ky < n.kernel; ++ky)
                for (int kx = 0; kx < n.kernel; ++kx) {
                  const int h = r * n.stride + ky - n.padding;
                  const int w = q * n.stride + kx - n.padding;
                  const bool inside = h >= 0 && h < xs.h && w >= 0 && w < xs.w;
                  if (inside) mx = std::max(mx, at(c, h, w));
                  sum += at(c, h, w);
                }
              y[(c * ys.h + r) * ys.w + q] =
                  n.op == OpType::maxpool ? mx : sum / (n.kernel * n.kernel);
            }
        break;
      case OpType::global_avgpool:
        for (int c = 0; c < xs.c; ++c) {
          double sum = 0;
          for (int p = 0; p < xs.h * xs.w; ++p)
            sum += x[c * xs.h * xs.w + p];
          y[c] = sum / (xs.h * xs.w);
        }
        break;
      case OpType::linear: {
        const auto& w = n.tensors.at("weight").data;
        const auto& b = n.tensors.at("bias").data;
        const auto in_f = static_cast<int>(xs.size());
        for (int o = 0; o < ys.c; ++o) {
          double acc = b[o];
          for (int f = 0; f < in_f; ++f)
            acc += w[o * in_f + f] * x[f];
          y[o] = acc;
        }
        break;
      }
      case OpType::input:
        break;
    }
  }
  return v.back();
}

std::vector<std::uint8_t> random_pixels(const Model& m, int n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::uint8_t> px(static_cast<std::size_t>(m.input.size()) * n);
  for (auto& p : px)
    p = static_cast<std::uint8_t>(rng() & 0xff);
  return px;
}

// Runs `m` through the engine with small batches and GEMM chunks (so the partial-batch and
// chunking paths run), with BN folding on and off, and checks every logit against the reference.
void expect_matches_reference(const Model& m) {
  const int n = 5;
  const auto px = random_pixels(m, n, 99);
  for (bool fold : {true, false}) {
    aimc::network::InferenceParams p;
    p.batch_images = 2;
    p.gemm_rows = 30;
    p.fold_batchnorm = fold;
    const aimc::network::Network net(m, p);
    const aimc::network::IdealBackend backend;
    const auto logits = net.infer(px.data(), n, backend);
    for (int img = 0; img < n; ++img) {
      const auto ref = reference(m, px.data() + img * m.input.size());
      double scale = 1e-3;
      for (double r : ref)
        scale = std::max(scale, std::abs(r));
      for (int c = 0; c < m.num_classes; ++c)
        EXPECT_NEAR(logits[img * m.num_classes + c], ref[c], 2e-5 * scale)
            << "image " << img << " class " << c << " fold " << fold;
    }
  }
}

struct ConvCase {
  int k, stride, pad, h, w;
  bool bias;
};

class ConvAgainstReference : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvAgainstReference, Matches) {
  const ConvCase c = GetParam();
  Builder b({3, c.h, c.w});
  const int conv = b.conv(0, 6, c.k, c.stride, c.pad, c.bias);
  expect_matches_reference(b.finish(conv, 4));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, ConvAgainstReference,
    ::testing::Values(ConvCase{3, 1, 1, 8, 8, false}, ConvCase{3, 2, 1, 8, 8, false},
                      ConvCase{3, 2, 1, 9, 7, true}, ConvCase{1, 1, 0, 5, 6, true},
                      ConvCase{1, 2, 0, 7, 7, false}, ConvCase{5, 1, 2, 6, 9, true},
                      ConvCase{5, 3, 2, 11, 10, false}, ConvCase{3, 1, 0, 6, 6, false},
                      ConvCase{3, 1, 2, 4, 5, true}));

TEST(LayersAgainstReference, ConvBatchnormReluFusion) {
  Builder b({3, 8, 8});
  int x = b.conv(0, 8, 3, 1, 1);
  x = b.bn(x);
  x = b.op(OpType::relu, {x});
  expect_matches_reference(b.finish(x, 5));
}

TEST(LayersAgainstReference, StandaloneBatchnorm) {
  Builder b({3, 6, 6});
  int x = b.bn(0);
  x = b.op(OpType::relu, {x});
  x = b.bn(x);
  expect_matches_reference(b.finish(x, 3));
}

TEST(LayersAgainstReference, ResidualBlockWithOptionAShortcut) {
  Builder b({3, 8, 8});
  const int stem = b.op(OpType::relu, {b.bn(b.conv(0, 4, 3, 1, 1))});
  int y = b.op(OpType::relu, {b.bn(b.conv(stem, 8, 3, 2, 1))});
  y = b.bn(b.conv(y, 8, 3, 1, 1));
  const int sc = b.shortcut(stem, 2, 2, 2);
  const int out = b.op(OpType::relu, {b.op(OpType::add, {y, sc})});
  const int gap = b.op(OpType::global_avgpool, {out});
  expect_matches_reference(b.finish(gap, 10));
}

TEST(LayersAgainstReference, ShortcutOnOddSizes) {
  Builder b({2, 7, 5});
  expect_matches_reference(b.finish(b.shortcut(0, 2, 1, 3), 4));
}

TEST(LayersAgainstReference, MaxPool) {
  Builder b({3, 9, 8});
  expect_matches_reference(b.finish(b.pool(OpType::maxpool, 0, 3, 2, 1), 4));
  Builder c({3, 8, 8});
  expect_matches_reference(c.finish(c.pool(OpType::maxpool, 0, 2, 2, 0), 4));
}

TEST(LayersAgainstReference, AvgPoolCountsPaddingAsZeros) {
  Builder b({3, 9, 8});
  expect_matches_reference(b.finish(b.pool(OpType::avgpool, 0, 3, 2, 1), 4));
}

TEST(LayersAgainstReference, AddOfANodeWithItself) {
  Builder b({2, 4, 4});
  const int c = b.conv(0, 3, 3, 1, 1);
  expect_matches_reference(b.finish(b.op(OpType::add, {c, c}), 2));
}

TEST(Network, LogitsDoNotDependOnThreadCount) {
  Builder b({3, 16, 16});
  int x = b.op(OpType::relu, {b.bn(b.conv(0, 16, 3, 1, 1))});
  x = b.op(OpType::relu, {b.bn(b.conv(x, 32, 3, 2, 1))});
  const Model m = b.finish(b.op(OpType::global_avgpool, {x}), 10);
  const int n = 100;
  const auto px = random_pixels(m, n, 5);
  aimc::network::InferenceParams p;
  p.batch_images = 8;
  const aimc::network::Network net(m, p);
  const aimc::network::IdealBackend backend;
  std::vector<float> serial(static_cast<std::size_t>(n) * 10);
  net.forward(px.data(), n, serial.data(), backend);
  for (int threads : {1, 2, 3}) {
    const tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
    EXPECT_EQ(net.infer(px.data(), n, backend), serial) << threads << " threads";
  }
}

TEST(Network, MacsPerImageCountsConvAndLinear) {
  Builder b({3, 8, 8});
  const int c = b.conv(0, 4, 3, 2, 1);  // 4×4 output, 4 channels, 27 inputs each
  const Model m = b.finish(c, 10);      // linear 64 → 10
  EXPECT_EQ(m.macs_per_image(), 4 * 4 * 4 * 27 + 64 * 10);
  EXPECT_EQ(aimc::network::Network(m, {}).macs_per_image(), m.macs_per_image());
}

TEST(InferenceParams, RejectsBadValues) {
  aimc::network::InferenceParams p;
  p.batch_images = 0;
  EXPECT_THROW(p.validate(), aimc::Error);
  p.batch_images = 4;
  p.gemm_rows = -1;
  EXPECT_THROW(p.validate(), aimc::Error);
}

}  // namespace
