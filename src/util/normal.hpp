#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "util/rng.hpp"

namespace aimc {

// Fills out[0, n) with standard normals from `rng`, several times faster than
// RandomStream::normal() per value: one 64-bit stream word per pair, then a vectorisable
// Box–Muller transform (Box & Muller 1958) with polynomial log, sin and cos.
//
// Accuracy: the polynomials are good to about 3e-7 relative (see normal.cpp), below float's
// own resolution of the uniforms. The uniforms carry 24 bits each, so |z| is at most about
// 5.9σ; the mass beyond that is 3.6e-9, which noise in a float simulation cannot resolve anyway.
// The values are a pure function of the stream position, like every other draw.
void fill_standard_normal(RandomStream& rng, float* out, std::size_t n);
// Normals first, first + 1, ..., first + n - 1 of the stream `key` as fill_standard_normal draws
// them from its start (normal i comes from word i / 2): a range of a stream, entered anywhere.
void fill_standard_normal_at(const StreamKey& key, std::uint64_t first, float* out, std::size_t n);

// Float log and exp that GCC vectorises (libm's calls it does not): the Box–Muller transform
// above and the physics loops (physics/device_model.cpp) use them.

// Natural log of a positive, normal float: x = m·2^e with m in [√½, √2), then
// ln m = 2·atanh(s), s = (m−1)/(m+1), |s| ≤ 0.1716, by its series to s⁹ (next term < 1e-9), so
// the absolute error is a few 1e-8, the rounding of the final sum.
inline float fast_log(float x) {
  const auto bits = std::bit_cast<std::uint32_t>(x);
  int e = static_cast<int>((bits >> 23) & 0xffU) - 127;
  float m = std::bit_cast<float>((bits & 0x7fffffU) | 0x3f800000U);
  const bool big = m > 1.41421356F;
  m = big ? 0.5F * m : m;
  e = big ? e + 1 : e;
  const float s = (m - 1.0F) / (m + 1.0F);
  const float s2 = s * s;
  const float series = 1.0F + s2 * (1.0F / 3 + s2 * (1.0F / 5 + s2 * (1.0F / 7 + s2 * (1.0F / 9))));
  return 2.0F * s * series + static_cast<float>(e) * 0.693147180559945F;
}

// e^x for x ≤ 0 (0 below −87, where float would go subnormal): x·log2(e) = n + f with n an
// integer and |f| ≤ ½, 2^f by the Taylor series of e^(f·ln 2) to degree 7 (next term < 6e-9),
// times 2^n through the exponent bits. The relative error is about 1e-7, and e^0 is exactly 1.
inline float fast_exp_nonpositive(float x) {
  const float y = std::max(x, -87.0F) * 1.44269504089F;
  const float n = std::nearbyint(y);
  const float t = (y - n) * 0.693147180559945F;
  const float p =
      1.0F +
      t * (1.0F +
           t * (1.0F / 2 +
                t * (1.0F / 6 +
                     t * (1.0F / 24 + t * (1.0F / 120 + t * (1.0F / 720 + t * (1.0F / 5040)))))));
  const auto scale =
      std::bit_cast<float>(static_cast<std::uint32_t>(static_cast<int>(n) + 127) << 23);
  return x < -87.0F ? 0.0F : p * scale;
}

}  // namespace aimc
