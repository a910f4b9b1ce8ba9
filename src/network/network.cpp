#include "network/network.hpp"

#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "network/gemm.hpp"
#include "util/error.hpp"

namespace aimc::network {

void InferenceParams::validate() const {
  if (batch_images < 1 || batch_images > 4096)
    throw Error("inference.batch_images = " + std::to_string(batch_images) +
                ", expected an integer in [1, 4096]");
  if (gemm_rows < 1)
    throw Error("inference.gemm_rows = " + std::to_string(gemm_rows) +
                ", expected a positive integer");
}

void IdealBackend::matmul(const DenseLayer& layer, const StripRows& x, float* y, std::int64_t ld_y,
                          const MatmulContext& /*ctx*/) const {
  gemm_strips(x, layer.weight.data(), static_cast<int>(layer.weight.cols()), y, ld_y);
}

struct Network::Step {
  OpType op = OpType::input;
  std::vector<int> inputs;  // step indices whose outputs this step reads
  std::vector<int> in_slots;
  int out_slot = -1;
  Shape in;
  Shape out;
  Activation act;  // applied to the step's output (a fused relu, clip or leaky_relu node)
  int dense = -1;
  int kernel = 0;
  int stride = 1;
  int padding = 0;
  int pad_before = 0;
  bool count_include_pad = true;
  std::array<int, 3> slice_begin{};
  std::array<int, 3> slice_step{1, 1, 1};
  std::array<int, 6> pads{};
  float pad_value = 0.0F;
  std::vector<int> in_channels;  // concat: channels of each input
  std::vector<float> scale;      // standalone batchnorm as an affine map
  std::vector<float> shift;
};

struct Network::Workspace {
  std::vector<std::vector<float>> slots;
  std::vector<float> cols;    // packed im2col rows, or the zero-padded input of a direct conv
  std::vector<float> gather;  // linear input flattened per image
  std::vector<std::int64_t> offsets;
};

Network::~Network() = default;

namespace {

// Rounds to float; a finite double beyond float's range becomes an infinity (a plain conversion
// of it is undefined behaviour).
float to_float(double v) {
  constexpr double max = std::numeric_limits<float>::max();
  if (v > max) return std::numeric_limits<float>::infinity();
  if (v < -max) return -std::numeric_limits<float>::infinity();
  return static_cast<float>(v);
}

Activation activation_of(const Node& n) {
  Activation a;
  switch (n.op) {
    case OpType::relu:
      a.kind = Activation::Kind::relu;
      break;
    case OpType::clip:
      a.kind = Activation::Kind::clip;
      a.lo = to_float(n.clip_min);
      a.hi = to_float(n.clip_max);
      break;
    case OpType::leaky_relu:
      a.kind = Activation::Kind::leaky_relu;
      a.alpha = to_float(n.alpha);
      break;
    default:
      break;
  }
  return a;
}

// The K × O crossbar matrix (K = C·k·k) of a conv2d's O × C/groups × k × k weights. With groups,
// it is block-diagonal: output channel o of group g = o / (O/groups) reads only input channels
// [g·C/groups, (g+1)·C/groups), and its column is zero in every other input channel's rows. The
// chip, the mapping and the noise models then see an ordinary dense layer.
MatrixRM crossbar_weight(const Tensor& w, int in_c, int groups) {
  const auto out_c = static_cast<Eigen::Index>(w.shape[0]);
  const auto taps_per_out = static_cast<Eigen::Index>(w.numel() / w.shape[0]);
  // PyTorch stores O × K row-major; the crossbar orientation is K × O.
  if (groups == 1)
    return Eigen::Map<const MatrixRM>(w.data.data(), out_c, taps_per_out).transpose();
  const Eigen::Index taps = taps_per_out / (in_c / groups);  // k·k
  const Eigen::Index group_out = out_c / groups;
  MatrixRM m = MatrixRM::Zero(in_c * taps, out_c);
  for (Eigen::Index o = 0; o < out_c; ++o) {
    const Eigen::Index row0 = o / group_out * taps_per_out;  // first row of o's group
    for (Eigen::Index t = 0; t < taps_per_out; ++t)
      m(row0 + t, o) = w.data[static_cast<std::size_t>(o * taps_per_out + t)];
  }
  return m;
}

}  // namespace

Network::Network(const Model& model, const InferenceParams& params)
    : params_(params),
      input_(model.input),
      num_classes_(model.num_classes),
      preprocess_(model.preprocess) {
  params_.validate();
  const auto& nodes = model.nodes;
  if (nodes.empty() || nodes.back().out_shape.size() != model.num_classes)
    throw Error("internal: Network built from a model that was not validated");

  std::vector<int> consumers(nodes.size(), 0);
  for (const Node& n : nodes)
    for (int in : n.inputs)
      ++consumers[in];

  // value_of[i]: the step whose output holds node i's value (fusion makes several nodes share one).
  std::vector<int> value_of(nodes.size(), -1);
  auto add_step = [&](Step s, std::size_t node) {
    steps_.push_back(std::move(s));
    value_of[node] = static_cast<int>(steps_.size()) - 1;
  };

  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    Step s;
    s.op = n.op;
    s.out = n.out_shape;
    for (int in : n.inputs)
      s.inputs.push_back(value_of[in]);
    if (!n.inputs.empty()) s.in = nodes[n.inputs[0]].out_shape;
    s.kernel = n.kernel;
    s.stride = n.stride;
    s.padding = n.padding;
    s.pad_before = n.pad_before;
    s.count_include_pad = n.count_include_pad;
    s.slice_begin = n.slice_begin;
    s.slice_step = n.slice_step;
    s.pads = n.pads;
    s.pad_value = to_float(n.pad_value);
    for (int in : n.inputs)
      s.in_channels.push_back(nodes[in].out_shape.c);

    switch (n.op) {
      case OpType::input:
        s.out = model.input;
        add_step(std::move(s), i);
        break;
      case OpType::conv2d:
      case OpType::linear: {
        const Tensor& w = n.tensors.at("weight");
        const auto out_c = static_cast<Eigen::Index>(w.shape[0]);
        DenseLayer d;
        d.index = static_cast<int>(dense_.size());
        d.node = static_cast<int>(i);
        d.name = n.name;
        d.is_conv = n.op == OpType::conv2d;
        d.geometry = d.is_conv
                         ? ConvGeometry{s.in, s.out, n.kernel, n.stride, n.padding}
                         : ConvGeometry{{static_cast<int>(s.in.size()), 1, 1}, s.out, 1, 1, 0};
        d.weight = crossbar_weight(w, d.geometry.in.c, d.is_conv ? n.groups : 1);
        const Tensor* b = n.find("bias");
        d.bias = b != nullptr ? Eigen::Map<const Eigen::VectorXf>(b->data.data(), out_c).eval()
                              : Eigen::VectorXf::Zero(out_c);
        s.dense = static_cast<int>(dense_.size());
        dense_.push_back(std::move(d));
        add_step(std::move(s), i);
        break;
      }
      case OpType::batchnorm: {
        const auto& g = n.tensors.at("weight").data;
        const auto& beta = n.tensors.at("bias").data;
        const auto& mean = n.tensors.at("running_mean").data;
        const auto& var = n.tensors.at("running_var").data;
        std::vector<float> scale(g.size());
        std::vector<float> shift(g.size());
        for (std::size_t c = 0; c < g.size(); ++c) {
          scale[c] = static_cast<float>(static_cast<double>(g[c]) /
                                        std::sqrt(static_cast<double>(var[c]) + n.eps));
          shift[c] = beta[c] - mean[c] * scale[c];
        }
        const int in = n.inputs[0];
        Step& producer = steps_[value_of[in]];
        if (params_.fold_batchnorm && nodes[in].op == OpType::conv2d && consumers[in] == 1) {
          // y = (x·W + b)·scale + shift = x·(W·diag(scale)) + (b·scale + shift)
          DenseLayer& d = dense_[producer.dense];
          for (Eigen::Index o = 0; o < d.weight.cols(); ++o) {
            d.weight.col(o) *= scale[o];
            d.bias[o] = d.bias[o] * scale[o] + shift[o];
          }
          value_of[i] = value_of[in];
        } else {
          s.scale = std::move(scale);
          s.shift = std::move(shift);
          add_step(std::move(s), i);
        }
        break;
      }
      case OpType::relu:
      case OpType::clip:
      case OpType::leaky_relu: {
        const int in = n.inputs[0];
        Step& producer = steps_[value_of[in]];
        const bool fusable = producer.op == OpType::conv2d || producer.op == OpType::linear ||
                             producer.op == OpType::batchnorm || producer.op == OpType::add;
        if (fusable && consumers[in] == 1 && producer.act.kind == Activation::Kind::none) {
          producer.act = activation_of(n);
          value_of[i] = value_of[in];
        } else {
          s.act = activation_of(n);
          add_step(std::move(s), i);
        }
        break;
      }
      case OpType::add:
      case OpType::concat:
      case OpType::shortcut_a:
      case OpType::slice:
      case OpType::pad:
      case OpType::maxpool:
      case OpType::avgpool:
      case OpType::global_avgpool:
      case OpType::global_maxpool:
      case OpType::flatten:
        add_step(std::move(s), i);
        break;
    }
  }

