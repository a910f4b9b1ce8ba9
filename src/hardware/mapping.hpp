#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "util/key_schema.hpp"

namespace aimc::hardware {

// How blocks are assigned to cores.
// - one_layer_per_core: every block gets a core of its own, cores in layer order. Each core then
//   holds weights of one layer only, and all blocks of a layer run in parallel.
// - packed: blocks share cores on non-overlapping rectangles of cells. A block's MVM drives only
//   its own rows (every other row gets zero input, so its devices carry no current) and reads
//   only its own columns, so blocks sharing a core do not interfere when their MVMs run one after
//   another.
enum class MappingStrategy { one_layer_per_core, packed };

// Returns false if `name` is not a strategy; the names are those mapping_strategy_name returns.
bool mapping_strategy_from_name(const std::string& name, MappingStrategy& strategy);
const char* mapping_strategy_name(MappingStrategy strategy);

// How a layer's K input rows are cut into row blocks when they exceed a core's rows:
// - balanced: into the fewest blocks, of equal size (±1 row);
// - channel: into the fewest blocks of whole input channels (a conv's k·k rows per channel),
//   equal in channels (±1), as aihwkit's convert_to_analog_mapped cuts convolutions
//   (AnalogConv2dMapped; on the CIFAR ResNets 288 rows → 144 + 144, 576 → 198 + 189 + 189).
enum class RowSplit { balanced, channel };
const char* row_split_name(RowSplit split);

struct MappingParams {
  MappingStrategy strategy = MappingStrategy::one_layer_per_core;
  RowSplit split = RowSplit::balanced;
  int cores = 64;       // Le Gallo et al. 2023: 64 cores on the chip
  int core_rows = 256;  // each a 256 × 256 crossbar of unit cells, one weight per cell
  int core_cols = 256;

  void validate() const;
};

// The [mapping] keys of the mapping itself, declared once (util/key_schema.hpp); the chip adds
// mapping.last_layer.
const KeyTable<MappingParams>& mapping_keys();

// A conv or linear layer as the crossbar sees it: `rows` = K = C_in·k·k inputs, `cols` = O
// outputs.
struct LayerShape {
  std::string name;
  int rows = 0;
  int cols = 0;
  int rows_per_channel = 1;  // a conv's k·k rows of one input channel, which are contiguous
};

// One rectangle of a layer's K × O matrix, placed on one core. Partial sums of a layer's row
// blocks are added digitally; its column blocks produce disjoint outputs.
struct Block {
  int layer = 0;  // index into Mapping::layers
  int row0 = 0;   // the block's slice of the layer's K rows
  int rows = 0;
  int col0 = 0;  // and of its O columns
  int cols = 0;
  int core = 0;  // placement: core index, and the block's top-left cell on that core
  int core_row0 = 0;
  int core_col0 = 0;

  std::int64_t cells() const { return std::int64_t{rows} * cols; }
};

struct Mapping {
  std::string model;
  MappingParams params;
  std::vector<LayerShape> layers;
  // Ordered by layer, then row block, then column block.
  std::vector<Block> blocks;
  // Per used core (cores 0 … cores_used()-1), the indices into `blocks` it holds, by position
  // on the core: top to bottom, then left to right.
  std::vector<std::vector<int>> core_blocks;

  int cores_used() const { return static_cast<int>(core_blocks.size()); }
  // All weights of all layers, Σ K·O.
  std::int64_t weights() const;
  // A layer's utilisation is its weights over the cells it is charged for. Each used core's
  // capacity (core_rows·core_cols) is shared among the blocks on it in proportion to their
  // cells, and a layer is charged its blocks' shares. Under one_layer_per_core that is
  // K·O / (n_blocks·core_rows·core_cols); under packed it is the cell-weighted mean fill of the
  // cores its blocks sit on. The shares of all layers add up to the used cores, so the chip
  // utilisation, all weights / (cores_used·core_rows·core_cols), is the layers' weighted mean.
  double layer_utilisation(int layer) const;
  double chip_utilisation() const;

  // For `aimc map`: one row per layer (name, K × O, blocks, block rows and columns, cores,
  // utilisation) and a chip total line.
  std::string table() const;
  // The same as one JSON object: the summary, a "layers" array and a "blocks" array.
  std::string json() const;
};

// Splits every layer into blocks of at most core_rows × core_cols and places them with
// params.strategy. Throws aimc::Error when a layer shape is invalid or the blocks do not fit, the
// latter with the counts, e.g. "resnet44 needs 84 cores with one_layer_per_core, the chip has 64
// (try mapping.strategy = packed)".
Mapping map_layers(const std::string& model_name, const std::vector<LayerShape>& layers,
                   const MappingParams& params);

// Sizes of n = ceil(total / max_size) near-equal parts that add up to `total`, the larger ones
// first (576, 256 → 192, 192, 192). Used for both row and column splits.
std::vector<int> balanced_split(int total, int max_size);

}  // namespace aimc::hardware
