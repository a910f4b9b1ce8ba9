#include "network/recalibration.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "network/analog_chip.hpp"
#include "util/error.hpp"

namespace aimc::network {

StatsRecorder::StatsRecorder(const Network& net, const MatmulBackend& inner, int images,
                             std::int64_t first_image)
    : net_(&net), inner_(&inner), images_(images), first_image_(first_image) {
  const auto& dense = net.dense_layers();
  open_.assign(dense.size(), 1);
  sum_.resize(dense.size());
  sum_sq_.resize(dense.size());
  // Allocated up front: matmul runs concurrently and must not resize shared vectors.
  for (std::size_t d = 0; d < dense.size(); ++d) {
    const auto n =
        static_cast<std::size_t>(images) * static_cast<std::size_t>(dense[d].weight.cols());
    sum_[d].assign(n, 0.0);
    sum_sq_[d].assign(n, 0.0);
  }
}

void StatsRecorder::matmul(const DenseLayer& layer, const StripRows& x, float* y, std::int64_t ld_y,
                           const MatmulContext& ctx) const {
  inner_->matmul(layer, x, y, ld_y, ctx);
  const auto d = static_cast<std::size_t>(layer.index);
  if (open_[d] == 0) return;
  const auto cols = static_cast<std::int64_t>(layer.weight.cols());
  double* s1 = sum_[d].data();
  double* s2 = sum_sq_[d].data();
  // Different threads run different batches, so different images: no two threads touch one
  // image's sums.
  for (std::int64_t r = 0; r < x.rows; ++r) {
    const std::int64_t image = ctx.first_image + (ctx.row0 + r) / ctx.rows_per_image - first_image_;
    if (image < 0 || image >= images_)
      throw Error("internal: StatsRecorder saw image " + std::to_string(image) + " of " +
                  std::to_string(images_));
    for (std::int64_t j = 0; j < cols; ++j) {
      const double v = y[j * ld_y + r];
      s1[image * cols + j] += v;
      s2[image * cols + j] += v * v;
    }
  }
}

ColumnStats StatsRecorder::stats(int d) {
  const DenseLayer& layer = net_->dense_layers().at(static_cast<std::size_t>(d));
  const auto cols = static_cast<std::size_t>(layer.weight.cols());
  const double count =
      static_cast<double>(images_) * layer.geometry.out.h * std::max(1, layer.geometry.out.w);
  ColumnStats s;
  s.mean.assign(cols, 0.0);
  s.stddev.assign(cols, 0.0);
  std::vector<double> sq(cols, 0.0);
  for (std::size_t i = 0; i < static_cast<std::size_t>(images_); ++i)
    for (std::size_t j = 0; j < cols; ++j) {
      s.mean[j] += sum_[d][i * cols + j];
      sq[j] += sum_sq_[d][i * cols + j];
    }
  for (std::size_t j = 0; j < cols; ++j) {
    s.mean[j] /= count;
    s.stddev[j] = std::sqrt(std::max(0.0, sq[j] / count - s.mean[j] * s.mean[j]));
  }
  open_[static_cast<std::size_t>(d)] = 0;
  sum_[d] = {};
  sum_sq_[d] = {};
  return s;
}

LayerStats ideal_layer_stats(const Network& net, const ImageSet& images, int count) {
  const IdealBackend ideal;
  StatsRecorder recorder(net, ideal, count, k_recalibration_first_image);
  (void)net.infer(images.image(0), count, recorder, k_recalibration_first_image);
  LayerStats out;
  for (std::size_t d = 0; d < net.dense_layers().size(); ++d)
    out.push_back(recorder.stats(static_cast<int>(d)));
  return out;
}

const LayerStats& IdealStatsCache::get(const Network& net, const ImageSet& images, int count) {
  auto it = by_count_.find(count);
  if (it == by_count_.end())
    it = by_count_.emplace(count, ideal_layer_stats(net, images, count)).first;
  return it->second;
}

bool ColumnCorrection::identity() const {
  for (std::size_t j = 0; j < gain.size(); ++j)
    if (gain[j] != 1.0F || offset[j] != 0.0F) return false;
  return true;
}

ColumnCorrection match_moments(const ColumnStats& target, const ColumnStats& now) {
  ColumnCorrection c;
  const std::size_t cols = now.mean.size();
  if (target.mean.size() != cols)
    throw Error("internal: recalibration target of " + std::to_string(target.mean.size()) +
                " columns for a layer of " + std::to_string(cols));
  c.gain.resize(cols);
  c.offset.resize(cols);
  for (std::size_t j = 0; j < cols; ++j) {
    const double g = now.stddev[j] > 0 ? target.stddev[j] / now.stddev[j] : 1.0;
    c.gain[j] = static_cast<float>(g);
    c.offset[j] = static_cast<float>(target.mean[j] - g * now.mean[j]);
  }
  return c;
}

void AnalogChip::set_recalibration_images(const ImageSet& images,
                                          std::shared_ptr<IdealStatsCache> ideal) {
  recalibration_images_ = &images;
  ideal_stats_ = ideal ? std::move(ideal) : std::make_shared<IdealStatsCache>();
  affine_reference_.reset();
}

const LayerStats& AnalogChip::affine_reference(int images) {
  if (affine_reference_ && affine_reference_images_ == images) return *affine_reference_;
  // Right after programming: no drift, and a read-noise draw of its own (the reference occasion
  // that the drift-compensation reference also reads at), no correction.
  const double t = t_inference_s_;
  correction_.assign(net_->dense_layers().size(), ColumnCorrection{});
  occasion_ = ~std::uint64_t{0};
  for (std::size_t b = 0; b < tiles_.size(); ++b) {
    tiles_[b].set_time(0.0, StreamKey{seed_, occasion_, chip_, static_cast<std::uint32_t>(b),
                                      Purpose::read_noise});
    tiles_[b].set_compensation(std::vector<float>(tiles_[b].cols(), 1.0F));
  }
  recalibrated_ = true;
  StatsRecorder recorder(*net_, *this, images, k_recalibration_first_image);
  (void)net_->infer(recalibration_images_->image(0), images, recorder, k_recalibration_first_image);
  auto ref = std::make_unique<LayerStats>();
  for (std::size_t d = 0; d < net_->dense_layers().size(); ++d)
    ref->push_back(recorder.stats(static_cast<int>(d)));
  affine_reference_ = std::move(ref);
  affine_reference_images_ = images;
  read_at(t);
  return *affine_reference_;
}

void AnalogChip::recalibrate() {
  const int n = params_.recalibration_images;
  const char* mode = name_of(params_.drift_compensation);
  if (recalibration_images_ == nullptr)
    throw Error(std::string("drift.compensation = ") + mode +
                " recalibrates on training images: set_recalibration_images() before set_time()");
  if (recalibration_images_->size() < n)
    throw Error("drift.recalibration_images = " + std::to_string(n) + ", but only " +
                std::to_string(recalibration_images_->size()) + " training images were loaded");
  const LayerStats* target = nullptr;
  if (params_.drift_compensation == hardware::DriftCompensation::affine) {
    target = &affine_reference(n);
  } else {
    target = &ideal_stats_->get(*net_, *recalibration_images_, n);
  }
  correction_.assign(net_->dense_layers().size(), ColumnCorrection{});
  recalibrated_ = true;
  StatsRecorder recorder(*net_, *this, n, k_recalibration_first_image);
  net_->forward_layerwise(recalibration_images_->image(0), n, recorder, k_recalibration_first_image,
                          [&](int d) {
                            const ColumnStats now = recorder.stats(d);
                            if (layer_tiles_[static_cast<std::size_t>(d)].empty()) return false;
                            ColumnCorrection c = match_moments((*target)[d], now);
                            if (c.identity()) return false;
                            correction_[static_cast<std::size_t>(d)] = std::move(c);
                            return true;
                          });
}

}  // namespace aimc::network
