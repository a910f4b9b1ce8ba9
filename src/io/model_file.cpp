#include "io/model_file.hpp"

#include <algorithm>
#include <array>
#include <charconv>

#include "io/hdf5.hpp"
#include "util/error.hpp"

namespace aimc::io {

namespace {

std::int64_t scalar_int(hid_t obj, const std::string& name, const std::string& context) {
  const auto v = h5::read_int_attribute(obj, name, context);
  if (v.size() != 1) throw Error(context + ": attribute '" + name + "' must be one integer");
  return v[0];
}

int small_int(hid_t obj, const std::string& name, const std::string& context) {
  const std::int64_t v = scalar_int(obj, name, context);
  if (v < -(1 << 20) || v > (1 << 20))
    throw Error(context + ": attribute '" + name + "' = " + std::to_string(v) + " is out of range");
  return static_cast<int>(v);
}

double scalar_double(hid_t obj, const std::string& name, const std::string& context) {
  const auto v = h5::read_double_attribute(obj, name, context);
  if (v.size() != 1) throw Error(context + ": attribute '" + name + "' must be one number");
  return v[0];
}

// An attribute of exactly N small integers (slice begin/end/step, pad pads).
template <std::size_t N>
std::array<int, N> small_ints(hid_t obj, const std::string& name, const std::string& context) {
  const auto v = h5::read_int_attribute(obj, name, context);
  if (v.size() != N)
    throw Error(context + ": attribute '" + name + "' has " + std::to_string(v.size()) +
                " values, expected " + std::to_string(N));
  std::array<int, N> out{};
  for (std::size_t i = 0; i < N; ++i) {
    if (v[i] < -(1 << 20) || v[i] > (1 << 20))
      throw Error(context + ": attribute '" + name + "' has " + std::to_string(v[i]) +
                  ", which is out of range");
    out[i] = static_cast<int>(v[i]);
  }
  return out;
}

// Node groups are named by their index ("0000", "0001", ...): the name fixes the order.
int parse_index(const std::string& name) {
  int value = -1;
  const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), value);
  if (ec != std::errc{} || end != name.data() + name.size()) return -1;
  return value;
}

network::Node read_node(hid_t nodes, const std::string& key, const std::string& path) {
  const std::string context = path + ": node " + key;
  h5::Handle g = h5::open_group(nodes, key, path + ": /nodes");
  network::Node n;
  n.name = h5::read_string_attribute(g.get(), "name", context);
  const std::string at = context + " '" + n.name + "'";
  const std::string op = h5::read_string_attribute(g.get(), "op", at);
  if (!network::op_from_name(op, n.op))
    throw Error(at + ": unknown op '" + op + "', expected one of: " + network::op_names());
  for (std::int64_t in : h5::read_int_attribute(g.get(), "inputs", at)) {
    if (in < 0 || in > (1 << 24))
      throw Error(at + ": input index " + std::to_string(in) + " is out of range");
    n.inputs.push_back(static_cast<int>(in));
  }
  switch (n.op) {
    case network::OpType::conv2d:
    case network::OpType::maxpool:
    case network::OpType::avgpool:
      n.kernel = small_int(g.get(), "kernel", at);
      n.stride = small_int(g.get(), "stride", at);
      n.padding = small_int(g.get(), "padding", at);
      if (n.op == network::OpType::conv2d && h5::has_attribute(g.get(), "groups"))
        n.groups = small_int(g.get(), "groups", at);
      if (n.op == network::OpType::avgpool && h5::has_attribute(g.get(), "count_include_pad")) {
        const int include = small_int(g.get(), "count_include_pad", at);
        if (include != 0 && include != 1)
          throw Error(at + ": attribute 'count_include_pad' is " + std::to_string(include) +
                      ", expected 0 or 1");
        n.count_include_pad = include == 1;
      }
      break;
    case network::OpType::clip:
      n.clip_min = scalar_double(g.get(), "min", at);
      n.clip_max = scalar_double(g.get(), "max", at);
      break;
    case network::OpType::leaky_relu:
      n.alpha = scalar_double(g.get(), "alpha", at);
      break;
    case network::OpType::slice:
      n.slice_begin = small_ints<3>(g.get(), "begin", at);
      n.slice_end = small_ints<3>(g.get(), "end", at);
      n.slice_step = small_ints<3>(g.get(), "step", at);
      break;
    case network::OpType::pad:
      n.pads = small_ints<6>(g.get(), "pads", at);
      n.pad_value = scalar_double(g.get(), "value", at);
      break;
    case network::OpType::shortcut_a:
      n.stride = small_int(g.get(), "stride", at);
      n.pad_before = small_int(g.get(), "pad_before", at);
      n.pad_after = small_int(g.get(), "pad_after", at);
      break;
    case network::OpType::batchnorm:
      n.eps = scalar_double(g.get(), "eps", at);
      break;
    default:
      break;
  }
  for (const std::string& member : h5::list_members(g.get(), at)) {
    if (!h5::is_dataset(g.get(), member))
      throw Error(at + ": member '" + member + "' is not a tensor dataset");
    auto arr = h5::read_float_dataset(g.get(), member, at);
    n.tensors[member] = network::Tensor{std::move(arr.shape), std::move(arr.data)};
  }
  return n;
}

}  // namespace

