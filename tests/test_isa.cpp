// The GEMM kernel at every ISA level this CPU runs (util/isa.hpp) against the baseline level and
// a double-precision reference. The FMA levels (avx2, avx512) sum each output in the same order
// with fused multiply-adds, so they agree bit for bit; the baseline rounds every product, so it
// agrees within the bound of two k-term float sums. Levels the CPU lacks are reported, loudly,
// as not tested.

#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <map>
#include <vector>

#include "network/gemm.hpp"
#include "network/layers.hpp"
#include "util/isa.hpp"
#include "util/rng.hpp"

namespace {

using aimc::Isa;

struct Case {
  int k;
  int out;
  std::int64_t rows;
};

// Runs every supported level on one random product and checks it.
void check(const Case& c, bool square) {
  aimc::RandomStream rng(aimc::StreamKey{11, 0, static_cast<std::uint64_t>(c.k),
                                         static_cast<std::uint32_t>(c.out), aimc::Purpose::test});
  std::vector<float> x(static_cast<std::size_t>(aimc::network::packed_size(c.rows, c.k)), 0.0F);
  std::vector<float> w(static_cast<std::size_t>(c.k) * c.out);
  // Packed strips: element (r, kk) at strip r/16, offset 16·kk + r%16.
  for (std::int64_t r = 0; r < c.rows; ++r)
    for (int kk = 0; kk < c.k; ++kk)
      x[static_cast<std::size_t>((r / 16) * 16 * c.k + 16 * kk + r % 16)] =
          static_cast<float>(2.0 * rng.uniform() - 1.0);
  for (float& v : w)
    v = static_cast<float>(2.0 * rng.uniform() - 1.0);
  std::vector<std::int64_t> offsets;
  const auto strips = aimc::network::packed_strips(x.data(), c.rows, c.k, offsets);

  std::map<Isa, std::vector<float>> y;
  for (const Isa isa : aimc::supported_isas()) {
    auto& out = y[isa];
    out.assign(static_cast<std::size_t>(c.rows * c.out), -7.0F);
    aimc::network::gemm_strips_rows_with(isa, strips, 0, c.k, w.data(), c.out, out.data(), c.rows,
                                         square);
  }
  // Each float sum of k products is within γ_k = k·u/(1 − k·u) of Σ|x·w| of the exact sum
  // (u = 2^-24; Higham, Accuracy and Stability of Numerical Algorithms, eq. 3.5); the squared
  // input adds one more rounding per term.
  const double u = std::ldexp(1.0, -24);
  const double n = c.k + (square ? 1 : 0) + 1;
  const double gamma = n * u / (1 - n * u);
  for (std::int64_t r = 0; r < c.rows; ++r)
    for (int j = 0; j < c.out; ++j) {
      double exact = 0;
      double magnitude = 0;
      for (int kk = 0; kk < c.k; ++kk) {
        double xv = strips.at(r, kk);
        if (square) xv *= xv;
        exact += xv * w[static_cast<std::size_t>(kk * c.out + j)];
        magnitude += std::abs(xv * w[static_cast<std::size_t>(kk * c.out + j)]);
      }
      for (const auto& [isa, out] : y) {
        const double got = out[static_cast<std::size_t>(j * c.rows + r)];
        ASSERT_LE(std::abs(got - exact), gamma * magnitude)
            << aimc::isa_name(isa) << " row " << r << " column " << j << " k " << c.k;
      }
    }
  if (y.count(Isa::avx2) != 0 && y.count(Isa::avx512) != 0) {
    EXPECT_EQ(y[Isa::avx2], y[Isa::avx512]) << "k " << c.k << " out " << c.out;
  }
  if (y.count(Isa::avx2) != 0) {
    // The FMA levels must actually fuse: on random data some output differs from the baseline.
    EXPECT_NE(y[Isa::avx2], y[Isa::baseline]) << "k " << c.k << " out " << c.out;
  }
}

TEST(Isa, EveryLevelThisCpuRunsComputesTheProduct) {
  for (const Isa isa : {Isa::baseline, Isa::avx2, Isa::avx512})
    if (!aimc::cpu_supports(isa))
      std::cout << "\n*** NOT TESTED: the " << aimc::isa_name(isa)
                << " kernel (this CPU lacks it) ***\n\n";
  // Partial strips (rows % 16 != 0) and every tail width of both tile widths (6 and 12).
  for (const Case c : {Case{50, 1, 37}, Case{50, 5, 16}, Case{144, 6, 33}, Case{144, 7, 64},
                       Case{9, 11, 5}, Case{256, 12, 48}, Case{300, 13, 20}, Case{27, 29, 100}})
    for (const bool square : {false, true})
      check(c, square);
}

TEST(Isa, NamesRoundTripAndTheActiveLevelIsSupported) {
  for (const Isa isa : {Isa::baseline, Isa::avx2, Isa::avx512}) {
    Isa back{};
    ASSERT_TRUE(aimc::isa_from_name(aimc::isa_name(isa), back));
    EXPECT_EQ(back, isa);
  }
  Isa none{};
  EXPECT_FALSE(aimc::isa_from_name("sse4", none));
  EXPECT_TRUE(aimc::cpu_supports(aimc::active_isa()));
  EXPECT_TRUE(aimc::cpu_supports(Isa::baseline));
  EXPECT_EQ(aimc::supported_isas().front(), Isa::baseline);
}

}  // namespace
