#pragma once

#include <cstdint>
#include <vector>

#include "hardware/chip_params.hpp"
#include "hardware/tile.hpp"
#include "util/rng.hpp"

namespace aimc::hardware {

// Drift compensation (docs/chip.md, "Drift compensation"). A tile is read with a fixed input
// pattern right after programming (the reference) and again at the inference time t; the local
// digital unit then scales the tile's outputs by α = reference / readout at t (Joshi et al.,
// Nature Communications 11:2473, 2020, "global drift compensation"; aihwkit
// inference/compensation/drift.py). Both readouts go through the same converters and noise as a
// network's MVMs, never through the ideal weights: compensation can only correct what the chip
// can measure.
//
// The readouts (drift.readout):
//  - chip: `vectors` input vectors x_k, each row driven at ±a with a fixed pseudo-random sign
//    (the same pattern on every chip and tile: it is part of the design, not of a chip instance).
//    For a column j, z_kj = a Σ_i s_ki W_ij has E|z_kj| ∝ a·‖W_j‖₂ (random-sign probes measure a
//    column's norm), so the readout Σ_k |y_kj| follows the column's drift weighted by its signal
//    power. The amplitude a keeps 3 σ of z within the calibrated ADC range B for the tile's
//    largest column norm (readout_amplitude), so the ADC resolves the readout without clipping
//    it: one-hot inputs would put single weights of ~B/10 through an 8-bit ADC, and its rounding
//    hides most of the drift (the reference file notes that aihwkit's readout under default IO
//    under-corrects: α 1.21 against 1.47 at 1 day).
//  - aihwkit: one-hot inputs (each row alone at x_n = 1), readout Σ_i |y_ij|, i.e. mean |y| up to
//    the count, as aihwkit's GlobalDriftCompensation and PerColumnDriftCompensation.
// Each MVM of the readout carries the tile's read noise (per_mvm: fresh per MVM; per_evaluation:
// the weights' draw of this read) and output noise, from the stream
// (seed, occasion, chip, tile, compensation_noise), and goes through the columns' ADCs.

// The sign pattern of the chip readout: `vectors` × `rows` values ±1, row-major, from the stream
// (0, 0, 0, 0, compensation_pattern).
std::vector<float> readout_pattern(int vectors, int rows);

// The chip readout's input amplitude x_n for a tile with target weights `w_n` (rows × cols,
// row-major, normalised as the tile stores them) and ADC range `adc_bound`: min(1, B / (3·max_j
// ‖W_j‖₂)), through the `dac_bits` DAC (at least one level).
float readout_amplitude(const std::vector<float>& w_n, int rows, int cols, float adc_bound,
                        int dac_bits);

// One readout of `tile` in its current state (AnalogTile::set_time or set_programmed): per
// column, Σ over the readout's input vectors of |ADC output|. `amplitude` is the chip readout's
// (ignored by the aihwkit readout), `noise_key` keys its noise (purpose compensation_noise).
std::vector<double> compensation_readout(const AnalogTile& tile, const ChipParams& params,
                                         float amplitude, const StreamKey& noise_key);

// The factors α of one tile's columns from its two readouts: 1 (none); one α for the tile, the
// ratio of the readouts summed over its columns (global); or one per column (per_column); 1 for
// the recalibrating modes (adabs, affine: network/recalibration.hpp). Where a
// readout at t is not positive (nothing left to compensate), α = 1.
std::vector<float> drift_compensation_factors(DriftCompensation mode,
                                              const std::vector<double>& reference,
                                              const std::vector<double>& now);

}  // namespace aimc::hardware
