#include <gtest/gtest.h>

#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "hardware/mapping.hpp"
#include "util/error.hpp"

namespace {

using aimc::hardware::balanced_split;
using aimc::hardware::Block;
using aimc::hardware::LayerShape;
using aimc::hardware::map_layers;
using aimc::hardware::Mapping;
using aimc::hardware::mapping_strategy_from_name;
using aimc::hardware::mapping_strategy_name;
using aimc::hardware::MappingParams;
using aimc::hardware::MappingStrategy;

// The conv and linear layers of ResNet-CIFAR of depth 6n+2 (He et al. 2016, option-A shortcuts
// without weights), as K = C_in·3·3 rows × O columns, named like the PyTorch modules: a 3→16
// stem, three stages of n basic blocks of two convs at 16, 32 and 64 channels (the first conv of
// stages 2 and 3 has stride 2 and takes the previous stage's channels), then linear 64 → 10.
std::vector<LayerShape> resnet_cifar(int n) {
  std::vector<LayerShape> layers{{"conv1", 3 * 9, 16}};
  int in = 16;
  for (int stage = 0; stage < 3; ++stage) {
    const int out = 16 << stage;
    for (int b = 0; b < n; ++b) {
      const std::string prefix = "layer" + std::to_string(stage + 1) + "." + std::to_string(b);
      layers.push_back({prefix + ".conv1", in * 9, out});
      layers.push_back({prefix + ".conv2", out * 9, out});
      in = out;
    }
  }
  layers.push_back({"linear", 64, 10});
  return layers;
}

MappingParams params_with(MappingStrategy strategy, int cores = 64) {
  MappingParams p;
  p.strategy = strategy;
  p.cores = cores;
  return p;
}

// The message of the aimc::Error that `f` throws, or "" (which then fails the caller's check).
template <typename F>
std::string error_of(F f) {
  try {
    f();
  } catch (const aimc::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an aimc::Error";
  return "";
}

std::int64_t weights_of(const std::vector<LayerShape>& layers) {
  std::int64_t n = 0;
  for (const auto& l : layers)
    n += std::int64_t{l.rows} * l.cols;
  return n;
}

// Blocks per network with balanced splits on 256 × 256 cores, by layer kind:
//   stem 27 × 16                               1
//   stage 1: 2n convs 144 × 16                 2n × 1
//   stage 2: first conv 144 × 32               1
//            2n-1 convs 288 × 32 (2 × 144)     (2n-1) × 2
//   stage 3: first conv 288 × 64 (2 × 144)     2
//            2n-1 convs 576 × 64 (3 × 192)     (2n-1) × 3
//   linear 64 × 10                             1
// Total 1 + 2n + 1 + 2(2n-1) + 2 + 3(2n-1) + 1 = 12n: resnet20 (n=3) 36, resnet32 (n=5) 60,
// resnet44 (n=7) 84, resnet56 (n=9) 108.
TEST(Mapping, OneLayerPerCoreCountsResnet20And32) {
  for (const auto& [n, expected] : {std::pair{3, 36}, std::pair{5, 60}}) {
    const auto m =
        map_layers("resnet", resnet_cifar(n), params_with(MappingStrategy::one_layer_per_core));
    EXPECT_EQ(m.blocks.size(), static_cast<std::size_t>(expected)) << "n = " << n;
    EXPECT_EQ(m.cores_used(), expected) << "n = " << n;
    for (int c = 0; c < m.cores_used(); ++c) {
      ASSERT_EQ(m.core_blocks[static_cast<std::size_t>(c)].size(), 1u) << "core " << c;
      EXPECT_EQ(m.core_blocks[static_cast<std::size_t>(c)][0], c);
    }
    // Cores in layer order: block i (already in layer order) sits on core i at the origin.
    for (std::size_t i = 0; i < m.blocks.size(); ++i) {
      EXPECT_EQ(m.blocks[i].core, static_cast<int>(i));
      EXPECT_EQ(m.blocks[i].core_row0, 0);
      EXPECT_EQ(m.blocks[i].core_col0, 0);
    }
  }
}

// What every "does not fit" message of a ResNet-CIFAR ends with: the layers that take the most
// cores (ties in graph order), so the user knows what to shrink.
constexpr const char* k_largest =
    "; largest layers (K x O: cores) layer3.0.conv2 (576 x 64: 3), layer3.1.conv1 (576 x 64: 3), "
    "layer3.1.conv2 (576 x 64: 3)";

TEST(Mapping, Resnet44And56DoNotFitOneLayerPerCore) {
  const auto p = params_with(MappingStrategy::one_layer_per_core);
  EXPECT_EQ(error_of([&] { map_layers("resnet44", resnet_cifar(7), p); }),
            "resnet44 needs 84 cores with one_layer_per_core, the chip has 64 "
            "(try mapping.strategy = packed)" +
                std::string(k_largest));
  EXPECT_EQ(error_of([&] { map_layers("resnet56", resnet_cifar(9), p); }),
            "resnet56 needs 108 cores with one_layer_per_core, the chip has 64 "
            "(try mapping.strategy = packed)" +
                std::string(k_largest));
}

// Packed counts by hand (finite first fit, tallest blocks first, shelves of 256 columns): the
// 192 × 64 blocks go four to a shelf and one shelf to a core (two would need 384 rows); 6n-3 of
// them leave the last such core with 64 free columns. The 144-row blocks (2 × 144 × 64, then
// 144 × 32, then 144 × 16) fill those 64 columns and then 144-row shelves on the next cores;
// linear 64 × 10 and the stem 27 × 16 share a 64-row shelf under core 0's first shelf.
//   resnet20: 15 → cores 0-3; 144 × 64: core 3, core 4; 11 × 32 cols: core 4 (6), core 5 (5);
//             6 × 16 cols: core 5. 6 cores.
//   resnet32: 27 → 0-6; 144 × 64: 6, 7; 19 × 32: 7 (6), 8 (8), 9 (5); 10 × 16: 9 (6), 10 (4).
//             11 cores.
//   resnet44: 39 → 0-9; 144 × 64: 9, 10; 27 × 32: 10 (6), 11, 12, 13 (5); 14 × 16: 13 (6),
//             14 (8). 15 cores.
//   resnet56: 51 → 0-12; 144 × 64: 12, 13; 35 × 32: 13 (6), 14-16 (8 each), 17 (5); 18 × 16:
//             17 (6), 18 (12). 19 cores.
TEST(Mapping, PackedCounts) {
  const std::pair<int, int> cases[] = {{3, 6}, {5, 11}, {7, 15}, {9, 19}};
  for (const auto& [n, expected] : cases) {
    const auto m = map_layers("resnet", resnet_cifar(n), params_with(MappingStrategy::packed));
    EXPECT_EQ(m.blocks.size(), static_cast<std::size_t>(12 * n)) << "n = " << n;
    EXPECT_EQ(m.cores_used(), expected) << "n = " << n;
    EXPECT_LE(m.cores_used(), 64);
  }
}

// Why packed places blocks on disjoint rectangles rather than block-diagonally (disjoint rows
// and disjoint columns): block-diagonal blocks of one core use distinct rows, so a chip holds at
// most 64 × 256 = 16384 rows of all layers together, and resnet56 has more. It also could not
// fit resnet44: its 82 blocks of 144 or 192 rows would need a core each.
TEST(Mapping, BlockDiagonalPackingCannotHoldResnet56) {
  int rows = 0;
  for (const auto& l : resnet_cifar(9))
    rows += l.rows;
  EXPECT_EQ(rows, 17803);
  EXPECT_GT(rows, 64 * 256);
}

bool overlap(int a0, int a_len, int b0, int b_len) {
  return a0 < b0 + b_len && b0 < a0 + a_len;
}

void expect_valid_placement(const Mapping& m) {
  const auto& p = m.params;
  ASSERT_LE(m.cores_used(), p.cores);
  std::size_t listed = 0;
  for (int c = 0; c < m.cores_used(); ++c) {
    const auto& list = m.core_blocks[static_cast<std::size_t>(c)];
    EXPECT_FALSE(list.empty()) << "core " << c << " is counted as used but holds nothing";
    listed += list.size();
    for (std::size_t i = 0; i < list.size(); ++i) {
      const Block& a = m.blocks[static_cast<std::size_t>(list[i])];
      EXPECT_EQ(a.core, c);
      EXPECT_GE(a.core_row0, 0);
      EXPECT_GE(a.core_col0, 0);
      EXPECT_LE(a.core_row0 + a.rows, p.core_rows) << "core " << c << " block " << list[i];
      EXPECT_LE(a.core_col0 + a.cols, p.core_cols) << "core " << c << " block " << list[i];
      for (std::size_t j = i + 1; j < list.size(); ++j) {
        const Block& b = m.blocks[static_cast<std::size_t>(list[j])];
        // Rectangles may share rows or columns, never a cell: each block's MVM drives only its
        // rows and reads only its columns.
        EXPECT_FALSE(overlap(a.core_row0, a.rows, b.core_row0, b.rows) &&
                     overlap(a.core_col0, a.cols, b.core_col0, b.cols))
            << "core " << c << ": blocks " << list[i] << " and " << list[j] << " share cells";
      }
    }
  }
  EXPECT_EQ(listed, m.blocks.size()) << "every block must be listed on exactly one core";
}

TEST(Mapping, PackedBlocksNeverShareCells) {
  for (int n : {3, 5, 7, 9}) {
    SCOPED_TRACE("n = " + std::to_string(n));
    expect_valid_placement(
        map_layers("resnet", resnet_cifar(n), params_with(MappingStrategy::packed)));
  }
  // Other core shapes and odd layer shapes, so that shelves of different heights mix.
  MappingParams p = params_with(MappingStrategy::packed, 64);
  p.core_rows = 100;
  p.core_cols = 70;
  const std::vector<LayerShape> odd{{"a", 250, 30}, {"b", 37, 141}, {"c", 99, 69},
                                    {"d", 1, 1},    {"e", 201, 5},  {"f", 60, 71}};
  expect_valid_placement(map_layers("odd", odd, p));
  p.strategy = MappingStrategy::one_layer_per_core;
  expect_valid_placement(map_layers("odd", odd, p));
}

// Every layer's blocks cover each cell of its K × O matrix exactly once, and the block list is
// ordered by layer, then row block, then column block.
void expect_exact_tiling(const Mapping& m) {
  for (std::size_t l = 0; l < m.layers.size(); ++l) {
    const auto& shape = m.layers[l];
    std::vector<int> count(static_cast<std::size_t>(shape.rows) * shape.cols, 0);
    for (const auto& b : m.blocks) {
      if (b.layer != static_cast<int>(l)) continue;
      ASSERT_GE(b.row0, 0);
      ASSERT_GE(b.col0, 0);
      ASSERT_LE(b.row0 + b.rows, shape.rows) << shape.name;
      ASSERT_LE(b.col0 + b.cols, shape.cols) << shape.name;
      for (int r = b.row0; r < b.row0 + b.rows; ++r)
        for (int c = b.col0; c < b.col0 + b.cols; ++c)
          ++count[static_cast<std::size_t>(r) * shape.cols + c];
    }
    for (std::size_t i = 0; i < count.size(); ++i)
      ASSERT_EQ(count[i], 1) << shape.name << " cell (" << i / shape.cols << ", " << i % shape.cols
                             << ")";
  }
  for (std::size_t i = 1; i < m.blocks.size(); ++i) {
    const auto& a = m.blocks[i - 1];
    const auto& b = m.blocks[i];
    const bool ordered = a.layer < b.layer || (a.layer == b.layer && a.row0 < b.row0) ||
                         (a.layer == b.layer && a.row0 == b.row0 && a.col0 < b.col0);
    EXPECT_TRUE(ordered) << "blocks " << i - 1 << " and " << i << " out of order";
  }
}

TEST(Mapping, BlocksTileEveryLayerExactly) {
  for (auto strategy : {MappingStrategy::one_layer_per_core, MappingStrategy::packed}) {
    for (int n : {3, 5}) {
      SCOPED_TRACE(std::string(mapping_strategy_name(strategy)) + " n = " + std::to_string(n));
      expect_exact_tiling(map_layers("resnet", resnet_cifar(n), params_with(strategy)));
    }
  }
  const std::vector<LayerShape> wide{{"fc1", 1000, 600}, {"fc2", 513, 257}};
  for (auto strategy : {MappingStrategy::one_layer_per_core, MappingStrategy::packed}) {
    SCOPED_TRACE(mapping_strategy_name(strategy));
    expect_exact_tiling(map_layers("mlp", wide, params_with(strategy)));
  }
}

TEST(Mapping, BalancedSplit) {
  EXPECT_EQ(balanced_split(576, 256), (std::vector<int>{192, 192, 192}));
  EXPECT_EQ(balanced_split(288, 256), (std::vector<int>{144, 144}));
  EXPECT_EQ(balanced_split(256, 256), (std::vector<int>{256}));
  EXPECT_EQ(balanced_split(257, 256), (std::vector<int>{129, 128}));
  EXPECT_EQ(balanced_split(27, 256), (std::vector<int>{27}));
  EXPECT_EQ(balanced_split(1000, 256), (std::vector<int>{250, 250, 250, 250}));
  EXPECT_EQ(balanced_split(1001, 256), (std::vector<int>{251, 250, 250, 250}));
  EXPECT_EQ(balanced_split(1003, 256), (std::vector<int>{251, 251, 251, 250}));
}

std::vector<int> row_sizes_of(const Mapping& m, int layer) {
  std::vector<int> rows;
  for (const auto& b : m.blocks)
    if (b.layer == layer && b.col0 == 0) rows.push_back(b.rows);
  return rows;
}

TEST(Mapping, ResnetLayersSplitRowsEvenly) {
  const auto layers = resnet_cifar(3);
  const auto m = map_layers("resnet20", layers, params_with(MappingStrategy::one_layer_per_core));
  int checked576 = 0;
  int checked288 = 0;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const auto rows = row_sizes_of(m, static_cast<int>(l));
    if (layers[l].rows == 576) {
      EXPECT_EQ(rows, (std::vector<int>{192, 192, 192})) << layers[l].name;
      ++checked576;
    } else if (layers[l].rows == 288) {
      EXPECT_EQ(rows, (std::vector<int>{144, 144})) << layers[l].name;
      ++checked288;
    } else {
      EXPECT_EQ(rows, (std::vector<int>{layers[l].rows})) << layers[l].name;
    }
  }
  EXPECT_EQ(checked576, 5);  // stage 3 of resnet20: 2n-1 = 5 convs of 64·9 inputs
  EXPECT_EQ(checked288, 6);  // stage 2's 5, and stage 3's first conv
}

// mapping.split = channel cuts whole input channels, as aihwkit's convert_to_analog_mapped does
// (issue 16): 64 channels of 9 rows over 256-row cores are 22 + 21 + 21 channels.
TEST(Mapping, ChannelSplitKeepsWholeInputChannels) {
  auto layers = resnet_cifar(3);
  for (auto& l : layers)
    if (l.rows % 9 == 0 && l.rows > 27) l.rows_per_channel = 9;
  MappingParams p = params_with(MappingStrategy::one_layer_per_core);
  p.split = aimc::hardware::RowSplit::channel;
  const auto m = map_layers("resnet20", layers, p);
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const auto rows = row_sizes_of(m, static_cast<int>(l));
    if (layers[l].rows == 576)
      EXPECT_EQ(rows, (std::vector<int>{198, 189, 189})) << layers[l].name;
    else if (layers[l].rows == 288)
      EXPECT_EQ(rows, (std::vector<int>{144, 144})) << layers[l].name;
    else
      EXPECT_EQ(rows, (std::vector<int>{layers[l].rows})) << layers[l].name;
  }
  // A channel that is taller than a core cannot be kept whole.
  std::vector<LayerShape> tall = {{"conv", 2 * 300, 16, 300}};
  EXPECT_THROW(map_layers("tall", tall, p), aimc::Error);
}