  // Buffer plan: a step writes a free slot, and a slot is freed after the last step that reads it.
  const int output_value = value_of[nodes.size() - 1];
  std::vector<int> last_use(steps_.size(), -1);
  for (std::size_t t = 0; t < steps_.size(); ++t)
    for (int v : steps_[t].inputs)
      last_use[v] = static_cast<int>(t);
  std::vector<int> free_slots;
  for (std::size_t t = 0; t < steps_.size(); ++t) {
    Step& s = steps_[t];
    for (int v : s.inputs)
      s.in_slots.push_back(steps_[v].out_slot);
    if (free_slots.empty()) {
      s.out_slot = n_slots_++;
    } else {
      s.out_slot = free_slots.back();
      free_slots.pop_back();
    }
    for (int v : s.inputs)
      if (last_use[v] == static_cast<int>(t) && v != output_value)
        free_slots.push_back(steps_[v].out_slot);
    // A value read twice by the same step (add(x, x)) must be freed only once.
    std::sort(free_slots.begin(), free_slots.end());
    free_slots.erase(std::unique(free_slots.begin(), free_slots.end()), free_slots.end());
  }
  output_slot_ = steps_[output_value].out_slot;
}

std::int64_t Network::macs_per_image() const {
  std::int64_t macs = 0;
  for (const auto& d : dense_)
    macs += d.macs_per_image();
  return macs;
}

