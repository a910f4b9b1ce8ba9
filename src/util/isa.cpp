#include "util/isa.hpp"

#include <cstdlib>

#include "util/error.hpp"

namespace aimc {

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::baseline:
      return "baseline";
    case Isa::avx2:
      return "avx2";
    case Isa::avx512:
      return "avx512";
  }
  return "?";
}

bool isa_from_name(const std::string& name, Isa& isa) {
  for (const Isa i : {Isa::baseline, Isa::avx2, Isa::avx512})
    if (name == isa_name(i)) {
      isa = i;
      return true;
    }
  return false;
}

bool cpu_supports(Isa isa) {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  switch (isa) {
    case Isa::baseline:
      return true;
    case Isa::avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::avx512:
      return cpu_supports(Isa::avx2) && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512bw");
  }
  return false;
#else
  return isa == Isa::baseline;  // only the baseline kernel is built off x86-64
#endif
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (const Isa i : {Isa::baseline, Isa::avx2, Isa::avx512})
    if (cpu_supports(i)) out.push_back(i);
  return out;
}

Isa best_isa() {
  return supported_isas().back();
}

namespace {

Isa choose_isa() {
  const char* forced = std::getenv("AIMC_ISA");
  if (forced == nullptr || *forced == '\0') return best_isa();
  Isa isa{};
  if (!isa_from_name(forced, isa))
    throw Error(std::string("AIMC_ISA = '") + forced + "', expected baseline, avx2 or avx512");
  if (!cpu_supports(isa))
    throw Error(std::string("AIMC_ISA = ") + forced + ", but this CPU supports at most " +
                isa_name(best_isa()));
  return isa;
}

}  // namespace

Isa active_isa() {
  // Computed once (thread-safe static initialisation) and never changed: every kernel call of
  // the process uses the same level, so its results are one function of the inputs.
  static const Isa isa = choose_isa();
  return isa;
}

}  // namespace aimc