TEST(Mapping, WideLayerSplitsColumns) {
  const auto m =
      map_layers("mlp", {{"fc", 300, 600}}, params_with(MappingStrategy::one_layer_per_core));
  // 2 row blocks of 150 × 3 column blocks of 200, row-major.
  ASSERT_EQ(m.blocks.size(), 6u);
  const int row0[] = {0, 0, 0, 150, 150, 150};
  const int col0[] = {0, 200, 400, 0, 200, 400};
  for (std::size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(m.blocks[i].rows, 150);
    EXPECT_EQ(m.blocks[i].cols, 200);
    EXPECT_EQ(m.blocks[i].row0, row0[i]) << "block " << i;
    EXPECT_EQ(m.blocks[i].col0, col0[i]) << "block " << i;
  }
  EXPECT_EQ(m.cores_used(), 6);
}

TEST(Mapping, ParamsValidation) {
  MappingParams p;
  EXPECT_NO_THROW(p.validate());
  p.cores = 0;
  EXPECT_EQ(error_of([&] { p.validate(); }),
            "mapping.cores = 0, expected an integer in [1, 1048576]");
  EXPECT_EQ(error_of([&] { map_layers("resnet20", resnet_cifar(3), p); }),
            "mapping.cores = 0, expected an integer in [1, 1048576]");
  p = MappingParams{};
  p.core_rows = -1;
  EXPECT_EQ(error_of([&] { p.validate(); }),
            "mapping.core_rows = -1, expected an integer in [1, 65536]");
  p = MappingParams{};
  p.core_cols = 0;
  EXPECT_EQ(error_of([&] { p.validate(); }),
            "mapping.core_cols = 0, expected an integer in [1, 65536]");
  p = MappingParams{};
  p.strategy = static_cast<MappingStrategy>(7);
  EXPECT_EQ(error_of([&] { p.validate(); }),
            "mapping.strategy = 7, expected one of: one_layer_per_core, packed");
}

