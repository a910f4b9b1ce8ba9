#include "hardware/mapping.hpp"

#include <algorithm>
#include <cstdio>
#include <numeric>
#include <sstream>

#include "util/error.hpp"
#include "util/json.hpp"
#include "util/ranges.hpp"

namespace aimc::hardware {

namespace {

struct StrategyName {
  MappingStrategy strategy;
  const char* name;
};

constexpr StrategyName k_strategies[] = {
    {MappingStrategy::one_layer_per_core, "one_layer_per_core"},
    {MappingStrategy::packed, "packed"},
};

// The row blocks of one layer under params.split.
std::vector<int> row_blocks(const LayerShape& layer, const MappingParams& params) {
  if (params.split == RowSplit::balanced || layer.rows_per_channel <= 1)
    return balanced_split(layer.rows, params.core_rows);
  const int per_core = params.core_rows / layer.rows_per_channel;
  if (per_core < 1 || layer.rows % layer.rows_per_channel != 0)
    throw Error("layer '" + layer.name + "': " + std::to_string(layer.rows_per_channel) +
                " rows per input channel do not fit mapping.core_rows = " +
                std::to_string(params.core_rows) + " with mapping.split = channel, expected " +
                "mapping.split = balanced");
  std::vector<int> blocks = balanced_split(layer.rows / layer.rows_per_channel, per_core);
  for (int& b : blocks)
    b *= layer.rows_per_channel;
  return blocks;
}

std::int64_t ceil_div(std::int64_t a, std::int64_t b) {
  return (a + b - 1) / b;
}

// The layers that take the most cores with one block per core, largest first, so that a "does
// not fit" message says which layers to shrink (or to run digitally) instead of a bare total.
std::string largest_layers(const std::vector<LayerShape>& layers, const MappingParams& params) {
  std::vector<std::pair<std::int64_t, std::size_t>> blocks;
  for (std::size_t i = 0; i < layers.size(); ++i)
    blocks.emplace_back(
        ceil_div(layers[i].rows, params.core_rows) * ceil_div(layers[i].cols, params.core_cols), i);
  std::stable_sort(blocks.begin(), blocks.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  std::string text = "; largest layers (K x O: cores)";
  for (std::size_t j = 0; j < std::min<std::size_t>(3, blocks.size()); ++j) {
    const LayerShape& l = layers[blocks[j].second];
    text += (j == 0 ? " " : ", ") + l.name + " (" + std::to_string(l.rows) + " x " +
            std::to_string(l.cols) + ": " + std::to_string(blocks[j].first) + ")";
  }
  return text;
}

// One level of a core in the packing: a band of rows [row0, row0 + rows) filled left to right.
struct Shelf {
  int row0 = 0;
  int rows = 0;
  int used_cols = 0;
};

struct CoreFill {
  int used_rows = 0;
  std::vector<Shelf> shelves;
};

// Places `block` on the first core (lowest index) where it fits, opening a new core when none
// does. Finite first fit (Berkey & Wang, J. Oper. Res. Soc. 38:423, 1987): blocks arrive in
// order of decreasing rows; each core is cut into shelves (bands of rows) whose height is that
// of the shelf's first, tallest block; a block goes on the first shelf that is tall enough and
// has columns left, else on a new shelf in the first core with rows left. Blocks on one shelf
// share rows but not columns, blocks on different shelves share no rows, so no cell is shared.
void place_first_fit(Block& block, int core_rows, int core_cols, std::vector<CoreFill>& cores) {
  for (std::size_t c = 0; c < cores.size(); ++c) {
    for (auto& shelf : cores[c].shelves) {
      if (block.rows <= shelf.rows && block.cols <= core_cols - shelf.used_cols) {
        block.core = static_cast<int>(c);
        block.core_row0 = shelf.row0;
        block.core_col0 = shelf.used_cols;
        shelf.used_cols += block.cols;
        return;
      }
    }
    if (block.rows <= core_rows - cores[c].used_rows) {
      cores[c].shelves.push_back({cores[c].used_rows, block.rows, block.cols});
      block.core = static_cast<int>(c);
      block.core_row0 = cores[c].used_rows;
      block.core_col0 = 0;
      cores[c].used_rows += block.rows;
      return;
    }
  }
  cores.push_back({block.rows, {{0, block.rows, block.cols}}});
  block.core = static_cast<int>(cores.size()) - 1;
  block.core_row0 = 0;
  block.core_col0 = 0;
}

// Assigns block.core/core_row0/core_col0 for every block with the packed strategy; returns the
// number of cores used. No limit on cores: the caller compares the count with the chip's.
int pack(std::vector<Block>& blocks, int core_rows, int core_cols) {
  std::vector<int> order(blocks.size());
  std::iota(order.begin(), order.end(), 0);
  // Tallest first (the shelf heights), then widest, then block order: deterministic, and the
  // usual decreasing order that keeps first fit close to optimal.
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    if (blocks[a].rows != blocks[b].rows) return blocks[a].rows > blocks[b].rows;
    return blocks[a].cols > blocks[b].cols;
  });
  std::vector<CoreFill> cores;
  for (int i : order)
    place_first_fit(blocks[i], core_rows, core_cols, cores);
  return static_cast<int>(cores.size());
}

// "3x192" for equal parts, "193+2x192" otherwise, "27" for a single one.
std::string split_text(const std::vector<int>& sizes) {
  std::string out;
  std::size_t i = 0;
  while (i < sizes.size()) {
    std::size_t j = i;
    while (j < sizes.size() && sizes[j] == sizes[i])
      ++j;
    if (!out.empty()) out += "+";
    if (j - i > 1) out += std::to_string(j - i) + "x";
    out += std::to_string(sizes[i]);
    i = j;
  }
  return out;
}

// Sorted core indices as ranges: "0-2,5".
std::string cores_text(std::vector<int> cores) {
  std::sort(cores.begin(), cores.end());
  cores.erase(std::unique(cores.begin(), cores.end()), cores.end());
  return range_list(cores, ",");
}

std::string percent(double fraction) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %%", 100.0 * fraction);
  return buf;
}

