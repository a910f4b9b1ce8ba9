#include "network/model.hpp"

#include <cmath>
#include <sstream>

#include "util/error.hpp"

namespace aimc::network {

namespace {

struct OpInfo {
  OpType op;
  const char* name;
  int arity;  // k_variadic: two or more
};

constexpr int k_variadic = -1;

constexpr std::array<OpInfo, 17> k_ops{{
    {OpType::input, "input", 0},
    {OpType::conv2d, "conv2d", 1},
    {OpType::batchnorm, "batchnorm", 1},
    {OpType::relu, "relu", 1},
    {OpType::clip, "clip", 1},
    {OpType::leaky_relu, "leaky_relu", 1},
    {OpType::add, "add", 2},
    {OpType::concat, "concat", k_variadic},
    {OpType::shortcut_a, "shortcut_a", 1},
    {OpType::slice, "slice", 1},
    {OpType::pad, "pad", 1},
    {OpType::maxpool, "maxpool", 1},
    {OpType::avgpool, "avgpool", 1},
    {OpType::global_avgpool, "global_avgpool", 1},
    {OpType::global_maxpool, "global_maxpool", 1},
    {OpType::flatten, "flatten", 1},
    {OpType::linear, "linear", 1},
}};

const OpInfo& info(OpType op) {
  for (const auto& i : k_ops)
    if (i.op == op) return i;
  throw Error("internal: unknown op");
}

std::string shape_str(const std::vector<std::int64_t>& s) {
  std::ostringstream os;
  os << '[';
  for (std::size_t i = 0; i < s.size(); ++i)
    os << (i ? ", " : "") << s[i];
  os << ']';
  return os.str();
}

std::string shape_str(const Shape& s) {
  return shape_str(std::vector<std::int64_t>{s.c, s.h, s.w});
}

// Builds the error prefix "<source>: node 12 'layer1.0.conv1' (conv2d)".
std::string where(const std::string& source, std::size_t index, const Node& n) {
  std::ostringstream os;
  os << source << ": node " << index << " '" << n.name << "' (" << op_name(n.op) << ")";
  return os.str();
}

// Checks that `tensor` exists with exactly `expected` shape and finite values.
void require_tensor(const std::string& at, const Node& n, const std::string& tensor,
                    const std::vector<std::int64_t>& expected, bool optional = false) {
  const Tensor* t = n.find(tensor);
  if (t == nullptr) {
    if (optional) return;
    throw Error(at + ": missing tensor '" + tensor + "' (expected shape " + shape_str(expected) +
                ")");
  }
  if (t->shape != expected)
    throw Error(at + ": tensor '" + tensor + "' has shape " + shape_str(t->shape) + ", expected " +
                shape_str(expected));
  if (static_cast<std::int64_t>(t->data.size()) != t->numel())
    throw Error(at + ": tensor '" + tensor + "' holds " + std::to_string(t->data.size()) +
                " values, expected " + std::to_string(t->numel()));
  for (float v : t->data)
    if (!std::isfinite(v)) throw Error(at + ": tensor '" + tensor + "' contains NaN or inf");
}

void require_only(const std::string& at, const Node& n, std::initializer_list<const char*> names) {
  for (const auto& [key, t] : n.tensors) {
    bool known = false;
    for (const char* name : names)
      known = known || key == name;
    if (!known) throw Error(at + ": unexpected tensor '" + key + "'");
  }
}

constexpr std::array<const char*, 3> k_dim_names{"C", "H", "W"};

std::string num_str(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

// Largest size of one dimension, and of one image's activations, that validate() accepts: keeps
// every shape computation below within int and int64 (padding and concatenation add up).
constexpr std::int64_t k_max_dim = std::int64_t{1} << 30;
constexpr double k_max_image_size = 68719476736.0;  // 2^36 values

int narrow_dim(const std::string& at, std::int64_t v, const char* dim) {
  if (v > k_max_dim)
    throw Error(at + ": output " + dim + " = " + std::to_string(v) + " exceeds " +
                std::to_string(k_max_dim));
  return static_cast<int>(v);
}

int pooled(int in, int kernel, int stride, int padding) {
  return (in + 2 * padding - kernel) / stride + 1;
}

}  // namespace

const char* op_name(OpType op) {
  return info(op).name;
}

bool op_from_name(const std::string& name, OpType& op) {
  for (const auto& i : k_ops) {
    if (name == i.name) {
      op = i.op;
      return true;
    }
  }
  return false;
}

std::string op_names() {
  std::string names;
  for (const auto& i : k_ops)
    names += (names.empty() ? "" : ", ") + std::string(i.name);
  return names;
}

std::int64_t Tensor::numel() const {
  std::int64_t n = 1;
  for (auto d : shape)
    n *= d;
  return n;
}

const Tensor* Node::find(const std::string& tensor) const {
  auto it = tensors.find(tensor);
  return it == tensors.end() ? nullptr : &it->second;
}

void Model::validate(const std::string& source) {
  if (nodes.empty()) throw Error(source + ": the graph has no nodes");
  if (input.c <= 0 || input.h <= 0 || input.w <= 0)
    throw Error(source + ": attribute 'input_shape' is " + shape_str(input) +
                ", expected three positive sizes");
  if (num_classes <= 0)
    throw Error(source + ": attribute 'num_classes' is " + std::to_string(num_classes) +
                ", expected a positive count");
  if (preprocess.mean.size() != static_cast<std::size_t>(input.c) ||
      preprocess.std.size() != static_cast<std::size_t>(input.c))
    throw Error(source + ": attributes 'input_mean' and 'input_std' need " +
                std::to_string(input.c) + " values (one per input channel)");
  for (double s : preprocess.std)
    if (!(s > 0.0) || !std::isfinite(s))
      throw Error(source + ": attribute 'input_std' has " + std::to_string(s) +
                  ", expected positive values");
  if (!std::isfinite(preprocess.scale) || !(preprocess.scale > 0.0))
    throw Error(source + ": attribute 'input_scale' must be positive and finite");

  for (std::size_t i = 0; i < nodes.size(); ++i) {
    Node& n = nodes[i];
    const std::string at = where(source, i, n);
    const int arity = info(n.op).arity;
    if ((n.op == OpType::input) != (i == 0))
      throw Error(at + ": node 0 must be the only 'input' node");
    if (arity == k_variadic ? n.inputs.size() < 2 : static_cast<int>(n.inputs.size()) != arity)
      throw Error(at + ": has " + std::to_string(n.inputs.size()) + " inputs, expected " +
                  (arity == k_variadic ? std::string("2 or more") : std::to_string(arity)));
    for (int in : n.inputs)
      if (in < 0 || static_cast<std::size_t>(in) >= i)
        throw Error(at + ": input index " + std::to_string(in) +
                    " is not an earlier node (the graph must be in topological order, no cycles)");
    const Shape x = n.inputs.empty() ? input : nodes[n.inputs[0]].out_shape;

    switch (n.op) {
      case OpType::input:
        require_only(at, n, {});
        n.out_shape = input;
        break;
      case OpType::conv2d: {
        if (n.kernel <= 0 || n.stride <= 0 || n.padding < 0)
          throw Error(at + ": attributes kernel/stride/padding are " + std::to_string(n.kernel) +
                      "/" + std::to_string(n.stride) + "/" + std::to_string(n.padding) +
                      ", expected positive/positive/non-negative");
        if (n.groups <= 0 || x.c % n.groups != 0)
          throw Error(
              at + ": attribute 'groups' is " + std::to_string(n.groups) +
              ", expected a positive divisor of the input channels C = " + std::to_string(x.c));
        const int group_c = x.c / n.groups;
        const Tensor* w = n.find("weight");
        const std::string expected = "[O, " + std::to_string(group_c) + ", " +
                                     std::to_string(n.kernel) + ", " + std::to_string(n.kernel) +
                                     "]";
        if (w == nullptr)
          throw Error(at + ": missing tensor 'weight' (expected shape " + expected + ")");
        if (w->shape.size() != 4 || w->shape[0] <= 0)
          throw Error(at + ": tensor 'weight' has shape " + shape_str(w->shape) + ", expected " +
                      expected);
        const auto out_c = w->shape[0];
        if (out_c % n.groups != 0)
          throw Error(at + ": attribute 'groups' is " + std::to_string(n.groups) +
                      ", expected a divisor of the output channels O = " + std::to_string(out_c));
        require_tensor(at, n, "weight", {out_c, group_c, n.kernel, n.kernel});
        require_tensor(at, n, "bias", {out_c}, true);
        require_only(at, n, {"weight", "bias"});
        n.out_shape = {static_cast<int>(out_c), pooled(x.h, n.kernel, n.stride, n.padding),
                       pooled(x.w, n.kernel, n.stride, n.padding)};
        break;
      }
      case OpType::batchnorm: {
        if (!(n.eps > 0.0) || !std::isfinite(n.eps))
          throw Error(at + ": attribute 'eps' must be positive");
        for (const char* t : {"weight", "bias", "running_mean", "running_var"})
          require_tensor(at, n, t, {x.c});
        require_only(at, n, {"weight", "bias", "running_mean", "running_var"});
        for (float v : n.find("running_var")->data)
          if (v < 0.0F) throw Error(at + ": tensor 'running_var' has a negative value");
        n.out_shape = x;
        break;
      }
      case OpType::relu:
        require_only(at, n, {});
        n.out_shape = x;
        break;
      case OpType::clip:
        require_only(at, n, {});
        if (!(n.clip_min < n.clip_max))
          throw Error(at + ": attributes 'min'/'max' are " + num_str(n.clip_min) + "/" +
                      num_str(n.clip_max) +
                      ", expected min < max (infinite bounds allowed, no NaN)");
        n.out_shape = x;
        break;
      case OpType::leaky_relu:
        require_only(at, n, {});
        if (!std::isfinite(n.alpha))
          throw Error(at + ": attribute 'alpha' is " + num_str(n.alpha) +
                      ", expected a finite number");
        n.out_shape = x;
        break;
      case OpType::concat: {
        require_only(at, n, {});
        std::int64_t channels = 0;
        for (std::size_t k = 0; k < n.inputs.size(); ++k) {
          const Shape y = nodes[n.inputs[k]].out_shape;
          if (y.h != x.h || y.w != x.w)
            throw Error(at + ": input " + std::to_string(k) + " has shape " + shape_str(y) +
                        ", expected height and width " + std::to_string(x.h) + " x " +
                        std::to_string(x.w) + " as input 0");
          channels += y.c;
        }
        n.out_shape = {narrow_dim(at, channels, "C"), x.h, x.w};
        break;
      }
      case OpType::slice: {
        require_only(at, n, {});
        const std::array<int, 3> dims{x.c, x.h, x.w};
        std::array<int, 3> out{};
        for (std::size_t d = 0; d < 3; ++d) {
          const int b = n.slice_begin[d];
          const int e = n.slice_end[d];
          if (n.slice_step[d] < 1)
            throw Error(at + ": attribute 'step' is " + std::to_string(n.slice_step[d]) + " for " +
                        k_dim_names[d] + ", expected >= 1");
          if (!(0 <= b && b < e && e <= dims[d]))
            throw Error(at + ": attributes 'begin'/'end' are " + std::to_string(b) + "/" +
                        std::to_string(e) + " for " + k_dim_names[d] +
                        ", expected 0 <= begin < end <= " + std::to_string(dims[d]));
          out[d] = (e - b + n.slice_step[d] - 1) / n.slice_step[d];
        }
        n.out_shape = {out[0], out[1], out[2]};
        break;
      }
      case OpType::pad: {
        require_only(at, n, {});
        for (std::size_t d = 0; d < 6; ++d)
          if (n.pads[d] < 0)
            throw Error(at + ": attribute 'pads' has " + std::to_string(n.pads[d]) + " for " +
                        k_dim_names[d % 3] + (d < 3 ? " before" : " after") +
                        ", expected values >= 0");
        if (!std::isfinite(n.pad_value))
          throw Error(at + ": attribute 'value' is " + num_str(n.pad_value) +
                      ", expected a finite number");
        n.out_shape = {narrow_dim(at, std::int64_t{x.c} + n.pads[0] + n.pads[3], "C"),
                       narrow_dim(at, std::int64_t{x.h} + n.pads[1] + n.pads[4], "H"),
                       narrow_dim(at, std::int64_t{x.w} + n.pads[2] + n.pads[5], "W")};
        break;
      }
      case OpType::add: {
        require_only(at, n, {});
        const Shape y = nodes[n.inputs[1]].out_shape;
        if (!(x == y))
          throw Error(at + ": inputs have shapes " + shape_str(x) + " and " + shape_str(y) +
                      ", expected equal shapes");
        n.out_shape = x;
        break;
      }
      case OpType::shortcut_a:
        require_only(at, n, {});
        if (n.stride <= 0 || n.pad_before < 0 || n.pad_after < 0)
          throw Error(at + ": attributes stride/pad_before/pad_after must be positive/≥0/≥0");
        n.out_shape = {narrow_dim(at, std::int64_t{x.c} + n.pad_before + n.pad_after, "C"),
                       (x.h + n.stride - 1) / n.stride, (x.w + n.stride - 1) / n.stride};
        break;
      case OpType::maxpool:
      case OpType::avgpool:
        require_only(at, n, {});
        if (n.kernel <= 0 || n.stride <= 0 || n.padding < 0 || 2 * n.padding > n.kernel)
          throw Error(at +
                      ": attributes kernel/stride/padding must be positive/positive/at most "
                      "half the kernel");
        n.out_shape = {x.c, pooled(x.h, n.kernel, n.stride, n.padding),
                       pooled(x.w, n.kernel, n.stride, n.padding)};
        break;
      case OpType::global_avgpool:
      case OpType::global_maxpool:
        require_only(at, n, {});
        n.out_shape = {x.c, 1, 1};
        break;
      case OpType::flatten:
        require_only(at, n, {});
        n.out_shape = {narrow_dim(at, x.size(), "C"), 1, 1};
        break;
      case OpType::linear: {
        const Tensor* w = n.find("weight");
        const std::string expected = "[O, " + std::to_string(x.size()) + "]";
        if (w == nullptr)
          throw Error(at + ": missing tensor 'weight' (expected shape " + expected + ")");
        if (w->shape.size() != 2 || w->shape[0] <= 0)
          throw Error(at + ": tensor 'weight' has shape " + shape_str(w->shape) + ", expected " +
                      expected);
        const auto out_f = w->shape[0];
        require_tensor(at, n, "weight", {out_f, x.size()});
        require_tensor(at, n, "bias", {out_f}, true);
        require_only(at, n, {"weight", "bias"});
        n.out_shape = {static_cast<int>(out_f), 1, 1};
        break;
      }
    }
    if (n.out_shape.c <= 0 || n.out_shape.h <= 0 || n.out_shape.w <= 0)
      throw Error(at + ": input shape " + shape_str(x) + " gives an empty output " +
                  shape_str(n.out_shape));
    if (static_cast<double>(n.out_shape.c) * n.out_shape.h * n.out_shape.w > k_max_image_size)
      throw Error(at + ": output shape " + shape_str(n.out_shape) +
                  " has more than 2^36 values per image");
  }
  const Shape out = nodes.back().out_shape;
  if (out.size() != num_classes)
    throw Error(source + ": the last node '" + nodes.back().name + "' gives " +
                std::to_string(out.size()) +
                " outputs, expected num_classes = " + std::to_string(num_classes));
}

std::int64_t Model::macs_per_image() const {
  std::int64_t macs = 0;
  for (const Node& n : nodes) {
    if (n.op == OpType::conv2d || n.op == OpType::linear) {
      const Tensor& w = n.tensors.at("weight");
      macs += w.numel() / w.shape[0] * n.out_shape.size();
    }
  }
  return macs;
}

std::int64_t Model::parameter_count() const {
  std::int64_t count = 0;
  for (const Node& n : nodes)
    for (const auto& [key, t] : n.tensors)
      count += t.numel();
  return count;
}

}  // namespace aimc::network