TEST(Mapping, StrategyNames) {
  for (auto s : {MappingStrategy::one_layer_per_core, MappingStrategy::packed}) {
    MappingStrategy parsed = s == MappingStrategy::packed ? MappingStrategy::one_layer_per_core
                                                          : MappingStrategy::packed;
    ASSERT_TRUE(mapping_strategy_from_name(mapping_strategy_name(s), parsed));
    EXPECT_EQ(parsed, s);
  }
  EXPECT_STREQ(mapping_strategy_name(MappingStrategy::packed), "packed");
  EXPECT_STREQ(mapping_strategy_name(MappingStrategy::one_layer_per_core), "one_layer_per_core");
  MappingStrategy s = MappingStrategy::packed;
  EXPECT_FALSE(mapping_strategy_from_name("Packed", s));
  EXPECT_FALSE(mapping_strategy_from_name("", s));
  EXPECT_EQ(s, MappingStrategy::packed);
}

TEST(Mapping, TooSmallChipIsAnError) {
  const auto net = resnet_cifar(3);
  // 268336 weights need at least 5 cores of 65536 cells whatever the strategy.
  EXPECT_EQ(error_of([&] {
              map_layers("resnet20", net, params_with(MappingStrategy::one_layer_per_core, 1));
            }),
            "resnet20 needs 36 cores with one_layer_per_core, the chip has 1 "
            "(packed needs at least 5)" +
                std::string(k_largest));
  EXPECT_EQ(error_of([&] { map_layers("resnet20", net, params_with(MappingStrategy::packed, 1)); }),
            "resnet20 needs at least 5 cores with packed, the chip has 1" + std::string(k_largest));
  // Enough cells in total (5 cores' worth), but the packing needs 6 cores.
  EXPECT_EQ(error_of([&] { map_layers("resnet20", net, params_with(MappingStrategy::packed, 5)); }),
            "resnet20 needs 6 cores with packed, the chip has 5" + std::string(k_largest));
  EXPECT_EQ(error_of([&] {
              map_layers("resnet20", net, params_with(MappingStrategy::one_layer_per_core, 5));
            }),
            "resnet20 needs 36 cores with one_layer_per_core, the chip has 5 (packed needs 6)" +
                std::string(k_largest));
  // A layer larger than the whole chip is named on its own, whatever the strategy.
  auto huge = net;
  huge.push_back({"classifier", 4608, 4096, 1});
  for (auto strategy : {MappingStrategy::one_layer_per_core, MappingStrategy::packed})
    EXPECT_EQ(error_of([&] { map_layers("big", huge, params_with(strategy)); }),
              "big: layer 'classifier' is 4608 x 4096 weights (K x O) and alone needs at least "
              "288 cores of 256 x 256, the chip has 64");
  EXPECT_EQ(map_layers("resnet20", net, params_with(MappingStrategy::packed, 6)).cores_used(), 6);
}

