#pragma once

#include <cstddef>

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

}  // namespace aimc