void Network::run_batch(const std::uint8_t* pixels, int n, float* logits, Workspace& ws,
                        const MatmulBackend& backend, std::int64_t first_image) const {
  for (const Step& s : steps_)
    run_step(s, pixels, n, ws, backend, first_image);
  write_logits(ws, n, logits);
}

void Network::write_logits(const Workspace& ws, int n, float* logits) const {
  // The output is [class][image]; callers want one row of logits per image.
  const float* out = ws.slots[output_slot_].data();
  for (int img = 0; img < n; ++img)
    for (int c = 0; c < num_classes_; ++c)
      logits[std::int64_t{img} * num_classes_ + c] = out[std::int64_t{c} * n + img];
}

void Network::run_step(const Step& s, const std::uint8_t* pixels, int n, Workspace& ws,
                       const MatmulBackend& backend, std::int64_t first_image) const {
  ws.slots.resize(n_slots_);
  auto buffer = [&](int slot, std::int64_t size) {
    auto& b = ws.slots[slot];
    if (static_cast<std::int64_t>(b.size()) < size) b.resize(size);
    return b.data();
  };
  const std::int64_t out_count = s.out.size() * n;
  float* y = buffer(s.out_slot, out_count);
  const float* x = s.in_slots.empty() ? nullptr : ws.slots[s.in_slots[0]].data();
  switch (s.op) {
    case OpType::input:
      preprocess(pixels, n, input_, preprocess_, y);
      break;
    case OpType::conv2d:
    case OpType::linear: {
      const DenseLayer& d = dense_[s.dense];
      const auto& g = d.geometry;
      const std::int64_t plane = std::int64_t{g.out.h} * g.out.w;
      const std::int64_t rows_total = plane * n;
      const auto k_in = static_cast<int>(d.weight.rows());
      const auto out_c = static_cast<int>(d.weight.cols());
      auto scratch = [&](std::int64_t size) {
        if (static_cast<std::int64_t>(ws.cols.size()) < size) ws.cols.resize(size);
        return ws.cols.data();
      };
      if (s.op == OpType::linear) {
        const std::int64_t hw = std::int64_t{s.in.h} * s.in.w;
        if (hw != 1) {
          // Flatten the [c][n][hw] layout into an n × (C·H·W) column-major matrix (after a
          // flatten node the input is already one: C·H·W × 1 × 1).
          ws.gather.resize(static_cast<std::size_t>(n) * k_in);
          flatten(x, n, s.in, ws.gather.data());
          x = ws.gather.data();
        }
        float* packed = scratch(packed_size(n, k_in));
        pack_colmajor(x, n, k_in, n, packed);
        InputLayout layout;
        layout.first_image = first_image;
        layout.images = n;
        layout.rows = n;
        layout.k = k_in;
        backend.prepare_input(d, packed, packed_size(n, k_in), layout);
        backend.matmul(d, packed_strips(packed, n, k_in, ws.offsets), y, n, {first_image, 0, 1});
        bias_activation(y, n, out_c, n, d.bias.data(), s.act);
        break;
      }
      const std::int64_t chunk =
          std::max<std::int64_t>(k_strip_rows, params_.gemm_rows / k_strip_rows * k_strip_rows);
      const bool direct = params_.direct_conv && direct_conv_applies(g);
      const float* padded = nullptr;
      if (direct) {
        const std::int64_t hp = g.in.h + 2 * g.padding;
        const std::int64_t wp = g.in.w + 2 * g.padding;
        // One padded row of slack: the last half-strip may read up to 7 floats past a plane.
        float* buf = scratch(std::int64_t{g.in.c} * n * hp * wp + wp);
        pad_planes(x, n, g.in, g.padding, buf);
        std::fill(buf + std::int64_t{g.in.c} * n * hp * wp,
                  buf + std::int64_t{g.in.c} * n * hp * wp + wp, 0.0F);
        InputLayout layout;
        layout.kind = InputLayout::Kind::padded_planes;
        layout.first_image = first_image;
        layout.images = n;
        layout.channels = g.in.c;
        layout.height = static_cast<int>(hp);
        layout.width = static_cast<int>(wp);
        layout.kernel = g.kernel;
        layout.out_h = g.out.h;
        layout.out_w = g.out.w;
        backend.prepare_input(d, buf, std::int64_t{g.in.c} * n * hp * wp, layout);
        padded = buf;
        ws.offsets = direct_offsets(n, g);
      }
      if (direct) {
        for (std::int64_t r0 = 0; r0 < rows_total; r0 += chunk) {
          const std::int64_t r1 = std::min(rows_total, r0 + chunk);
          backend.matmul(d, direct_strips(padded, g, r0, r1, ws.offsets), y + r0, rows_total,
                         {first_image, r0, plane});
          bias_activation(y + r0, r1 - r0, out_c, rows_total, d.bias.data(), s.act);
        }
        break;
      }
      // im2col works on whole images.
      const int images = static_cast<int>(std::clamp<std::int64_t>(chunk / plane, 1, n));
      for (int img0 = 0; img0 < n; img0 += images) {
        const int img1 = std::min(n, img0 + images);
        const std::int64_t rows = (img1 - img0) * plane;
        float* packed = scratch(packed_size(rows, k_in));
        im2col_packed(x, n, g, img0, img1, packed);
        InputLayout layout;
        layout.first_image = first_image + img0;
        layout.images = img1 - img0;
        layout.rows = rows;
        layout.k = k_in;
        backend.prepare_input(d, packed, packed_size(rows, k_in), layout);
        backend.matmul(d, packed_strips(packed, rows, k_in, ws.offsets), y + img0 * plane,
                       rows_total, {first_image, img0 * plane, plane});
        bias_activation(y + img0 * plane, rows, out_c, rows_total, d.bias.data(), s.act);
      }
      break;
    }
    case OpType::batchnorm:
      channel_affine(x, n, s.out, s.scale.data(), s.shift.data(), s.act, y);
      break;
    case OpType::relu:
    case OpType::clip:
    case OpType::leaky_relu:
      activate(x, out_count, s.act, y);
      break;
    case OpType::add:
      network::add(x, ws.slots[s.in_slots[1]].data(), out_count, s.act, y);
      break;
    case OpType::concat: {
      std::vector<const float*> inputs;
      for (int slot : s.in_slots)
        inputs.push_back(ws.slots[slot].data());
      network::concat(inputs, s.in_channels, std::int64_t{n} * s.out.h * s.out.w, y);
      break;
    }
    case OpType::slice:
      network::slice(x, n, s.in, s.slice_begin, s.slice_step, s.out, y);
      break;
    case OpType::pad:
      network::pad(x, n, s.in, s.pads, s.pad_value, s.out, y);
      break;
    case OpType::flatten:
      network::flatten(x, n, s.in, y);
      break;
    case OpType::global_maxpool:
      global_max_pool(x, n, s.in, y);
      break;
    case OpType::shortcut_a:
      shortcut_a(x, n, s.in, s.stride, s.pad_before, s.out, y);
      break;
    case OpType::maxpool:
      max_pool(x, n, s.in, s.kernel, s.stride, s.padding, s.out, y);
      break;
    case OpType::avgpool:
      avg_pool(x, n, s.in, s.kernel, s.stride, s.padding, s.out, s.count_include_pad, y);
      break;
    case OpType::global_avgpool:
      global_avg_pool(x, n, s.in, y);
      break;
  }
}

