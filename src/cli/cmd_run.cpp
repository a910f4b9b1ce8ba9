#include <mpi.h>
#include <tbb/global_control.h>
#include <tbb/info.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

#include "cli/commands.hpp"
#include "experiment/run.hpp"
#include "io/cifar10.hpp"
#include "io/experiment_config.hpp"
#include "io/model_file.hpp"
#include "io/results_file.hpp"
#include "util/error.hpp"

namespace aimc::cli {

namespace {

// Rank 0 decides (it alone touches the results file); every rank learns the outcome, so that all
// of them continue or stop together.
int broadcast(int value) {
  MPI_Bcast(&value, 1, MPI_INT, 0, MPI_COMM_WORLD);
  return value;
}

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
      "--set chip.drift.compensation=none, --set sweep.t_inference=0,3600 (repeatable)")(
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
  experiment::RunOptions options;
  if (!slice.empty()) parse_slice(slice, options);
  options.progress = !vm["no-progress"].as<bool>();
  options.die_after_samples = vm["test-die-after"].as<std::int64_t>();
  if (!test_signal.empty()) parse_test_signal(test_signal, options);
  options.wait_after_samples = vm["test-wait-after"].as<std::int64_t>();
  if (!output.empty()) overrides.insert(overrides.begin(), "output=" + output);

  // Everything that can be wrong with the inputs is found here, before any work starts.
  const experiment::Plan plan = io::read_experiment(experiment_path, overrides);
  const network::Model model = io::read_model(plan.params.model_path);
  const std::string data_dir =
      plan.params.data.dir.empty() ? default_data_dir() : plan.params.data.dir;
  const network::ImageSet all = plan.params.data.split == "test" ? io::read_cifar10_test(data_dir)
                                                                 : io::read_cifar10_train(data_dir);
  if (!(all.shape == model.input) || all.classes != model.num_classes)
    throw Error(plan.params.model_path + ": model expects input " + std::to_string(model.input.c) +
                "x" + std::to_string(model.input.h) + "x" + std::to_string(model.input.w) +
                " and " + std::to_string(model.num_classes) +
                " classes; CIFAR-10 has 3x32x32 and 10");
  network::ImageSet images;
  try {
    images = experiment::select_images(all, plan.params.data, plan.params.seed);
  } catch (const Error& e) {
    throw Error(experiment_path + ": " + e.what());
  }
  int calibration_count = 1;
  for (const experiment::SweepPoint& p : plan.points)
    calibration_count = std::max(calibration_count, p.chip.calibration_images);
  const network::ImageSet calibration = io::read_cifar10_train(data_dir, calibration_count);

  std::unique_ptr<tbb::global_control> limit;
  if (threads > 0)
    limit = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism,
                                                  threads);
  const int used_threads = threads > 0 ? threads : tbb::info::default_concurrency();

  // Rank 0 opens (or creates) the results file; the others learn whether to go on.
  std::unique_ptr<io::ResultsFile> file;
  std::string open_error;
  bool resumed = false;
  if (mpi.is_root()) {
    try {
      if (vm["resume"].as<bool>() && !std::filesystem::exists(plan.params.output_path))
        throw Error("--resume: " + plan.params.output_path + " does not exist, nothing to resume");
      io::ResultsFile::RunInfo info;
      info.experiment_file = experiment_path;
      info.command_line = join_command_line(args);
      info.model_path = plan.params.model_path;
      info.model_name = model.name;
      info.n_ranks = mpi.size();
      info.classes = model.num_classes;
      for (const network::Node& node : model.nodes)
        if (node.op == network::OpType::conv2d || node.op == network::OpType::linear)
          info.layer_names.push_back(node.name);
      file = io::ResultsFile::open_for_run(plan.params.output_path, plan, info, resumed);
    } catch (const Error& e) {
      open_error = e.what();
    }
  }
  if (broadcast(open_error.empty() ? 0 : 1) != 0) {
    if (mpi.is_root()) throw Error(open_error);
    return 2;
  }