std::string json_quote(const std::string& s) {
  return JsonObject::quote(s);
}

std::string json_number(double x) {
  std::ostringstream os;
  os.precision(10);
  os << x;
  return os.str();
}

struct LayerSummary {
  std::vector<int> row_sizes;  // of the layer's row blocks, in order
  std::vector<int> col_sizes;  // of its column blocks, in order
  std::vector<int> cores;      // of its blocks, in block order
  int blocks = 0;
};

std::vector<LayerSummary> summarise(const Mapping& m) {
  std::vector<LayerSummary> out(m.layers.size());
  for (const auto& b : m.blocks) {
    auto& s = out[static_cast<std::size_t>(b.layer)];
    if (b.col0 == 0) s.row_sizes.push_back(b.rows);
    if (b.row0 == 0) s.col_sizes.push_back(b.cols);
    s.cores.push_back(b.core);
    ++s.blocks;
  }
  return out;
}

}  // namespace

bool mapping_strategy_from_name(const std::string& name, MappingStrategy& strategy) {
  for (const auto& s : k_strategies) {
    if (name == s.name) {
      strategy = s.strategy;
      return true;
    }
  }
  return false;
}

const char* mapping_strategy_name(MappingStrategy strategy) {
  for (const auto& s : k_strategies) {
    if (s.strategy == strategy) return s.name;
  }
  return "unknown";
}

const char* row_split_name(RowSplit split) {
  return split == RowSplit::channel ? "channel" : "balanced";
}

