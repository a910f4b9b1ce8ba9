// Model format version 2 (docs/model-format.md) outside the engine: the reader on small files
// with the new attributes, the validator's one-line errors for bad ones, and the perf model's
// digital work of the new ops.

#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "io/model_file.hpp"
#include "network/model.hpp"
#include "network/network.hpp"
#include "network/perf_work.hpp"
#include "util/error.hpp"

namespace {

using aimc::network::Model;
using aimc::network::Node;
using aimc::network::OpType;
using aimc::network::Shape;
using aimc::network::Tensor;

Tensor filled(std::vector<std::int64_t> shape, float value) {
  Tensor t;
  t.shape = std::move(shape);
  t.data.assign(static_cast<std::size_t>(t.numel()), value);
  return t;
}

Node make_node(const std::string& name, OpType op, std::vector<int> inputs) {
  Node n;
  n.name = name;
  n.op = op;
  n.inputs = std::move(inputs);
  return n;
}

// input (4 × 6 × 6) → `middle` (node 1, reading node 0) → global_avgpool → linear to 3 classes.
// The linear layer's weight follows the middle node's inferred channel count.
Model model_around(const Node& middle, Shape input = {4, 6, 6}) {
  Model m;
  m.name = "v2";
  m.input = input;
  m.num_classes = 3;
  m.preprocess.mean.assign(input.c, 0.5);
  m.preprocess.std.assign(input.c, 0.25);
  m.nodes.push_back(make_node("input", OpType::input, {}));
  m.nodes.push_back(middle);
  m.nodes.push_back(make_node("gap", OpType::global_avgpool, {1}));
  m.nodes.push_back(make_node("fc", OpType::linear, {2}));
  // Learn the middle node's channels from a validation that may stop at the linear layer.
  try {
    m.validate("test.h5");
  } catch (const aimc::Error&) {
  }
  m.nodes[3].tensors["weight"] = filled({3, m.nodes[1].out_shape.c}, 0.1F);
  return m;
}

// Expects validate() to throw one line holding every fragment.
void expect_error(Model m, const std::vector<std::string>& fragments) {
  try {
    m.validate("test.h5");
    ADD_FAILURE() << "no error; expected " << fragments.front();
  } catch (const aimc::Error& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    for (const auto& f : fragments)
      EXPECT_NE(what.find(f), std::string::npos) << "'" << f << "' not in: " << what;
  }
}

Node grouped_conv(int groups, std::int64_t out_c, std::int64_t in_per_group) {
  Node n = make_node("dw", OpType::conv2d, {0});
  n.kernel = 3;
  n.padding = 1;
  n.groups = groups;
  n.tensors["weight"] = filled({out_c, in_per_group, 3, 3}, 0.2F);
  return n;
}

TEST(Validate, AcceptsGroupedAndDepthwiseConv) {
  Model m = model_around(grouped_conv(4, 8, 1));
  EXPECT_NO_THROW(m.validate("test.h5"));
  EXPECT_EQ(m.nodes[1].out_shape, (Shape{8, 6, 6}));
  Model g = model_around(grouped_conv(2, 6, 2));
  EXPECT_NO_THROW(g.validate("test.h5"));
}

TEST(Validate, RejectsBadGroups) {
  expect_error(model_around(grouped_conv(3, 6, 1)),
               {"test.h5", "node 1 'dw' (conv2d)", "attribute 'groups' is 3",
                "divisor of the input channels C = 4"});
  expect_error(model_around(grouped_conv(0, 4, 1)), {"'dw'", "attribute 'groups' is 0"});
  expect_error(model_around(grouped_conv(2, 5, 2)),
               {"'dw'", "attribute 'groups' is 2", "output channels O = 5"});
  // The weight has C/groups input channels.
  expect_error(model_around(grouped_conv(2, 4, 4)),
               {"'dw'", "tensor 'weight' has shape [4, 4, 3, 3], expected [4, 2, 3, 3]"});
}

TEST(Validate, RejectsClipMinNotBelowMax) {
  Node n = make_node("act", OpType::clip, {0});
  n.clip_min = 6.0;
  n.clip_max = 6.0;
  expect_error(model_around(n),
               {"node 1 'act' (clip)", "attributes 'min'/'max' are 6/6", "min < max"});
  n.clip_min = std::numeric_limits<double>::quiet_NaN();
  expect_error(model_around(n), {"'act'", "'min'/'max'", "no NaN"});
  n.clip_min = -std::numeric_limits<double>::infinity();
  EXPECT_NO_THROW(model_around(n).validate("test.h5"));
}

TEST(Validate, RejectsNonFiniteLeakyReluAlpha) {
  Node n = make_node("act", OpType::leaky_relu, {0});
  n.alpha = std::numeric_limits<double>::infinity();
  expect_error(model_around(n), {"'act' (leaky_relu)", "attribute 'alpha' is inf"});
}

TEST(Validate, RejectsSliceOutOfRange) {
  Node n = make_node("cut", OpType::slice, {0});
  n.slice_begin = {0, 1, 2};
  n.slice_end = {4, 7, 6};
  expect_error(model_around(n), {"node 1 'cut' (slice)", "attributes 'begin'/'end' are 1/7 for H",
                                 "expected 0 <= begin < end <= 6"});
  n.slice_end = {4, 6, 6};
  n.slice_begin = {4, 0, 0};
  expect_error(model_around(n), {"'cut'", "are 4/4 for C"});
  n.slice_begin = {0, 0, 0};
  n.slice_step = {1, 1, 0};
  expect_error(model_around(n), {"'cut'", "attribute 'step' is 0 for W", "expected >= 1"});
  n.slice_step = {3, 4, 5};
  Model ok = model_around(n);
  ok.validate("test.h5");
  EXPECT_EQ(ok.nodes[1].out_shape, (Shape{2, 2, 2}));
}

TEST(Validate, RejectsNegativePad) {
  Node n = make_node("border", OpType::pad, {0});
  n.pads = {0, 1, 1, 0, -1, 1};
  expect_error(model_around(n),
               {"node 1 'border' (pad)", "attribute 'pads' has -1 for H after", ">= 0"});
  n.pads = {0, 1, 1, 0, 1, 1};
  n.pad_value = std::numeric_limits<double>::quiet_NaN();
  expect_error(model_around(n), {"'border'", "attribute 'value' is nan"});
}

TEST(Validate, RejectsConcatOfDifferentHeightOrWidth) {
  Model m;
  m.name = "v2";
  m.input = {2, 6, 6};
  m.num_classes = 3;
  m.preprocess.mean.assign(2, 0.5);
  m.preprocess.std.assign(2, 0.25);
  m.nodes.push_back(make_node("input", OpType::input, {}));
  Node pool = make_node("pool", OpType::maxpool, {0});
  pool.kernel = 2;
  pool.stride = 2;
  m.nodes.push_back(pool);
  m.nodes.push_back(make_node("cat", OpType::concat, {0, 0, 1}));
  expect_error(m, {"node 2 'cat' (concat)", "input 2 has shape [2, 3, 3]",
                   "expected height and width 6 x 6"});
  m.nodes[2].inputs = {0};
  expect_error(m, {"'cat'", "has 1 inputs, expected 2 or more"});
}

TEST(Validate, FlattenAndGlobalMaxPoolShapes) {
  Model m = model_around(make_node("flat", OpType::flatten, {0}));
  m.validate("test.h5");
  EXPECT_EQ(m.nodes[1].out_shape, (Shape{144, 1, 1}));
  Model g = model_around(make_node("gmp", OpType::global_maxpool, {0}));
  g.validate("test.h5");
  EXPECT_EQ(g.nodes[1].out_shape, (Shape{4, 1, 1}));
}

// Writes small HDF5 model files the way the importers do (int64 and float64 attributes).
class ModelFile {
 public:
  explicit ModelFile(std::int64_t version)
      : path_(std::filesystem::temp_directory_path() /
              ("aimc_test_graph_ops_" + std::to_string(getpid()) + ".h5")) {
    file_ = H5Fcreate(path_.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    string_attr(file_, "format", "aimc-model");
    int_attr(file_, "format_version", {version});
    string_attr(file_, "name", "tiny");
    string_attr(file_, "arch", "test");
    int_attr(file_, "input_shape", {2, 4, 4}, true);
    int_attr(file_, "num_classes", {3});
    double_attr(file_, "input_scale", {1.0 / 255.0});
    double_attr(file_, "input_mean", {0.5, 0.5}, true);
    double_attr(file_, "input_std", {0.25, 0.25}, true);
    nodes_ = H5Gcreate2(file_, "nodes", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  }
  ~ModelFile() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  ModelFile(const ModelFile&) = delete;
  ModelFile& operator=(const ModelFile&) = delete;

  // Adds node `count_` with attributes set by `attrs` and one float32 tensor per entry.
  void node(const std::string& op, const std::vector<std::int64_t>& inputs,
            const std::function<void(hid_t)>& attrs = {},
            const std::vector<std::pair<std::string, Tensor>>& tensors = {}) {
    char key[16];
    std::snprintf(key, sizeof key, "%04d", count_);
    const hid_t g = H5Gcreate2(nodes_, key, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    string_attr(g, "name", "n" + std::to_string(count_));
    string_attr(g, "op", op);
    int_attr(g, "inputs", inputs, true);
    if (attrs) attrs(g);
    for (const auto& [name, t] : tensors) {
      std::vector<hsize_t> dims(t.shape.begin(), t.shape.end());
      const hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
      const hid_t d =
          H5Dcreate2(g, name.c_str(), H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
      H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.data.data());
      H5Dclose(d);
      H5Sclose(space);
    }
    H5Gclose(g);
    ++count_;
  }
  // Closes the file and returns its path.
  std::string close() {
    H5Gclose(nodes_);
    H5Fclose(file_);
    return path_.string();
  }

  static void int_attr(hid_t obj, const std::string& name, const std::vector<std::int64_t>& v,
                       bool array = false) {
    const hsize_t n = v.size();
    const hid_t space = array ? H5Screate_simple(1, &n, nullptr) : H5Screate(H5S_SCALAR);
    const hid_t a = H5Acreate2(obj, name.c_str(), H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT);
    if (!v.empty()) H5Awrite(a, H5T_NATIVE_INT64, v.data());  // an empty `inputs` has no data
    H5Aclose(a);
    H5Sclose(space);
  }
  static void double_attr(hid_t obj, const std::string& name, const std::vector<double>& v,
                          bool array = false) {
    const hsize_t n = v.size();
    const hid_t space = array ? H5Screate_simple(1, &n, nullptr) : H5Screate(H5S_SCALAR);
    const hid_t a = H5Acreate2(obj, name.c_str(), H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_DOUBLE, v.data());
    H5Aclose(a);
    H5Sclose(space);
  }
  static void string_attr(hid_t obj, const std::string& name, const std::string& value) {
    const hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, value.size());
    const hid_t space = H5Screate(H5S_SCALAR);
    const hid_t a = H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, type, value.data());
    H5Aclose(a);
    H5Sclose(space);
    H5Tclose(type);
  }

 private:
  std::filesystem::path path_;
  hid_t file_ = H5I_INVALID_HID;
  hid_t nodes_ = H5I_INVALID_HID;
  int count_ = 0;
};

TEST(ReadModel, ReadsEveryVersion2Attribute) {
  ModelFile f(2);
  using MF = ModelFile;
  f.node("input", {});
  f.node("conv2d", {0},
         [](hid_t g) {
           MF::int_attr(g, "kernel", {3});
           MF::int_attr(g, "stride", {1});
           MF::int_attr(g, "padding", {1});
           MF::int_attr(g, "groups", {2});
         },
         {{"weight", filled({4, 1, 3, 3}, 0.1F)}});
  f.node("clip", {1}, [](hid_t g) {
    MF::double_attr(g, "min", {0.0});
    MF::double_attr(g, "max", {6.0});
  });
  f.node("leaky_relu", {2}, [](hid_t g) { MF::double_attr(g, "alpha", {0.125}); });
  f.node("pad", {3}, [](hid_t g) {
    MF::int_attr(g, "pads", {1, 0, 1, 0, 2, 0}, true);
    MF::double_attr(g, "value", {-1.5});
  });
  f.node("slice", {4}, [](hid_t g) {
    MF::int_attr(g, "begin", {0, 1, 0}, true);
    MF::int_attr(g, "end", {5, 6, 5}, true);
    MF::int_attr(g, "step", {1, 2, 2}, true);
  });
  f.node("avgpool", {5}, [](hid_t g) {
    MF::int_attr(g, "kernel", {2});
    MF::int_attr(g, "stride", {1});
    MF::int_attr(g, "padding", {1});
    MF::int_attr(g, "count_include_pad", {0});
  });
  f.node("concat", {6, 6});
  f.node("global_maxpool", {7});
  f.node("flatten", {8});
  f.node("linear", {9}, {}, {{"weight", filled({3, 10}, 0.1F)}});
  const Model m = aimc::io::read_model(f.close());
  ASSERT_EQ(m.nodes.size(), 11U);
  EXPECT_EQ(m.nodes[1].groups, 2);
  EXPECT_EQ(m.nodes[2].clip_min, 0.0);
  EXPECT_EQ(m.nodes[2].clip_max, 6.0);
  EXPECT_EQ(m.nodes[3].alpha, 0.125);
  EXPECT_EQ(m.nodes[4].pads, (std::array<int, 6>{1, 0, 1, 0, 2, 0}));
  EXPECT_EQ(m.nodes[4].pad_value, -1.5);
  EXPECT_EQ(m.nodes[4].out_shape, (Shape{5, 6, 5}));
  EXPECT_EQ(m.nodes[5].slice_step, (std::array<int, 3>{1, 2, 2}));
  EXPECT_EQ(m.nodes[5].out_shape, (Shape{5, 3, 3}));
  EXPECT_FALSE(m.nodes[6].count_include_pad);
  EXPECT_EQ(m.nodes[7].out_shape, (Shape{10, 4, 4}));
  EXPECT_EQ(m.nodes[10].out_shape, (Shape{3, 1, 1}));
}

TEST(ReadModel, Version1DefaultsAndVersion3Rejected) {
  ModelFile v1(1);
  v1.node("input", {});
  v1.node("avgpool", {0}, [](hid_t g) {
    ModelFile::int_attr(g, "kernel", {3});
    ModelFile::int_attr(g, "stride", {1});
    ModelFile::int_attr(g, "padding", {1});
  });
  v1.node("global_avgpool", {1});
  v1.node("linear", {2}, {}, {{"weight", filled({3, 2}, 0.1F)}});
  const Model m = aimc::io::read_model(v1.close());
  EXPECT_TRUE(m.nodes[1].count_include_pad);

  ModelFile v3(3);
  const std::string path = v3.close();
  try {
    aimc::io::read_model(path);
    ADD_FAILURE() << "version 3 accepted";
  } catch (const aimc::Error& e) {
    EXPECT_NE(std::string(e.what()).find(path + ": format_version is 3, expected 1 to 2"),
              std::string::npos)
        << e.what();
  }
}

TEST(ReadModel, UnknownOpListsEveryOp) {
  ModelFile f(2);
  f.node("input", {});
  f.node("softmax", {0});
  try {
    aimc::io::read_model(f.close());
    ADD_FAILURE() << "unknown op accepted";
  } catch (const aimc::Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("unknown op 'softmax'"), std::string::npos) << what;
    for (const char* op :
         {"clip", "leaky_relu", "concat", "slice", "pad", "global_maxpool", "flatten", "linear"})
      EXPECT_NE(what.find(op), std::string::npos) << op << " not in: " << what;
  }
}

TEST(ReadModel, RejectsBadCountIncludePad) {
  ModelFile f(2);
  f.node("input", {});
  f.node("avgpool", {0}, [](hid_t g) {
    ModelFile::int_attr(g, "kernel", {2});
    ModelFile::int_attr(g, "stride", {2});
    ModelFile::int_attr(g, "padding", {0});
    ModelFile::int_attr(g, "count_include_pad", {2});
  });
  EXPECT_THROW(aimc::io::read_model(f.close()), aimc::Error);
}

TEST(LayerWork, NewOpsCountLikeTheirV1Counterparts) {
  // conv → clip (local) → maxpool → leaky_relu (global) → concat, pad, slice (no work)
  // → global_maxpool (pool) → flatten → linear.
  Model m;
  m.name = "v2";
  m.input = {2, 4, 4};
  m.num_classes = 3;
  m.preprocess.mean.assign(2, 0.5);
  m.preprocess.std.assign(2, 0.25);
  m.nodes.push_back(make_node("input", OpType::input, {}));
  Node conv = grouped_conv(2, 4, 1);
  conv.name = "conv";
  m.nodes.push_back(conv);  // 1: 4×4×4
  Node clip = make_node("clip", OpType::clip, {1});
  clip.clip_max = 6.0;
  m.nodes.push_back(clip);  // 2
  Node pool = make_node("pool", OpType::maxpool, {2});
  pool.kernel = 2;
  pool.stride = 2;
  m.nodes.push_back(pool);                                         // 3: 4×2×2
  m.nodes.push_back(make_node("leaky", OpType::leaky_relu, {3}));  // 4
  m.nodes.push_back(make_node("cat", OpType::concat, {4, 3}));     // 5: 8×2×2
  Node pad = make_node("pad", OpType::pad, {5});
  pad.pads = {0, 1, 1, 0, 1, 1};
  m.nodes.push_back(pad);  // 6: 8×4×4
  Node cut = make_node("cut", OpType::slice, {6});
  cut.slice_end = {8, 3, 3};
  m.nodes.push_back(cut);                                            // 7: 8×3×3
  m.nodes.push_back(make_node("gmp", OpType::global_maxpool, {7}));  // 8: 8×1×1
  m.nodes.push_back(make_node("flat", OpType::flatten, {8}));        // 9
  Node fc = make_node("fc", OpType::linear, {9});
  fc.tensors["weight"] = filled({3, 8}, 0.1F);
  m.nodes.push_back(fc);
  m.validate("test.h5");
  const aimc::network::Network net(m, {});
  const auto work = aimc::network::layer_work(m, net, 2);
  ASSERT_EQ(work.size(), 2U);
  EXPECT_EQ(work[0].mvms_per_image, 16);
  EXPECT_EQ(work[0].local.relu, 64);               // clip after the conv
  EXPECT_EQ(work[0].global.relu, 16);              // leaky_relu after the pool
  EXPECT_EQ(work[0].global.pool, 16 * 4 + 8 * 9);  // maxpool windows, then global_maxpool
  EXPECT_EQ(work[0].global.add, 0);
  EXPECT_EQ(work[0].global.affine, 0);
  EXPECT_EQ(work[1].mvms_per_image, 1);
  EXPECT_EQ(work[1].input_activations, 8);
  EXPECT_EQ(work[1].global.total() + work[1].local.total(), 0);
}

}  // namespace
