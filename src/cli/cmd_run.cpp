#include <csignal>
#include <cstdio>

#include "app/study.hpp"
#include "cli/commands.hpp"
#include "util/error.hpp"

namespace aimc::cli {

namespace {

void parse_slice(const std::string& text, experiment::RunOptions& o) {
  long long i = -1;
  long long n = -1;
  char tail = 0;
  if (std::sscanf(text.c_str(), "%lld/%lld%c", &i, &n, &tail) != 2 || n < 1 || i < 0 || i >= n)
    throw Error("--slice '" + text + "', expected I/N with 0 <= I < N (e.g. 0/4)");
  o.slice_index = i;
  o.slice_count = n;
}

// --test-signal-after K[:TERM|INT]
void parse_test_signal(const std::string& text, experiment::RunOptions& o) {
  const std::size_t colon = text.find(':');
  const std::string count = text.substr(0, colon);
  const std::string signal = colon == std::string::npos ? "TERM" : text.substr(colon + 1);
  long long k = 0;
  char tail = 0;
  if (std::sscanf(count.c_str(), "%lld%c", &k, &tail) != 1 || k < 1 ||
      (signal != "TERM" && signal != "INT"))
    throw Error("--test-signal-after '" + text + "', expected K, K:TERM or K:INT with K >= 1");
  o.signal_after_samples = k;
  o.test_signal = signal == "INT" ? SIGINT : SIGTERM;
}

std::string join_command_line(const std::vector<std::string>& args) {
  std::string s = "aimc run";
  for (const std::string& a : args)
    s += " " + a;
  return s;
}

}  // namespace

int cmd_run(const std::vector<std::string>& args, const experiment::MpiSession& mpi) {
  std::string experiment_path;
  std::string output;
  std::vector<std::string> overrides;
  std::string slice;
  std::string test_signal;
  int threads = 0;
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")(
      "experiment", po::value(&experiment_path)->required(),
      "experiment file (INI; docs/experiments.md), e.g. experiments/quickstart.ini")(
      "output,o", po::value(&output), "results file (.h5); overrides the file's 'output'")(
      "set", po::value(&overrides)->composing(),
      "override any experiment key: --set n_chips=2, --set data.images=100, "
      "--set chip.drift.compensation=none, --set sweep.t_inference=0,3600 (repeatable; aimc keys "
      "--experiment and aimc keys list them)")(
      "resume", po::bool_switch()->default_value(false),
      "require an existing results file and complete it (rerunning without --resume does the "
      "same when the file exists)")(
      "slice", po::value(&slice),
      "I/N: compute only work units u with u % N == I (job arrays; combine with 'aimc merge')")(
      "threads", po::value(&threads)->default_value(0), "TBB threads per rank (0: all cores)")(
      "no-progress", po::bool_switch()->default_value(false), "no progress line on stderr")(
      "test-die-after", po::value<std::int64_t>()->default_value(-1),
      "testing only: rank 0 kills itself (SIGKILL) after writing this many samples")(
      "test-signal-after", po::value(&test_signal),
      "testing only: K[:TERM|INT]: rank 0 sends itself SIGTERM (or SIGINT) after writing K "
      "samples, and stops as on a signal from outside")(
      "test-wait-after", po::value<std::int64_t>()->default_value(-1),
      "testing only: once the results file holds this many finished samples, rank 0 stops "
      "working and waits for a signal");
  po::positional_options_description pos;
  pos.add("experiment", 1);
  po::variables_map vm;
  if (!parse_args("run",
                  "EXPERIMENT.ini [--output PATH] [--set key=value ...] [--resume] "
                  "[--slice I/N] [--threads N]",
                  args, opts, pos, vm, mpi.is_root()))
    return 0;
  if (threads < 0) throw Error("--threads " + std::to_string(threads) + ", expected >= 0");
  app::StudyRequest request;
  request.experiment_path = experiment_path;
  if (!slice.empty()) parse_slice(slice, request.options);
  request.options.progress = !vm["no-progress"].as<bool>();
  request.options.die_after_samples = vm["test-die-after"].as<std::int64_t>();
  if (!test_signal.empty()) parse_test_signal(test_signal, request.options);
  request.options.wait_after_samples = vm["test-wait-after"].as<std::int64_t>();
  if (!output.empty()) overrides.insert(overrides.begin(), "output=" + output);
  request.overrides = overrides;
  request.resume = vm["resume"].as<bool>();
  request.threads = threads;
  request.command_line = join_command_line(args);
  return app::run_study(request, mpi);
}

int cmd_merge(const std::vector<std::string>& args, const experiment::MpiSession& mpi) {
  std::vector<std::string> files;
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")("files", po::value(&files)->composing(),
                                                 "OUT.h5 IN.h5 [IN.h5 ...]");
  po::positional_options_description pos;
  pos.add("files", -1);
  po::variables_map vm;
  if (!parse_args("merge", "OUT.h5 IN.h5 [IN.h5 ...]", args, opts, pos, vm, mpi.is_root()))
    return 0;
  if (files.size() < 2) throw Error("expected OUT.h5 and at least one IN.h5");
  if (!mpi.is_root()) return 0;
  return app::merge_study(files[0], std::vector<std::string>(files.begin() + 1, files.end()));
}

}  // namespace aimc::cli
