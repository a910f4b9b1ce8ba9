// The sample record's one declaration (experiment::k_sample_fields, run.hpp) and what derives
// from it: the MPI message (pack/unpack) and the results file's writer, reader and merge. Values
// are made field by field from the table, so a field added to the table is covered here without
// editing this file, and a member added to SampleRecord but not to the table fails
// EveryMemberIsInTheTable.

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <type_traits>
#include <vector>

#include "experiment/experiment.hpp"
#include "experiment/run.hpp"
#include "io/hdf5.hpp"
#include "io/results_file.hpp"
#include "util/error.hpp"

namespace {

namespace fs = std::filesystem;
using aimc::Error;
using aimc::experiment::Extent;
using aimc::experiment::for_each_sample_field;
using aimc::experiment::Role;
using aimc::experiment::SampleRecord;

template <typename Field>
constexpr bool k_scalar = std::is_same_v<typename Field::Value, typename Field::Element>;

// The k-th distinct value of an element type: integers as they are, doubles with a fraction so
// that a double sent as an integer (or the reverse) would not survive.
template <typename E>
E nth(std::int64_t k) {
  if constexpr (std::is_same_v<E, std::int64_t>)
    return 1000 + k;
  else
    return static_cast<double>(k) + 0.375;
}

// Every field with a member set to a value unlike its default and unlike every other field's; a
// vector field gets `len(extent)` elements.
SampleRecord distinct_record(std::int64_t sample, std::int64_t point, std::int64_t chip,
                             std::size_t classes, std::size_t layers, std::int64_t salt) {
  SampleRecord r;
  std::int64_t k = salt;
  for_each_sample_field([&](const auto& field) {
    using Field = std::decay_t<decltype(field)>;
    using E = typename Field::Element;
    if (field.member == nullptr) return;
    if constexpr (k_scalar<Field>) {
      r.*field.member = nth<E>(k += 10);
    } else {
      const std::size_t len = field.extent == Extent::PerClass ? classes : layers;
      auto& v = r.*field.member;
      v.clear();
      for (std::size_t i = 0; i < len; ++i)
        v.push_back(nth<E>(k += 10));
    }
  });
  r.sample = sample;
  r.point = point;
  r.chip = chip;
  return r;
}

// Bit for bit (NaN payloads and -0.0 included).
template <typename E>
bool same_bits(E a, E b) {
  if constexpr (std::is_same_v<E, double>)
    return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b);
  else
    return a == b;
}

// The names of the fields in which a and b differ, "" when none.
std::string differing_fields(const SampleRecord& a, const SampleRecord& b) {
  std::string out;
  for_each_sample_field([&](const auto& field) {
    using Field = std::decay_t<decltype(field)>;
    const auto x = field.get(a);
    const auto y = field.get(b);
    bool same = true;
    if constexpr (k_scalar<Field>) {
      same = same_bits(x, y);
    } else {
      same = x.size() == y.size();
      for (std::size_t i = 0; same && i < x.size(); ++i)
        same = same_bits(x[i], y[i]);
    }
    if (!same) out += std::string(field.name) + " ";
  });
  return out;
}

// The rule sample_fields_consistent() leaves to run time: a field is Derived exactly when it has
// no member, and then has a formula.
TEST(SampleRecord, DerivedFieldsAreExactlyThoseWithAFormulaAndNoMember) {
  aimc::experiment::for_each_sample_field([](const auto& f) {
    const bool derived = f.role == aimc::experiment::Role::Derived;
    EXPECT_EQ(derived, f.member == nullptr) << f.name;
    if (derived) {
      EXPECT_NE(f.derive, nullptr) << f.name;
    }
  });
}

TEST(SampleRecord, EveryMemberIsInTheTable) {
  // Every member is 8-byte aligned (int64, double, vector), so the record has no padding and its
  // size is the sum of the members the table names: a member missing from the table shows here.
  std::size_t listed = 0;
  for_each_sample_field([&](const auto& field) {
    if (field.member != nullptr) listed += sizeof(typename std::decay_t<decltype(field)>::Value);
  });
  EXPECT_EQ(listed, sizeof(SampleRecord));
}

