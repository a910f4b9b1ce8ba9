#include "physics/device_model.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <sstream>

#include "util/error.hpp"
#include "util/normal.hpp"

namespace aimc::physics {

namespace {
// Devices per block of normals drawn at once (util/normal.hpp is fastest on long runs).
constexpr std::size_t k_normal_block = 512;
}  // namespace

namespace detail {

// f(r) = clamp(a·ln r + b, lo, hi) for r < knee, else p0 + p1·r + p2·r² + p3·r³, with r = g/g_max.
// Every ν and Q_s fit of aihwkit has this shape; a single-branch fit has knee = +∞.
struct LogKnee {
  double knee;
  double a;
  double b;
  double lo;
  double hi;
  std::array<double, 4> poly;
};

struct Fit {
  double g_max_uS;  // published g_max, also the reference the σ_prog polynomial was fitted at
  double t0_s;
  double t_read_s;
  std::array<double, 4> prog;  // σ_prog(x) = Σ prog[i]·xⁱ µS, x = g_T/g_max (at g_max = g_max_uS)
  LogKnee nu_mean;
  LogKnee nu_std;
  LogKnee q_s;         // hermes only
  bool q_s_power_law;  // pcm: Q_s = min(0.0088 / max(r^0.65, 1e-3), 0.2)
};

namespace {

constexpr double k_inf = std::numeric_limits<double>::infinity();

// aihwkit HermesNoiseModel (src/aihwkit/inference/noise/hermes.py), fitted on the HERMES chip's
// PCM (Le Gallo et al., Nature Electronics 6, 680 (2023); Khaddam-Aljameh et al., JSSC 2022) with
// the methodology of Nandakumar et al., ICECS 2019. num_devices = 1: g_max 10.35 µS, t_0 200 s;
// num_devices = 2 (multi-device unit cell, Vasilopoulos et al., TED 2023): g_max 20.7 µS,
// t_0 300 s; t_read 512 ns for both. prog_coeff and its g_max reference, and the branch points,
// slopes, clamps and polynomials of mu_drift, sig_drift (generate_drift_coefficients) and q_s
// (apply_drift_noise_to_conductance) are copied digit for digit.
constexpr Fit k_hermes_1{
    .g_max_uS = 10.35,
    .t0_s = 200.0,
    .t_read_s = 512e-9,
    .prog = {0.15781817, 2.32443916, -2.16310839, 0.68841818},
    .nu_mean = {0.0945, -0.0387, -0.0182, 0.0720, 0.13, {0.0736, -0.0126, -0.0436, 0.0}},
    .nu_std = {0.3039, -0.0120, -0.0023, 0.0124, 0.04, {0.0104, 0.0116, -0.0165, 0.0}},
    .q_s = {0.1591, -0.0078, 0.0038, 0.0179, 0.04, {0.0088, 0.0768, -0.1352, 0.0664}},
    .q_s_power_law = false,
};

constexpr Fit k_hermes_2{
    .g_max_uS = 20.7,
    .t0_s = 300.0,
    .t_read_s = 512e-9,
    .prog = {0.16603222, 4.71806468, -8.48101252, 4.68961419},
    .nu_mean = {0.0945, -0.0387, -0.0182, 0.0720, 0.13, {0.0736, -0.0126, -0.0436, 0.0}},
    .nu_std = {0.3055, -0.0117, -0.0057, 0.0091, 0.04, {0.0073, 0.0093, -0.0118, 0.0}},
    .q_s = {0.16, -0.0117, -0.0069, 0.015, 0.04, {0.0123, 0.0211, -0.0280, 0.0069}},
    .q_s_power_law = false,
};

// aihwkit PCMLikeNoiseModel (src/aihwkit/inference/noise/pcm.py), the model of Nandakumar et al.,
// ICECS 2019, fitted on a 1-million-device PCM array (Joshi et al., Nature Communications 11, 2473
// (2020)); also docs/source/pcm_inference.rst. prog_coeff (0.26348, 1.9650, -1.1731) at reference
// g_max 25 µS, t_0 20 s, t_read 250 ns; mu_drift = clamp(-0.0155·ln r + 0.0244, 0.049, 0.1),
// sig_drift = clamp(-0.0125·ln r - 0.0059, 0.008, 0.045) over the whole range (no knee). There is
// one fit for 1 and 2 devices per polarity; 2 only doubles the default g_max (DeviceParams).
constexpr Fit k_pcm{
    .g_max_uS = 25.0,
    .t0_s = 20.0,
    .t_read_s = 250e-9,
    .prog = {0.26348, 1.9650, -1.1731, 0.0},
    .nu_mean = {k_inf, -0.0155, 0.0244, 0.049, 0.1, {0.0, 0.0, 0.0, 0.0}},
    .nu_std = {k_inf, -0.0125, -0.0059, 0.008, 0.045, {0.0, 0.0, 0.0, 0.0}},
    .q_s = {k_inf, 0.0, 0.0, 0.0, 0.0, {0.0, 0.0, 0.0, 0.0}},
    .q_s_power_law = true,
};

}  // namespace
}  // namespace detail

namespace {

using detail::Fit;
using detail::LogKnee;

// aihwkit floors g/g_max at _ZERO_CLIP = 1e-7 before taking its logarithm (hermes.py, pcm.py).
// It does so for ν only; for Q_s the floor changes nothing, because every Q_s fit is already at its
// upper clamp there, and it keeps log(0) out of the loop.
constexpr double k_zero_clip = 1e-7;

const Fit& fit_for(DeviceKind kind, int devices_per_polarity) {
  if (kind == DeviceKind::hermes)
    return devices_per_polarity == 1 ? detail::k_hermes_1 : detail::k_hermes_2;
  return detail::k_pcm;
}

inline double eval(const LogKnee& f, double r) {
  if (r < f.knee) return std::clamp(f.a * std::log(r) + f.b, f.lo, f.hi);
  return ((f.poly[3] * r + f.poly[2]) * r + f.poly[1]) * r + f.poly[0];
}

inline double relative(double g_uS, double inv_g_max) {
  return std::max(std::abs(g_uS) * inv_g_max, k_zero_clip);
}

// Q_s of the 1/f read noise, r = |g_prog|/g_max floored at 1e-7.
inline double q_s(const Fit& f, double r) {
  if (f.q_s_power_law) return std::min(0.0088 / std::max(std::pow(r, 0.65), 1e-3), 0.2);
  return eval(f.q_s, r);
}

// The programming-noise polynomial may turn negative beyond g_max (pcm: above 1.89·g_max), where
// aihwkit's published form max(σ, 0) (docs/source/pcm_inference.rst) turns the noise off.
inline double prog_std(const std::array<double, 4>& c, double x) {
  return std::max(((c[3] * x + c[2]) * x + c[1]) * x + c[0], 0.0);
}

// The float forms of the fits for the vectorised loops of program, drift and read: the same
// formulas as eval, q_s and prog_std, branch-free (both branches computed, one selected) so that
// GCC vectorises them, with fast_log and fast_exp_nonpositive (util/normal.hpp) for libm's log
// and pow. Their relative error, about 1e-7, is float's own resolution.
struct LogKneeF {
  float knee;
  float a;
  float b;
  float lo;
  float hi;
  std::array<float, 4> poly;
};

LogKneeF to_float(const LogKnee& f) {
  return {static_cast<float>(f.knee),
          static_cast<float>(f.a),
          static_cast<float>(f.b),
          static_cast<float>(f.lo),
          static_cast<float>(f.hi),
          {static_cast<float>(f.poly[0]), static_cast<float>(f.poly[1]),
           static_cast<float>(f.poly[2]), static_cast<float>(f.poly[3])}};
}

inline float eval_f(const LogKneeF& f, float r, float ln_r) {
  const float log_branch = std::min(std::max(f.a * ln_r + f.b, f.lo), f.hi);
  const float poly = ((f.poly[3] * r + f.poly[2]) * r + f.poly[1]) * r + f.poly[0];
  return r < f.knee ? log_branch : poly;
}

constexpr float k_zero_clip_f = 1e-7F;

std::string number(double v) {
  return canonical_number(v);
}

void check_t_inference(double t) {
  if (!(t >= 0.0) || !std::isfinite(t))
    throw Error("t_inference_s = " + number(t) + ", expected a non-negative number of seconds");
}

void check_size(std::size_t got, std::size_t want, const char* what, const char* name) {
  if (got != want)
    throw Error(std::string("DeviceModel::") + what + ": " + name + " has " + std::to_string(got) +
                " elements, expected " + std::to_string(want));
}

}  // namespace

bool device_kind_from_name(const std::string& name, DeviceKind& kind) {
  if (name == "hermes") {
    kind = DeviceKind::hermes;
    return true;
  }
  if (name == "pcm") {
    kind = DeviceKind::pcm;
    return true;
  }
  return false;
}

const char* device_kind_name(DeviceKind kind) {
  switch (kind) {
    case DeviceKind::hermes:
      return "hermes";
    case DeviceKind::pcm:
      return "pcm";
  }
  return "unknown";
}

const char* pair_model_name(PairModel m) {
  return m == PairModel::aihwkit ? "aihwkit" : "separate";
}

DeviceParams DeviceParams::defaults(DeviceKind kind, int devices_per_polarity) {
  DeviceParams p;
  p.kind = kind;
  p.devices_per_polarity = devices_per_polarity;
  if (devices_per_polarity != 1 && devices_per_polarity != 2) return p;  // validate() says why
  const Fit& f = fit_for(kind, devices_per_polarity);
  // hermes: the published g_max is already that of the 1- or 2-device cell; pcm: one device.
  p.g_max_uS = kind == DeviceKind::hermes ? f.g_max_uS : f.g_max_uS * devices_per_polarity;
  p.t0_s = f.t0_s;
  p.t_read_s = f.t_read_s;
  return p;
}

const KeyTable<DeviceParams>& device_keys() {
  using P = DeviceParams;
  static const KeyTable<P> keys = [] {
    KeyTable<P> k;
    // kind and devices_per_polarity come first and start from the published values of that
    // variant, so the keys after them override single values of it.
    k.push_back(enum_key<P>(
        "device.kind", AIMC_MEMBER(kind), {DeviceKind::hermes, DeviceKind::pcm}, device_kind_name,
        phase_program, "device model: hermes (fit of the 64-core chip), pcm (Nandakumar 2019)"));
    k.back().set = [](P& p, std::string_view s) {
      DeviceKind kind{};
      if (!device_kind_from_name(std::string(s), kind)) return false;
      p = P::defaults(kind, p.devices_per_polarity);
      return true;
    };
    k.push_back(int_key<P>("device.devices_per_polarity", AIMC_MEMBER(devices_per_polarity), 1, 2,
                           "", phase_program,
                           "devices per weight polarity (the chip: 2); selects the fit's variant"));
    k.back().set = [](P& p, std::string_view s) {
      std::int64_t n = 0;
      if (!key_detail::parse_int(s, n) || n < -1000 || n > 1000) return false;
      p = P::defaults(p.kind, static_cast<int>(n));
      return true;
    };
    k.push_back(real_key<P>("device.g_max_uS", AIMC_MEMBER(g_max_uS), above(0), "µS", phase_program,
                            "largest target conductance of one polarity (default: the fit's)"));
    k.push_back(real_key<P>("device.t0_s", AIMC_MEMBER(t0_s), above(0), "s", phase_read,
                            "drift reference time, the first read after programming"));
    k.push_back(real_key<P>("device.t_read_s", AIMC_MEMBER(t_read_s), above(0), "s", phase_read,
                            "read pulse width (upper edge of the 1/f noise band)"));
    k.push_back(real_key<P>("device.prog_noise_scale", AIMC_MEMBER(prog_noise_scale), at_least(0),
                            "", phase_program, "programming noise, times the published (0: off)"));
    k.push_back(real_key<P>("device.drift_nu_mean_scale", AIMC_MEMBER(drift_nu_mean_scale),
                            at_least(0), "", phase_program,
                            "mean drift exponent, times the published (0: off)"));
    k.push_back(real_key<P>("device.drift_nu_std_scale", AIMC_MEMBER(drift_nu_std_scale),
                            at_least(0), "", phase_program,
                            "spread of the drift exponent, times the published (0: off)"));
    k.push_back(real_key<P>("device.read_noise_scale", AIMC_MEMBER(read_noise_scale), at_least(0),
                            "", phase_read, "read (1/f) noise, times the published (0: off)"));
    k.push_back(enum_key<P>("device.pair_model", AIMC_MEMBER(pair_model),
                            {PairModel::separate, PairModel::aihwkit}, pair_model_name,
                            phase_program,
                            "both polarities programmed and drifting (separate), or aihwkit's "
                            "one-sided re-split after programming"));
    return k;
  }();
  return keys;
}

void DeviceParams::validate() const {
  check_ranges(device_keys(), *this);
  // aihwkit asserts this too: the hermes fits stop at the largest conductance measured.
  const double characterised = fit_for(kind, devices_per_polarity).g_max_uS;
  if (kind == DeviceKind::hermes && g_max_uS > characterised)
    throw Error("device.g_max_uS = " + number(g_max_uS) + ", expected a positive number <= " +
                number(characterised) + " (hermes is characterised up to there with " +
                std::to_string(devices_per_polarity) + " device(s) per polarity)");
  // Keeps ln((t + t0 + t_read)/(2·t_read)) of the read noise non-negative for every t >= 0.
  if (t0_s < t_read_s)
    throw Error("device.t0_s = " + number(t0_s) +
                ", expected at least device.t_read_s = " + number(t_read_s) + " seconds");
}

DeviceModel::DeviceModel(const DeviceParams& params) : params_(params) {
  params_.validate();
  fit_ = &fit_for(params_.kind, params_.devices_per_polarity);
  inv_g_max_ = 1.0 / params_.g_max_uS;
  // aihwkit multiplies σ_prog by g_max / prog_coeff_g_max_reference: the relative programming
  // error stays that of the fit when g_max differs from the g_max the fit was made at.
  const double to_uS = params_.g_max_uS / fit_->g_max_uS * params_.prog_noise_scale;
  for (std::size_t i = 0; i < prog_coeff_uS_.size(); ++i)
    prog_coeff_uS_[i] = fit_->prog[i] * to_uS;
}

double DeviceModel::prog_noise_std_uS(double g_target_uS) const {
  return prog_std(prog_coeff_uS_, g_target_uS * inv_g_max_);
}

double DeviceModel::nu_mean(double g_target_uS) const {
  return params_.drift_nu_mean_scale * eval(fit_->nu_mean, relative(g_target_uS, inv_g_max_));
}

double DeviceModel::nu_std(double g_target_uS) const {
  return params_.drift_nu_std_scale * eval(fit_->nu_std, relative(g_target_uS, inv_g_max_));
}

// sqrt(ln((t + t_read)/(2·t_read))) with aihwkit's t = t_inference + t0: the 1/f noise integrated
// over the bandwidth from 1/t to 1/(2·t_read) (aihwkit docs/source/pcm_inference.rst, "Read noise";
// apply_drift_noise_to_conductance in hermes.py and pcm.py).
double DeviceModel::read_time_factor(double t_inference_s) const {
  check_t_inference(t_inference_s);
  const double t = t_inference_s + params_.t0_s;
  return std::sqrt(std::log((t + params_.t_read_s) / (2.0 * params_.t_read_s)));
}

double DeviceModel::read_noise_sigma(double g_prog_uS, double t_inference_s) const {
  return params_.read_noise_scale * q_s(*fit_, relative(g_prog_uS, inv_g_max_)) *
         read_time_factor(t_inference_s);
}

// aihwkit: t = t_inference + t0, g_drift = g_prog·(t/t0)^(-ν) for t > t0, else g_prog. As
// exp(-ν·ln(t/t0)) this is exactly 1 at t_inference = 0, so both branches are one expression.
double DeviceModel::drift_factor(double nu, double t_inference_s) const {
  check_t_inference(t_inference_s);
  return std::exp(-nu * std::log((t_inference_s + params_.t0_s) / params_.t0_s));
}

void DeviceModel::program(std::span<const float> g_target_uS, std::span<float> g_prog_uS,
                          std::span<float> nu, RandomStream& rng) const {
  check_size(g_prog_uS.size(), g_target_uS.size(), "program", "g_prog_uS");
  check_size(nu.size(), g_target_uS.size(), "program", "nu");
  const LogKneeF mu_fit = to_float(fit_->nu_mean);
  const LogKneeF sd_fit = to_float(fit_->nu_std);
  const auto c0 = static_cast<float>(prog_coeff_uS_[0]);
  const auto c1 = static_cast<float>(prog_coeff_uS_[1]);
  const auto c2 = static_cast<float>(prog_coeff_uS_[2]);
  const auto c3 = static_cast<float>(prog_coeff_uS_[3]);
  const auto mean_scale = static_cast<float>(params_.drift_nu_mean_scale);
  const auto std_scale = static_cast<float>(params_.drift_nu_std_scale);
  const auto inv_g_max = static_cast<float>(inv_g_max_);
  // Normals come in blocks from the vectorised generator (util/normal.hpp), two per device: a
  // block of m devices takes m programming normals, then m for ν.
  std::array<float, 2 * k_normal_block> z{};
  for (std::size_t b = 0; b < g_target_uS.size(); b += k_normal_block) {
    const std::size_t m = std::min(k_normal_block, g_target_uS.size() - b);
    fill_standard_normal(rng, z.data(), 2 * m);
    const float* target = g_target_uS.data() + b;
    float* prog = g_prog_uS.data() + b;
    float* nu_out = nu.data() + b;
    const float* z_prog = z.data();
    const float* z_nu = z.data() + m;
    for (std::size_t i = 0; i < m; ++i) {
      const float g = target[i];
      const float x = g * inv_g_max;
      const float sd = std::max(((c3 * x + c2) * x + c1) * x + c0, 0.0F);
      // aihwkit clamps the programmed conductance at 0: "no negative conductances allowed".
      prog[i] = std::max(g + sd * z_prog[i], 0.0F);
      // ν is drawn from the target, not the programmed conductance, as in aihwkit
      // (generate_drift_coefficients(g_target)); the fold |·| keeps it non-negative.
      const float r = std::max(std::abs(x), k_zero_clip_f);
      const float ln_r = fast_log(r);
      nu_out[i] = std::abs(mean_scale * eval_f(mu_fit, r, ln_r) +
                           std_scale * eval_f(sd_fit, r, ln_r) * z_nu[i]);
    }
  }
}

void DeviceModel::drift(std::span<const float> g_prog_uS, std::span<const float> nu,
                        double t_inference_s, std::span<float> g_drift_uS) const {
  check_size(nu.size(), g_prog_uS.size(), "drift", "nu");
  check_size(g_drift_uS.size(), g_prog_uS.size(), "drift", "g_drift_uS");
  check_t_inference(t_inference_s);
  const auto log_ratio =
      static_cast<float>(std::log((t_inference_s + params_.t0_s) / params_.t0_s));
  const float* g = g_prog_uS.data();
  const float* n = nu.data();
  float* out = g_drift_uS.data();
  // ν ≥ 0 and the log ≥ 0, so the factor is at most 1: drift only lowers G, and the min keeps
  // the approximation from rounding above 1.
  for (std::size_t i = 0; i < g_prog_uS.size(); ++i)
    out[i] = g[i] * std::min(fast_exp_nonpositive(-n[i] * log_ratio), 1.0F);
}

void DeviceModel::read_noise_std(std::span<const float> g_drift_uS,
                                 std::span<const float> g_prog_uS, double t_inference_s,
                                 std::span<float> std_uS) const {
  check_size(g_prog_uS.size(), g_drift_uS.size(), "read_noise_std", "g_prog_uS");
  check_size(std_uS.size(), g_drift_uS.size(), "read_noise_std", "std_uS");
  const auto time_scale =
      static_cast<float>(params_.read_noise_scale * read_time_factor(t_inference_s));
  const auto inv_g_max = static_cast<float>(inv_g_max_);
  const LogKneeF q_fit = to_float(fit_->q_s);
  const float* gd = g_drift_uS.data();
  const float* gp = g_prog_uS.data();
  float* out = std_uS.data();
  const std::size_t n = g_drift_uS.size();
  if (fit_->q_s_power_law) {
    // pcm: Q_s = min(0.0088 / max(r^0.65, 1e-3), 0.2), r^0.65 = e^(0.65·ln r), through e^−|·|
    // and its reciprocal where r > 1 (a device programmed above g_max).
    for (std::size_t i = 0; i < n; ++i) {
      const float r = std::max(std::abs(gp[i]) * inv_g_max, k_zero_clip_f);
      const float e = 0.65F * fast_log(r);
      const float p = fast_exp_nonpositive(-std::abs(e));
      const float r_pow = e <= 0.0F ? p : 1.0F / p;
      const float q = std::min(0.0088F / std::max(r_pow, 1e-3F), 0.2F);
      out[i] = std::abs(gd[i]) * q * time_scale;
    }
    return;
  }
  for (std::size_t i = 0; i < n; ++i) {
    const float r = std::max(std::abs(gp[i]) * inv_g_max, k_zero_clip_f);
    out[i] = std::abs(gd[i]) * eval_f(q_fit, r, fast_log(r)) * time_scale;
  }
}

void DeviceModel::read(std::span<const float> g_drift_uS, std::span<const float> g_prog_uS,
                       double t_inference_s, std::span<float> g_out_uS, RandomStream& rng) const {
  check_size(g_prog_uS.size(), g_drift_uS.size(), "read", "g_prog_uS");
  check_size(g_out_uS.size(), g_drift_uS.size(), "read", "g_out_uS");
  // The standard deviations first, into the output, then one normal per device on top.
  read_noise_std(g_drift_uS, g_prog_uS, t_inference_s, g_out_uS);
  std::array<float, k_normal_block> z{};
  for (std::size_t b = 0; b < g_drift_uS.size(); b += k_normal_block) {
    const std::size_t m = std::min(k_normal_block, g_drift_uS.size() - b);
    fill_standard_normal(rng, z.data(), m);
    const float* gd = g_drift_uS.data() + b;
    float* out = g_out_uS.data() + b;
    // aihwkit: g_drift + |g_drift|·σ_n·z, then clamp(min=0).
    for (std::size_t i = 0; i < m; ++i)
      out[i] = std::max(gd[i] + out[i] * z[i], 0.0F);
  }
}

}  // namespace aimc::physics
