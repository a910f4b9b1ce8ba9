// libFuzzer target: the model-file reader (io::read_model) on arbitrary bytes, written to a file
// because HDF5 reads files. Any input may fail with aimc::Error (one line); anything else (a
// crash, another exception, a sanitizer report, a hang) is a bug, in aimc or in how it drives
// HDF5.

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "io/model_file.hpp"
#include "util/error.hpp"

namespace {
std::string g_dir;
std::string g_path;
void remove_dir() {
  std::error_code ec;
  std::filesystem::remove_all(g_dir, ec);
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  char templ[] = "/tmp/aimc-fuzz-model-XXXXXX";
  if (mkdtemp(templ) == nullptr) std::abort();
  g_dir = templ;
  g_path = g_dir + "/model.h5";
  std::atexit(remove_dir);  // the temporary directory goes when the fuzzer exits normally
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  {
    std::ofstream out(g_path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    aimc::io::read_model(g_path);
  } catch (const aimc::Error&) {
  }
  return 0;
}