TEST(Mapping, BadLayersAreErrors) {
  const auto p = params_with(MappingStrategy::one_layer_per_core);
  EXPECT_EQ(error_of([&] { map_layers("empty", {}, p); }),
            "empty: no conv or linear layers to map");
  EXPECT_EQ(error_of([&] {
              map_layers("net", {{"a", 27, 16}, {"b", 0, 16}}, p);
            }),
            "net: layer 1 (b) is 0 x 16, expected positive rows (K) and columns (O)");
  EXPECT_EQ(error_of([&] {
              map_layers("net", {{"a", 27, -3}}, p);
            }),
            "net: layer 0 (a) is 27 x -3, expected positive rows (K) and columns (O)");
}

TEST(Mapping, Utilisation) {
  const double cells = 256.0 * 256.0;
  const auto net = resnet_cifar(3);
  const auto weights = weights_of(net);
  EXPECT_EQ(weights, 268336);
  const auto one = map_layers("resnet20", net, params_with(MappingStrategy::one_layer_per_core));
  EXPECT_EQ(one.weights(), weights);
  EXPECT_DOUBLE_EQ(one.layer_utilisation(0), 27.0 * 16 / cells);
  const int last_conv = static_cast<int>(net.size()) - 2;  // layer3.2.conv2, 576 × 64
  EXPECT_DOUBLE_EQ(one.layer_utilisation(last_conv), 576.0 * 64 / (3 * cells));
  EXPECT_DOUBLE_EQ(one.chip_utilisation(), static_cast<double>(weights) / (36 * cells));

  const auto packed = map_layers("resnet20", net, params_with(MappingStrategy::packed));
  EXPECT_DOUBLE_EQ(packed.chip_utilisation(), static_cast<double>(weights) / (6 * cells));
  // The layers' charged cells add up to the used cores' capacity.
  double charged = 0;
  for (std::size_t l = 0; l < net.size(); ++l) {
    const double u = packed.layer_utilisation(static_cast<int>(l));
    EXPECT_GT(u, 0.0);
    EXPECT_LE(u, 1.0);
    charged += static_cast<double>(net[l].rows) * net[l].cols / u;
  }
  EXPECT_NEAR(charged, 6 * cells, 1e-6 * cells);
  // Core 0 holds four 192 × 64 blocks, linear 64 × 10 and the stem 27 × 16.
  const double core0_fill = (4 * 192.0 * 64 + 64 * 10 + 27 * 16) / cells;
  EXPECT_DOUBLE_EQ(packed.layer_utilisation(0), core0_fill);
  EXPECT_DOUBLE_EQ(packed.layer_utilisation(static_cast<int>(net.size()) - 1), core0_fill);
}

