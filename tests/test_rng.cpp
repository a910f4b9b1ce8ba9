#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "util/rng.hpp"

namespace {

using aimc::Purpose;
using aimc::RandomStream;
using aimc::StreamKey;

TEST(RandomStream, SameKeySameNumbers) {
  const StreamKey key{42, 3, 7, 11, Purpose::programming};
  RandomStream a(key);
  RandomStream b(key);
  for (int i = 0; i < 1000; ++i)
    ASSERT_EQ(a.normal(), b.normal());
}

TEST(RandomStream, EveryKeyFieldChangesTheStream) {
  const StreamKey base{42, 3, 7, 11, Purpose::programming};
  std::vector<StreamKey> variants(5, base);
  variants[0].seed = 43;
  variants[1].occasion = 4;
  variants[2].chip = 8;
  variants[3].tile = 12;
  variants[4].purpose = Purpose::read_noise;
  RandomStream ref(base);
  const double r = ref.uniform();
  for (const auto& k : variants) {
    RandomStream s(k);
    EXPECT_NE(s.uniform(), r);
  }
}

TEST(RandomStream, EnteringAtABlockOffsetContinuesTheStream) {
  const StreamKey key{1, 0, 0, 0, Purpose::test};
  RandomStream whole(key);
  for (int i = 0; i < 8; ++i)
    whole.uniform();  // two blocks of four words
  RandomStream skipped(key, 2);
  for (int i = 0; i < 100; ++i)
    ASSERT_EQ(whole.uniform(), skipped.uniform());
}

// fill_words writes whole blocks without next_word(); its words must be Random123's
// Philox4x64-10 of the stream's counters, whatever the starting offset inside a block and
// whatever the length, so that bulk and one-at-a-time draws are the same stream.
TEST(RandomStream, FillWordsIsRandom123Philox4x64BitForBit) {
  const StreamKey key{0x0123456789abcdefULL, 5, 9, 77, Purpose::output_noise};
  const r123::Philox4x64::key_type k{
      {key.seed, (static_cast<std::uint64_t>(key.purpose) << 32) | key.tile}};
  r123::Philox4x64 engine;
  for (const std::size_t skip : {0U, 1U, 3U, 4U, 6U}) {
    for (const std::size_t n : {0U, 1U, 5U, 16U, 17U, 63U, 200U}) {
      RandomStream s(key, 3);
      for (std::size_t i = 0; i < skip; ++i)
        s.uniform();
      std::vector<std::uint64_t> got(n + 5);
      s.fill_words(std::span(got).first(n));
      s.fill_words(std::span(got).subspan(n));  // and the stream goes on after a bulk fill
      for (std::size_t i = 0; i < got.size(); ++i) {
        const std::size_t word = skip + i;
        const r123::Philox4x64::ctr_type c{{key.occasion, key.chip, 3 + word / 4, 0}};
        ASSERT_EQ(got[i], engine(c, k).v[word % 4])
            << "skip " << skip << ", n " << n << ", i " << i;
      }
    }
  }
}

// Moments of 10^6 standard normals. The tolerances are 5 standard errors: the sample mean has
// standard error 1/sqrt(n), the sample variance sqrt(2/n), the fourth moment sqrt(96/n).
TEST(RandomStream, NormalMoments) {
  RandomStream s(StreamKey{2024, 0, 0, 0, Purpose::test});
  const int n = 1'000'000;
  double m1 = 0;
  double m2 = 0;
  double m4 = 0;
  for (int i = 0; i < n; ++i) {
    const double x = s.normal();
    m1 += x;
    m2 += x * x;
    m4 += x * x * x * x;
  }
  m1 /= n;
  m2 /= n;
  m4 /= n;
  EXPECT_NEAR(m1, 0.0, 5.0 / std::sqrt(n));
  EXPECT_NEAR(m2, 1.0, 5.0 * std::sqrt(2.0 / n));
  EXPECT_NEAR(m4, 3.0, 5.0 * std::sqrt(96.0 / n));
}

TEST(RandomStream, UniformIsOpenUnitIntervalWithRightMean) {
  RandomStream s(StreamKey{7, 0, 0, 0, Purpose::test});
  const int n = 1'000'000;
  double sum = 0;
  for (int i = 0; i < n; ++i) {
    const double u = s.uniform();
    ASSERT_GT(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  // Var(U) = 1/12; 5 standard errors.
  EXPECT_NEAR(sum / n, 0.5, 5.0 * std::sqrt(1.0 / 12.0 / n));
}

}  // namespace

#include "util/normal.hpp"

namespace {

// The fast vectorised normals: moments, tail masses against Φ, determinism.
TEST(FastNormal, MomentsAndTailsMatchTheStandardNormal) {
  aimc::RandomStream s(StreamKey{99, 0, 0, 0, Purpose::test});
  const int n = 2'000'000;
  std::vector<float> z(n);
  aimc::fill_standard_normal(s, z.data(), z.size());
  double m1 = 0, m2 = 0, m4 = 0;
  int beyond1 = 0, beyond2 = 0, beyond3 = 0;
  for (float v : z) {
    const double x = v;
    m1 += x;
    m2 += x * x;
    m4 += x * x * x * x;
    beyond1 += std::abs(x) > 1;
    beyond2 += std::abs(x) > 2;
    beyond3 += std::abs(x) > 3;
  }
  m1 /= n;
  m2 /= n;
  m4 /= n;
  EXPECT_NEAR(m1, 0.0, 5.0 / std::sqrt(n));
  EXPECT_NEAR(m2, 1.0, 5.0 * std::sqrt(2.0 / n));
  EXPECT_NEAR(m4, 3.0, 5.0 * std::sqrt(96.0 / n));
  // P(|Z| > k) = erfc(k/√2); binomial counts, 5 standard deviations.
  for (const auto& [k, count] : {std::pair{1.0, beyond1}, {2.0, beyond2}, {3.0, beyond3}}) {
    const double p = std::erfc(k / std::sqrt(2.0));
    EXPECT_NEAR(count, p * n, 5 * std::sqrt(n * p * (1 - p))) << "tail beyond " << k;
  }
}

TEST(FastNormal, MatchesAccurateBoxMullerOnTheSameUniforms) {
  // Same stream words through libm's log/sin/cos in double: the polynomials agree to ~1e-6.
  aimc::RandomStream a(StreamKey{5, 1, 2, 3, Purpose::test});
  aimc::RandomStream b(StreamKey{5, 1, 2, 3, Purpose::test});
  std::vector<float> fast(256);
  aimc::fill_standard_normal(a, fast.data(), fast.size());
  std::vector<std::uint64_t> words(128);
  b.fill_words(words);
  for (std::size_t i = 0; i < words.size(); ++i) {
    const double u1 = (static_cast<double>(words[i] >> 40) + 0.5) * 0x1.0p-24;
    const double u2 = static_cast<double>((words[i] >> 16) & 0xffffffU) * 0x1.0p-24;
    const double r = std::sqrt(-2.0 * std::log(u1));
    EXPECT_NEAR(fast[2 * i], r * std::cos(2 * M_PI * u2), 2e-6 * (1 + r));
    EXPECT_NEAR(fast[2 * i + 1], r * std::sin(2 * M_PI * u2), 2e-6 * (1 + r));
  }
}

}  // namespace