  if (mpi.is_root()) {
    const std::int64_t done = file->n_done();
    // The run counts its own samples; a resumed run (a requeued Slurm job reruns the same command)
    // that already has the K samples must not wait again.
    if (options.wait_after_samples > 0)
      options.wait_after_samples =
          options.wait_after_samples > done ? options.wait_after_samples - done : -1;
    std::fprintf(stderr,
                 "aimc run: %s -> %s\n  %zu point(s) x %lld chip(s) = %lld samples, %d "
                 "programming group(s), %d images each; %d rank(s) x %d thread(s)%s\n",
                 experiment_path.c_str(), plan.params.output_path.c_str(), plan.points.size(),
                 static_cast<long long>(plan.params.n_chips),
                 static_cast<long long>(plan.n_samples()), plan.n_groups, images.size(), mpi.size(),
                 used_threads,
                 resumed ? (", resuming: " + std::to_string(done) + " already done").c_str() : "");
  }

  experiment::install_stop_handlers();
  experiment::RunOutcome outcome;
  try {
    outcome =
        experiment::run_experiment(plan, model, images, calibration, file.get(), mpi, options);
    if (mpi.is_root()) file->finish();
  } catch (const Error& e) {
    // One rank failing would leave the others waiting for it: end the whole job. Every finished
    // sample is already durable in the results file.
    std::cerr << "aimc run: error on rank " << mpi.rank() << ": " << e.what() << '\n';
    if (mpi.size() > 1) mpi.abort(2);
    return 2;
  }

  if (outcome.ranks_lost) {
    // A rank died: the others cannot finish the collective end, so abort the job. The file is
    // already final (finish() above), and every finished sample is in it.
    std::fprintf(stderr,
                 "aimc run: other ranks stopped answering (killed?); %lld of %lld samples are "
                 "done in %s; rerun the same command to resume\n",
                 static_cast<long long>(file->n_done()), static_cast<long long>(plan.n_samples()),
                 plan.params.output_path.c_str());
    file.reset();
    mpi.abort(outcome.signal != 0 ? 128 + outcome.signal : 1);
  }
  int code = 0;
  if (mpi.is_root()) {
    const std::int64_t done = file->n_done();
    file.reset();
    std::cout << io::summary_table(plan.params.output_path);
    if (outcome.signal != 0) {
      std::fprintf(stderr,
                   "aimc run: stopped by signal %d with %lld of %lld samples done (this run: "
                   "%lld); rerun the same command to resume\n",
                   outcome.signal, static_cast<long long>(done),
                   static_cast<long long>(plan.n_samples()),
                   static_cast<long long>(outcome.computed));
      code = 128 + outcome.signal;
    } else if (outcome.remaining > 0) {
      std::fprintf(stderr, "aimc run: %lld samples of this job are missing\n",
                   static_cast<long long>(outcome.remaining));
      code = 1;
    } else {
      std::fprintf(stderr, "aimc run: %lld of %lld samples done (%lld this run); results in %s\n",
                   static_cast<long long>(done), static_cast<long long>(plan.n_samples()),
                   static_cast<long long>(outcome.computed), plan.params.output_path.c_str());
    }
  }
  return broadcast(code);
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
  const std::vector<std::string> inputs(files.begin() + 1, files.end());
  const io::MergeReport report = io::merge_results(files[0], inputs);
  std::cout << io::summary_table(files[0]);
  if (!report.missing.empty()) {
    // Gaps as ranges of sample indices: "3-5, 9".
    std::string gaps;
    for (std::size_t i = 0; i < report.missing.size();) {
      std::size_t j = i;
      while (j + 1 < report.missing.size() && report.missing[j + 1] == report.missing[j] + 1)
        ++j;
      gaps += (gaps.empty() ? "" : ", ") + std::to_string(report.missing[i]) +
              (j > i ? "-" + std::to_string(report.missing[j]) : "");
      i = j + 1;
    }
    std::cerr << "aimc merge: " << files[0] << " is incomplete: " << report.missing.size() << " of "
              << report.samples << " samples missing (sample indices " << gaps
              << "); rerun the missing slices and merge again\n";
    return 1;
  }
  std::cerr << "aimc merge: " << files[0] << ": all " << report.samples << " samples from "
            << inputs.size() << " file(s)\n";
  return 0;
}

}  // namespace aimc::cli
