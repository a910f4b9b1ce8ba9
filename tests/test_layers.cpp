// The batched engine (im2col + GEMM, fused BN/ReLU, buffer reuse) against a naive per-image
// reference that follows the formulas of docs/model-format.md literally, in double precision.

#include <gtest/gtest.h>
#include <tbb/global_control.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
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
  int conv(int in, int out_c, int k, int stride, int pad, bool bias = false, int groups = 1) {
    Node n = node(OpType::conv2d, {in});
    n.kernel = k;
    n.stride = stride;
    n.padding = pad;
    n.groups = groups;
    n.tensors["weight"] = random({out_c, channels(in) / groups, k, k}, -0.3F, 0.3F);
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
  int avgpool_excluding_pad(int in, int k, int stride, int pad) {
    Node n = node(OpType::avgpool, {in});
    n.kernel = k;
    n.stride = stride;
    n.padding = pad;
    n.count_include_pad = false;
    return push(n);
  }
  int clip(int in, double lo, double hi) {
    Node n = node(OpType::clip, {in});
    n.clip_min = lo;
    n.clip_max = hi;
    return push(n);
  }
  int leaky_relu(int in, double alpha) {
    Node n = node(OpType::leaky_relu, {in});
    n.alpha = alpha;
    return push(n);
  }
  int slice(int in, std::array<int, 3> begin, std::array<int, 3> end, std::array<int, 3> step) {
    Node n = node(OpType::slice, {in});
    n.slice_begin = begin;
    n.slice_end = end;
    n.slice_step = step;
    return push(n);
  }
  int pad(int in, std::array<int, 6> pads, double value) {
    Node n = node(OpType::pad, {in});
    n.pads = pads;
    n.pad_value = value;
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
    const Shape xs = m.nodes[n.inputs[0]].out_shape;  // concat: checks every input separately
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
        const int group_c = xs.c / n.groups;
        const int group_o = ys.c / n.groups;
        for (int o = 0; o < ys.c; ++o)
          for (int r = 0; r < ys.h; ++r)
            for (int q = 0; q < ys.w; ++q) {
              double acc = b != nullptr ? b->data[o] : 0.0;
              for (int gc = 0; gc < group_c; ++gc) {
                const int c = o / group_o * group_c + gc;
                for (int ky = 0; ky < k; ++ky)
                  for (int kx = 0; kx < k; ++kx)
                    acc += w[((o * group_c + gc) * k + ky) * k + kx] *
                           at(c, r * n.stride + ky - n.padding, q * n.stride + kx - n.padding);
              }
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
      case OpType::clip:
        for (std::size_t j = 0; j < y.size(); ++j)
          y[j] = std::min(std::max(x[j], n.clip_min), n.clip_max);
        break;
      case OpType::leaky_relu:
        for (std::size_t j = 0; j < y.size(); ++j)
          y[j] = x[j] < 0 ? n.alpha * x[j] : x[j];
        break;
      case OpType::add:
        for (std::size_t j = 0; j < y.size(); ++j)
          y[j] = x[j] + v[n.inputs[1]][j];
        break;
      case OpType::concat:
        // Per image in C, H, W order, each input's channels follow the previous input's.
        y.clear();
        for (int src : n.inputs)
          y.insert(y.end(), v[src].begin(), v[src].end());
        break;
      case OpType::slice:
        for (int c = 0; c < ys.c; ++c)
          for (int r = 0; r < ys.h; ++r)
            for (int q = 0; q < ys.w; ++q)
              y[(c * ys.h + r) * ys.w + q] =
                  at(n.slice_begin[0] + c * n.slice_step[0], n.slice_begin[1] + r * n.slice_step[1],
                     n.slice_begin[2] + q * n.slice_step[2]);
        break;
      case OpType::pad:
        for (int c = 0; c < ys.c; ++c)
          for (int r = 0; r < ys.h; ++r)
            for (int q = 0; q < ys.w; ++q) {
              const int xc = c - n.pads[0];
              const int xr = r - n.pads[1];
              const int xq = q - n.pads[2];
              const bool inside =
                  xc >= 0 && xc < xs.c && xr >= 0 && xr < xs.h && xq >= 0 && xq < xs.w;
              y[(c * ys.h + r) * ys.w + q] = inside ? at(xc, xr, xq) : n.pad_value;
            }
        break;
      case OpType::global_maxpool:
        for (int c = 0; c < xs.c; ++c) {
          double mx = -1e300;
          for (int p = 0; p < xs.h * xs.w; ++p)
            mx = std::max(mx, x[c * xs.h * xs.w + p]);
          y[c] = mx;
        }
        break;
      case OpType::flatten:
        y = x;
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
              int count = 0;
              for (int ky = 0; ky < n.kernel; ++ky)
                for (int kx = 0; kx < n.kernel; ++kx) {
                  const int h = r * n.stride + ky - n.padding;
                  const int w = q * n.stride + kx - n.padding;
                  const bool inside = h >= 0 && h < xs.h && w >= 0 && w < xs.w;
                  if (inside) mx = std::max(mx, at(c, h, w));
                  sum += at(c, h, w);
                  count += inside ? 1 : 0;
                }
              const int divisor = n.count_include_pad ? n.kernel * n.kernel : count;
              y[(c * ys.h + r) * ys.w + q] = n.op == OpType::maxpool ? mx : sum / divisor;
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

// Format version 2 ops (docs/model-format.md), each against the reference.

struct GroupCase {
  int in_c, out_c, groups, k, stride, pad, h, w;
};

class GroupedConvAgainstReference : public ::testing::TestWithParam<GroupCase> {};

TEST_P(GroupedConvAgainstReference, MatchesWithBatchnormAndRelu) {
  const GroupCase c = GetParam();
  Builder b({c.in_c, c.h, c.w});
  int x = b.conv(0, c.out_c, c.k, c.stride, c.pad, true, c.groups);
  x = b.op(OpType::relu, {b.bn(x)});
  expect_matches_reference(b.finish(x, 4));
}

// Grouped (2 groups), depthwise (groups = C), depthwise with channel multiplier 2, a 1×1
// grouped conv, and stride-1 cases 8 wide (the direct-convolution path).
INSTANTIATE_TEST_SUITE_P(Groups, GroupedConvAgainstReference,
                         ::testing::Values(GroupCase{4, 6, 2, 3, 2, 1, 7, 7},
                                           GroupCase{4, 4, 4, 3, 1, 1, 8, 8},
                                           GroupCase{3, 6, 3, 3, 2, 1, 9, 8},
                                           GroupCase{6, 4, 2, 1, 1, 0, 5, 5},
                                           GroupCase{8, 8, 8, 5, 1, 2, 6, 8}));

TEST(GroupedConv, DenseLayerIsBlockDiagonal) {
  Builder b({4, 5, 5});
  const Model m = b.finish(b.conv(0, 6, 3, 1, 1, false, 2), 3);
  const aimc::network::Network net(m, {});
  const auto& d = net.dense_layers().front();
  ASSERT_EQ(d.weight.rows(), 4 * 9);
  ASSERT_EQ(d.weight.cols(), 6);
  const auto& w = m.nodes[1].tensors.at("weight").data;  // [6, 2, 3, 3]
  for (int row = 0; row < 36; ++row) {
    for (int o = 0; o < 6; ++o) {
      const int c = row / 9;
      const bool in_block = c / 2 == o / 3;
      const float expected = in_block ? w[(o * 2 + c % 2) * 9 + row % 9] : 0.0F;
      EXPECT_EQ(d.weight(row, o), expected) << "row " << row << " column " << o;
    }
  }
  // The model counts a grouped conv's real MACs; the dense layer also the zeros it multiplies.
  EXPECT_EQ(m.macs_per_image(), 25 * 6 * 18 + 150 * 3);
  EXPECT_EQ(net.macs_per_image(), 25 * 6 * 36 + 150 * 3);
}

TEST(LayersAgainstReference, ClipFusedAndStandalone) {
  Builder b({3, 6, 6});
  int x = b.clip(b.bn(b.conv(0, 6, 3, 1, 1)), 0.0, 0.5);  // fused into the conv (BN folded)
  const int y = b.clip(b.conv(0, 6, 3, 1, 1, true), -0.2, 0.3);
  x = b.clip(b.op(OpType::add, {x, y}), -std::numeric_limits<double>::infinity(), 0.6);
  x = b.clip(b.pool(OpType::maxpool, x, 2, 2, 0), 0.1, 0.4);           // standalone step
  x = b.clip(b.bn(x), -0.3, std::numeric_limits<double>::infinity());  // fused into a batchnorm
  expect_matches_reference(b.finish(x, 4));
}

TEST(LayersAgainstReference, LeakyReluFusedAndStandalone) {
  Builder b({3, 6, 6});
  int x = b.leaky_relu(b.bn(b.conv(0, 6, 3, 1, 1)), 0.1);
  const int y = b.leaky_relu(b.conv(0, 6, 3, 1, 1, true), 0.2);
  x = b.leaky_relu(b.op(OpType::add, {x, y}), 0.3);
  x = b.leaky_relu(b.pool(OpType::avgpool, x, 2, 2, 0), 0.01);
  x = b.op(OpType::relu, {b.leaky_relu(x, 0.5)});  // a relu after a standalone leaky_relu
  expect_matches_reference(b.finish(x, 4));
}

TEST(LayersAgainstReference, ConcatOfThreeInputsOneRepeated) {
  Builder b({3, 6, 6});
  const int a = b.op(OpType::relu, {b.conv(0, 4, 3, 1, 1)});
  const int c = b.conv(0, 2, 1, 1, 0, true);
  const int cat = b.op(OpType::concat, {a, 0, c, a});
  ASSERT_EQ(b.finish(cat, 13 * 36).nodes[cat].out_shape, (Shape{13, 6, 6}));
  Builder b2({3, 6, 6});
  const int a2 = b2.op(OpType::relu, {b2.conv(0, 4, 3, 1, 1)});
  const int c2 = b2.conv(0, 2, 1, 1, 0, true);
  const int x = b2.conv(b2.op(OpType::concat, {a2, 0, c2, a2}), 5, 3, 2, 1);
  expect_matches_reference(b2.finish(x, 4));
}

TEST(LayersAgainstReference, SliceWithSteps) {
  Builder b({6, 9, 8});
  const int s = b.slice(0, {1, 2, 0}, {6, 9, 7}, {2, 3, 2});
  Model m = b.finish(s, 3);
  EXPECT_EQ(m.nodes[s].out_shape, (Shape{3, 3, 4}));
  expect_matches_reference(m);
  Builder c({4, 5, 5});
  expect_matches_reference(
      c.finish(c.slice(c.conv(0, 5, 3, 1, 1), {4, 0, 1}, {5, 5, 4}, {1, 1, 1}), 2));
}

TEST(LayersAgainstReference, PadChannelsAndSpace) {
  Builder b({3, 5, 4});
  const int p = b.pad(0, {1, 2, 0, 2, 1, 3}, -0.75);
  Model m = b.finish(p, 3);
  EXPECT_EQ(m.nodes[p].out_shape, (Shape{6, 8, 7}));
  expect_matches_reference(m);
  Builder c({3, 5, 5});
  expect_matches_reference(c.finish(c.conv(c.pad(0, {0, 1, 1, 0, 1, 1}, 0.5), 4, 3, 1, 0), 3));
}

TEST(LayersAgainstReference, GlobalMaxPool) {
  Builder b({4, 5, 3});
  expect_matches_reference(b.finish(b.op(OpType::global_maxpool, {b.conv(0, 6, 3, 1, 1)}), 3));
}

TEST(LayersAgainstReference, FlattenThenLinear) {
  Builder b({3, 4, 5});
  const int f = b.op(OpType::flatten, {b.conv(0, 4, 3, 1, 1)});
  Model m = b.finish(f, 7);
  EXPECT_EQ(m.nodes[f].out_shape, (Shape{80, 1, 1}));
  expect_matches_reference(m);
  // Flatten then linear gives the same bits as linear flattening its input itself.
  Builder c({3, 4, 5});
  const Model direct = c.finish(c.conv(0, 4, 3, 1, 1), 7);
  ASSERT_EQ(direct.nodes[2].tensors.at("weight").data, m.nodes[3].tensors.at("weight").data);
  const auto px = random_pixels(m, 6, 3);
  const aimc::network::IdealBackend backend;
  EXPECT_EQ(aimc::network::Network(m, {}).infer(px.data(), 6, backend),
            aimc::network::Network(direct, {}).infer(px.data(), 6, backend));
}

TEST(LayersAgainstReference, AvgPoolExcludingPadding) {
  Builder b({3, 9, 8});
  expect_matches_reference(b.finish(b.avgpool_excluding_pad(0, 3, 2, 1), 4));
  Builder c({2, 7, 7});
  expect_matches_reference(c.finish(c.avgpool_excluding_pad(0, 4, 3, 2), 4));
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
