#pragma once

#include <array>
#include <span>
#include <string>

#include "util/key_schema.hpp"
#include "util/rng.hpp"

// Statistical models of one programmed PCM conductance: programming noise, conductance drift and
// read (1/f) noise. Both models follow IBM's aihwkit (src/aihwkit/inference/noise/hermes.py,
// HermesNoiseModel, and pcm.py, PCMLikeNoiseModel); docs/physics.md gives every formula, constant
// and source. Conductances are in µS and times in s throughout.
namespace aimc::physics {

enum class DeviceKind {
  hermes,  // fitted on the 64-core chip itself (Le Gallo et al., Nature Electronics 2023)
  pcm,     // fitted on a 1-million-device PCM array (Nandakumar et al. 2019; Joshi et al. 2020)
};

// How a weight's two polarities are held between programming and the read (docs/chip.md,
// "Differences from aihwkit"):
//  - separate: each polarity is its own programmed device (pair), with its own programming error,
//    drift exponent and read noise; a weight's zero-target polarity is programmed to 0 with the
//    programming error of a zero target, and that device then drifts and is read like any other.
//    This is the 8T4R cell of the chip (Le Gallo et al. 2023, Fig. 1).
//  - aihwkit: after programming, the net programmed weight is re-split into a one-sided pair (the
//    polarity of its sign holds |G+ − G−|, the other 0), as aihwkit's conductance converter does
//    before it drifts a model (inference/noise/base.py, apply_drift_noise, and
//    inference/converter/conductance.py, SinglePairConductanceConverter). The zero polarity then
//    carries neither drift nor read noise; each device keeps the drift exponent drawn for its
//    programming target.
enum class PairModel { separate, aihwkit };
const char* pair_model_name(PairModel m);

// Returns false if `name` is neither "hermes" nor "pcm".
bool device_kind_from_name(const std::string& name, DeviceKind& kind);
const char* device_kind_name(DeviceKind kind);

struct DeviceParams {
  DeviceKind kind = DeviceKind::hermes;
  // Devices that together hold one polarity of a weight, modelled as one effective device of
  // g_max = devices_per_polarity × the single-device maximum. hermes: selects aihwkit's fitted
  // 1- or 2-device variant (the 2-device fit is of the chip's multi-device unit cell). pcm: there
  // is only a single-device fit, so 2 only doubles g_max and, by aihwkit's g_max rescaling, the
  // programming noise in µS (docs/physics.md, "aihwkit conventions", points 3 and 4).
  int devices_per_polarity = 2;
  // The largest target conductance; weights are mapped onto [0, g_max_uS]. hermes allows at most
  // the characterised maximum (10.35 µS per device), as aihwkit does.
  double g_max_uS = 20.7;
  // Drift reference time: the first read after programming, from which t_inference counts.
  double t0_s = 300.0;
  // Read pulse width: 1/(2·t_read) is the upper frequency of the 1/f noise bandwidth.
  double t_read_s = 512e-9;
  // Scale factors, 1 = as published, 0 = that source off. The drift exponent is
  // ν = |drift_nu_mean_scale·μ_ν + drift_nu_std_scale·σ_ν·z|, so aihwkit's single drift_scale s is
  // both scales set to s.
  double prog_noise_scale = 1.0;
  double drift_nu_mean_scale = 1.0;
  double drift_nu_std_scale = 1.0;
  double read_noise_scale = 1.0;
  PairModel pair_model = PairModel::separate;

  // The published values for `kind` with `devices_per_polarity` devices (1 or 2), all scales 1.
  static DeviceParams defaults(DeviceKind kind, int devices_per_polarity);
  // Throws aimc::Error naming the first bad key ("device.<key> = <value>, expected ...").
  void validate() const;
};

// The [device] keys of a chip configuration, declared once (util/key_schema.hpp).
const KeyTable<DeviceParams>& device_keys();

namespace detail {
struct Fit;  // the fitted constants of one model variant (device_model.cpp)
}

// One device model, immutable after construction and safe to share between threads (the random
// streams are the callers'). The formula functions include the scale factors of the params.
class DeviceModel {
 public:
  explicit DeviceModel(const DeviceParams& params);

  const DeviceParams& params() const { return params_; }

  // σ_prog(g_T) in µS: standard deviation of the programmed conductance around the target.
  double prog_noise_std_uS(double g_target_uS) const;
  // μ_ν(g_T) and σ_ν(g_T) of the normal that ν is folded from: ν = |μ_ν + σ_ν·z|. The mean of ν
  // itself is therefore slightly larger than nu_mean where σ_ν is not small against μ_ν.
  double nu_mean(double g_target_uS) const;
  double nu_std(double g_target_uS) const;
  // σ_n: relative standard deviation of the read noise at t_inference after t0, for a device
  // programmed to g_prog (Q_s depends on the programmed, not the drifted, conductance).
  double read_noise_sigma(double g_prog_uS, double t_inference_s) const;
  // ((t_inference + t0)/t0)^(-ν); exactly 1 at t_inference = 0.
  double drift_factor(double nu, double t_inference_s) const;

  // Programs each device: g_prog = max(g_T + σ_prog(g_T)·z₁, 0) and ν = |μ_ν + σ_ν·z₂|. The
  // normals come from `rng` in blocks of 512 devices: the block's 512 z₁, then its 512 z₂ (fewer
  // in the last block). Two normals are drawn per device whatever the scales, so a scale change
  // never shifts the stream. Computed in float (docs/physics.md, "Random numbers"). g_T should
  // lie in [0, g_max]. All spans must have the same size.
  void program(std::span<const float> g_target_uS, std::span<float> g_prog_uS, std::span<float> nu,
               RandomStream& rng) const;
  // g_drift = g_prog·drift_factor(ν, t_inference), in float, at most g_prog. Deterministic.
  void drift(std::span<const float> g_prog_uS, std::span<const float> nu, double t_inference_s,
             std::span<float> g_drift_uS) const;
  // One read: g = max(g_drift + |g_drift|·σ_n(g_prog, t_inference)·z, 0), one normal per device.
  void read(std::span<const float> g_drift_uS, std::span<const float> g_prog_uS,
            double t_inference_s, std::span<float> g_out_uS, RandomStream& rng) const;
  // The standard deviation of what read() adds, per device: |g_drift|·σ_n(g_prog, t_inference),
  // in µS (before the clamp at 0). The per-MVM read-noise mode builds its variances from it.
  void read_noise_std(std::span<const float> g_drift_uS, std::span<const float> g_prog_uS,
                      double t_inference_s, std::span<float> std_uS) const;

 private:
  double read_time_factor(double t_inference_s) const;

  DeviceParams params_;
  const detail::Fit* fit_ = nullptr;
  double inv_g_max_ = 0.0;
  // σ_prog's polynomial coefficients in µS, already multiplied by g_max/g_ref and the scale.
  std::array<double, 4> prog_coeff_uS_{};
};

}  // namespace aimc::physics
