#pragma once

// aimc eval: one model on CIFAR-10, exactly in float32 or on one sampled analog chip.

#include <cstdint>
#include <string>
#include <vector>

#include "experiment/mpi_session.hpp"
#include "network/network.hpp"

namespace aimc::app {

struct EvalRequest {
  std::string model_path;
  std::string data_dir;  // empty: default_data_dir()
  std::string split = "test";
  int images = -1;  // the first N images (-1: all)
  int threads = 0;  // TBB threads per rank (0: all cores)
  // false: ideal float32 inference; true: one sampled chip of chip_path, with --set overrides.
  bool on_chip = false;
  std::string chip_path;
  std::vector<std::string> overrides;
  double t_inference = 0.0;
  std::uint64_t seed = 1;
  std::uint64_t chip_index = 0;
  network::InferenceParams inference;
  bool json = false;
  // Non-empty: write every image's logits (images × classes, float32) to this .npy file.
  std::string logits_path;
};

// Evaluates on every rank (the images are split between them) and returns the report: text, or
// one JSON object and a newline. Throws Error for bad inputs.
std::string evaluate_model(EvalRequest request, const experiment::MpiSession& mpi);

}  // namespace aimc::app
