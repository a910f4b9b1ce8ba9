#pragma once

#include <Random123/philox.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <span>

namespace aimc {

// What a stream of random numbers is for. Part of the stream key, so that e.g. the programming
// error and the read noise of the same tile never share numbers.
enum class Purpose : std::uint32_t {
  programming = 1,
  drift = 2,
  read_noise = 3,
  output_noise = 4,
  dataset_subset = 5,
  program_verify = 6,
  faults = 7,
  adc_mismatch = 8,
  compensation_pattern = 9,  // the drift-compensation readout's input signs (chip readout)
  compensation_noise = 10,   // its per-MVM read and output noise
  test = 100,
};

// Identifies one independent random stream. Every random draw in aimc comes from a stream keyed by
// what it belongs to: (master seed, occasion, chip instance, tile, purpose, lane), never by a
// position that depends on scheduling or on other sweep points (docs/experiments.md, "Random
// streams"). So results do not depend on how work is split over MPI ranks or TBB threads, on the
// order in which it is done, nor on which other points a sweep has.
struct StreamKey {
  std::uint64_t seed = 0;
  // When the draws happen: 0 for programming (shared by every point of a chip: common random
  // numbers), a hash of the read time for a read (network::read_occasion), ~0 for the drift
  // compensation's reference read right after programming.
  std::uint64_t occasion = 0;
  std::uint64_t chip = 0;
  std::uint32_t tile = 0;
  Purpose purpose = Purpose::test;
  // A sub-stream within (occasion, chip, tile, purpose): the image of a per-MVM draw.
  std::uint64_t lane = 0;
};

// Counter-based stream on Philox4x64-10 (Salmon et al., "Parallel random numbers: as easy as
// 1, 2, 3", SC'11), as used by Random123. The key holds (seed, purpose|tile); the counter holds
// (occasion, chip, block index, lane). Each block of the counter yields four 64-bit words, so the
// n-th draw of a stream is a pure function of (key, n): a stream can be entered at any offset.
class RandomStream {
 public:
  explicit RandomStream(const StreamKey& key, std::uint64_t first_block = 0)
      : key_{{key.seed, (static_cast<std::uint64_t>(key.purpose) << 32) | key.tile}},
        counter_{{key.occasion, key.chip, first_block, key.lane}} {}

  // Skips the next n raw words (for entering a stream at a word, not a block, boundary).
  void skip_words(std::uint64_t n) {
    while (n > 0 && used_ < 4) {
      ++used_;
      --n;
    }
    counter_.v[2] += n / 4;
    if (n % 4 != 0) {
      block_ = engine_(counter_, key_);
      ++counter_.v[2];
      used_ = static_cast<unsigned>(n % 4);
    }
  }

  // Uniform in the open interval (0, 1): 53 random mantissa bits, offset by half an ulp, so that
  // log(u) in Box-Muller is always finite.
  double uniform() {
    const std::uint64_t bits = next_word() >> 11;
    return (static_cast<double>(bits) + 0.5) * 0x1.0p-53;
  }

  // Standard normal by the Box-Muller transform (Box & Muller 1958); both outputs are used.
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double r = std::sqrt(-2.0 * std::log(uniform()));
    const double phi = 2.0 * std::numbers::pi * uniform();
    spare_ = r * std::sin(phi);
    has_spare_ = true;
    return r * std::cos(phi);
  }

  // The next out.size() raw 64-bit words of the stream, the same words as out.size() calls of
  // next_word(). Whole blocks go straight to `out`, without next_word's per-word bookkeeping:
  // bulk draws (the normals of the per-MVM noise) are about 20 % faster that way.
  void fill_words(std::span<std::uint64_t> out) {
    std::size_t i = 0;
    while (i < out.size() && used_ < 4)
      out[i++] = block_.v[used_++];
    for (; i + 4 <= out.size(); i += 4) {
      const Engine::ctr_type block = engine_(counter_, key_);
      ++counter_.v[2];
      std::copy(block.v, block.v + 4, out.data() + i);
    }
    while (i < out.size())
      out[i++] = next_word();
  }

 private:
  using Engine = r123::Philox4x64;

  std::uint64_t next_word() {
    if (used_ == 4) {
      block_ = engine_(counter_, key_);
      ++counter_.v[2];
      used_ = 0;
    }
    return block_.v[used_++];
  }

  Engine engine_{};
  Engine::key_type key_;
  Engine::ctr_type counter_;
  Engine::ctr_type block_{};
  unsigned used_ = 4;
  double spare_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace aimc
