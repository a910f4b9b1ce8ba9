#pragma once

#include <boost/program_options.hpp>
#include <string>
#include <vector>

#include "experiment/mpi_session.hpp"

namespace aimc::cli {

namespace po = boost::program_options;

// Each subcommand gets the arguments after its name and returns the process exit code. It throws
// aimc::Error for bad input; main() turns that into one "aimc: error: ..." line.
int cmd_eval(const std::vector<std::string>& args, const experiment::MpiSession& mpi);
int cmd_import(const std::vector<std::string>& args, const experiment::MpiSession& mpi);
int cmd_map(const std::vector<std::string>& args, const experiment::MpiSession& mpi);
int cmd_bench(const std::vector<std::string>& args, const experiment::MpiSession& mpi);
int cmd_run(const std::vector<std::string>& args, const experiment::MpiSession& mpi);
int cmd_merge(const std::vector<std::string>& args, const experiment::MpiSession& mpi);
int cmd_perf(const std::vector<std::string>& args, const experiment::MpiSession& mpi);
int cmd_keys(const std::vector<std::string>& args, const experiment::MpiSession& mpi);

// Parses `args` against `options` (and positionals), turning Boost's exceptions into aimc::Error
// lines that name the subcommand. Returns false if --help was given (help already printed).
bool parse_args(const std::string& command, const std::string& usage,
                const std::vector<std::string>& args, const po::options_description& options,
                const po::positional_options_description& positional, po::variables_map& vm,
                bool print_help);

}  // namespace aimc::cli
