// The MPI message of a SampleRecord (run.hpp), derived from k_sample_fields.
#include <bit>
#include <string>

#include "experiment/run.hpp"
#include "util/error.hpp"

namespace aimc::experiment {

namespace {

class Packer {
 public:
  void put(std::int64_t v) { b_.push_back(v); }
  void put(double v) { b_.push_back(std::bit_cast<std::int64_t>(v)); }
  template <typename T>
  void put(const std::vector<T>& v) {
    put(static_cast<std::int64_t>(v.size()));
    for (const T x : v)
      put(x);
  }
  std::vector<std::int64_t> take() { return std::move(b_); }

 private:
  std::vector<std::int64_t> b_;
};

class Unpacker {
 public:
  explicit Unpacker(const std::vector<std::int64_t>& b) : b_(&b) {}
  void get(std::int64_t& v) { v = next(); }
  void get(double& v) { v = std::bit_cast<double>(next()); }
  template <typename T>
  void get(std::vector<T>& v) {
    const std::int64_t n = next();
    if (n < 0 || static_cast<std::size_t>(n) > b_->size() - i_)
      throw Error("sample message: vector of " + std::to_string(n) +
                  " elements, expected at most " + std::to_string(b_->size() - i_));
    v.resize(static_cast<std::size_t>(n));
    for (T& x : v)
      get(x);
  }
  bool at_end() const { return i_ == b_->size(); }

 private:
  std::int64_t next() {
    if (i_ >= b_->size())
      throw Error("sample message: ends after " + std::to_string(i_) +
                  " values, expected more (sender and receiver of different aimc builds?)");
    return (*b_)[i_++];
  }

  const std::vector<std::int64_t>* b_;
  std::size_t i_ = 0;
};

}  // namespace

std::vector<std::int64_t> pack(const SampleRecord& record) {
  Packer p;
  for_each_sample_field([&](const auto& field) {
    if (field.member != nullptr) p.put(record.*field.member);
  });
  return p.take();
}

SampleRecord unpack(const std::vector<std::int64_t>& message) {
  SampleRecord r;
  Unpacker u(message);
  for_each_sample_field([&](const auto& field) {
    if (field.member != nullptr) u.get(r.*field.member);
  });
  if (!u.at_end())
    throw Error("sample message: " + std::to_string(message.size()) +
                " values, more than its fields hold (sender and receiver of different aimc "
                "builds?)");
  return r;
}

}  // namespace aimc::experiment