void Network::forward(const std::uint8_t* pixels, int n, float* logits,
                      const MatmulBackend& backend, std::int64_t first_image) const {
  Workspace ws;
  const std::int64_t image_bytes = input_.size();
  for (int b0 = 0; b0 < n; b0 += params_.batch_images) {
    const int count = std::min(params_.batch_images, n - b0);
    run_batch(pixels + b0 * image_bytes, count, logits + std::int64_t{b0} * num_classes_, ws,
              backend, first_image + b0);
  }
}

std::vector<float> Network::infer(const std::uint8_t* pixels, int n, const MatmulBackend& backend,
                                  std::int64_t first_image,
                                  const std::function<void(int)>& on_batch) const {
  std::vector<float> logits(static_cast<std::size_t>(n) * num_classes_);
  const int batches = (n + params_.batch_images - 1) / params_.batch_images;
  const std::int64_t image_bytes = input_.size();
  tbb::enumerable_thread_specific<Workspace> workspaces;
  tbb::parallel_for(tbb::blocked_range<int>(0, batches, 1), [&](const tbb::blocked_range<int>& r) {
    Workspace& ws = workspaces.local();
    for (int b = r.begin(); b < r.end(); ++b) {
      const int b0 = b * params_.batch_images;
      const int count = std::min(params_.batch_images, n - b0);
      run_batch(pixels + b0 * image_bytes, count, logits.data() + std::int64_t{b0} * num_classes_,
                ws, backend, first_image + b0);
      if (on_batch) on_batch(count);
    }
  });
  return logits;
}

