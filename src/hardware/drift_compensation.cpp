#include "hardware/drift_compensation.hpp"

namespace aimc::hardware {

std::vector<std::vector<float>> drift_compensation_factors(DriftCompensation mode,
                                                           std::span<const TileReadouts> group) {
  // The group's sums, tile by tile and column by column: this order fixes the rounding.
  double ref_sum = 0;
  double now_sum = 0;
  for (const TileReadouts& t : group)
    for (std::size_t j = 0; j < t.now->size(); ++j) {
      ref_sum += (*t.reference)[j];
      now_sum += (*t.now)[j];
    }
  const float global = now_sum > 0 ? static_cast<float>(ref_sum / now_sum) : 1.0F;
  std::vector<std::vector<float>> alpha;
  alpha.reserve(group.size());
  for (const TileReadouts& t : group) {
    std::vector<float>& a = alpha.emplace_back(t.now->size(), 1.0F);
    for (std::size_t j = 0; j < a.size(); ++j) {
      switch (mode) {
        case DriftCompensation::none:
          break;
        case DriftCompensation::global:
          a[j] = global;
          break;
        case DriftCompensation::per_column: {
          const double now = (*t.now)[j];
          a[j] = now > 0 ? static_cast<float>((*t.reference)[j] / now) : 1.0F;
          break;
        }
      }
    }
  }
  return alpha;
}

}  // namespace aimc::hardware
