#pragma once

#include <string>
#include <vector>

namespace aimc {

// Sorted, distinct integers as runs: {0, 1, 2, 5, 7, 8} -> "0-2<sep>5<sep>7-8". For messages and
// tables that list cores or sample indices.
template <typename T>
std::string range_list(const std::vector<T>& sorted, const std::string& sep) {
  std::string out;
  for (std::size_t i = 0; i < sorted.size();) {
    std::size_t j = i;
    while (j + 1 < sorted.size() && sorted[j + 1] == sorted[j] + 1)
      ++j;
    if (!out.empty()) out += sep;
    out += std::to_string(sorted[i]);
    // Appended piecewise: GCC 12 warns falsely (-Wrestrict) on "-" + std::to_string(...).
    if (j > i) {
      out += '-';
      out += std::to_string(sorted[j]);
    }
    i = j + 1;
  }
  return out;
}

}  // namespace aimc