// The whitespace-separated words of the table row that starts with `name`.
std::vector<std::string> words_of_row(const std::string& table, const std::string& name) {
  std::istringstream lines(table);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::vector<std::string> out;
    for (std::string w; words >> w;)
      out.push_back(w);
    if (!out.empty() && out[0] == name) return out;
  }
  return {};
}

TEST(Mapping, TableListsEveryLayerAndTheChipTotal) {
  for (auto strategy : {MappingStrategy::one_layer_per_core, MappingStrategy::packed}) {
    const auto net = resnet_cifar(3);
    const auto m = map_layers("resnet20", net, params_with(strategy));
    const std::string table = m.table();
    SCOPED_TRACE(table);
    for (const auto& l : net) {
      const std::string row = "\n" + l.name + " ";
      EXPECT_NE(table.find(row), std::string::npos) << "no row for " << l.name;
    }
    EXPECT_NE(table.find("resnet20"), std::string::npos);
    EXPECT_NE(table.find(mapping_strategy_name(strategy)), std::string::npos);
    const std::string total = "chip total  36 blocks on " + std::to_string(m.cores_used()) +
                              " / 64 cores, 268336 weights, utilisation ";
    EXPECT_NE(table.find(total), std::string::npos);
  }
  const auto one =
      map_layers("resnet20", resnet_cifar(3), params_with(MappingStrategy::one_layer_per_core));
  // The last conv: 576 × 64 in 3 blocks of 192 rows on cores 32-34 (after the stem and 31 blocks
  // before it), 576·64 / (3·65536) = 18.75 %.
  EXPECT_EQ(words_of_row(one.table(), "layer3.2.conv2"),
            (std::vector<std::string>{"layer3.2.conv2", "576", "x", "64", "3", "3x192", "64",
                                      "32-34", "18.8", "%"}));
  EXPECT_EQ(words_of_row(one.table(), "conv1"),
            (std::vector<std::string>{"conv1", "27", "x", "16", "1", "27", "16", "0", "0.7", "%"}));
}

TEST(Mapping, JsonHasTheSummaryLayersAndPlacements) {
  const auto m = map_layers("resnet20", resnet_cifar(3), params_with(MappingStrategy::packed));
  const std::string json = m.json();
  ASSERT_FALSE(json.empty());
  EXPECT_EQ(json.front(), '{');
  EXPECT_EQ(json.back(), '}');
  for (const char* key : {"\"model\": \"resnet20\"", "\"strategy\": \"packed\"", "\"cores\": 64",
                          "\"cores_used\": 6", "\"blocks\": 36", "\"weights\": 268336",
                          "\"name\": \"layer3.2.conv2\"", "\"placements\": [{\"layer\": 0"})
    EXPECT_NE(json.find(key), std::string::npos) << key << " in " << json;
}

}  // namespace
