#include "app/study.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>

#include "app/common.hpp"
#include "io/cifar10.hpp"
#include "io/experiment_config.hpp"
#include "io/model_file.hpp"
#include "io/results_file.hpp"
#include "network/network.hpp"
#include "util/error.hpp"
#include "util/ranges.hpp"

namespace aimc::app {

int run_study(const StudyRequest& request, const experiment::MpiSession& mpi) {
  experiment::RunOptions options = request.options;
  const std::string& experiment_path = request.experiment_path;

  // Everything that can be wrong with the inputs is found here, before any work starts.
  const experiment::Plan plan = io::read_experiment(experiment_path, request.overrides);
  const network::Model model = io::read_model(plan.params.model_path);
  const std::string data_dir =
      plan.params.data.dir.empty() ? default_data_dir() : plan.params.data.dir;
  const network::ImageSet all = plan.params.data.split == "test" ? io::read_cifar10_test(data_dir)
                                                                 : io::read_cifar10_train(data_dir);
  check_takes_cifar10(model, all, plan.params.model_path);
  network::ImageSet images;
  try {
    images = experiment::select_images(all, plan.params.data, plan.params.seed);
  } catch (const Error& e) {
    throw Error(experiment_path + ": " + e.what());
  }
  // The training images: calibration and recalibration each take the first ones they need.
  int calibration_count = 1;
  for (const experiment::SweepPoint& p : plan.points) {
    calibration_count = std::max(calibration_count, p.chip.calibration_images);
    if (hardware::recalibrates(p.chip.drift_compensation))
      calibration_count = std::max(calibration_count, p.chip.recalibration_images);
  }
  const network::ImageSet calibration = io::read_cifar10_train(data_dir, calibration_count);

  const ThreadLimit limit(request.threads);

  // Rank 0 opens (or creates) the results file; the others learn whether to go on.
  std::unique_ptr<io::ResultsFile> file;
  std::string open_error;
  bool resumed = false;
  if (mpi.is_root()) {
    try {
      if (request.resume && !std::filesystem::exists(plan.params.output_path))
        throw Error("--resume: " + plan.params.output_path + " does not exist, nothing to resume");
      io::ResultsFile::RunInfo info;
      info.experiment_file = experiment_path;
      info.command_line = request.command_line;
      info.model_path = plan.params.model_path;
      info.model_name = model.name;
      info.n_ranks = mpi.size();
      info.classes = model.num_classes;
      // The per-layer columns are the network's dense layers, as the chip's run lists them.
      const network::Network net(model, {});
      for (const network::DenseLayer& d : net.dense_layers())
        info.layer_names.push_back(d.name);
      file = io::ResultsFile::open_for_run(plan.params.output_path, plan, info, resumed);
    } catch (const Error& e) {
      open_error = e.what();
    }
  }
  if (mpi.broadcast(open_error.empty() ? 0 : 1) != 0) {
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
                 limit.threads(),
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
  return mpi.broadcast(code);
}

int merge_study(const std::string& output, const std::vector<std::string>& inputs) {
  const io::MergeReport report = io::merge_results(output, inputs);
  std::cout << io::summary_table(output);
  if (!report.missing.empty()) {
    std::cerr << "aimc merge: " << output << " is incomplete: " << report.missing.size() << " of "
              << report.samples << " samples missing (sample indices "
              << range_list(report.missing, ", ")
              << "); rerun the missing slices and merge again\n";
    return 1;
  }
  std::cerr << "aimc merge: " << output << ": all " << report.samples << " samples from "
            << inputs.size() << " file(s)\n";
  return 0;
}

}  // namespace aimc::app
