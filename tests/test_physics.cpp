#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include "physics/device_model.hpp"
#include "util/error.hpp"
#include "util/rng.hpp"

namespace {

using aimc::Purpose;
using aimc::RandomStream;
using aimc::StreamKey;
using aimc::physics::DeviceKind;
using aimc::physics::DeviceModel;
using aimc::physics::DeviceParams;

struct Variant {
  DeviceKind kind;
  int devices;
  const char* name;
};

const Variant k_variants[] = {
    {DeviceKind::hermes, 1, "hermes-1"},
    {DeviceKind::hermes, 2, "hermes-2"},
    {DeviceKind::pcm, 1, "pcm-1"},
    {DeviceKind::pcm, 2, "pcm-2"},
};

// Levels g_T/g_max at which every formula and statistic is checked; 0.05 and 0.2 lie below the
// knees of the hermes fits (log branch), 0.4 and above on the polynomial branch.
const double k_levels[] = {0.05, 0.2, 0.4, 0.6, 0.8, 1.0};

DeviceModel model_for(const Variant& v) {
  return DeviceModel(DeviceParams::defaults(v.kind, v.devices));
}

// ---------------------------------------------------------------------------------------------
// The published model, restated here on purpose, independently of src/physics, in the plain form
// of the source (sums of powers, separate clamps), so that a typo in either copy fails a test.
// hermes: aihwkit src/aihwkit/inference/noise/hermes.py, HermesNoiseModel (Le Gallo et al.,
// Nature Electronics 2023). pcm: aihwkit src/aihwkit/inference/noise/pcm.py, PCMLikeNoiseModel
// (Nandakumar et al., ICECS 2019; Joshi et al., Nature Communications 2020).

double clamp(double v, double lo, double hi) {
  return std::min(std::max(v, lo), hi);
}

// HermesNoiseModel.__init__: g_max 10.35 µS / 20.7 µS; PCMLikeNoiseModel: 25 µS per device.
double ref_g_max(const Variant& v) {
  if (v.kind == DeviceKind::hermes) return v.devices == 1 ? 10.35 : 20.7;
  return 25.0 * v.devices;
}
// t_0: 200 s / 300 s (HermesNoiseModel), 20 s (PCMLikeNoiseModel).
double ref_t0(const Variant& v) {
  if (v.kind == DeviceKind::hermes) return v.devices == 1 ? 200.0 : 300.0;
  return 20.0;
}
// t_read: 512 ns (HermesNoiseModel), 250 ns (PCMLikeNoiseModel).
double ref_t_read(const Variant& v) {
  return v.kind == DeviceKind::hermes ? 512.0e-9 : 250.0e-9;
}

// apply_programming_noise_to_conductance: Σ c_i (g/g_max)^i · g_max / prog_coeff_g_max_reference.
double ref_prog_std(const Variant& v, double g) {
  const double g_max = ref_g_max(v);
  const double x = g / g_max;
  if (v.kind == DeviceKind::hermes) {
    if (v.devices == 1)
      return (0.15781817 + 2.32443916 * x - 2.16310839 * std::pow(x, 2) +
              0.68841818 * std::pow(x, 3)) *
             g_max / 10.35;
    return (0.16603222 + 4.71806468 * x - 8.48101252 * std::pow(x, 2) +
            4.68961419 * std::pow(x, 3)) *
           g_max / 20.7;
  }
  return (0.26348 + 1.9650 * x - 1.1731 * std::pow(x, 2)) * g_max / 25.0;
}

// generate_drift_coefficients: mu_drift and sig_drift of g_relative = max(|g/g_max|, 1e-7).
double ref_nu_mean(const Variant& v, double g) {
  const double r = std::max(std::abs(g / ref_g_max(v)), 1e-7);
  if (v.kind == DeviceKind::hermes) {
    if (r < 0.0945) return clamp(-0.0387 * std::log(r) - 0.0182, 0.0720, 0.13);
    return -0.0436 * r * r - 0.0126 * r + 0.0736;
  }
  return clamp(-0.0155 * std::log(r) + 0.0244, 0.049, 0.1);
}

double ref_nu_std(const Variant& v, double g) {
  const double r = std::max(std::abs(g / ref_g_max(v)), 1e-7);
  if (v.kind == DeviceKind::hermes && v.devices == 1) {
    if (r < 0.3039) return clamp(-0.0120 * std::log(r) - 0.0023, 0.0124, 0.04);
    return -0.0165 * r * r + 0.0116 * r + 0.0104;
  }
  if (v.kind == DeviceKind::hermes) {
    if (r < 0.3055) return clamp(-0.0117 * std::log(r) - 0.0057, 0.0091, 0.04);
    return -0.0118 * r * r + 0.0093 * r + 0.0073;
  }
  return clamp(-0.0125 * std::log(r) - 0.0059, 0.008, 0.045);
}

// apply_drift_noise_to_conductance: q_s of g_relative = |g_prog|/g_max.
double ref_q_s(const Variant& v, double g_prog) {
  const double r = std::abs(g_prog) / ref_g_max(v);
  if (v.kind == DeviceKind::hermes && v.devices == 1) {
    if (r < 0.1591) return clamp(-0.0078 * std::log(r) + 0.0038, 0.0179, 0.04);
    return 0.0664 * std::pow(r, 3) - 0.1352 * r * r + 0.0768 * r + 0.0088;
  }
  if (v.kind == DeviceKind::hermes) {
    if (r < 0.16) return clamp(-0.0117 * std::log(r) - 0.0069, 0.015, 0.04);
    return 0.0069 * std::pow(r, 3) - 0.0280 * r * r + 0.0211 * r + 0.0123;
  }
  return std::min(0.0088 / std::max(std::pow(r, 0.65), 1e-3), 0.2);
}

// sig_noise = q_s·sqrt(ln((t + t_read)/(2·t_read))) with t = t_inference + t_0.
double ref_read_sigma(const Variant& v, double g_prog, double t_inference) {
  const double t = t_inference + ref_t0(v);
  return ref_q_s(v, g_prog) * std::sqrt(std::log((t + ref_t_read(v)) / (2.0 * ref_t_read(v))));
}

// ---------------------------------------------------------------------------------------------
// Moments of the sampled distributions.

double normal_cdf(double x) {
  return 0.5 * std::erfc(-x / std::numbers::sqrt2);
}
double normal_pdf(double x) {
  return std::exp(-0.5 * x * x) / std::sqrt(2.0 * std::numbers::pi);
}

struct Moments {
  double mean;
  double std;
};

// Y = max(X, 0), X ~ N(m, s²): E[Y] = mΦ(a) + sφ(a), E[Y²] = (m² + s²)Φ(a) + msφ(a), a = m/s.
Moments clipped_normal(double m, double s) {
  const double a = m / s;
  const double e1 = m * normal_cdf(a) + s * normal_pdf(a);
  const double e2 = (m * m + s * s) * normal_cdf(a) + m * s * normal_pdf(a);
  return {e1, std::sqrt(e2 - e1 * e1)};
}

// Y = |X|, X ~ N(m, s²) (folded normal): E[Y] = s·sqrt(2/π)·exp(-m²/2s²) + m(1 - 2Φ(-m/s)),
// E[Y²] = m² + s².
Moments folded_normal(double m, double s) {
  const double e1 = s * std::sqrt(2.0 / std::numbers::pi) * std::exp(-m * m / (2.0 * s * s)) +
                    m * (1.0 - 2.0 * normal_cdf(-m / s));
  return {e1, std::sqrt(m * m + s * s - e1 * e1)};
}

// Checks the sample mean and standard deviation within 5 standard errors: the mean's is σ/√n;
// the standard deviation's is sqrt((μ₄ - σ⁴)/n)/(2σ) by the delta method, with the fourth central
// moment μ₄ taken from the sample (for a normal it is 3σ⁴, which gives the familiar σ/√(2n); the
// clipped and folded distributions here are close to but not exactly normal).
void expect_moments(const std::vector<double>& x, const Moments& want, const std::string& what) {
  const double n = static_cast<double>(x.size());
  double mean = 0.0;
  for (double v : x)
    mean += v;
  mean /= n;
  double m2 = 0.0;
  double m4 = 0.0;
  for (double v : x) {
    const double d = (v - mean) * (v - mean);
    m2 += d;
    m4 += d * d;
  }
  m2 /= n;
  m4 /= n;
  const double std = std::sqrt(m2);
  EXPECT_NEAR(mean, want.mean, 5.0 * want.std / std::sqrt(n)) << what << ": mean";
  EXPECT_NEAR(std, want.std, 5.0 * std::sqrt((m4 - m2 * m2) / n) / (2.0 * want.std))
      << what << ": standard deviation";
}

StreamKey programming_key(std::uint32_t tile) {
  return StreamKey{2023, 0, 0, tile, Purpose::programming};
}

// ---------------------------------------------------------------------------------------------

TEST(DeviceParams, DefaultsAreThePublishedValues) {
  for (const auto& v : k_variants) {
    const DeviceParams p = DeviceParams::defaults(v.kind, v.devices);
    EXPECT_EQ(p.kind, v.kind) << v.name;
    EXPECT_EQ(p.devices_per_polarity, v.devices) << v.name;
    EXPECT_EQ(p.g_max_uS, ref_g_max(v)) << v.name;
    EXPECT_EQ(p.t0_s, ref_t0(v)) << v.name;
    EXPECT_EQ(p.t_read_s, ref_t_read(v)) << v.name;
    EXPECT_EQ(p.prog_noise_scale, 1.0) << v.name;
    EXPECT_EQ(p.drift_nu_mean_scale, 1.0) << v.name;
    EXPECT_EQ(p.drift_nu_std_scale, 1.0) << v.name;
    EXPECT_EQ(p.read_noise_scale, 1.0) << v.name;
    EXPECT_NO_THROW(p.validate()) << v.name;
  }
  // The struct's own initialisers are the hermes 2-device values.
  const DeviceParams plain;
  const DeviceParams h2 = DeviceParams::defaults(DeviceKind::hermes, 2);
  EXPECT_EQ(plain.kind, h2.kind);
  EXPECT_EQ(plain.devices_per_polarity, h2.devices_per_polarity);
  EXPECT_EQ(plain.g_max_uS, h2.g_max_uS);
  EXPECT_EQ(plain.t0_s, h2.t0_s);
  EXPECT_EQ(plain.t_read_s, h2.t_read_s);
}

TEST(DeviceParams, KindNames) {
  DeviceKind k = DeviceKind::pcm;
  ASSERT_TRUE(aimc::physics::device_kind_from_name("hermes", k));
  EXPECT_EQ(k, DeviceKind::hermes);
  ASSERT_TRUE(aimc::physics::device_kind_from_name("pcm", k));
  EXPECT_EQ(k, DeviceKind::pcm);
  EXPECT_FALSE(aimc::physics::device_kind_from_name("Hermes", k));
  EXPECT_FALSE(aimc::physics::device_kind_from_name("", k));
  EXPECT_EQ(k, DeviceKind::pcm);  // untouched on failure
  EXPECT_STREQ(aimc::physics::device_kind_name(DeviceKind::hermes), "hermes");
  EXPECT_STREQ(aimc::physics::device_kind_name(DeviceKind::pcm), "pcm");
}

std::string validation_error(const DeviceParams& p) {
  try {
    p.validate();
  } catch (const aimc::Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(DeviceParams, ValidationNamesTheKey) {
  const DeviceParams ok = DeviceParams::defaults(DeviceKind::hermes, 2);
  auto with = [&](auto change) {
    DeviceParams p = ok;
    change(p);
    return validation_error(p);
  };
  EXPECT_EQ(with([](DeviceParams& p) { p.devices_per_polarity = 3; }),
            "device.devices_per_polarity = 3, expected an integer in [1, 2]");
  EXPECT_EQ(with([](DeviceParams& p) { p.devices_per_polarity = 0; }),
            "device.devices_per_polarity = 0, expected an integer in [1, 2]");
  EXPECT_EQ(with([](DeviceParams& p) { p.g_max_uS = -1.0; }),
            "device.g_max_uS = -1, expected a number > 0");
  EXPECT_EQ(with([](DeviceParams& p) { p.g_max_uS = std::nan(""); }),
            "device.g_max_uS = nan, expected a number > 0");
  EXPECT_EQ(with([](DeviceParams& p) { p.g_max_uS = 25.0; }),
            "device.g_max_uS = 25, expected a positive number <= 20.7 (hermes is characterised up "
            "to there with 2 device(s) per polarity)");
  EXPECT_EQ(with([](DeviceParams& p) {
              p.devices_per_polarity = 1;
              p.g_max_uS = 20.7;
            }),
            "device.g_max_uS = 20.7, expected a positive number <= 10.35 (hermes is characterised "
            "up to there with 1 device(s) per polarity)");
  EXPECT_EQ(with([](DeviceParams& p) { p.t0_s = 0.0; }), "device.t0_s = 0, expected a number > 0");
  EXPECT_EQ(with([](DeviceParams& p) { p.t_read_s = -1e-9; }),
            "device.t_read_s = -1e-09, expected a number > 0");
  EXPECT_EQ(with([](DeviceParams& p) { p.t0_s = 1e-7; }),
            "device.t0_s = 1e-07, expected at least device.t_read_s = 5.12e-07 seconds");
  EXPECT_EQ(with([](DeviceParams& p) { p.prog_noise_scale = -1.0; }),
            "device.prog_noise_scale = -1, expected a number >= 0");
  EXPECT_EQ(with([](DeviceParams& p) { p.drift_nu_mean_scale = -0.5; }),
            "device.drift_nu_mean_scale = -0.5, expected a number >= 0");
  EXPECT_EQ(with([](DeviceParams& p) { p.drift_nu_std_scale = std::nan(""); }),
            "device.drift_nu_std_scale = nan, expected a number >= 0");
  EXPECT_EQ(
      with([](DeviceParams& p) { p.read_noise_scale = std::numeric_limits<double>::infinity(); }),
      "device.read_noise_scale = inf, expected a number >= 0");
  EXPECT_EQ(with([](DeviceParams& p) { p.kind = static_cast<DeviceKind>(7); }),
            "device.kind = 7, expected one of: hermes, pcm");
  // pcm has no characterised upper bound in aihwkit; 0 scales are valid (source off).
  EXPECT_EQ(with([](DeviceParams& p) {
              p.kind = DeviceKind::pcm;
              p.g_max_uS = 100.0;
              p.prog_noise_scale = 0.0;
            }),
            "(no error)");

  DeviceParams bad = ok;
  bad.g_max_uS = 0.0;
  EXPECT_THROW(DeviceModel{bad}, aimc::Error);
}

TEST(DeviceModel, RejectsNegativeInferenceTimeAndMismatchedSpans) {
  const DeviceModel m(DeviceParams{});
  try {
    (void)m.drift_factor(0.05, -1.0);
    ADD_FAILURE() << "no error";
  } catch (const aimc::Error& e) {
    EXPECT_STREQ(e.what(), "t_inference_s = -1, expected a non-negative number of seconds");
  }
  EXPECT_THROW((void)m.read_noise_sigma(5.0, -1.0), aimc::Error);
  std::vector<float> a(4, 1.0F);
  std::vector<float> b(3, 1.0F);
  std::vector<float> c(4, 1.0F);
  RandomStream rng(programming_key(0));
  EXPECT_THROW(m.program(a, b, c, rng), aimc::Error);
  EXPECT_THROW(m.program(a, c, b, rng), aimc::Error);
  EXPECT_THROW(m.drift(a, b, 1.0, c), aimc::Error);
  EXPECT_THROW(m.drift(a, a, -1.0, c), aimc::Error);
  EXPECT_THROW(m.read(a, b, 1.0, c, rng), aimc::Error);
  EXPECT_THROW(m.read(a, a, 1.0, b, rng), aimc::Error);
}

// ---------------------------------------------------------------------------------------------
// Formulas against the restated published form, and against values worked out by hand from
// aihwkit's code (Python, math module) as a second, literal check.

TEST(DeviceModel, FormulasMatchThePublishedForm) {
  const double t_inference = 3600.0;
  for (const auto& v : k_variants) {
    const DeviceModel m = model_for(v);
    // Besides the common levels, both sides of every knee: 0.0945 (μ_ν), 0.1591 and 0.16 (Q_s),
    // 0.3039 and 0.3055 (σ_ν), so that a knee copied from the wrong variant is caught.
    for (double level : {0.001, 0.01, 0.05, 0.094, 0.0947, 0.1, 0.159, 0.1595, 0.1605, 0.2, 0.3,
                         0.303, 0.305, 0.306, 0.4, 0.6, 0.8, 1.0}) {
      const double g = level * ref_g_max(v);
      const std::string at = std::string(v.name) + " at g/g_max = " + std::to_string(level);
      EXPECT_NEAR(m.prog_noise_std_uS(g), ref_prog_std(v, g), 1e-12) << at;
      EXPECT_NEAR(m.nu_mean(g), ref_nu_mean(v, g), 1e-12) << at;
      EXPECT_NEAR(m.nu_std(g), ref_nu_std(v, g), 1e-12) << at;
      EXPECT_NEAR(m.read_noise_sigma(g, t_inference), ref_read_sigma(v, g, t_inference), 1e-12)
          << at;
      EXPECT_NEAR(m.read_noise_sigma(g, 0.0), ref_read_sigma(v, g, 0.0), 1e-12) << at;
    }
  }
}

struct Literal {
  int variant;  // index into k_variants
  double level;
  double prog_std_uS;
  double nu_mean;
  double nu_std;
  double read_sigma_1h;  // σ_n at t_inference = 3600 s
};

// Worked out from aihwkit's hermes.py / pcm.py at the default g_max of each variant.
const Literal k_literals[] = {
    {0, 0.05, 0.2687184093, 0.09773483899, 0.03364878728, 0.1275231908},
    {0, 0.20, 0.5416890118, 0.069336, 0.01701325495, 0.09051721894},
    {0, 0.40, 0.7855552551, 0.061584, 0.0124, 0.1039160505},
    {0, 0.60, 0.9224609725, 0.050344, 0.01142, 0.09646557916},
    {0, 0.80, 0.9854502366, 0.035616, 0.00912, 0.08312683199},
    {0, 1.00, 1.00756712, 0.0174, 0.0055, 0.07886083628},
    {1, 0.01, 0.2123694552, 0.13, 0.04, 0.1878745363},
    {1, 0.05, 0.3813191245, 0.09773483899, 0.0293500676, 0.1322170224},
    {1, 0.20, 0.8079215687, 0.069336, 0.01313042358, 0.07259096333},
    {1, 0.40, 0.996431397, 0.061584, 0.009132, 0.07844513388},
    {1, 0.60, 0.9566631858, 0.050344, 0.008632, 0.07688953272},
    {1, 0.80, 0.9137184165, 0.035616, 0.007188, 0.06947976101},
    {1, 1.00, 1.09269857, 0.0174, 0.0048, 0.05777141991},
    {2, 0.01, 0.28301269, 0.09578013788, 0.045, 0.8366103177},
    {2, 0.05, 0.35879725, 0.07083385024, 0.03154665342, 0.2938953492},
    {2, 0.20, 0.609556, 0.04934628764, 0.01421797391, 0.1193586008},
    {2, 0.40, 0.861784, 0.049, 0.008, 0.07606488657},
    {2, 0.60, 1.020164, 0.049, 0.008, 0.05844197761},
    {2, 0.80, 1.084696, 0.049, 0.008, 0.04847465477},
    {2, 1.00, 1.05538, 0.049, 0.008, 0.04192984108},
    // pcm with 2 devices: g_max 50 µS; aihwkit's g_max/25 rescaling doubles σ_prog in µS.
    {3, 0.05, 0.7175945, 0.07083385024, 0.03154665342, 0.2938953492},
    {3, 1.00, 2.11076, 0.049, 0.008, 0.04192984108},
};

TEST(DeviceModel, FormulasMatchHandWorkedValues) {
  for (const auto& l : k_literals) {
    const Variant& v = k_variants[l.variant];
    const DeviceModel m = model_for(v);
    const double g = l.level * ref_g_max(v);
    const std::string at = std::string(v.name) + " at g/g_max = " + std::to_string(l.level);
    EXPECT_NEAR(m.prog_noise_std_uS(g), l.prog_std_uS, 1e-9) << at;
    EXPECT_NEAR(m.nu_mean(g), l.nu_mean, 1e-9) << at;
    EXPECT_NEAR(m.nu_std(g), l.nu_std, 1e-9) << at;
    EXPECT_NEAR(m.read_noise_sigma(g, 3600.0), l.read_sigma_1h, 1e-9) << at;
  }
}

TEST(DeviceModel, ZeroConductanceUsesTheUpperClamps) {
  // g = 0: ν uses g/g_max floored at 1e-7 (aihwkit _ZERO_CLIP), far into the clamped log branch.
  const DeviceModel h2 = model_for(k_variants[1]);
  EXPECT_DOUBLE_EQ(h2.nu_mean(0.0), 0.13);
  EXPECT_DOUBLE_EQ(h2.nu_std(0.0), 0.04);
  EXPECT_NEAR(h2.read_noise_sigma(0.0, 0.0), ref_read_sigma(k_variants[1], 1e-12, 0.0), 1e-15);
  const DeviceModel p1 = model_for(k_variants[2]);
  EXPECT_DOUBLE_EQ(p1.nu_mean(0.0), 0.1);
  EXPECT_DOUBLE_EQ(p1.nu_std(0.0), 0.045);
  EXPECT_NEAR(p1.read_noise_sigma(0.0, 0.0),
              0.2 * std::sqrt(std::log((20.0 + 250e-9) / (2.0 * 250e-9))), 1e-12);
}

TEST(DeviceModel, ProgrammingNoiseFollowsGMaxRescaling) {
  // aihwkit multiplies σ_prog by g_max / prog_coeff_g_max_reference: at a lower g_max the
  // polynomial is evaluated at g/g_max and scaled down in proportion.
  DeviceParams p = DeviceParams::defaults(DeviceKind::hermes, 2);
  p.g_max_uS = 15.0;
  const DeviceModel m(p);
  const double x = 0.5;
  const double poly = 0.16603222 + 4.71806468 * x - 8.48101252 * x * x + 4.68961419 * x * x * x;
  EXPECT_NEAR(m.prog_noise_std_uS(x * 15.0), poly * 15.0 / 20.7, 1e-12);
}

// ---------------------------------------------------------------------------------------------
// Drift.

TEST(DeviceModel, DriftIsThePowerLawFromT0) {
  for (const auto& v : k_variants) {
    const DeviceModel m = model_for(v);
    const double t0 = ref_t0(v);
    EXPECT_EQ(m.drift_factor(0.05, 0.0), 1.0) << v.name;
    EXPECT_NEAR(m.drift_factor(0.05, 3600.0), std::pow((3600.0 + t0) / t0, -0.05), 1e-14) << v.name;
    EXPECT_NEAR(m.drift_factor(0.1, 1e8), std::pow((1e8 + t0) / t0, -0.1), 1e-14) << v.name;
    EXPECT_EQ(m.drift_factor(0.0, 1e8), 1.0) << v.name;

    std::vector<float> g_target;
    for (double level : k_levels)
      g_target.push_back(static_cast<float>(level * ref_g_max(v)));
    std::vector<float> g_prog(g_target.size());
    std::vector<float> nu(g_target.size());
    RandomStream rng(programming_key(1));
    m.program(g_target, g_prog, nu, rng);

    std::vector<float> g_drift(g_target.size());
    m.drift(g_prog, nu, 0.0, g_drift);
    EXPECT_EQ(g_drift, g_prog) << v.name << ": no drift at t_inference = 0";

    for (double t : {1.0, 3600.0, 86400.0 * 365}) {
      m.drift(g_prog, nu, t, g_drift);
      for (std::size_t i = 0; i < g_prog.size(); ++i) {
        const double want = g_prog[i] * std::pow((t + t0) / t0, -static_cast<double>(nu[i]));
        EXPECT_NEAR(g_drift[i], want, 1e-6 * want) << v.name << " device " << i << " t " << t;
        EXPECT_LE(g_drift[i], g_prog[i]) << v.name << ": drift only lowers G";
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Statistics of 10^5 sampled devices per level.

constexpr int k_samples = 100'000;

TEST(DeviceModel, ProgrammingErrorAndNuStatistics) {
  std::uint32_t tile = 0;
  for (const auto& v : k_variants) {
    const DeviceModel m = model_for(v);
    for (double level : k_levels) {
      const float g_t = static_cast<float>(level * ref_g_max(v));
      const double g = g_t;
      std::vector<float> target(k_samples, g_t);
      std::vector<float> prog(k_samples);
      std::vector<float> nu(k_samples);
      RandomStream rng(programming_key(tile++));
      m.program(target, prog, nu, rng);

      const std::string at = std::string(v.name) + " at g/g_max = " + std::to_string(level);
      // Programming error g_prog - g_T: N(0, σ_prog) clipped so that g_prog >= 0.
      const double sigma = ref_prog_std(v, g);
      const Moments clipped = clipped_normal(g, sigma);
      std::vector<double> error(k_samples);
      for (int i = 0; i < k_samples; ++i)
        error[i] = prog[i] - g;
      expect_moments(error, {clipped.mean - g, clipped.std}, at + ", programming error");
      EXPECT_GE(*std::min_element(prog.begin(), prog.end()), 0.0F) << at;

      // ν = |μ_ν + σ_ν·z|: folded normal.
      std::vector<double> nus(nu.begin(), nu.end());
      expect_moments(nus, folded_normal(ref_nu_mean(v, g), ref_nu_std(v, g)), at + ", nu");
      EXPECT_GE(*std::min_element(nu.begin(), nu.end()), 0.0F) << at;
    }
  }
}

TEST(DeviceModel, ReadNoiseStatistics) {
  const double t_inference = 3600.0;
  std::uint32_t tile = 0;
  for (const auto& v : k_variants) {
    const DeviceModel m = model_for(v);
    for (double level : k_levels) {
      const float g_t = static_cast<float>(level * ref_g_max(v));
      const double g = g_t;
      // Undrifted devices at exactly g, so the relative error is σ_n(g)·z, clipped at -1.
      std::vector<float> g_dev(k_samples, g_t);
      std::vector<float> out(k_samples);
      RandomStream rng(StreamKey{2023, 0, 0, tile++, Purpose::read_noise});
      m.read(g_dev, g_dev, t_inference, out, rng);

      const double sigma = ref_read_sigma(v, g, t_inference);
      const Moments clipped = clipped_normal(1.0, sigma);
      std::vector<double> rel(k_samples);
      for (int i = 0; i < k_samples; ++i)
        rel[i] = (out[i] - g) / g;
      expect_moments(
          rel, {clipped.mean - 1.0, clipped.std},
          std::string(v.name) + " at g/g_max = " + std::to_string(level) + ", relative read noise");
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Scale factors: 0 turns a source off exactly; 2 doubles it. Both runs use the same stream: the
// draws do not depend on the scales, so each device's deviation doubles exactly.

struct Programmed {
  std::vector<float> target;
  std::vector<float> prog;
  std::vector<float> nu;
};

Programmed program_with(const DeviceParams& p, double level) {
  const DeviceModel m(p);
  Programmed r;
  r.target.assign(10'000, static_cast<float>(level * p.g_max_uS));
  r.prog.resize(r.target.size());
  r.nu.resize(r.target.size());
  RandomStream rng(programming_key(77));
  m.program(r.target, r.prog, r.nu, rng);
  return r;
}

TEST(DeviceModel, ProgrammingNoiseScale) {
  for (const auto& v : k_variants) {
    DeviceParams p = DeviceParams::defaults(v.kind, v.devices);
    const Programmed one = program_with(p, 0.6);
    p.prog_noise_scale = 0.0;
    const Programmed off = program_with(p, 0.6);
    EXPECT_EQ(off.prog, off.target) << v.name;
    EXPECT_EQ(off.nu, one.nu) << v.name << ": ν must not move when the programming noise does";
    EXPECT_EQ(DeviceModel(p).prog_noise_std_uS(0.6 * p.g_max_uS), 0.0) << v.name;

    p.prog_noise_scale = 2.0;
    const Programmed two = program_with(p, 0.6);
    EXPECT_DOUBLE_EQ(DeviceModel(p).prog_noise_std_uS(0.6 * p.g_max_uS),
                     2.0 * model_for(v).prog_noise_std_uS(0.6 * p.g_max_uS))
        << v.name;
    const double g = one.target[0];
    for (std::size_t i = 0; i < one.prog.size(); ++i)
      // Doubled deviation, still clipped at 0 (2σ reaches 0 for some devices at 10^4 draws).
      ASSERT_NEAR(two.prog[i], std::max(g + 2.0 * (one.prog[i] - g), 0.0), 4e-6 * g)
          << v.name << " device " << i;
  }
}

TEST(DeviceModel, DriftScales) {
  for (const auto& v : k_variants) {
    DeviceParams p = DeviceParams::defaults(v.kind, v.devices);
    // μ_ν is about 5 σ_ν or more here, so μ + σz > 0 for every one of these devices and the fold
    // |·| does not act.
    const double level = 0.4;
    const double mu = ref_nu_mean(v, level * p.g_max_uS);
    const Programmed one = program_with(p, level);
    for (float n : one.nu)
      ASSERT_GT(n, 0.0F);

    p.drift_nu_mean_scale = 0.0;
    p.drift_nu_std_scale = 0.0;
    const Programmed off = program_with(p, level);
    EXPECT_EQ(off.prog, one.prog) << v.name;
    for (float n : off.nu)
      ASSERT_EQ(n, 0.0F) << v.name;
    std::vector<float> drifted(off.prog.size());
    DeviceModel(p).drift(off.prog, off.nu, 1e7, drifted);
    EXPECT_EQ(drifted, off.prog) << v.name << ": ν = 0 means no drift";

    // σ scale 0: ν is μ_ν exactly.
    p.drift_nu_mean_scale = 1.0;
    const Programmed mean_only = program_with(p, level);
    for (float n : mean_only.nu)
      ASSERT_FLOAT_EQ(n, static_cast<float>(mu)) << v.name;

    // With ν₁ = μ + σz unfolded: σ scale 2 gives ν₂ = |μ + 2σz| = |μ + 2(ν₁ - μ)| (this one may
    // fold); μ scale 2 gives ν₂ = 2μ + σz = ν₁ + μ.
    p.drift_nu_std_scale = 2.0;
    const Programmed std_two = program_with(p, level);
    p.drift_nu_std_scale = 1.0;
    p.drift_nu_mean_scale = 2.0;
    const Programmed mean_two = program_with(p, level);
    for (std::size_t i = 0; i < one.nu.size(); ++i) {
      ASSERT_NEAR(std_two.nu[i], std::abs(mu + 2.0 * (one.nu[i] - mu)), 1e-7)
          << v.name << " device " << i;
      ASSERT_NEAR(mean_two.nu[i], one.nu[i] + mu, 1e-7) << v.name << " device " << i;
    }
    EXPECT_DOUBLE_EQ(DeviceModel(p).nu_mean(level * p.g_max_uS), 2.0 * mu);
  }
}

TEST(DeviceModel, ReadNoiseScale) {
  for (const auto& v : k_variants) {
    DeviceParams p = DeviceParams::defaults(v.kind, v.devices);
    const float g = static_cast<float>(0.6 * p.g_max_uS);
    std::vector<float> dev(10'000, g);
    auto read_with = [&](double scale) {
      p.read_noise_scale = scale;
      std::vector<float> out(dev.size());
      RandomStream rng(StreamKey{5, 0, 0, 0, Purpose::read_noise});
      DeviceModel(p).read(dev, dev, 3600.0, out, rng);
      return out;
    };
    const std::vector<float> one = read_with(1.0);
    EXPECT_EQ(read_with(0.0), dev) << v.name;
    const std::vector<float> two = read_with(2.0);
    for (std::size_t i = 0; i < dev.size(); ++i)
      ASSERT_NEAR(two[i] - g, 2.0 * (one[i] - g), 4e-6 * g) << v.name << " device " << i;
    p.read_noise_scale = 2.0;
    EXPECT_DOUBLE_EQ(DeviceModel(p).read_noise_sigma(g, 3600.0),
                     2.0 * model_for(v).read_noise_sigma(g, 3600.0));
  }
}

// ---------------------------------------------------------------------------------------------
// Determinism: every draw is a pure function of the stream key.

TEST(DeviceModel, SameKeySameDevicesOtherKeyOthers) {
  const DeviceModel m(DeviceParams{});
  std::vector<float> target(4096);
  for (std::size_t i = 0; i < target.size(); ++i)
    target[i] = static_cast<float>(20.7 * static_cast<double>(i % 97) / 96.0);
  auto run = [&](const StreamKey& key) {
    Programmed r;
    r.prog.resize(target.size());
    r.nu.resize(target.size());
    RandomStream rng(key);
    m.program(target, r.prog, r.nu, rng);
    std::vector<float> drifted(target.size());
    m.drift(r.prog, r.nu, 3600.0, drifted);
    std::vector<float> out(target.size());
    StreamKey read_key = key;
    read_key.purpose = Purpose::read_noise;
    RandomStream read_rng(read_key);
    m.read(drifted, r.prog, 3600.0, out, read_rng);
    r.target = out;  // the final read conductances
    return r;
  };
  const StreamKey key{9, 0, 3, 5, Purpose::programming};
  const Programmed a = run(key);
  const Programmed b = run(key);
  EXPECT_EQ(a.prog, b.prog);
  EXPECT_EQ(a.nu, b.nu);
  EXPECT_EQ(a.target, b.target);

  StreamKey other_chip = key;
  other_chip.chip = 4;
  StreamKey other_tile = key;
  other_tile.tile = 6;
  for (const auto& k : {other_chip, other_tile}) {
    const Programmed c = run(k);
    EXPECT_NE(c.prog, a.prog);
    EXPECT_NE(c.nu, a.nu);
    EXPECT_NE(c.target, a.target);
  }
}

}  // namespace
