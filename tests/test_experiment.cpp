// The experiment layer's small pure pieces: the per-point statistics written to every results
// file, and the progress line a user watches for hours on a full-size study.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "experiment/experiment.hpp"
#include "experiment/progress.hpp"

namespace {

using aimc::experiment::format_duration;
using aimc::experiment::progress_line;
using aimc::experiment::summarize;

TEST(Summarize, NoSamplesIsNanEverywhere) {
  const auto s = summarize({});
  EXPECT_EQ(s.n, 0);
  for (const double v : {s.mean, s.std, s.sem, s.ci95_low, s.ci95_high, s.min, s.median, s.max})
    EXPECT_TRUE(std::isnan(v));
}

TEST(Summarize, OneSampleHasNoSpread) {
  const auto s = summarize({0.875});
  EXPECT_EQ(s.n, 1);
  EXPECT_EQ(s.mean, 0.875);
  EXPECT_EQ(s.min, 0.875);
  EXPECT_EQ(s.median, 0.875);
  EXPECT_EQ(s.max, 0.875);
  EXPECT_TRUE(std::isnan(s.std) && std::isnan(s.sem));
  EXPECT_TRUE(std::isnan(s.ci95_low) && std::isnan(s.ci95_high));
}

TEST(Summarize, MatchesTheFormulasWithStudentT) {
  const auto s = summarize({0.4, 0.1, 0.3, 0.2});
  EXPECT_EQ(s.n, 4);
  EXPECT_DOUBLE_EQ(s.mean, 0.25);
  EXPECT_DOUBLE_EQ(s.median, 0.25);
  EXPECT_EQ(s.min, 0.1);
  EXPECT_EQ(s.max, 0.4);
  // Sample variance (n - 1): (0.0225 + 0.0025 + 0.0025 + 0.0225) / 3.
  const double sd = std::sqrt(0.05 / 3);
  EXPECT_NEAR(s.std, sd, 1e-15);
  EXPECT_NEAR(s.sem, sd / 2, 1e-15);
  // t(0.975, 3 degrees of freedom) = 3.18244630528371 (standard tables).
  EXPECT_NEAR(s.ci95_high - s.mean, 3.18244630528371 * sd / 2, 1e-12);
  EXPECT_NEAR(s.mean - s.ci95_low, 3.18244630528371 * sd / 2, 1e-12);
}

TEST(Summarize, IndependentOfTheOrderSamplesFinishedIn) {
  // Ranks finish samples in any order; the file's statistics must not change by a bit.
  std::vector<double> v = {0.8724, 0.8532, 0.8764, 0.8607, 0.6266, 0.5893, 0.8508, 0.1724};
  std::sort(v.begin(), v.end());
  const auto ref = summarize(v);
  int permutations = 0;
  do {
    const auto s = summarize(v);
    ASSERT_EQ(s.mean, ref.mean);
    ASSERT_EQ(s.std, ref.std);
    ASSERT_EQ(s.ci95_low, ref.ci95_low);
    ++permutations;
  } while (std::next_permutation(v.begin(), v.end()) && permutations < 2000);
  EXPECT_EQ(permutations, 2000);
}

TEST(Progress, DurationsReadAsSecondsMinutesOrHours) {
  EXPECT_EQ(format_duration(0), "0 s");
  EXPECT_EQ(format_duration(-3), "0 s");
  EXPECT_EQ(format_duration(42.4), "42 s");
  EXPECT_EQ(format_duration(59.6), "1:00");
  EXPECT_EQ(format_duration(728), "12:08");
  EXPECT_EQ(format_duration(3599.4), "59:59");
  EXPECT_EQ(format_duration(3600), "1:00:00");
  EXPECT_EQ(format_duration(20072), "5:34:32");
  EXPECT_EQ(format_duration(90061), "25:01:01");
}

TEST(Progress, FastItemsShowARatePerSecond) {
  EXPECT_EQ(progress_line("images", 500, 1000, 5.0, false),
            "images: 500/1000 (50 %), 100.0/s, ETA 5 s");
  EXPECT_EQ(progress_line("images", 1000, 1000, 10.0, true),
            "images: 1000/1000 (100 %), 100.0/s, took 10 s");
}

TEST(Progress, SlowItemsShowSecondsEach) {
  // A full-size study: 14 of 400 samples after 728 s, 52 s per sample; "0.0/s" would say nothing.
  EXPECT_EQ(progress_line("samples", 14, 400, 728.0, false),
            "samples: 14/400 (4 %), 52 s each, ETA 5:34:32");
  EXPECT_EQ(progress_line("samples", 400, 400, 20800.0, true),
            "samples: 400/400 (100 %), 52 s each, took 5:46:40");
  EXPECT_EQ(progress_line("samples", 3, 400, 250.0, false),
            "samples: 3/400 (1 %), 1:23 each, ETA 9:11:23");
}

TEST(Progress, NothingDoneYetHasNoEta) {
  EXPECT_EQ(progress_line("samples", 0, 400, 30.0, false), "samples: 0/400 (0 %), starting");
}

}  // namespace
