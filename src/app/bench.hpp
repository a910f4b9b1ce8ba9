#pragma once

// aimc bench: the machine's GEMM peak, aimc's ideal inference speed against it and against
// PyTorch (benchmarks/pytorch_resnet.py), and optionally the cost of one sampled chip:
// programming, calibration and noisy inference. It needs the model, data and chip readers (io),
// so it lives here, beside the other drivers; benchmarks/ holds the PyTorch reference it runs.

#include <ostream>
#include <string>
#include <vector>

#include "network/network.hpp"

namespace aimc::app {

struct BenchRequest {
  std::string model_path;
  std::string torch_model;  // the same model as .npz: also time PyTorch; empty: don't
  std::string data_dir;     // empty: default_data_dir()
  std::string chip_path;    // also time one sampled chip of this configuration; empty: don't
  std::vector<std::string> overrides;
  int images = 2000;  // test images per pass
  int reps = 3;       // passes; the best one counts
  network::InferenceParams inference;
  bool json = false;
};

// Runs the benchmark in this process and writes its lines to `out` as they are measured (or one
// JSON object at the end). Throws Error for bad inputs.
void run_bench(const BenchRequest& request, std::ostream& out);

}  // namespace aimc::app
