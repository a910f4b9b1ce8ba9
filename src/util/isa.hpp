#pragma once

#include <string>
#include <vector>

// The instruction-set levels that aimc's hot kernels are compiled for, in one binary: the kernel
// is built once per level with that level's flags (src/CMakeLists.txt), and the best level the
// CPU supports is chosen at start-up from cpuid. AIMC_ISA=baseline|avx2|avx512 forces a level
// (lower ones for tests and comparisons; a level the CPU lacks is an error).
namespace aimc {

enum class Isa {
  baseline,  // the compiler's default for the target (x86-64: SSE2), no FMA
  avx2,      // AVX2 and FMA (Haswell, Zen 1 and later)
  avx512,    // AVX-512 F/VL/DQ/BW, AVX2 and FMA: 32 vector registers (Skylake-SP, Zen 4)
};

const char* isa_name(Isa isa);
bool isa_from_name(const std::string& name, Isa& isa);
// Whether this CPU can run `isa`'s kernels.
bool cpu_supports(Isa isa);
// The best level this CPU supports.
Isa best_isa();
// Every level this CPU supports, lowest first.
std::vector<Isa> supported_isas();
// The level the kernels use: best_isa(), or AIMC_ISA's. Decided on the first call and fixed for
// the life of the process; throws aimc::Error naming AIMC_ISA if it is unknown or the CPU lacks
// it.
Isa active_isa();

}  // namespace aimc
