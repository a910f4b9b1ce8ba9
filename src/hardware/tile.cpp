#include "hardware/tile.hpp"

#include <algorithm>
#include <cmath>

namespace aimc::hardware {

namespace {

StreamKey with_purpose(StreamKey key, Purpose purpose) {
  key.purpose = purpose;
  return key;
}

}  // namespace

AnalogTile::AnalogTile(const float* w, int rows, int cols, std::int64_t ld_w,
                       const ChipParams& params, const physics::DeviceModel& device,
                       const StreamKey& programming_key)
    : rows_(rows),
      cols_(cols),
      params_(&params),
      device_(&device),
      // The ADC mismatch of this tile's columns, from its own stream: fixed for the chip's life.
      adc_(params.converters, cols, with_purpose(programming_key, Purpose::adc_mismatch)) {
  // The weight scale: max |w| of a column (or of the whole block) maps to g_max.
  scale_.assign(cols, 0.0F);
  for (int i = 0; i < rows; ++i)
    for (int j = 0; j < cols; ++j)
      scale_[j] = std::max(scale_[j], std::abs(w[i * ld_w + j]));
  if (params.programming.weight_scaling == WeightScaling::per_tile) {
    const float m = *std::max_element(scale_.begin(), scale_.end());
    std::fill(scale_.begin(), scale_.end(), m);
  }
  for (float& s : scale_)
    if (s == 0.0F) s = 1.0F;  // an all-zero column: any scale programs zeros

  const double g_max = device.params().g_max_uS;
  const std::size_t n = static_cast<std::size_t>(rows) * cols;
  g_prog_pos_.resize(n);
  g_prog_neg_.resize(n);
  nu_pos_.resize(n);
  nu_neg_.resize(n);
  // One polarity at a time through one target buffer, kept per thread: a chip programs many
  // tiles, and fresh buffers of this size cost page faults on every tile.
  thread_local std::vector<float> target;
  target.resize(n);
  RandomStream rng(programming_key);
  StreamKey verify_key = programming_key;
  verify_key.purpose = Purpose::program_verify;
  RandomStream verify(verify_key);
  // Per column, g_max per weight unit: the target of w is |w|·g_max/s on its polarity, 0 on the
  // other.
  std::vector<float> to_uS(cols);
  for (int j = 0; j < cols; ++j)
    to_uS[j] = static_cast<float>(g_max / scale_[j]);
  for (const bool positive : {true, false}) {
    const float sign = positive ? 1.0F : -1.0F;
    for (int i = 0; i < rows; ++i) {
      const float* wi = w + i * ld_w;
      float* ti = target.data() + static_cast<std::size_t>(i) * cols;
      for (int j = 0; j < cols; ++j)
        ti[j] = std::max(sign * wi[j], 0.0F) * to_uS[j];
    }
    std::vector<float>& g = positive ? g_prog_pos_ : g_prog_neg_;
    device.program(target, g, positive ? nu_pos_ : nu_neg_, rng);
    if (params.programming.method == ProgrammingMethod::iterative)
      verify_iterations_ += program_and_verify(target, g, verify);
  }
  if (device.params().pair_model == physics::PairModel::aihwkit) resplit_one_sided();
  if (params.faults.stuck_fraction > 0) {
    StreamKey key = programming_key;
    key.purpose = Purpose::faults;
    RandomStream faults(key);
    stick(g_prog_pos_, nu_pos_, faults);
    stick(g_prog_neg_, nu_neg_, faults);
  }
  alpha_.assign(cols, 1.0F);
}

std::int64_t AnalogTile::program_and_verify(const std::vector<float>& target, std::vector<float>& g,
                                            RandomStream& rng) const {
  // The verify read resolves conductance with the ADC: a tolerance of m counts of a
  // (2^(b−1) − 1)-level converter spanning g_max is m·g_max / (2^(b−1) − 1).
  const int bits = params_->converters.adc_bits > 0 ? params_->converters.adc_bits : 8;
  const double g_max = device_->params().g_max_uS;
  const double tol = params_->programming.tolerance_counts * g_max / converter_levels(bits);
  std::int64_t iterations = 0;
  for (std::size_t k = 0; k < g.size(); ++k) {
    // Each further iteration re-programs the device: a fresh programming error around the
    // target, until the read-back is within tolerance or the iterations run out.
    const double sd = device_->prog_noise_std_uS(target[k]);
    for (int it = 1; it < params_->programming.max_iterations && std::abs(g[k] - target[k]) > tol;
         ++it, ++iterations)
      g[k] = static_cast<float>(std::max(target[k] + sd * rng.normal(), 0.0));
  }
  return iterations;
}

void AnalogTile::resplit_one_sided() {
  for (std::size_t k = 0; k < g_prog_pos_.size(); ++k) {
    const float net = g_prog_pos_[k] - g_prog_neg_[k];
    g_prog_pos_[k] = std::max(net, 0.0F);
    g_prog_neg_[k] = std::max(-net, 0.0F);
  }
}

void AnalogTile::set_programmed() {
  const auto inv = static_cast<float>(1.0 / device_->params().g_max_uS);
  w_n_.resize(g_prog_pos_.size());
  for (std::size_t k = 0; k < w_n_.size(); ++k)
    w_n_[k] = (g_prog_pos_[k] - g_prog_neg_[k]) * inv;
  var_n_.clear();
}

void AnalogTile::stick(std::vector<float>& g, std::vector<float>& nu, RandomStream& rng) const {
  const double g_max = device_->params().g_max_uS;
  for (std::size_t k = 0; k < g.size(); ++k) {
    const double u = rng.uniform();
    const double side = rng.uniform();  // drawn for every device, so streams stay aligned
    if (u < params_->faults.stuck_fraction) {
      // A stuck device holds its state: it neither follows programming nor drifts.
      g[k] = side < params_->faults.stuck_at_gmax_share ? static_cast<float>(g_max) : 0.0F;
      nu[k] = 0.0F;
    }
  }
}

void AnalogTile::set_time(double t_inference_s, const StreamKey& read_key) {
  const std::size_t n = g_prog_pos_.size();
  std::vector<float> pos(n);
  std::vector<float> neg(n);
  device_->drift(g_prog_pos_, nu_pos_, t_inference_s, pos);
  device_->drift(g_prog_neg_, nu_neg_, t_inference_s, neg);
  const double inv_g_max = 1.0 / device_->params().g_max_uS;
  w_n_.resize(n);
  var_n_.clear();
  if (params_->read_noise_mode == ReadNoiseMode::per_evaluation) {
    RandomStream rng(read_key);
    std::vector<float> pos_read(n);
    std::vector<float> neg_read(n);
    device_->read(pos, g_prog_pos_, t_inference_s, pos_read, rng);
    device_->read(neg, g_prog_neg_, t_inference_s, neg_read, rng);
    const auto inv = static_cast<float>(inv_g_max);
    for (std::size_t k = 0; k < n; ++k)
      w_n_[k] = (pos_read[k] - neg_read[k]) * inv;
    return;
  }
  // per_mvm: read noise of a device is |g_drift|·σ_n(g_prog, t)·N(0, 1) (physics/device_model),
  // so each weight carries variance (σ+² + σ−²) / g_max², added in output space per MVM.
  std::vector<float> sd_pos(n);
  std::vector<float> sd_neg(n);
  device_->read_noise_std(pos, g_prog_pos_, t_inference_s, sd_pos);
  device_->read_noise_std(neg, g_prog_neg_, t_inference_s, sd_neg);
  var_n_.resize(n);
  const auto inv = static_cast<float>(inv_g_max);
  for (std::size_t k = 0; k < n; ++k) {
    w_n_[k] = (pos[k] - neg[k]) * inv;
    const float sp = sd_pos[k] * inv;
    const float sn = sd_neg[k] * inv;
    var_n_[k] = sp * sp + sn * sn;
  }
}

}  // namespace aimc::hardware