TEST(SampleRecord, PackUnpackRoundTripsEveryField) {
  SampleRecord r = distinct_record(5, 2, 1, 10, 4, 0);
  // Doubles travel bit for bit, even a NaN with a payload and a negative zero.
  r.seconds = std::bit_cast<double>(std::uint64_t{0x7ff8'0000'dead'beefULL});
  r.layer_activity.at(0) = -0.0;
  const SampleRecord back = aimc::experiment::unpack(aimc::experiment::pack(r));
  EXPECT_EQ(differing_fields(r, back), "");
  // Every field set above differs from its default, so a field the message left out shows above.
  const std::string unset = " " + differing_fields(r, SampleRecord{});
  for_each_sample_field([&](const auto& field) {
    if (field.member != nullptr) {
      EXPECT_NE(unset.find(" " + std::string(field.name) + " "), std::string::npos) << field.name;
    }
  });
}

TEST(SampleRecord, MessageHoldsEveryStoredValueAndNoDerivedOne) {
  const SampleRecord r = distinct_record(0, 0, 0, 3, 2, 0);
  std::size_t expected = 0;
  for_each_sample_field([&](const auto& field) {
    using Field = std::decay_t<decltype(field)>;
    if (field.member == nullptr) return;
    if constexpr (k_scalar<Field>)
      expected += 1;
    else
      expected += 1 + (r.*field.member).size();
  });
  EXPECT_EQ(aimc::experiment::pack(r).size(), expected);
}

TEST(SampleRecord, UnpackRefusesAMessageOfAnotherLength) {
  std::vector<std::int64_t> m = aimc::experiment::pack(distinct_record(0, 0, 0, 3, 2, 0));
  std::vector<std::int64_t> shorter(m.begin(), m.end() - 1);
  EXPECT_THROW(aimc::experiment::unpack(shorter), Error);
  m.push_back(0);
  EXPECT_THROW(aimc::experiment::unpack(m), Error);
  EXPECT_THROW(aimc::experiment::unpack({}), Error);
}

TEST(SampleRecord, FieldNamesAreFoundByMember) {
  using aimc::experiment::sample_field_name;
  EXPECT_EQ(sample_field_name(&SampleRecord::energy_uJ_mean), "energy_per_image_uJ_mean");
  EXPECT_EQ(sample_field_name(&SampleRecord::layer_cores), "layer_cores");
  EXPECT_EQ(sample_field_name(&SampleRecord::seconds), "seconds");
}

// A results file of 2 points x 2 chips, 3 classes, 2 layers, without running a network.
class ResultsFileRoundTrip : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("aimc_test_sample_record_" +
            std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    plan_.params.n_chips = 2;
    plan_.params.seed = 3;
    for (int p = 0; p < 2; ++p) {
      aimc::experiment::SweepPoint sp;
      sp.t_inference_s = 60.0 * (p + 1);
      plan_.points.push_back(sp);
    }
    plan_.n_groups = 1;
    plan_.config_text = "n_chips = 2\n";
    plan_.config_hash = aimc::experiment::fnv1a_hex(plan_.config_text);
    info_.classes = 3;
    info_.layer_names = {"conv1", "fc"};
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<aimc::io::ResultsFile> create(const std::string& name) {
    bool resumed = true;
    auto f = aimc::io::ResultsFile::open_for_run((dir_ / name).string(), plan_, info_, resumed);
    EXPECT_FALSE(resumed);
    return f;
  }
  SampleRecord record(std::int64_t sample) const {
    return distinct_record(sample, sample / 2, sample % 2, 3, 2, 100 * sample);
  }

  fs::path dir_;
  aimc::experiment::Plan plan_;
  aimc::io::ResultsFile::RunInfo info_;
};

TEST_F(ResultsFileRoundTrip, WhatTheWriterWritesTheReaderReads) {
  {
    auto f = create("a.h5");
    f->write(record(1));
    f->write(record(2));
  }
  const auto f = aimc::io::ResultsFile::open_existing((dir_ / "a.h5").string(), false);
  EXPECT_EQ(f->n_done(), 2);
  for (const std::int64_t i : {1, 2})
    EXPECT_EQ(differing_fields(record(i), f->read_row(i)), "") << "sample " << i;
  // A row not done holds its key and every field's fill value.
  const SampleRecord empty = f->read_row(0);
  EXPECT_EQ(empty.point, 0);
  EXPECT_EQ(empty.chip, 0);
  for_each_sample_field([&](const auto& field) {
    using Field = std::decay_t<decltype(field)>;
    if (field.role != Role::Result) return;
    if constexpr (k_scalar<Field>) {
      const auto v = field.get(empty);
      EXPECT_TRUE(same_bits(v, field.fill)) << field.name;
    } else {
      for (const auto v : field.get(empty))
        EXPECT_TRUE(same_bits(v, field.fill)) << field.name;
    }
  });
}

TEST_F(ResultsFileRoundTrip, MergeCopiesEveryField) {
  {
    auto a = create("a.h5");
    a->write(record(0));
    a->write(record(3));
    auto b = create("b.h5");
    b->write(record(1));
    b->write(record(2));
  }
  const auto report = aimc::io::merge_results((dir_ / "m.h5").string(),
                                              {(dir_ / "a.h5").string(), (dir_ / "b.h5").string()});
  EXPECT_TRUE(report.missing.empty());
  const auto m = aimc::io::ResultsFile::open_existing((dir_ / "m.h5").string(), false);
  for (std::int64_t i = 0; i < 4; ++i)
    EXPECT_EQ(differing_fields(record(i), m->read_row(i)), "") << "sample " << i;
}

TEST_F(ResultsFileRoundTrip, TheFileDeclaresEveryFieldInOrder) {
  create("a.h5");
  const auto f = aimc::io::ResultsFile::open_existing((dir_ / "a.h5").string(), false);
  const std::string declared =
      aimc::io::h5::read_string_attribute(f->handle(), "sample_fields", "a");
  std::size_t at = 0;
  for_each_sample_field([&](const auto& field) {
    const std::size_t next = declared.find("\"name\": \"" + std::string(field.name) + "\"", at);
    EXPECT_NE(next, std::string::npos) << field.name;
    if (next != std::string::npos) at = next;
  });
}

TEST_F(ResultsFileRoundTrip, WriterRefusesARecordOfTheWrongShape) {
  auto f = create("a.h5");
  SampleRecord r = record(1);
  r.layer_cores.pop_back();
  EXPECT_THROW(f->write(r), Error);
  r = record(1);
  r.chip = 0;  // row 1 is chip 1
  EXPECT_THROW(f->write(r), Error);
  EXPECT_EQ(f->n_done(), 0);
}

}  // namespace
