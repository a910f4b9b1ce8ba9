#pragma once

#include <cstdint>

// The GEMM strip kernel of network/gemm.hpp, compiled once per ISA level (util/isa.hpp) from
// gemm_kernels.cpp with that level's flags; gemm.cpp dispatches. Plain data only: a kernel
// translation unit must use no inline function that another translation unit also emits (the
// linker keeps one copy of such a function, and an AVX-512 copy would then run on CPUs without
// AVX-512), so it sees neither StripRows nor the standard library's templates.
namespace aimc::network::kernels {

struct StripsArgs {
  const float* const* half;  // 2 per strip (StripRows::half)
  const std::int64_t* k_offset;
  std::int64_t rows;
  int k0;          // first column of x (crossbar row) in the product
  int k;           // columns in the product
  const float* w;  // k × out, row-major
  int out;
  float* y;  // rows × out, column-major
  std::int64_t ld_y;
  bool square;  // multiply by x∘x instead of x
};

// The FMA probe: `iterations` rounds of 12 independent chains of vector multiply-adds in
// registers (no memory traffic), the widest vector of the level (8 floats; 16 for avx512).
// Returns a value of the chains so that the work is not optimised away, and the floating-point
// operations done in `flop`.
#define AIMC_DECLARE_KERNELS(ns)                                      \
  namespace ns {                                                      \
  void strips(const StripsArgs& a);                                   \
  float fma_probe(std::int64_t iterations, float seed, double& flop); \
  }
AIMC_DECLARE_KERNELS(baseline)
AIMC_DECLARE_KERNELS(avx2)
AIMC_DECLARE_KERNELS(avx512)
#undef AIMC_DECLARE_KERNELS

}  // namespace aimc::network::kernels
