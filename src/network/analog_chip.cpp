#include "network/analog_chip.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

#include "hardware/drift_compensation.hpp"
#include "network/gemm.hpp"
#include "network/input_activity.hpp"
#include "network/layers.hpp"
#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/normal.hpp"

namespace aimc::network {

AnalogChip::AnalogChip(const Network& net, const hardware::ChipParams& params,
                       const std::string& model_name, std::uint64_t seed, std::uint64_t chip_index)
    : net_(&net),
      params_(params),
      seed_(seed),
      chip_(chip_index),
      unit_dac_(params.converters.dac_bits, 1.0F) {
  params_.validate();
  device_ = std::make_unique<physics::DeviceModel>(params_.device);
  mapping_ = hardware::map_layers(model_name, mapped_layers(net, params_), params_.mapping);

  layer_tiles_.resize(net.dense_layers().size());
  tiles_.reserve(mapping_.blocks.size());
  for (std::size_t b = 0; b < mapping_.blocks.size(); ++b) {
    const hardware::Block& blk = mapping_.blocks[b];
    const DenseLayer& d = net.dense_layers()[blk.layer];
    const StreamKey key{seed_, 0, chip_, static_cast<std::uint32_t>(b), Purpose::programming};
    tiles_.emplace_back(d.weight.data() + std::int64_t{blk.row0} * d.weight.cols() + blk.col0,
                        blk.rows, blk.cols, d.weight.cols(), params_, *device_, key);
    layer_tiles_[blk.layer].push_back(static_cast<int>(b));
  }
  dac_.assign(net.dense_layers().size(), hardware::Dac(params_.converters.dac_bits, 1.0F));
  correction_.resize(net.dense_layers().size());
  readout_amplitude_.assign(tiles_.size(), 1.0F);
  reference_readout_.resize(tiles_.size());
  // The compensation reference needs the converter ranges, so it is taken once they are known
  // (apply); until then the chip reads at t = 0 without compensation.
  occasion_ = read_occasion(0.0);
  for (std::size_t t = 0; t < tiles_.size(); ++t)
    tiles_[t].set_time(0.0, StreamKey{seed_, occasion_, chip_, static_cast<std::uint32_t>(t),
                                      Purpose::read_noise});
}

AnalogChip::~AnalogChip() = default;

std::uint64_t read_occasion(double t_inference_s) {
  const std::uint64_t h = fnv1a("t_inference = " + canonical_number(t_inference_s));
  return h == 0 || h == ~std::uint64_t{0} ? h ^ 1U : h;
}

std::vector<hardware::LayerShape> mapped_layers(const Network& net,
                                                const hardware::ChipParams& params) {
  std::vector<hardware::LayerShape> shapes;
  for (const DenseLayer& d : net.dense_layers())
    // A conv's weight rows are (channel, ky, kx), channel-major (layers.cpp, im2col_packed).
    shapes.push_back({d.name, static_cast<int>(d.weight.rows()), static_cast<int>(d.weight.cols()),
                      std::max(1, d.geometry.kernel * d.geometry.kernel)});
  // The global digital unit can run the final linear layer exactly instead of a core.
  if (params.last_layer == hardware::LastLayer::digital && !shapes.empty()) shapes.pop_back();
  return shapes;
}

namespace {

constexpr std::uint64_t k_reference_occasion = ~std::uint64_t{0};

StreamKey tile_key(std::uint64_t seed, std::uint64_t occasion, std::uint64_t chip, std::size_t tile,
                   Purpose purpose) {
  return StreamKey{seed, occasion, chip, static_cast<std::uint32_t>(tile), purpose};
}

}  // namespace

void AnalogChip::take_reference_readouts() {
  for (std::size_t t = 0; t < tiles_.size(); ++t) {
    if (params_.compensation_readout == hardware::CompensationReadout::aihwkit)
      tiles_[t].set_programmed();
    else
      tiles_[t].set_time(0.0, tile_key(seed_, k_reference_occasion, chip_, t, Purpose::read_noise));
    reference_readout_[t] = hardware::compensation_readout(
        tiles_[t], params_, readout_amplitude_[t],
        tile_key(seed_, k_reference_occasion, chip_, t, Purpose::compensation_noise));
  }
}

void AnalogChip::set_time(double t_inference_s) {
  if (params_.drift_compensation != hardware::DriftCompensation::none && !calibrated_)
    throw Error(std::string("drift.compensation = ") + name_of(params_.drift_compensation) +
                " needs the chip's converter ranges: calibrate() or apply() a calibration before "
                "set_time()");
  read_at(t_inference_s);
  if (hardware::recalibrates(params_.drift_compensation)) recalibrate();
}

void AnalogChip::read_at(double t_inference_s) {
  const bool compensate = hardware::reads_reference(params_.drift_compensation);
  correction_.assign(net_->dense_layers().size(), ColumnCorrection{});
  recalibrated_ = !hardware::recalibrates(params_.drift_compensation);
  t_inference_s_ = t_inference_s;
  occasion_ = read_occasion(t_inference_s);
  for (std::size_t t = 0; t < tiles_.size(); ++t) {
    tiles_[t].set_time(t_inference_s, tile_key(seed_, occasion_, chip_, t, Purpose::read_noise));
    if (!compensate) {
      tiles_[t].set_compensation(std::vector<float>(tiles_[t].cols(), 1.0F));
      continue;
    }
    const std::vector<double> now = hardware::compensation_readout(
        tiles_[t], params_, readout_amplitude_[t],
        tile_key(seed_, occasion_, chip_, t, Purpose::compensation_noise));
    tiles_[t].set_compensation(hardware::drift_compensation_factors(params_.drift_compensation,
                                                                    reference_readout_[t], now));
  }
}

void AnalogChip::quantize_inputs(const StripRows& x, int row0, int rows, const hardware::Dac& dac,
                                 float* packed, float* row_scale) {
  // Gather first (two contiguous 8-row halves per k), then quantise the whole packed block in
  // one flat loop that the compiler vectorises.
  for (std::int64_t s = 0; s < x.strips(); ++s) {
    const float* lo = x.half[2 * s];
    const float* hi = x.half[2 * s + 1];
    float* dst = packed + s * rows * k_strip_rows;
    for (int kk = 0; kk < rows; ++kk, dst += k_strip_rows) {
      const std::int64_t off = x.k_offset[row0 + kk];
      // Fixed-size memcpy: compiled to one vector move each, never a library call.
      std::memcpy(dst, lo + off, sizeof(float) * k_half_rows);
      std::memcpy(dst + k_half_rows, hi + off, sizeof(float) * k_half_rows);
    }
    if (row_scale == nullptr) continue;
    // Each lane is one row: its max |x| over the strip's k, then x / max.
    float* strip = packed + s * rows * k_strip_rows;
    float* scale = row_scale + s * k_strip_rows;
    std::fill_n(scale, k_strip_rows, 0.0F);
    for (int kk = 0; kk < rows; ++kk)
      for (int lane = 0; lane < k_strip_rows; ++lane)
        scale[lane] = std::max(scale[lane], std::abs(strip[kk * k_strip_rows + lane]));
    for (int lane = 0; lane < k_strip_rows; ++lane)
      if (scale[lane] == 0.0F) scale[lane] = 1.0F;
    for (int kk = 0; kk < rows; ++kk)
      for (int lane = 0; lane < k_strip_rows; ++lane)
        strip[kk * k_strip_rows + lane] /= scale[lane];
  }
  dac.apply(packed, x.strips() * rows * k_strip_rows);
}

void AnalogChip::prepare_input(const DenseLayer& layer, float* x, std::int64_t count,
                               const InputLayout& layout) const {
  if (layer_tiles_[layer.index].empty()) return;  // on the global digital unit: exact
  if (params_.converters.input_scaling == hardware::InputScaling::per_vector) {
    // Each tile scales its own input vectors (matmul); the energy model still counts the levels
    // that the calibrated DAC would drive.
    if (activity_ == nullptr) return;
    thread_local std::vector<float> levels;
    levels.assign(x, x + count);
    dac_[layer.index].apply(levels.data(), count);
    count_levels(layer, levels.data(), layout);
    return;
  }
  // The DAC, once per layer input, so every crossbar row block (and every im2col tap that
  // repeats an input) reads the same quantised value.
  dac_[layer.index].apply(x, count);
  if (activity_ != nullptr) count_levels(layer, x, layout);
}

namespace {

// The DAC level count of one quantised input: |q| · levels, an integer-valued float (q is a
// multiple of 1/levels up to float rounding, hence the rounding). Float, so that loops summing
// it vectorise; the sums stay exact below 2^24.
inline float level_of(float q, float levels) {
  return std::nearbyint(std::min(std::abs(q), 1.0F) * levels);
}

}  // namespace

void AnalogChip::count_levels(const DenseLayer& layer, const float* x,
                              const InputLayout& layout) const {
  const float levels = activity_->levels();
  if (layout.kind == InputLayout::Kind::padded_planes) {
    // Each crossbar row is one tap (c, ky, kx) and drives, for every output pixel (i, j), the
    // input at (i + ky, j + kx) of plane c. Summed over taps and pixels, an input at (i, j) is
    // therefore driven m_row(i) · m_col(j) times, where m_row(i) counts the ky with
    // ky <= i < ky + out_h (and m_col likewise): the count is one weighted pass over the input.
    // The pass accumulates m_row-weighted columns (element-wise over j, so it vectorises) as
    // integer-valued floats below 2^24 (levels · kernel · height): exact, so the count does not
    // depend on the order of the additions.
    const std::int64_t h = layout.height;
    const std::int64_t w = layout.width;
    thread_local std::vector<float> m_row;
    thread_local std::vector<std::int64_t> m_col;
    thread_local std::vector<float> columns;
    m_row.assign(static_cast<std::size_t>(h), 0.0F);
    m_col.assign(static_cast<std::size_t>(w), 0);
    for (int k = 0; k < layout.kernel; ++k) {
      for (std::int64_t i = k; i < k + layout.out_h; ++i)
        m_row[static_cast<std::size_t>(i)] += 1.0F;
      for (std::int64_t j = k; j < k + layout.out_w; ++j)
        ++m_col[static_cast<std::size_t>(j)];
    }
    std::vector<std::int64_t> per_image(static_cast<std::size_t>(layout.images), 0);
    for (int c = 0; c < layout.channels; ++c) {
      for (int img = 0; img < layout.images; ++img) {
        const float* plane = x + (std::int64_t{c} * layout.images + img) * h * w;
        columns.assign(static_cast<std::size_t>(w), 0.0F);
        float* col = columns.data();
        for (std::int64_t i = 0; i < h; ++i) {
          const float weight = m_row[static_cast<std::size_t>(i)];
          if (weight == 0.0F) continue;
          const float* row = plane + i * w;
          for (std::int64_t j = 0; j < w; ++j)
            col[j] += weight * level_of(row[j], levels);
        }
        std::int64_t sum = 0;
        for (std::int64_t j = 0; j < w; ++j)
          sum += m_col[static_cast<std::size_t>(j)] * static_cast<std::int64_t>(col[j]);
        per_image[static_cast<std::size_t>(img)] += sum;
      }
    }
    for (int img = 0; img < layout.images; ++img)
      activity_->add(layer.index, layout.first_image + img,
                     per_image[static_cast<std::size_t>(img)]);
    return;
  }
  // Packed rows: every element is one crossbar row driven for one output pixel.
  const std::int64_t per_image = layout.rows / layout.images;
  const std::int64_t strips = (layout.rows + k_strip_rows - 1) / k_strip_rows;
  std::int64_t image = -1;
  std::int64_t sum = 0;
  for (std::int64_t s = 0; s < strips; ++s) {
    const float* p = x + s * layout.k * k_strip_rows;
    // Integer-valued float sums, exact below 2^24 (levels · K is far below), so the count does
    // not depend on the summation order.
    float acc[k_strip_rows] = {};
    for (int kk = 0; kk < layout.k; ++kk, p += k_strip_rows)
      for (int lane = 0; lane < k_strip_rows; ++lane)
        acc[lane] += level_of(p[lane], levels);
    for (int lane = 0; lane < k_strip_rows; ++lane) {
      const std::int64_t r = s * k_strip_rows + lane;
      if (r >= layout.rows) break;
      const std::int64_t i = layout.first_image + r / per_image;
      if (i != image) {
        if (image >= 0) activity_->add(layer.index, image, sum);
        image = i;
        sum = 0;
      }
      sum += static_cast<std::int64_t>(acc[lane]);
    }
  }
  if (image >= 0) activity_->add(layer.index, image, sum);
}

namespace {

// Per-thread buffers of AnalogChip::matmul: it runs concurrently on TBB threads, each call on
// one thread from start to end, and reusing the buffers keeps allocation and zero-filling out of
// every MVM.
struct MatmulScratch {
  std::vector<float> x;      // per_vector: the tile's scaled, quantised inputs
  std::vector<float> scale;  // per_vector: each row's max |x|
  std::vector<std::int64_t> offsets;
  std::vector<float> z;
  std::vector<float> v;
  std::vector<float> noise;
};

template <typename T>
T* sized(std::vector<T>& v, std::int64_t n) {
  if (static_cast<std::int64_t>(v.size()) < n) v.resize(static_cast<std::size_t>(n));
  return v.data();
}

}  // namespace

void AnalogChip::draw_mvm_noise(int tile, int cols, const MatmulContext& ctx, std::int64_t rows,
                                float* noise) const {
  thread_local std::vector<float> by_row;
  const StreamKey base{seed_, occasion_, chip_, static_cast<std::uint32_t>(tile),
                       Purpose::output_noise};
  // Rows are image-major: one contiguous range of stream numbers per image in this call.
  for (std::int64_t r = 0; r < rows;) {
    const std::int64_t row = ctx.row0 + r;
    const std::int64_t image = ctx.first_image + row / ctx.rows_per_image;
    const std::int64_t pixel = row % ctx.rows_per_image;
    const std::int64_t run = std::min(rows - r, ctx.rows_per_image - pixel);
    StreamKey key = base;
    key.lane = static_cast<std::uint64_t>(image);
    const auto n = static_cast<std::size_t>(run * cols);
    by_row.resize(n);
    fill_standard_normal_at(key, static_cast<std::uint64_t>(pixel * cols), by_row.data(), n);
    for (std::int64_t i = 0; i < run; ++i)
      for (int j = 0; j < cols; ++j)
        noise[std::int64_t{j} * rows + r + i] = by_row[static_cast<std::size_t>(i * cols + j)];
    r += run;
  }
}

void AnalogChip::matmul(const DenseLayer& layer, const StripRows& x, float* y, std::int64_t ld_y,
                        const MatmulContext& ctx) const {
  const std::int64_t rows_x = x.rows;
  const int out = static_cast<int>(layer.weight.cols());
  if (layer_tiles_[layer.index].empty()) {  // a layer on the global digital unit: exact
    gemm_strips(x, layer.weight.data(), out, y, ld_y);
    return;
  }
  if (!recalibrated_)
    throw Error("internal: a recalibrating chip read before set_time() recalibrated it");
  for (int j = 0; j < out; ++j)
    std::fill_n(y + j * ld_y, rows_x, 0.0F);
  const float x_range = dac_[layer.index].range();
  const bool per_mvm = params_.read_noise_mode == hardware::ReadNoiseMode::per_mvm;

  const bool per_vector = params_.converters.input_scaling == hardware::InputScaling::per_vector;

  // Calibrated scaling: x already holds DAC levels (prepare_input), and each tile reads its row
  // block of x in place. per_vector: each tile packs its row block, scaled per row.
  thread_local MatmulScratch s;
  for (int t : layer_tiles_[layer.index]) {
    const hardware::Block& blk = mapping_.blocks[t];
    const hardware::AnalogTile& tile = tiles_[t];
    StripRows packed;
    const float* row_scale = nullptr;
    if (per_vector) {
      float* scale = sized(s.scale, x.strips() * k_strip_rows);
      quantize_inputs(x, blk.row0, blk.rows, unit_dac_, sized(s.x, packed_size(rows_x, blk.rows)),
                      scale);
      packed = packed_strips(s.x.data(), rows_x, blk.rows, s.offsets);
      row_scale = scale;
    }
    const StripRows& xt = per_vector ? packed : x;
    const int k0 = per_vector ? 0 : blk.row0;
    float* z = sized(s.z, rows_x * blk.cols);
    gemm_strips_rows(xt, k0, blk.rows, tile.weight_n().data(), blk.cols, z, rows_x);
    float* v = nullptr;
    if (per_mvm) {
      v = sized(s.v, rows_x * blk.cols);
      gemm_strips_rows_squared(xt, k0, blk.rows, tile.variance_n().data(), blk.cols, v, rows_x);
    }
    const hardware::Adc& adc = tile.adc();
    const auto out_var =
        static_cast<float>(std::pow(params_.output_noise_fraction * adc.range(), 2));
    const bool noisy = per_mvm || out_var > 0;
    float* noise = nullptr;
    if (noisy) {
      noise = sized(s.noise, rows_x * blk.cols);
      draw_mvm_noise(t, blk.cols, ctx, rows_x, noise);
    }
    for (int j = 0; j < blk.cols; ++j) {
      const float gain =
          (per_vector ? 1.0F : x_range) * tile.column_scale()[j] * tile.compensation()[j];
      const hardware::Adc::Column adc_j = adc.column(j);
      float* yj = y + (blk.col0 + j) * ld_y;
      float* zj = z + std::int64_t{j} * rows_x;
      if (noisy) {
        const float* nj = noise + std::int64_t{j} * rows_x;
        const float* vj = v != nullptr ? v + std::int64_t{j} * rows_x : nullptr;
        for (std::int64_t r = 0; r < rows_x; ++r)
          zj[r] += std::sqrt((vj != nullptr ? vj[r] : 0.0F) + out_var) * nj[r];
      }
      if (row_scale != nullptr)
        for (std::int64_t r = 0; r < rows_x; ++r)
          yj[r] += adc_j.apply(zj[r]) * gain * row_scale[r];
      else
        for (std::int64_t r = 0; r < rows_x; ++r)
          yj[r] += adc_j.apply(zj[r]) * gain;
    }
  }
  // Recalibration: the local digital unit's per-column gain and offset, on the layer's sum over
  // its tiles.
  const ColumnCorrection& c = correction_[layer.index];
  if (c.gain.empty()) return;
  for (int j = 0; j < out; ++j) {
    float* yj = y + j * ld_y;
    const float g = c.gain[j];
    const float o = c.offset[j];
    for (std::int64_t r = 0; r < rows_x; ++r)
      yj[r] = yj[r] * g + o;
  }
}

// Calibration runs the network with the target (noise-free) weights and records |x| per layer
// (pass 1), then |z| per tile with the DAC applied (pass 2).
struct AnalogChip::Calibrator final : MatmulBackend {
  enum class Pass { inputs, outputs };
  AnalogChip* chip;
  Pass pass;
  mutable std::vector<hardware::RangeSampler> samples;
  // Pass 2: each tile's target weights, normalised as the tile stores them (w / column scale).
  std::vector<std::vector<float>> target_n;
  explicit Calibrator(AnalogChip* c, Pass p, std::size_t n) : chip(c), pass(p), samples(n) {}

