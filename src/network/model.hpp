#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace aimc::network {

// The operations of the aimc model graph (docs/model-format.md).
enum class OpType {
  input,
  conv2d,
  batchnorm,
  relu,
  clip,
  leaky_relu,
  add,
  concat,
  shortcut_a,
  slice,
  pad,
  maxpool,
  avgpool,
  global_avgpool,
  global_maxpool,
  flatten,
  linear,
};

const char* op_name(OpType op);
// Returns false if `name` is not an op of the model format.
bool op_from_name(const std::string& name, OpType& op);
// "input, conv2d, ..., linear": every op name, for error messages.
std::string op_names();

// Per-image activation shape, channels × height × width. Linear outputs are C × 1 × 1.
struct Shape {
  int c = 0;
  int h = 0;
  int w = 0;
  std::int64_t size() const { return std::int64_t{c} * h * w; }
  bool operator==(const Shape&) const = default;
};

struct Tensor {
  std::vector<std::int64_t> shape;
  std::vector<float> data;
  std::int64_t numel() const;
};

struct Node {
  std::string name;
  OpType op = OpType::input;
  std::vector<int> inputs;
  // conv2d, maxpool, avgpool: square kernel, stride and zero padding.
  int kernel = 0;
  int stride = 1;
  int padding = 0;
  // conv2d: input and output channels split into `groups` groups (depthwise: groups = C).
  int groups = 1;
  // avgpool: whether padding counts in the divisor (v1 meaning) or only the input elements do.
  bool count_include_pad = true;
  // clip: y = min(max(x, clip_min), clip_max); either bound may be infinite.
  double clip_min = 0.0;
  double clip_max = 0.0;
  // leaky_relu: y = x < 0 ? alpha·x : x.
  double alpha = 0.01;
  // slice: per C, H, W, keep begin, begin + step, ... < end.
  std::array<int, 3> slice_begin{};
  std::array<int, 3> slice_end{};
  std::array<int, 3> slice_step{1, 1, 1};
  // pad: c_before, h_before, w_before, c_after, h_after, w_after, filled with pad_value.
  std::array<int, 6> pads{};
  double pad_value = 0.0;
  // shortcut_a: zero channels added in front of and behind the subsampled input.
  int pad_before = 0;
  int pad_after = 0;
  // batchnorm
  double eps = 1e-5;
  // PyTorch leaf names: weight, bias, running_mean, running_var.
  std::map<std::string, Tensor> tensors;
  // Filled in by Model::validate().
  Shape out_shape;

  const Tensor* find(const std::string& tensor) const;
};

// Input preprocessing: x = (pixel * scale - mean[c]) / std[c].
struct Preprocess {
  double scale = 1.0 / 255.0;
  std::vector<double> mean;
  std::vector<double> std;
};

// A network as a graph in topological order; the last node is the output.
struct Model {
  std::string name;
  std::string arch;
  Shape input;
  int num_classes = 0;
  Preprocess preprocess;
  std::vector<Node> nodes;

  // Checks the graph (topological order, op arity, tensor presence, shapes and finiteness) and
  // infers every node's output shape. Throws aimc::Error with one line naming `source`, the node
  // and the tensor or attribute that is wrong.
  void validate(const std::string& source);

  // Multiply-accumulates per image of the conv2d and linear nodes (the GEMM work). A grouped
  // conv counts its C/groups·k·k inputs per output; the crossbar layer it runs as
  // (Network::macs_per_image) also counts the zeros outside its diagonal blocks.
  std::int64_t macs_per_image() const;
  // Learnable parameters (BatchNorm running statistics excluded, as in PyTorch).
  std::int64_t parameter_count() const;
};

}  // namespace aimc::network
