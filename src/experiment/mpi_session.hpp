#pragma once

#include <cstdint>
#include <vector>

namespace aimc::experiment {

// Owns MPI_Init/MPI_Finalize for the process. A plain run without mpiexec is a one-rank job
// (Open MPI singleton). TBB threads never call MPI, so MPI_THREAD_FUNNELED suffices.
class MpiSession {
 public:
  MpiSession(int* argc, char*** argv);
  ~MpiSession();
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }

  // Element-wise sums and maxima over all ranks; every rank gets the result.
  void sum(std::vector<std::int64_t>& values) const;
  double max(double value) const;
  // Rank 0's `value` on every rank: rank 0 alone decides (e.g. whether the results file opened),
  // and all ranks go on or stop together.
  int broadcast(int value) const;
  // Ends every rank of the job with `code` (used when one rank fails and the others would hang).
  [[noreturn]] void abort(int code) const;

 private:
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace aimc::experiment