  void matmul(const DenseLayer& layer, const StripRows& x, float* y, std::int64_t ld_y,
              const MatmulContext& /*ctx*/) const override {
    gemm_strips(x, layer.weight.data(), static_cast<int>(layer.weight.cols()), y, ld_y);
    if (pass == Pass::inputs) {
      auto& s = samples[layer.index];
      for (std::int64_t r = 0; r < x.rows; ++r)
        for (int k = 0; k < x.k; ++k)
          s.add(x.at(r, k));
      return;
    }
    std::vector<float> xn;
    std::vector<float> scale;
    std::vector<float> z;
    std::vector<std::int64_t> offsets;
    const bool per_vector =
        chip->params_.converters.input_scaling == hardware::InputScaling::per_vector;
    for (int t : chip->layer_tiles_[layer.index]) {
      const hardware::Block& blk = chip->mapping_.blocks[t];
      xn.resize(packed_size(x.rows, blk.rows));
      scale.resize(static_cast<std::size_t>(x.strips() * k_strip_rows));
      // The ADC sees the normalised outputs, before the per-vector scale is multiplied back.
      quantize_inputs(x, blk.row0, blk.rows, per_vector ? chip->unit_dac_ : chip->dac_[layer.index],
                      xn.data(), per_vector ? scale.data() : nullptr);
      z.resize(static_cast<std::size_t>(x.rows) * blk.cols);
      gemm_strips(packed_strips(xn.data(), x.rows, blk.rows, offsets), target_n[t].data(), blk.cols,
                  z.data(), x.rows);
      for (float v : z)
        samples[t].add(v);
    }
  }
};

AnalogChip::Calibration AnalogChip::calibrate(const ImageSet& images) {
  // Exactly calibration.images of them, whatever the caller loaded (aimc run loads the most any
  // sweep point asks for): the calibration must be a function of its key alone.
  const int n = std::min(images.size(), params_.calibration_images);
  std::vector<float> logits(static_cast<std::size_t>(n) * net_->num_classes());
  Calibrator inputs(this, Calibrator::Pass::inputs, net_->dense_layers().size());
  net_->forward(images.image(0), n, logits.data(), inputs);
  Calibration c;
  c.key = calibration_key();
  for (hardware::RangeSampler& s : inputs.samples)
    c.x_range.push_back(s.range(params_.converters.dac_percentile));
  set_input_ranges(c.x_range);  // pass 2 quantises with these
  Calibrator outputs(this, Calibrator::Pass::outputs, tiles_.size());
  for (std::size_t t = 0; t < tiles_.size(); ++t) {
    const hardware::Block& blk = mapping_.blocks[t];
    const DenseLayer& layer = net_->dense_layers()[blk.layer];
    std::vector<float> w(static_cast<std::size_t>(blk.rows) * blk.cols);
    for (int i = 0; i < blk.rows; ++i)
      for (int j = 0; j < blk.cols; ++j)
        w[i * blk.cols + j] =
            layer.weight(blk.row0 + i, blk.col0 + j) / tiles_[t].column_scale()[j];
    outputs.target_n.push_back(std::move(w));
  }
  net_->forward(images.image(0), n, logits.data(), outputs);
  for (std::size_t t = 0; t < tiles_.size(); ++t) {
    const hardware::Block& blk = mapping_.blocks[t];
    // A fixed bound in weight units is B / s in the tile's normalised outputs (one scale s per
    // tile: ChipParams::validate).
    c.z_bound.push_back(
        params_.converters.adc_bound > 0
            ? static_cast<float>(params_.converters.adc_bound / tiles_[t].column_scale().front())
            : outputs.samples[t].range(params_.converters.adc_percentile,
                                       params_.converters.adc_range_margin));
    c.readout_amplitude.push_back(hardware::readout_amplitude(
        outputs.target_n[t], blk.rows, blk.cols, c.z_bound.back(), params_.converters.dac_bits));
  }
  apply(c);
  return c;
}

void AnalogChip::set_input_ranges(const std::vector<float>& x_range) {
  for (std::size_t l = 0; l < dac_.size(); ++l)
    dac_[l] = hardware::Dac(params_.converters.dac_bits, x_range[l]);
}

std::string AnalogChip::calibration_key() const {
  return hardware::chip_text(params_, phase_calibrate);
}

void AnalogChip::apply(const Calibration& calibration) {
  if (calibration.key != calibration_key()) {
    // Name the first key line that differs: the one line a user needs.
    std::istringstream mine(calibration_key());
    std::istringstream theirs(calibration.key);
    std::string a;
    std::string b;
    std::string section;
    while (std::getline(mine, a) && std::getline(theirs, b) && a == b)
      if (!a.empty() && a.front() == '[') section = a.substr(1, a.size() - 2);
    throw Error("a calibration computed with " + section + "." + b + " applied to a chip with " +
                section + "." + a +
                ", expected equal calibration keys (phase calibrate in 'aimc keys')");
  }
  if (calibration.x_range.size() != dac_.size() || calibration.z_bound.size() != tiles_.size() ||
      calibration.readout_amplitude.size() != tiles_.size())
    throw Error("calibration of " + std::to_string(calibration.x_range.size()) + " layers and " +
                std::to_string(calibration.z_bound.size()) + " tiles applied to a chip of " +
                std::to_string(dac_.size()) + " layers and " + std::to_string(tiles_.size()) +
                " tiles");
  set_input_ranges(calibration.x_range);
  for (std::size_t t = 0; t < tiles_.size(); ++t)
    tiles_[t].set_adc_range(calibration.z_bound[t]);
  readout_amplitude_ = calibration.readout_amplitude;
  // The reference depends on the converter ranges; the chip's random draws for it are fixed by
  // its stream keys, so re-taking it after another apply() gives the same values.
  calibrated_ = true;
  if (hardware::reads_reference(params_.drift_compensation)) take_reference_readouts();
  // The affine target depends on the ADC ranges.
  affine_reference_.reset();
  // Recalibrating here would be wasted: set_time does it for the read that counts.
  read_at(t_inference_s_);
}

}  // namespace aimc::network
