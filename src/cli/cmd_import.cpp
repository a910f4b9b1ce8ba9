#include "app/import_model.hpp"
#include "cli/commands.hpp"
#include "util/error.hpp"

namespace aimc::cli {

// The importer parses its own options (and prints its own help), so the arguments pass through.
int cmd_import(const std::vector<std::string>& args, const experiment::MpiSession& mpi) {
  if (mpi.size() > 1) throw Error("run it without mpiexec (it is a one-process tool)");
  return app::run_importer(args);
}

}  // namespace aimc::cli
