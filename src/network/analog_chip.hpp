#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "hardware/chip_params.hpp"
#include "hardware/converters.hpp"
#include "hardware/mapping.hpp"
#include "hardware/tile.hpp"
#include "network/dataset.hpp"
#include "network/network.hpp"
#include "network/recalibration.hpp"

namespace aimc::network {

class InputActivity;

// One sampled instance of the chip running a network: the network's dense layers mapped onto
// cores (hardware/mapping), each block programmed as an AnalogTile with its ADCs, one DAC per
// layer (hardware/converters), read and output noise, and drift compensation per tile
// (hardware/drift_compensation). The chip keeps what needs the network: the mapping of layers to
// tiles, calibration through the network, activity counting and the MVM driver. Everything else
// (BatchNorm as the local digital unit's affine, ReLU, residual adds, pooling) stays digital and
// exact, in the Network's other steps.
//
// A chip is a pure function of (params, network, seed, chip index): every random draw comes from
// a stream keyed by (seed, occasion, chip index, tile, purpose, lane), where the occasion is 0 for
// programming and read_occasion(t) for a read at t (docs/experiments.md, "Random streams").
class AnalogChip final : public MatmulBackend {
 public:
  AnalogChip(const Network& net, const hardware::ChipParams& params, const std::string& model_name,
             std::uint64_t seed, std::uint64_t chip_index);
  ~AnalogChip() override;

  const hardware::Mapping& mapping() const { return mapping_; }
  // The tile of mapping block b (for inspection and tests).
  const hardware::AnalogTile& tile(std::size_t b) const { return tiles_.at(b); }
  // The DAC input range of dense layer l (from calibration).
  float x_range(std::size_t l) const { return dac_.at(l).range(); }

  // The converter ranges: per dense layer the DAC's input range, per tile the ADC's output range.
  // They depend on the network, the images and the chip keys of phase_calibrate (the schema,
  // hardware::chip_keys), never on the chip's random draws, so one calibration serves every chip
  // instance whose calibration keys are equal. `key` is the canonical text of those keys.
  struct Calibration {
    std::string key;
    std::vector<float> x_range;
    std::vector<float> z_bound;
    // Per tile, the chip compensation readout's input amplitude (hardware::readout_amplitude).
    std::vector<float> readout_amplitude;
  };

  // Computes the ranges from the first calibration.images of these images (all of them if fewer;
  // run through the network with the target weights, on the calling thread), applies them, and
  // returns them for reuse with apply().
  Calibration calibrate(const ImageSet& images);
  // Applies a calibration computed by a chip with the same network and calibration keys; throws
  // aimc::Error naming the first key that differs otherwise.
  void apply(const Calibration& calibration);
  // The calibration keys of this chip (hardware::chip_text(params, phase_calibrate)).
  std::string calibration_key() const;

  // Drifts the chip to t_inference_s and draws this read's noise from streams keyed by
  // read_occasion(t_inference_s). Computes drift compensation from noisy readouts through the
  // converters (never from the ideal weights; hardware/drift_compensation.hpp), or recalibrates
  // on the recalibration images (adabs, affine; network/recalibration.hpp), so with
  // compensation on the chip must be calibrated first (calibrate or apply), and recalibration
  // needs set_recalibration_images; throws aimc::Error otherwise.
  void set_time(double t_inference_s);

  // The training images that drift.compensation = adabs or affine drives through the chip at
  // each set_time (at least drift.recalibration_images of them; they must outlive the chip),
  // and the cache of the float network's statistics on them (the adabs target, the same for
  // every chip of one network and image set): the caller's, shared by its chips, or one of the
  // chip's own.
  void set_recalibration_images(const ImageSet& images,
                                std::shared_ptr<IdealStatsCache> ideal = nullptr);
  // Dense layer l's recalibration (gain and offset per column; empty: none at this read).
  const ColumnCorrection& recalibration(std::size_t l) const { return correction_.at(l); }

  // Applies the DAC to the layer's input in place, once per layer evaluation.
  void prepare_input(const DenseLayer& layer, float* x, std::int64_t count,
                     const InputLayout& layout) const override;
  void matmul(const DenseLayer& layer, const StripRows& x, float* y, std::int64_t ld_y,
              const MatmulContext& ctx) const override;

