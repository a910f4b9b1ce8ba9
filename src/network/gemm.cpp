#include "network/gemm.hpp"

#include <algorithm>
#include <chrono>

#include "network/gemm_kernels.hpp"
#include "util/isa.hpp"

namespace aimc::network {

namespace {

kernels::StripsArgs args_of(const StripRows& x, int k0, int k, const float* w, int out, float* y,
                            std::int64_t ld_y, bool square) {
  return {x.half.data(), x.k_offset, x.rows, k0, k, w, out, y, ld_y, square};
}

void run(Isa isa, const kernels::StripsArgs& a) {
  switch (isa) {
#if defined(__x86_64__)
    case Isa::avx512:
      kernels::avx512::strips(a);
      return;
    case Isa::avx2:
      kernels::avx2::strips(a);
      return;
#else
    case Isa::avx512:
    case Isa::avx2:
#endif
    case Isa::baseline:
      kernels::baseline::strips(a);
      return;
  }
}

}  // namespace

void gemm_strips(const StripRows& x, const float* w, int out, float* y, std::int64_t ld_y) {
  run(active_isa(), args_of(x, 0, x.k, w, out, y, ld_y, false));
}

void gemm_strips_rows(const StripRows& x, int k0, int k, const float* w, int out, float* y,
                      std::int64_t ld_y) {
  run(active_isa(), args_of(x, k0, k, w, out, y, ld_y, false));
}

void gemm_strips_rows_squared(const StripRows& x, int k0, int k, const float* w, int out, float* y,
                              std::int64_t ld_y) {
  run(active_isa(), args_of(x, k0, k, w, out, y, ld_y, true));
}

double fma_peak_gflops(Isa isa, double seconds) {
  auto probe = [isa](std::int64_t iterations, double& flop) {
    switch (isa) {
#if defined(__x86_64__)
      case Isa::avx512:
        return kernels::avx512::fma_probe(iterations, 1.0F, flop);
      case Isa::avx2:
        return kernels::avx2::fma_probe(iterations, 1.0F, flop);
#else
      case Isa::avx512:
      case Isa::avx2:
#endif
      case Isa::baseline:
        break;
    }
    return kernels::baseline::fma_probe(iterations, 1.0F, flop);
  };
  double best = 0.0;
  std::int64_t iterations = 1 << 16;
  double spent = 0.0;
  float sink = 0.0F;
  while (spent < seconds) {
    double flop = 0.0;
    const auto t0 = std::chrono::steady_clock::now();
    sink += probe(iterations, flop);
    const double took =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    spent += took;
    if (took < 0.02) {
      iterations *= 4;  // too short to time well
      continue;
    }
    best = std::max(best, flop / took / 1e9);
  }
  // The chains' value keeps the work alive; it is finite, so this never changes the result.
  return sink == sink ? best : 0.0;
}

void gemm_strips_rows_with(Isa isa, const StripRows& x, int k0, int k, const float* w, int out,
                           float* y, std::int64_t ld_y, bool square) {
  run(isa, args_of(x, k0, k, w, out, y, ld_y, square));
}

}  // namespace aimc::network
