#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "experiment/mpi_session.hpp"
#include "network/dataset.hpp"
#include "network/network.hpp"

namespace aimc::experiment {

struct EvalResult {
  std::int64_t correct = 0;
  std::int64_t total = 0;
  std::vector<std::int64_t> correct_per_class;
  std::vector<std::int64_t> total_per_class;
  double seconds = 0.0;  // wall time of the slowest rank, inference only
  double accuracy() const { return total > 0 ? static_cast<double>(correct) / total : 0.0; }
  double images_per_s() const { return seconds > 0 ? total / seconds : 0.0; }
};

// Index of the largest logit; ties go to the lowest class, as numpy.argmax does.
int argmax(const float* logits, int classes);

// Evaluates `images` with `backend`, splitting whole batches of the network's batch size over
// the MPI ranks (contiguous ranges), and TBB threads within a rank. Batch boundaries do not depend
// on the number of ranks or threads, so every image's logits are bit-identical however the job is
// laid out. If `logits` is non-null, the rank's own rows are written to it (all other rows are
// left as they are).
// With `progress`, rank 0 reports its own share's progress on stderr (experiment/progress.hpp).
EvalResult evaluate(const network::Network& net, const network::MatmulBackend& backend,
                    const network::ImageSet& images, const MpiSession& mpi,
                    std::vector<float>* logits = nullptr, bool progress = false);

// Evaluates `images` on this rank alone (TBB threads only), calling `on_batch` after each batch as
// Network::infer does. Used by the experiment engine, whose ranks each evaluate whole samples.
EvalResult evaluate_local(const network::Network& net, const network::MatmulBackend& backend,
                          const network::ImageSet& images,
                          const std::function<void(int)>& on_batch = {});

}  // namespace aimc::experiment
