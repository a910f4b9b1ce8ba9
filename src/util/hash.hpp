#pragma once

#include <cstdint>
#include <string_view>

namespace aimc {

// FNV-1a 64-bit hash (Fowler, Noll, Vo). Identifies a configuration text and keys random streams
// by content; not a cryptographic hash.
constexpr std::uint64_t fnv1a(std::string_view text) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace aimc
