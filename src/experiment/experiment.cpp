#include "experiment/experiment.hpp"

#include <algorithm>
#include <boost/math/distributions/students_t.hpp>
#include <cmath>
#include <cstdio>
#include <limits>

#include "util/error.hpp"
#include "util/hash.hpp"
#include "util/rng.hpp"

namespace aimc::experiment {

const KeyTable<ExperimentParams>& experiment_keys() {
  using P = ExperimentParams;
  static const KeyTable<P> keys = [] {
    KeyTable<P> k = {
        text_key<P>("model", AIMC_MEMBER(model_path), 0,
                    "aimc model file (.h5, docs/model-format.md); required"),
        text_key<P>("chip", AIMC_MEMBER(chip_path), 0,
                    "chip configuration file (docs/chip.md); unset: the built-in defaults"),
        int_key<P>("n_chips", AIMC_MEMBER(n_chips), 1, 1'000'000, "", phase_program,
                   "independently programmed chip instances per sweep point"),
        int_key<P>("seed", AIMC_MEMBER(seed), 0, std::numeric_limits<std::int64_t>::max(), "",
                   phase_program | phase_read, "master seed of every random stream"),
        text_key<P>("output", AIMC_MEMBER(output_path), 0,
                    "results file; its directory is created if missing; required"),
        real_key<P>("t_inference", AIMC_MEMBER(t_inference_s), at_least(0), "s", phase_read,
                    "seconds since programming, when not swept"),
        text_key<P>("data.dir", AIMC_MEMBER(data.dir), 0,
                    "CIFAR-10 binary directory; unset: $AIMC_DATA/cifar-10, else data/cifar-10"),
        word_key<P>("data.split", AIMC_MEMBER(data.split), {"test", "train"}, phase_read,
                    "test (10,000 images) or train (50,000)"),
        int_key<P>("data.images", AIMC_MEMBER(data.images), -1, 50'000, "", phase_read,
                   "images per sample; -1: the whole split"),
        word_key<P>("data.subset", AIMC_MEMBER(data.subset), {"first", "random"}, phase_read,
                    "the first N images, or a random N-subset (stream seed, dataset_subset), "
                    "kept in file order"),
    };
    for (KeySpec<P>& key : k) {
      if (key.name == "t_inference") key.expected = "seconds >= 0 (a finite number)";
      if (key.name == "data.images") {
        key.expected = "an integer in [1, 50000], or -1 for the whole split";
        key.in_range = [](const P& p) {
          return p.data.images == -1 || (p.data.images >= 1 && p.data.images <= 50'000);
        };
      }
    }
    return k;
  }();
  return keys;
}

void ExperimentParams::validate() const {
  if (model_path.empty()) throw Error("model is not set, expected the path of an aimc model (.h5)");
  if (output_path.empty()) throw Error("output is not set, expected the results file path (.h5)");
  check_ranges(experiment_keys(), *this);
  for (const SweepAxis& a : sweep)
    if (a.values.empty()) throw Error("sweep." + a.key + " is empty, expected a list of values");
}

std::vector<int> Plan::group_points(int g) const {
  std::vector<int> out;
  for (std::size_t p = 0; p < points.size(); ++p)
    if (points[p].program_group == g) out.push_back(static_cast<int>(p));
  return out;
}

network::ImageSet select_images(const network::ImageSet& all, const DataParams& data,
                                std::uint64_t seed) {
  const int n = all.size();
  const int want = data.images < 0 ? n : data.images;
  if (want > n)
    throw Error("data.images = " + std::to_string(want) + ", but the " + data.split +
                " split has only " + std::to_string(n) + " images");
  std::vector<int> pick(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    pick[static_cast<std::size_t>(i)] = i;
  if (data.subset == "random" && want < n) {
    // Partial Fisher-Yates shuffle (Knuth, TAOCP vol. 2, Algorithm P) of the first `want` slots.
    RandomStream rng(StreamKey{seed, 0, 0, 0, Purpose::dataset_subset});
    for (int i = 0; i < want; ++i) {
      const int j = i + std::min(n - i - 1, static_cast<int>(rng.uniform() * (n - i)));
      std::swap(pick[static_cast<std::size_t>(i)], pick[static_cast<std::size_t>(j)]);
    }
    std::sort(pick.begin(), pick.begin() + want);
  }
  network::ImageSet out;
  out.shape = all.shape;
  out.classes = all.classes;
  out.labels.reserve(static_cast<std::size_t>(want));
  out.pixels.reserve(static_cast<std::size_t>(want * all.image_bytes()));
  for (int i = 0; i < want; ++i) {
    const int k = pick[static_cast<std::size_t>(i)];
    out.labels.push_back(all.labels[static_cast<std::size_t>(k)]);
    out.pixels.insert(out.pixels.end(), all.image(k), all.image(k) + all.image_bytes());
  }
  return out;
}

std::string fnv1a_hex(const std::string& text) {
  const std::uint64_t h = fnv1a(text);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

PointSummary summarize(std::vector<double> values) {
  constexpr double nan = std::numeric_limits<double>::quiet_NaN();
  PointSummary s;
  s.n = static_cast<std::int64_t>(values.size());
  if (values.empty()) {
    s.mean = s.std = s.sem = s.ci95_low = s.ci95_high = s.min = s.median = s.max = nan;
    return s;
  }
  std::sort(values.begin(), values.end());
  const auto n = static_cast<double>(s.n);
  // Summed in sorted order so that the result does not depend on the order samples finished in.
  double sum = 0;
  for (const double v : values)
    sum += v;
  s.mean = sum / n;
  s.min = values.front();
  s.max = values.back();
  const std::size_t mid = values.size() / 2;
  s.median = values.size() % 2 == 1 ? values[mid] : 0.5 * (values[mid - 1] + values[mid]);
  if (s.n < 2) {
    s.std = s.sem = s.ci95_low = s.ci95_high = nan;
    return s;
  }
  double ss = 0;
  for (const double v : values)
    ss += (v - s.mean) * (v - s.mean);
  s.std = std::sqrt(ss / (n - 1));
  s.sem = s.std / std::sqrt(n);
  const boost::math::students_t t_dist(n - 1);
  const double t = boost::math::quantile(boost::math::complement(t_dist, 0.025));
  s.ci95_low = s.mean - t * s.sem;
  s.ci95_high = s.mean + t * s.sem;
  return s;
}

}  // namespace aimc::experiment