const KeyTable<MappingParams>& mapping_keys() {
  using P = MappingParams;
  static const KeyTable<P> keys = {
      enum_key<P>("mapping.strategy", AIMC_MEMBER(strategy),
                  {MappingStrategy::one_layer_per_core, MappingStrategy::packed},
                  mapping_strategy_name, phase_program | phase_calibrate | phase_perf,
                  "how blocks are assigned to cores (docs/chip.md)"),
      enum_key<P>("mapping.split", AIMC_MEMBER(split), {RowSplit::balanced, RowSplit::channel},
                  row_split_name, phase_program | phase_calibrate | phase_perf,
                  "row blocks: balanced, or whole input channels as aihwkit's mapped layers"),
      int_key<P>("mapping.cores", AIMC_MEMBER(cores), 1, 1 << 20, "",
                 phase_program | phase_calibrate | phase_perf,
                 "cores on the chip (Le Gallo 2023: 64)"),
      int_key<P>("mapping.core_rows", AIMC_MEMBER(core_rows), 1, 1 << 16, "",
                 phase_program | phase_calibrate | phase_perf, "crossbar rows (inputs) per core"),
      int_key<P>("mapping.core_cols", AIMC_MEMBER(core_cols), 1, 1 << 16, "",
                 phase_program | phase_calibrate | phase_perf,
                 "crossbar columns (outputs) per core"),
  };
  return keys;
}

void MappingParams::validate() const {
  check_ranges(mapping_keys(), *this);
}

std::vector<int> balanced_split(int total, int max_size) {
  if (total < 1 || max_size < 1)
    throw Error("internal: balanced_split(" + std::to_string(total) + ", " +
                std::to_string(max_size) + ") needs positive arguments");
  const int n = static_cast<int>(ceil_div(total, max_size));
  std::vector<int> sizes(static_cast<std::size_t>(n), total / n);
  for (int i = 0; i < total % n; ++i)
    ++sizes[static_cast<std::size_t>(i)];
  return sizes;
}

std::int64_t Mapping::weights() const {
  std::int64_t n = 0;
  for (const auto& l : layers)
    n += std::int64_t{l.rows} * l.cols;
  return n;
}

double Mapping::layer_utilisation(int layer) const {
  const double capacity = static_cast<double>(params.core_rows) * params.core_cols;
  std::vector<std::int64_t> core_cells(core_blocks.size(), 0);
  for (const auto& b : blocks)
    core_cells[static_cast<std::size_t>(b.core)] += b.cells();
  double cells = 0.0;
  double share = 0.0;
  for (const auto& b : blocks) {
    if (b.layer != layer) continue;
    cells += static_cast<double>(b.cells());
    share += capacity * static_cast<double>(b.cells()) /
             static_cast<double>(core_cells[static_cast<std::size_t>(b.core)]);
  }
  return share > 0.0 ? cells / share : 0.0;
}

double Mapping::chip_utilisation() const {
  const double capacity =
      static_cast<double>(cores_used()) * static_cast<double>(params.core_rows) * params.core_cols;
  return capacity > 0.0 ? static_cast<double>(weights()) / capacity : 0.0;
}

std::string Mapping::table() const {
  const auto summary = summarise(*this);
  struct Row {
    std::string name, shape, blocks, rows, cols, cores, util;
  };
  std::vector<Row> rows;
  rows.push_back({"layer", "K x O", "blocks", "block rows", "block cols", "cores", "utilisation"});
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const auto& l = layers[i];
    const auto& s = summary[i];
    rows.push_back({l.name, std::to_string(l.rows) + " x " + std::to_string(l.cols),
                    std::to_string(s.blocks), split_text(s.row_sizes), split_text(s.col_sizes),
                    cores_text(s.cores), percent(layer_utilisation(static_cast<int>(i)))});
  }
  std::vector<std::size_t> width(7, 0);
  for (const auto& r : rows) {
    const std::string* f[] = {&r.name, &r.shape, &r.blocks, &r.rows, &r.cols, &r.cores, &r.util};
    for (std::size_t k = 0; k < 7; ++k)
      width[k] = std::max(width[k], f[k]->size());
  }
  std::ostringstream os;
  os << "mapping  " << model << " on " << params.cores << " cores of " << params.core_rows << " x "
     << params.core_cols << ", " << mapping_strategy_name(params.strategy) << "\n";
  for (const auto& r : rows) {
    const std::string* f[] = {&r.name, &r.shape, &r.blocks, &r.rows, &r.cols, &r.cores, &r.util};
    std::string line;
    for (std::size_t k = 0; k < 7; ++k) {
      // Text columns left-aligned, numbers right-aligned.
      const bool left = k == 0 || k == 5;
      const std::string pad(width[k] - f[k]->size(), ' ');
      line += left ? *f[k] + pad : pad + *f[k];
      if (k + 1 < 7) line += "  ";
    }
    while (!line.empty() && line.back() == ' ')
      line.pop_back();
    os << line << "\n";
  }
  os << "chip total  " << blocks.size() << " blocks on " << cores_used() << " / " << params.cores
     << " cores, " << weights() << " weights, utilisation " << percent(chip_utilisation())
     << " (weights / (cores used x " << params.core_rows << " x " << params.core_cols
     << " cells))\n";
  return os.str();
}