network::Model read_model(const std::string& path) {
  h5::Handle file = h5::open_read(path);
  const hid_t root = file.get();
  if (!h5::has_attribute(root, "format") ||
      h5::read_string_attribute(root, "format", path) != k_model_format)
    throw Error(path + ": attribute 'format' is not '" + std::string(k_model_format) +
                "' (not an aimc model file; convert with 'aimc import')");
  const std::int64_t version = scalar_int(root, "format_version", path);
  if (version < 1 || version > k_model_format_version)
    throw Error(path + ": format_version is " + std::to_string(version) + ", expected 1 to " +
                std::to_string(k_model_format_version) +
                (version > k_model_format_version ? " (written by a newer aimc)" : ""));

  network::Model m;
  m.name = h5::read_string_attribute(root, "name", path);
  m.arch = h5::read_string_attribute(root, "arch", path);
  const auto in = h5::read_int_attribute(root, "input_shape", path);
  if (in.size() != 3)
    throw Error(path + ": attribute 'input_shape' has " + std::to_string(in.size()) +
                " values, expected 3 (C, H, W)");
  for (auto v : in)
    if (v <= 0 || v > 4096)
      throw Error(path + ": attribute 'input_shape' has " + std::to_string(v) +
                  ", expected sizes in [1, 4096]");
  m.input = {static_cast<int>(in[0]), static_cast<int>(in[1]), static_cast<int>(in[2])};
  m.num_classes = small_int(root, "num_classes", path);
  const auto scale = h5::read_double_attribute(root, "input_scale", path);
  if (scale.size() != 1) throw Error(path + ": attribute 'input_scale' must be one number");
  m.preprocess.scale = scale[0];
  m.preprocess.mean = h5::read_double_attribute(root, "input_mean", path);
  m.preprocess.std = h5::read_double_attribute(root, "input_std", path);

  h5::Handle nodes = h5::open_group(root, "nodes", path);
  // Order by the parsed index, not the name: "10000" sorts before "1001" as text.
  std::vector<std::pair<int, std::string>> keys;
  for (const std::string& key : h5::list_members(nodes.get(), path + ": /nodes")) {
    const int index = parse_index(key);
    if (index < 0)
      throw Error(path + ": /nodes/" + key +
                  ": expected node groups named by index (0000, 0001, ...)");
    keys.emplace_back(index, key);
  }
  std::sort(keys.begin(), keys.end());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].first != static_cast<int>(i))
      throw Error(path + ": /nodes: node " + std::to_string(i) + " is missing (found '" +
                  keys[i].second + "' in its place)");
    m.nodes.push_back(read_node(nodes.get(), keys[i].second, path));
  }
  m.validate(path);
  return m;
}

}  // namespace aimc::io
