#include <iostream>

#include "app/bench.hpp"
#include "cli/commands.hpp"
#include "util/error.hpp"

namespace aimc::cli {

int cmd_bench(const std::vector<std::string>& args, const experiment::MpiSession& mpi) {
  app::BenchRequest r;
  po::options_description opts("Options");
  opts.add_options()("help,h", "show this help")("model", po::value(&r.model_path)->required(),
                                                 "aimc model file (.h5)")(
      "torch-model", po::value(&r.torch_model),
      "the same model as .npz: also time PyTorch (needs Debian's python3-torch)")(
      "data", po::value(&r.data_dir), "CIFAR-10 directory (default as for eval)")(
      "chip", po::value(&r.chip_path),
      "also time one sampled chip of this configuration: programming and calibration on 1 "
      "thread, noisy inference on 1 and 2 threads against ideal")(
      "set", po::value(&r.overrides)->composing(),
      "override a chip configuration key: --set section.key=value "
      "(repeatable; aimc keys lists them)")("images", po::value(&r.images)->default_value(r.images),
                                            "test images per pass")(
      "reps", po::value(&r.reps)->default_value(r.reps), "passes; the best one counts")(
      "batch", po::value(&r.inference.batch_images)->default_value(r.inference.batch_images),
      "images per TBB task")("json", po::bool_switch(&r.json)->default_value(false),
                             "print one JSON object");
  po::variables_map vm;
  if (!parse_args(
          "bench",
          "--model M.h5 [--torch-model M.npz] [--chip C.ini [--set k=v ...]] [--images N] [--json]",
          args, opts, {}, vm, mpi.is_root()))
    return 0;
  if (mpi.size() > 1) throw Error("run it without mpiexec (it times one process)");
  if (r.images < 1 || r.reps < 1) throw Error("--images and --reps must be positive");
  if (r.chip_path.empty() && !r.overrides.empty()) throw Error("--set applies to --chip only");
  r.inference.validate();
  app::run_bench(r, std::cout);
  return 0;
}

}  // namespace aimc::cli
