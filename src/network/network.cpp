#include "network/network.hpp"

#include <tbb/blocked_range.h>
#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>

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
  bool relu = false;
  int dense = -1;
  int kernel = 0;
  int stride = 1;
  int padding = 0;
  int pad_before = 0;
  std::vector<float> scale;  // standalone batchnorm as an affine map
  std::vector<float> shift;
};

struct Network::Workspace {
  std::vector<std::vector<float>> slots;
  std::vector<float> cols;    // packed im2col rows, or the zero-padded input of a direct conv
  std::vector<float> gather;  // linear input flattened per image
  std::vector<std::int64_t> offsets;
};

Network::~Network() = default;

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

    switch (n.op) {
      case OpType::input:
        s.out = model.input;
        add_step(std::move(s), i);
        break;
      case OpType::conv2d:
      case OpType::linear: {
        const Tensor& w = n.tensors.at("weight");
        const auto out_c = static_cast<Eigen::Index>(w.shape[0]);
        const auto k_in = static_cast<Eigen::Index>(w.numel() / w.shape[0]);
        DenseLayer d;
        d.index = static_cast<int>(dense_.size());
        d.node = static_cast<int>(i);
        d.name = n.name;
        d.is_conv = n.op == OpType::conv2d;
        d.geometry = d.is_conv
                         ? ConvGeometry{s.in, s.out, n.kernel, n.stride, n.padding}
                         : ConvGeometry{{static_cast<int>(s.in.size()), 1, 1}, s.out, 1, 1, 0};
        // PyTorch stores O × K row-major; the crossbar orientation is K × O.
        d.weight = Eigen::Map<const MatrixRM>(w.data.data(), out_c, k_in).transpose();
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
      case OpType::relu: {
        const int in = n.inputs[0];
        Step& producer = steps_[value_of[in]];
        const bool fusable = producer.op == OpType::conv2d || producer.op == OpType::linear ||
                             producer.op == OpType::batchnorm || producer.op == OpType::add;
        if (fusable && consumers[in] == 1 && !producer.relu) {
          producer.relu = true;
          value_of[i] = value_of[in];
        } else {
          add_step(std::move(s), i);
        }
        break;
      }
      case OpType::add:
      case OpType::shortcut_a:
      case OpType::maxpool:
      case OpType::avgpool:
      case OpType::global_avgpool:
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
  ws.slots.resize(n_slots_);
  auto buffer = [&](int slot, std::int64_t size) {
    auto& b = ws.slots[slot];
    if (static_cast<std::int64_t>(b.size()) < size) b.resize(size);
    return b.data();
  };

  for (const Step& s : steps_) {
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
            // Flatten the [c][n][hw] layout into an n × (C·H·W) column-major matrix.
            ws.gather.resize(static_cast<std::size_t>(n) * k_in);
            for (int c = 0; c < s.in.c; ++c)
              for (int img = 0; img < n; ++img)
                for (std::int64_t p = 0; p < hw; ++p)
                  ws.gather[(c * hw + p) * n + img] = x[(std::int64_t{c} * n + img) * hw + p];
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
          bias_relu(y, n, out_c, n, d.bias.data(), s.relu);
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
            bias_relu(y + r0, r1 - r0, out_c, rows_total, d.bias.data(), s.relu);
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
          bias_relu(y + img0 * plane, rows, out_c, rows_total, d.bias.data(), s.relu);
        }
        break;
      }
      case OpType::batchnorm:
        channel_affine(x, n, s.out, s.scale.data(), s.shift.data(), s.relu, y);
        break;
      case OpType::relu:
        std::copy(x, x + out_count, y);
        relu_inplace(y, out_count);
        break;
      case OpType::add:
        network::add(x, ws.slots[s.in_slots[1]].data(), out_count, s.relu, y);
        break;
      case OpType::shortcut_a:
        shortcut_a(x, n, s.in, s.stride, s.pad_before, s.out, y);
        break;
      case OpType::maxpool:
        max_pool(x, n, s.in, s.kernel, s.stride, s.padding, s.out, y);
        break;
      case OpType::avgpool:
        avg_pool(x, n, s.in, s.kernel, s.stride, s.padding, s.out, y);
        break;
      case OpType::global_avgpool:
        global_avg_pool(x, n, s.in, y);
        break;
    }
  }
  // The output is [class][image]; callers want one row of logits per image.
  const float* out = ws.slots[output_slot_].data();
  for (int img = 0; img < n; ++img)
    for (int c = 0; c < num_classes_; ++c)
      logits[std::int64_t{img} * num_classes_ + c] = out[std::int64_t{c} * n + img];
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

}  // namespace aimc::network