  // From now on, count each image's DAC input levels per layer into `counter` (nullptr: stop).
  // For the energy model; the counting pass reads the quantised inputs while they are in cache.
  void set_input_activity(const InputActivity* counter) { activity_ = counter; }

 private:
  struct Calibrator;
  // One DAC per dense layer, with these input ranges.
  void set_input_ranges(const std::vector<float>& x_range);
  // Takes every tile's compensation reference: the readout right after programming, with its own
  // noise draw (occasion ~0), as the chip would take it; or, with drift.readout = aihwkit, of the
  // programmed weights without read noise, as aihwkit does.
  void take_reference_readouts();
  // set_time without recalibration: drift, this read's noise, drift compensation; clears the
  // recalibration (it belongs to one read).
  void read_at(double t_inference_s);
  // Measures and corrects every analog layer on the recalibration images (recalibration.cpp).
  void recalibrate();
  // The affine target: this chip's output statistics right after programming (t = 0, the
  // reference occasion's noise), without correction; computed once per image count.
  const LayerStats& affine_reference(int images);
  // Packs rows [row0, row0 + rows) of x into strips, through the DAC: x_n = q(x / x_range). With
  // row_scale (converters.input_scaling = per_vector), each row (one input vector of the tile)
  // is first divided by its own max |x|, which goes to row_scale[r] (1 for an all-zero row), and
  // `dac` is the unit-range DAC. Used by the MVMs of per_vector scaling and by calibration.
  static void quantize_inputs(const StripRows& x, int row0, int rows, const hardware::Dac& dac,
                              float* packed, float* row_scale = nullptr);
  // Adds each image's DAC levels |q| over every crossbar row it drives (each input counted once
  // per tap that reads it) to activity_; x is the quantised layer input of prepare_input.
  void count_levels(const DenseLayer& layer, const float* x, const InputLayout& layout) const;
  // One standard normal per (row, column) of a tile's MVM output, column-major in
  // noise[j * rows + r]. The normal of (image, pixel, column j) is number pixel · cols + j of the
  // stream (seed, occasion, chip, tile, output_noise, lane = image), whatever the call's chunk.
  void draw_mvm_noise(int tile, int cols, const MatmulContext& ctx, std::int64_t rows,
                      float* noise) const;

  const Network* net_;
  hardware::ChipParams params_;
  std::uint64_t seed_;
  std::uint64_t chip_;
  std::uint64_t occasion_ = 0;
  std::unique_ptr<physics::DeviceModel> device_;
  hardware::Mapping mapping_;
  std::vector<hardware::AnalogTile> tiles_;    // one per mapping block, same order
  std::vector<std::vector<int>> layer_tiles_;  // per dense layer: its tiles
  std::vector<hardware::Dac> dac_;             // per dense layer
  hardware::Dac unit_dac_;                     // range 1: per_vector input scaling
  // Per tile: the chip readout's amplitude (from calibration), and the drift-compensation
  // readout taken right after programming.
  std::vector<float> readout_amplitude_;
  std::vector<std::vector<double>> reference_readout_;
  bool calibrated_ = false;
  // Recalibration: the images, the adabs target (given or computed), the affine target, and per
  // dense layer the correction of the current read.
  const ImageSet* recalibration_images_ = nullptr;
  std::shared_ptr<IdealStatsCache> ideal_stats_;
  std::unique_ptr<LayerStats> affine_reference_;
  int affine_reference_images_ = 0;
  std::vector<ColumnCorrection> correction_;
  // False between a read that needs recalibration and its recalibration: matmul refuses to run.
  bool recalibrated_ = true;
  double t_inference_s_ = 0.0;
  const InputActivity* activity_ = nullptr;
};

// The occasion of a read at t seconds after programming: a hash of t's canonical text, so a sweep
// point's read noise depends on its own read time only, not on its position in a sweep, and
// points that differ only in other read-time settings (compensation, noise scales) share their
// underlying normals (common random numbers). Never 0 (programming) or ~0 (the reference read).
std::uint64_t read_occasion(double t_inference_s);

// The dense layers of `net` that the chip maps onto cores, in order: all of them, or all but the
// last with mapping.last_layer = digital. The one list that the chip, aimc map, aimc perf and
// aimc run use.
std::vector<hardware::LayerShape> mapped_layers(const Network& net,
                                                const hardware::ChipParams& params);

}  // namespace aimc::network
