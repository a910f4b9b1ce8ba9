// aimc perf: the throughput and energy model of a network on the chip, the chip's peak, or the
// peak checked against published figures (app/perf.hpp).

#include <iostream>

#include "app/perf.hpp"
#include "cli/commands.hpp"

namespace aimc::cli {

int cmd_perf(const std::vector<std::string>& args, const experiment::MpiSession& mpi) {
  app::PerfRequest r;
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")(
      "model", po::value(&r.model_path), "aimc model file (.h5)")("chip", po::value(&r.chip_path),
                                                                  "chip configuration (.ini)")(
      "set", po::value(&r.overrides)->composing(),
      "override a chip key: --set section.key=value (aimc keys lists them)")(
      "peak", po::bool_switch(&r.peak)->default_value(false),
      "full-utilisation 8-bit MVMs on every core, in both read modes")(
      "experiment", po::value(&r.experiment_path),
      "peak check against published figures (e.g. experiments/peak_mvm.ini)")(
      "replicate", po::value(&r.replicate)->composing(),
      "run N copies of a layer on cores of their own: --replicate LAYER=N (repeatable)")(
      "json", po::bool_switch(&r.json)->default_value(false), "print one JSON object");
  po::variables_map vm;
  if (!parse_args("perf",
                  "(--model M.h5 --chip C.ini [--replicate LAYER=N ...] | --chip C.ini --peak | "
                  "--experiment E.ini [--chip C.ini]) [--set k=v ...] [--json]",
                  args, opts, {}, vm, mpi.is_root()))
    return 0;
  const app::Report report = app::perf_report(r);
  if (mpi.is_root()) std::cout << report.text;
  return report.code;
}

}  // namespace aimc::cli
