#pragma once

#include <span>
#include <vector>

#include "hardware/chip_params.hpp"

namespace aimc::hardware {

// One tile's two drift-compensation readouts (AnalogTile::column_readout: per column, the
// readout of a fixed all-ones input on both polarities, read noise included): one taken right
// after programming, and one at the inference time.
struct TileReadouts {
  const std::vector<double>* reference;
  const std::vector<double>* now;
};

// The drift-compensation factors α of a group of tiles compensated together (the chip groups the
// tiles of one layer), per tile and column, applied digitally as y_j = z_j · … · α_j. α = ref /
// now, the readout at programming time over the readout at t (aihwkit GlobalDriftCompensation;
// Joshi et al. 2020), from noisy readouts, never from the ideal weights:
//  - none: α = 1;
//  - global: one α for the whole group, its readouts summed over all tiles and columns;
//  - per_column: one α per column, from that column's readouts.
// Where the readout at t is not positive (nothing left to compensate), α = 1.
std::vector<std::vector<float>> drift_compensation_factors(DriftCompensation mode,
                                                           std::span<const TileReadouts> group);

}  // namespace aimc::hardware
