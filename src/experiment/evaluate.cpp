#include "experiment/evaluate.hpp"

#include <mpi.h>

#include <algorithm>
#include <chrono>

#include "experiment/progress.hpp"

namespace aimc::experiment {

int argmax(const float* logits, int classes) {
  int best = 0;
  for (int c = 1; c < classes; ++c)
    if (logits[c] > logits[best]) best = c;
  return best;
}

namespace {

// [correct, total, correct per class..., total per class...] of `count` images from `first`.
std::vector<std::int64_t> count_correct(const std::vector<float>& logits, int classes,
                                        const network::ImageSet& images, int first, int count) {
  std::vector<std::int64_t> counts(2 + 2 * static_cast<std::size_t>(images.classes), 0);
  for (int i = 0; i < count; ++i) {
    const int label = images.labels[first + i];
    const bool ok = argmax(logits.data() + std::int64_t{i} * classes, classes) == label;
    counts[0] += ok ? 1 : 0;
    counts[1] += 1;
    counts[2 + label] += ok ? 1 : 0;
    counts[2 + images.classes + label] += 1;
  }
  return counts;
}

EvalResult from_counts(const std::vector<std::int64_t>& counts, int classes, double seconds) {
  EvalResult r;
  r.correct = counts[0];
  r.total = counts[1];
  r.correct_per_class.assign(counts.begin() + 2, counts.begin() + 2 + classes);
  r.total_per_class.assign(counts.begin() + 2 + classes, counts.end());
  r.seconds = seconds;
  return r;
}

}  // namespace

EvalResult evaluate_local(const network::Network& net, const network::MatmulBackend& backend,
                          const network::ImageSet& images,
                          const std::function<void(int)>& on_batch) {
  const auto start = std::chrono::steady_clock::now();
  const std::vector<float> logits = net.infer(images.image(0), images.size(), backend, 0, on_batch);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return from_counts(count_correct(logits, net.num_classes(), images, 0, images.size()),
                     images.classes, seconds);
}

EvalResult evaluate(const network::Network& net, const network::MatmulBackend& backend,
                    const network::ImageSet& images, const MpiSession& mpi,
                    std::vector<float>* logits, bool progress) {
  const int n = images.size();
  const int batch = net.params().batch_images;
  const int batches = (n + batch - 1) / batch;
  // Static contiguous split: equal-cost batches, so a work queue would buy nothing here.
  const int b0 = static_cast<int>(std::int64_t{batches} * mpi.rank() / mpi.size());
  const int b1 = static_cast<int>(std::int64_t{batches} * (mpi.rank() + 1) / mpi.size());
  const int first = std::min(n, b0 * batch);
  const int count = std::min(n, b1 * batch) - first;

  MPI_Barrier(MPI_COMM_WORLD);
  const auto start = std::chrono::steady_clock::now();
  std::vector<float> mine;
  {
    Progress report("images (rank 0)", count, progress && mpi.is_root());
    if (count > 0)
      mine = net.infer(images.image(first), count, backend, first,
                       [&report](int done) { report.add(done); });
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const int classes = net.num_classes();
  std::vector<std::int64_t> counts = count_correct(mine, classes, images, first, count);
  mpi.sum(counts);
  if (logits != nullptr) {
    logits->resize(static_cast<std::size_t>(n) * classes);
    std::copy(mine.begin(), mine.end(), logits->begin() + std::int64_t{first} * classes);
  }

  return from_counts(counts, images.classes, mpi.max(seconds));
}

}  // namespace aimc::experiment