void Network::forward_layerwise(const std::uint8_t* pixels, int n, const MatmulBackend& backend,
                                std::int64_t first_image,
                                const std::function<bool(int)>& after_dense, float* logits) const {
  const int batches = (n + params_.batch_images - 1) / params_.batch_images;
  const std::int64_t image_bytes = input_.size();
  std::vector<Workspace> ws(static_cast<std::size_t>(batches));
  auto run_all = [&](const Step& s) {
    tbb::parallel_for(
        tbb::blocked_range<int>(0, batches, 1), [&](const tbb::blocked_range<int>& r) {
          for (int b = r.begin(); b < r.end(); ++b) {
            const int b0 = b * params_.batch_images;
            run_step(s, pixels + b0 * image_bytes, std::min(params_.batch_images, n - b0),
                     ws[static_cast<std::size_t>(b)], backend, first_image + b0);
          }
        });
  };
  for (const Step& s : steps_) {
    run_all(s);
    // The step's inputs sit in other slots than its output (the buffer plan frees them only after
    // the step), so running it again recomputes the same inputs' outputs.
    if (s.dense >= 0 && after_dense && after_dense(s.dense)) run_all(s);
  }
  if (logits == nullptr) return;
  for (int b = 0; b < batches; ++b) {
    const int b0 = b * params_.batch_images;
    write_logits(ws[static_cast<std::size_t>(b)], std::min(params_.batch_images, n - b0),
                 logits + std::int64_t{b0} * num_classes_);
  }
}

}  // namespace aimc::network
