#include "app/import_model.hpp"

#include <spawn.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "util/error.hpp"

extern char** environ;

namespace aimc::app {

int run_importer(const std::vector<std::string>& args) {
  const char* env_python = std::getenv("AIMC_PYTHON");
  const std::string python = env_python != nullptr ? env_python : "/usr/bin/python3";
  const std::string script = std::string(AIMC_SOURCE_DIR) + "/scripts/import_model.py";
  std::vector<std::string> argv_s{python, script};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, python.c_str(), nullptr, nullptr, argv.data(), environ);
  if (rc != 0)
    throw Error("cannot run " + python + ": " + std::strerror(rc) +
                " (install python3-numpy and python3-h5py, or set AIMC_PYTHON)");
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) throw Error("waitpid failed: " + std::string(std::strerror(errno)));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

}  // namespace aimc::app