std::string Mapping::json() const {
  const auto summary = summarise(*this);
  std::ostringstream os;
  os << "{\"model\": " << json_quote(model)
     << ", \"strategy\": " << json_quote(mapping_strategy_name(params.strategy))
     << ", \"cores\": " << params.cores << ", \"core_rows\": " << params.core_rows
     << ", \"core_cols\": " << params.core_cols << ", \"cores_used\": " << cores_used()
     << ", \"blocks\": " << blocks.size() << ", \"weights\": " << weights()
     << ", \"utilisation\": " << json_number(chip_utilisation()) << ", \"layers\": [";
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const auto& l = layers[i];
    auto cores = summary[i].cores;
    std::sort(cores.begin(), cores.end());
    cores.erase(std::unique(cores.begin(), cores.end()), cores.end());
    os << (i ? ", " : "") << "{\"name\": " << json_quote(l.name) << ", \"rows\": " << l.rows
       << ", \"cols\": " << l.cols << ", \"blocks\": " << summary[i].blocks << ", \"cores\": [";
    for (std::size_t c = 0; c < cores.size(); ++c)
      os << (c ? ", " : "") << cores[c];
    os << "], \"utilisation\": " << json_number(layer_utilisation(static_cast<int>(i))) << "}";
  }
  os << "], \"placements\": [";
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const auto& b = blocks[i];
    os << (i ? ", " : "") << "{\"layer\": " << b.layer << ", \"row0\": " << b.row0
       << ", \"rows\": " << b.rows << ", \"col0\": " << b.col0 << ", \"cols\": " << b.cols
       << ", \"core\": " << b.core << ", \"core_row0\": " << b.core_row0
       << ", \"core_col0\": " << b.core_col0 << "}";
  }
  os << "]}";
  return os.str();
}

