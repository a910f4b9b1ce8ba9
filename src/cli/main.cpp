// aimc: Monte Carlo studies of analog in-memory computing chips. A thin front end: each
// subcommand parses its options and calls into the aimc library.

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "io/hdf5.hpp"
#include "util/error.hpp"
#include "util/isa.hpp"
#include "util/version.hpp"

namespace {

constexpr const char* k_usage = R"(usage: aimc <command> [options]

Commands:
  run      run an experiment (sweep x chip instances, MPI + TBB) into an HDF5 results file;
           resumes a killed run (see experiments/quickstart.ini)
  merge    combine the results files of a job array (aimc run --slice) into one
  eval     evaluate a model on CIFAR-10: --ideal (exact float32) or --chip C.ini (one sampled
           analog chip at --t-inference seconds)
  map      show how a model's layers map onto the chip's cores
  perf     throughput and energy of a model on the chip, or the chip's peak (--peak)
  import   convert a PyTorch state_dict (.npz/.pt) into an aimc model file (.h5)
  bench    measure GEMM peak, aimc inference speed, and the ratio to PyTorch
  keys     every chip configuration key: type, default, unit, range, phases, meaning

Run 'aimc <command> --help' for a command's options. 'aimc --version' prints the version.
Runs under mpiexec as well: ranks split the work, results do not depend on the layout.
)";

int run_command(const aimc::experiment::MpiSession& mpi, int argc, char** argv) {
  const std::vector<std::string> all(argv + 1, argv + argc);
  if (all.empty() || all[0] == "--help" || all[0] == "-h" || all[0] == "help") {
    if (mpi.is_root()) std::cout << k_usage;
    return all.empty() ? 2 : 0;
  }
  const std::string command = all[0];
  const std::vector<std::string> args(all.begin() + 1, all.end());
  try {
    // A bad AIMC_ISA is one line before any work, not an error inside the first kernel call.
    const aimc::Isa isa = aimc::active_isa();
    if (command == "--version") {
      if (mpi.is_root()) {
        std::string levels;
        for (const aimc::Isa i : aimc::supported_isas())
          levels += std::string(levels.empty() ? "" : ", ") + aimc::isa_name(i);
        std::cout << "aimc " << aimc::k_version << " (" << aimc::k_git_sha
                  << ")\nkernels: " << aimc::isa_name(isa) << " (this CPU supports " << levels
                  << "; AIMC_ISA=baseline|avx2|avx512 forces one)\n";
      }
      return 0;
    }
    if (command == "eval") return aimc::cli::cmd_eval(args, mpi);
    if (command == "import") return aimc::cli::cmd_import(args, mpi);
    if (command == "bench") return aimc::cli::cmd_bench(args, mpi);
    if (command == "map") return aimc::cli::cmd_map(args, mpi);
    if (command == "perf") return aimc::cli::cmd_perf(args, mpi);
    if (command == "run") return aimc::cli::cmd_run(args, mpi);
    if (command == "merge") return aimc::cli::cmd_merge(args, mpi);
    if (command == "keys") return aimc::cli::cmd_keys(args, mpi);
    throw aimc::Error("unknown command '" + command +
                      "', expected one of: run, merge, eval, import, map, bench, perf "
                      "(see 'aimc --help')");
  } catch (const aimc::Error& e) {
    // Every rank reads the same inputs and fails the same way; one line is enough.
    const bool known = command == "eval" || command == "import" || command == "bench" ||
                       command == "map" || command == "perf" || command == "run" ||
                       command == "merge";
    if (mpi.is_root())
      std::cerr << (known ? "aimc " + command : std::string("aimc")) << ": error: " << e.what()
                << '\n';
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "aimc: internal error on rank " << mpi.rank() << ": " << e.what() << '\n';
    if (mpi.size() > 1) mpi.abort(1);
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  aimc::experiment::MpiSession mpi(&argc, &argv);
  const int code = run_command(mpi, argc, argv);
  if (aimc::io::h5::file_close_failed()) {
    // A results file could not be closed (disk full): HDF5's clean-up in MPI_Finalize would
    // crash on it. The error line is out and every finished sample was flushed before; end here.
    std::cout.flush();
    std::cerr.flush();
    std::_Exit(code);
  }
  return code;
}

namespace aimc::cli {

bool parse_args(const std::string& command, const std::string& usage,
                const std::vector<std::string>& args, const po::options_description& options,
                const po::positional_options_description& positional, po::variables_map& vm,
                bool print_help) {
  try {
    po::store(po::command_line_parser(args).options(options).positional(positional).run(), vm);
    if (vm.count("help") != 0U) {
      if (print_help) std::cout << "usage: aimc " << command << " " << usage << "\n\n" << options;
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw Error(std::string(e.what()) + " (see 'aimc " + command + " --help')");
  }
  return true;
}

}  // namespace aimc::cli
