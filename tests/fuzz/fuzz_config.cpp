// libFuzzer target: the experiment and chip configuration parsers (io::read_experiment,
// io::read_chip_config) on arbitrary file contents. Any input may fail with aimc::Error (one
// line); anything else (a crash, another exception, a sanitizer report, a hang) is a bug.
//
// The parsers read files, so each input is written to fuzz.ini in a private working directory
// that also holds model.h5 and chip.ini, so inputs naming them reach the end of the parse.

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "io/chip_config.hpp"
#include "io/experiment_config.hpp"
#include "util/error.hpp"

namespace fs = std::filesystem;

namespace {
std::string g_dir;
void remove_dir() {
  std::error_code ec;
  fs::remove_all(g_dir, ec);
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  char templ[] = "/tmp/aimc-fuzz-config-XXXXXX";
  if (mkdtemp(templ) == nullptr) std::abort();
  fs::copy_file(fs::path(AIMC_SOURCE_DIR) / "configs/chips/hermes64.ini",
                fs::path(templ) / "chip.ini");
  std::ofstream(fs::path(templ) / "model.h5") << "only hashed, never read as a model\n";
  fs::current_path(templ);
  g_dir = templ;
  std::atexit(remove_dir);  // the temporary directory goes when the fuzzer exits normally
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  // A sweep of k values per axis over a axes expands to k^a points, each a resolved chip
  // configuration: legal (up to 10^7 points) but slow. That is linear work, not parsing, so
  // inputs that could expand to more than 2^12 points are skipped.
  if (std::count(text.begin(), text.end(), ',') > 12) return 0;
  {
    std::ofstream out("fuzz.ini", std::ios::binary | std::ios::trunc);
    out << text;
  }
  try {
    aimc::io::read_experiment("fuzz.ini", {});
  } catch (const aimc::Error&) {
  }
  try {
    aimc::io::read_chip_config("fuzz.ini", {});
  } catch (const aimc::Error&) {
  }
  return 0;
}