Mapping map_layers(const std::string& model_name, const std::vector<LayerShape>& layers,
                   const MappingParams& params) {
  params.validate();
  if (layers.empty()) throw Error(model_name + ": no conv or linear layers to map");
  const std::int64_t capacity = std::int64_t{params.core_rows} * params.core_cols;
  std::int64_t n_blocks = 0;
  std::int64_t cells = 0;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const auto& l = layers[i];
    if (l.rows < 1 || l.cols < 1)
      throw Error(model_name + ": layer " + std::to_string(i) + " (" + l.name + ") is " +
                  std::to_string(l.rows) + " x " + std::to_string(l.cols) +
                  ", expected positive rows (K) and columns (O)");
    n_blocks += ceil_div(l.rows, params.core_rows) * ceil_div(l.cols, params.core_cols);
    cells += std::int64_t{l.rows} * l.cols;
  }
  const std::string chip = ", the chip has " + std::to_string(params.cores);
  const char* strategy = mapping_strategy_name(params.strategy);
  // A layer that alone needs more cores than the chip has cannot fit under any strategy: name it.
  for (const auto& l : layers) {
    const std::int64_t alone = ceil_div(std::int64_t{l.rows} * l.cols, capacity);
    if (alone > params.cores)
      throw Error(model_name + ": layer '" + l.name + "' is " + std::to_string(l.rows) + " x " +
                  std::to_string(l.cols) + " weights (K x O) and alone needs at least " +
                  std::to_string(alone) + " cores of " + std::to_string(params.core_rows) + " x " +
                  std::to_string(params.core_cols) + chip);
  }
  const std::string largest = largest_layers(layers, params);
  // No strategy fits more weights than cells, so this bound is checked first. After it, blocks
  // number at most four per core plus one per layer (a balanced part of a split dimension is at
  // least half the core's), so an absurd layer cannot make us build millions of them.
  const std::int64_t min_cores = ceil_div(cells, capacity);
  if (min_cores > params.cores) {
    if (params.strategy == MappingStrategy::packed)
      throw Error(model_name + " needs at least " + std::to_string(min_cores) + " cores with " +
                  strategy + chip + largest);
    throw Error(model_name + " needs " + std::to_string(n_blocks) + " cores with " + strategy +
                chip + " (packed needs at least " + std::to_string(min_cores) + ")" + largest);
  }

  Mapping m;
  m.model = model_name;
  m.params = params;
  m.layers = layers;
  // Balanced splits: K = 576 becomes 192+192+192, not 256+256+64. Each row block's partial sum
  // is digitised on its own, with output noise (read noise, ADC quantisation) that does not
  // shrink with the number of rows while the signal does, so a 64-row remnant would have the
  // worst signal-to-noise of the layer. Equal blocks give every partial sum the same range and
  // signal-to-noise, drive fewer rows at once on the fullest block (less IR drop), and use the
  // same number of blocks as the greedy split. Columns are split the same way.
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const auto row_sizes = row_blocks(layers[i], params);
    const auto col_sizes = balanced_split(layers[i].cols, params.core_cols);
    int row0 = 0;
    for (int rows : row_sizes) {
      int col0 = 0;
      for (int cols : col_sizes) {
        Block b;
        b.layer = static_cast<int>(i);
        b.row0 = row0;
        b.rows = rows;
        b.col0 = col0;
        b.cols = cols;
        m.blocks.push_back(b);
        col0 += cols;
      }
      row0 += rows;
    }
  }

  int needed = 0;
  if (params.strategy == MappingStrategy::one_layer_per_core) {
    if (n_blocks > params.cores) {
      // Say whether packing would help, so the hint never sends the user to a dead end.
      auto packed = m.blocks;
      const int packed_cores = pack(packed, params.core_rows, params.core_cols);
      const std::string hint = packed_cores <= params.cores
                                   ? "(try mapping.strategy = packed)"
                                   : "(packed needs " + std::to_string(packed_cores) + ")";
      throw Error(model_name + " needs " + std::to_string(n_blocks) + " cores with " + strategy +
                  chip + " " + hint + largest);
    }
    for (std::size_t i = 0; i < m.blocks.size(); ++i)
      m.blocks[i].core = static_cast<int>(i);
    needed = static_cast<int>(m.blocks.size());
  } else {
    needed = pack(m.blocks, params.core_rows, params.core_cols);
    if (needed > params.cores)
      throw Error(model_name + " needs " + std::to_string(needed) + " cores with " + strategy +
                  chip + largest);
  }
  m.core_blocks.assign(static_cast<std::size_t>(needed), {});
  for (std::size_t i = 0; i < m.blocks.size(); ++i)
    m.core_blocks[static_cast<std::size_t>(m.blocks[i].core)].push_back(static_cast<int>(i));
  // By position on the core: top shelf first, then left to right.
  for (auto& list : m.core_blocks) {
    std::stable_sort(list.begin(), list.end(), [&](int a, int b) {
      const auto& x = m.blocks[static_cast<std::size_t>(a)];
      const auto& y = m.blocks[static_cast<std::size_t>(b)];
      if (x.core_row0 != y.core_row0) return x.core_row0 < y.core_row0;
      return x.core_col0 < y.core_col0;
    });
  }
  return m;
}

}  // namespace aimc::hardware
