#include "util/normal.hpp"

#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

namespace aimc {

namespace {

constexpr std::size_t k_block = 64;  // pairs per vectorised block

// Box–Muller on k_block words: z[2i], z[2i + 1] from word i.
void box_muller(const std::uint64_t* words, float* z) {
  std::array<std::int32_t, k_block> bits1{};
  std::array<std::int32_t, k_block> bits2{};
  // Two 24-bit integers per word, split off first: AVX2 converts 32-bit integers to float in
  // vectors, 64-bit ones only one at a time.
  for (std::size_t i = 0; i < k_block; ++i) {
    bits1[i] = static_cast<std::int32_t>(words[i] >> 40);
    bits2[i] = static_cast<std::int32_t>((words[i] >> 16) & 0xffffffU);
  }
  for (std::size_t i = 0; i < k_block; ++i) {
    const float u1 = (static_cast<float>(bits1[i]) + 0.5F) * 0x1.0p-24F;  // (0, 1)
    const float u2 = static_cast<float>(bits2[i]) * 0x1.0p-24F;           // [0, 1)
    const float r = std::sqrt(-2.0F * fast_log(u1));
    // sin and cos of 2π·u2: quadrant q = round(4·u2), θ = 2π(u2 − q/4) in [−π/4, π/4], Taylor
    // polynomials to θ⁹ and θ⁸ (errors below 3e-7 and 3e-8), then the quadrant's swap and signs.
    const float q = std::nearbyint(4.0F * u2);
    const float t = 6.28318530718F * (u2 - 0.25F * q);
    const float t2 = t * t;
    const float s =
        t * (1.0F + t2 * (-1.0F / 6 + t2 * (1.0F / 120 + t2 * (-1.0F / 5040 + t2 / 362880))));
    const float c = 1.0F + t2 * (-0.5F + t2 * (1.0F / 24 + t2 * (-1.0F / 720 + t2 / 40320)));
    const int qi = static_cast<int>(q);
    const bool swap = (qi & 1) != 0;
    const float base_s = swap ? c : s;
    const float base_c = swap ? s : c;
    const float sin_v = (qi & 2) != 0 ? -base_s : base_s;
    const float cos_v = ((qi + 1) & 2) != 0 ? -base_c : base_c;
    z[2 * i] = r * cos_v;
    z[2 * i + 1] = r * sin_v;
  }
}

}  // namespace

void fill_standard_normal(RandomStream& rng, float* out, std::size_t n) {
  std::array<std::uint64_t, k_block> words{};
  std::array<float, 2 * k_block> z{};
  std::size_t done = 0;
  while (done < n) {
    rng.fill_words(words);
    const std::size_t take = std::min(z.size(), n - done);
    if (take == z.size()) {
      box_muller(words.data(), out + done);
    } else {
      box_muller(words.data(), z.data());
      std::copy(z.begin(), z.begin() + static_cast<std::ptrdiff_t>(take), out + done);
    }
    done += take;
  }
}

void fill_standard_normal_at(const StreamKey& key, std::uint64_t first, float* out, std::size_t n) {
  const std::uint64_t word = first / 2;
  RandomStream rng(key, word / 4);
  rng.skip_words(word % 4);
  if (first % 2 == 0) {
    fill_standard_normal(rng, out, n);
    return;
  }
  // An odd start is the second normal of its word's pair.
  thread_local std::vector<float> pair_aligned;
  pair_aligned.resize(n + 1);
  fill_standard_normal(rng, pair_aligned.data(), n + 1);
  std::copy(pair_aligned.begin() + 1, pair_aligned.end(), out);
}

}  // namespace aimc
