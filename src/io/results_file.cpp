#include "io/results_file.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <limits>
#include <sstream>
#include <string_view>
#include <type_traits>
#include <utility>

#include "util/error.hpp"
#include "util/version.hpp"

namespace aimc::io {

namespace fs = std::filesystem;

namespace {

constexpr const char* k_format = "aimc-results";
// 2: the sample fields declared in the `sample_fields` attribute; stream keys derived from content
// (issue 15), so results of version 1 are not comparable.
constexpr std::int64_t k_format_version = 2;
constexpr double k_nan = std::numeric_limits<double>::quiet_NaN();

using experiment::Extent;
using experiment::Role;
using experiment::SampleRecord;

// The finished flag of each row: the writer's bookkeeping, not a field of the sample.
constexpr const char* k_done = "samples/done";

template <typename Field>
using ElementOf = typename Field::Element;

// True for a field that holds one value per sample.
template <typename Field>
constexpr bool k_scalar = std::is_same_v<typename Field::Value, typename Field::Element>;

template <typename E>
hid_t file_type() {
  static_assert(std::is_same_v<E, std::int64_t> || std::is_same_v<E, double>);
  if constexpr (std::is_same_v<E, std::int64_t>) return H5T_STD_I64LE;
  return H5T_IEEE_F64LE;
}

template <typename E>
hid_t mem_type() {
  if constexpr (std::is_same_v<E, std::int64_t>) return H5T_NATIVE_INT64;
  return H5T_NATIVE_DOUBLE;
}

template <typename E>
constexpr std::string_view dtype_name() {
  if constexpr (std::is_same_v<E, std::int64_t>) return "int64";
  return "float64";
}

// The dataset of a field: /timing for wall time, which differs between identical runs, and
// /samples for the rest (docs/results-format.md). Index fields have none.
template <typename Field>
std::string dataset_of(const Field& field) {
  if (field.role == Role::Index) return "";
  return std::string(field.reproducible ? "samples/" : "timing/") + std::string(field.name);
}

bool written_with_sample(Role role) {
  return role == Role::Result || role == Role::Derived;
}

hsize_t row_length(Extent extent, std::int64_t classes, std::int64_t layers) {
  switch (extent) {
    case Extent::PerClass:
      return static_cast<hsize_t>(classes);
    case Extent::PerLayer:
      return static_cast<hsize_t>(layers);
    case Extent::Scalar:
      break;
  }
  return 1;
}

std::string_view extent_name(Extent extent) {
  switch (extent) {
    case Extent::PerClass:
      return "class";
    case Extent::PerLayer:
      return "layer";
    case Extent::Scalar:
      break;
  }
  return "scalar";
}

std::string_view role_name(Role role) {
  switch (role) {
    case Role::Index:
      return "index";
    case Role::Key:
      return "key";
    case Role::Derived:
      return "derived";
    case Role::Result:
      break;
  }
  return "result";
}

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (const char ch : s) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(ch));
      out += buf;
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

template <typename E>
std::string fill_text(E fill) {
  if constexpr (std::is_same_v<E, std::int64_t>) {
    return std::to_string(fill);
  } else {
    if (std::isnan(fill)) return "NaN";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", fill);
    return buf;
  }
}

// experiment::k_sample_fields as the JSON text of the root attribute `sample_fields`, so that a
// reader (analysis/aimc_results.py) and the docs' table follow what the file declares.
std::string sample_fields_json() {
  std::string out = "[";
  experiment::for_each_sample_field([&](const auto& field) {
    using E = ElementOf<std::decay_t<decltype(field)>>;
    if (out.size() > 1) out += ",\n ";
    out += "{\"name\": " + json_string(field.name) +
           ", \"dataset\": " + json_string(dataset_of(field)) +
           ", \"role\": " + json_string(role_name(field.role)) +
           ", \"dtype\": " + json_string(dtype_name<E>()) +
           ", \"extent\": " + json_string(extent_name(field.extent)) + ", \"fill\": " +
           json_string(written_with_sample(field.role) ? fill_text(field.fill) : "") +
           ", \"unit\": " + json_string(field.unit) + ", \"doc\": " + json_string(field.doc) +
           ", \"reproducible\": " + (field.reproducible ? "true" : "false") +
           ", \"point_mean\": " + (field.point_mean ? "true" : "false") + "}";
  });
  return out + "]";
}

// Which sample row i holds: its key fields are known from the plan alone.
SampleRecord row_key(const experiment::Plan& plan, std::int64_t i) {
  SampleRecord r;
  r.sample = i;
  r.point = i / plan.params.n_chips;
  r.chip = i % plan.params.n_chips;
  return r;
}

void check(herr_t rc, const std::string& what) {
  if (rc < 0) throw Error(what);
}

h5::Handle open_dataset(hid_t file, const std::string& name, const std::string& ctx) {
  h5::Handle d(H5Dopen2(file, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!d.valid()) throw Error(ctx + ": missing dataset '" + name + "'");
  return d;
}

// Rows x row_len elements, allocated in full now and filled with `fill`; two-dimensional when
// `matrix` (even with one column) or row_len > 1.
void create_column(hid_t file, const std::string& name, hid_t type, hsize_t rows, hsize_t row_len,
                   const void* fill, const std::string& ctx, bool matrix = false) {
  h5::Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  check(H5Pset_layout(dcpl.get(), H5D_CONTIGUOUS), ctx + ": cannot set layout");
  check(H5Pset_alloc_time(dcpl.get(), H5D_ALLOC_TIME_EARLY), ctx + ": cannot set allocation");
  check(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_ALLOC), ctx + ": cannot set fill time");
  if (fill != nullptr) check(H5Pset_fill_value(dcpl.get(), type, fill), ctx + ": fill value");
  const hsize_t dims[2] = {rows, row_len};
  h5::Handle space(H5Screate_simple(matrix || row_len > 1 ? 2 : 1, dims, nullptr), H5Sclose);
  h5::Handle lcpl(H5Pcreate(H5P_LINK_CREATE), H5Pclose);
  H5Pset_create_intermediate_group(lcpl.get(), 1);
  h5::Handle d(
      H5Dcreate2(file, name.c_str(), type, space.get(), lcpl.get(), dcpl.get(), H5P_DEFAULT),
      H5Dclose);
  if (!d.valid()) throw Error(ctx + ": cannot create dataset '" + name + "'");
}

void write_all(hid_t file, const std::string& name, hid_t mem_type, const void* data,
               const std::string& ctx) {
  const h5::Handle d = open_dataset(file, name, ctx);
  check(H5Dwrite(d.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data),
        ctx + ": cannot write '" + name + "' (disk full?)");
}

// Row `row` (row_len values) of a dataset, selected in the file, and its shape in memory.
struct RowSelection {
  h5::Handle dataset;
  h5::Handle file_space;
  h5::Handle memory_space;
};

RowSelection select_row(hid_t file, const std::string& name, hsize_t row, hsize_t row_len,
                        const std::string& ctx) {
  h5::Handle d = open_dataset(file, name, ctx);
  h5::Handle space(H5Dget_space(d.get()), H5Sclose);
  const hsize_t start[2] = {row, 0};
  const hsize_t count[2] = {1, row_len};
  check(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start, nullptr, count, nullptr),
        ctx + ": bad row of '" + name + "'");
  const hsize_t mem_dims[1] = {row_len};
  h5::Handle mem(H5Screate_simple(1, mem_dims, nullptr), H5Sclose);
  return {std::move(d), std::move(space), std::move(mem)};
}

void write_row(hid_t file, const std::string& name, hid_t mem_type, hsize_t row, hsize_t row_len,
               const void* data, const std::string& ctx) {
  const RowSelection r = select_row(file, name, row, row_len, ctx);
  check(H5Dwrite(r.dataset.get(), mem_type, r.memory_space.get(), r.file_space.get(), H5P_DEFAULT,
                 data),
        ctx + ": cannot write '" + name + "' (disk full?)");
}

void read_row_values(hid_t file, const std::string& name, hid_t mem_type, hsize_t row,
                     hsize_t row_len, void* data, const std::string& ctx) {
  const RowSelection r = select_row(file, name, row, row_len, ctx);
  check(H5Dread(r.dataset.get(), mem_type, r.memory_space.get(), r.file_space.get(), H5P_DEFAULT,
                data),
        ctx + ": cannot read '" + name + "'");
}

std::size_t value_count(hid_t file, const std::string& name, const std::string& ctx) {
  const h5::Handle d = open_dataset(file, name, ctx);
  const h5::Handle space(H5Dget_space(d.get()), H5Sclose);
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n < 0) throw Error(ctx + ": unreadable dataset '" + name + "'");
  return static_cast<std::size_t>(n);
}

template <typename T>
std::vector<T> read_all(hid_t file, const std::string& name, hid_t mem_type,
                        const std::string& ctx) {
  const h5::Handle d = open_dataset(file, name, ctx);
  const h5::Handle space(H5Dget_space(d.get()), H5Sclose);
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n < 0) throw Error(ctx + ": unreadable dataset '" + name + "'");
  std::vector<T> out(static_cast<std::size_t>(n));
  if (n > 0)
    check(H5Dread(d.get(), mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()),
          ctx + ": cannot read '" + name + "'");
  return out;
}

std::vector<std::string> read_strings(hid_t file, const std::string& name, const std::string& ctx) {
  const h5::Handle d = open_dataset(file, name, ctx);
  const h5::Handle space(H5Dget_space(d.get()), H5Sclose);
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  std::vector<char*> raw(static_cast<std::size_t>(std::max<hssize_t>(n, 0)), nullptr);
  h5::Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(mem.get(), H5T_VARIABLE);
  H5Tset_cset(mem.get(), H5T_CSET_UTF8);
  if (n > 0)
    check(H5Dread(d.get(), mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, raw.data()),
          ctx + ": cannot read '" + name + "'");
  std::vector<std::string> out;
  for (char* s : raw) {
    out.emplace_back(s != nullptr ? s : "");
    H5free_memory(s);
  }
  return out;
}

hid_t string_type() {
  const hid_t t = H5Tcopy(H5T_C_S1);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

void write_strings(hid_t file, const std::string& name, const std::vector<std::string>& values,
                   const std::string& ctx) {
  const h5::Handle type(string_type(), H5Tclose);
  create_column(file, name, type.get(), values.size(), 1, nullptr, ctx);
  std::vector<const char*> ptrs;
  for (const std::string& v : values)
    ptrs.push_back(v.c_str());
  write_all(file, name, type.get(), ptrs.data(), ctx);
}

void set_string_attr(hid_t obj, const std::string& name, const std::string& value,
                     const std::string& ctx) {
  const h5::Handle type(string_type(), H5Tclose);
  const h5::Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  h5::Handle a(H5Acreate2(obj, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
               H5Aclose);
  if (!a.valid()) throw Error(ctx + ": cannot create attribute '" + name + "'");
  const char* p = value.c_str();
  check(H5Awrite(a.get(), type.get(), static_cast<const void*>(&p)),
        ctx + ": cannot write attribute '" + name + "'");
}

// Numeric attributes are created once and later overwritten in place (same size).
template <typename T>
void set_number_attr(hid_t obj, const std::string& name, hid_t type, T value,
                     const std::string& ctx) {
  h5::Handle a;
  if (H5Aexists(obj, name.c_str()) > 0) {
    a = h5::Handle(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose);
  } else {
    const h5::Handle space(H5Screate(H5S_SCALAR), H5Sclose);
    a = h5::Handle(H5Acreate2(obj, name.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                   H5Aclose);
  }
  if (!a.valid()) throw Error(ctx + ": cannot write attribute '" + name + "'");
  check(H5Awrite(a.get(), type, &value), ctx + ": cannot write attribute '" + name + "'");
}

double unix_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string iso_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool all_numeric(const std::vector<std::string>& values, std::vector<double>& out) {
  out.clear();
  for (const std::string& v : values) {
    char* end = nullptr;
    const double d = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || !std::isfinite(d)) return false;
    out.push_back(d);
  }
  return true;
}

// Writes the whole file layout for `plan` at `path` (which must not exist).
void create_layout(const std::string& path, const experiment::Plan& plan,
                   const ResultsFile::RunInfo& info, int classes) {
  const std::string ctx = path;
  h5::Handle f(H5Fcreate(path.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
  if (!f.valid())
    throw Error(path + ": cannot create the results file (directory missing or not writable?)");
  const hid_t root = f.get();
  const auto n_points = static_cast<hsize_t>(plan.points.size());
  const auto n = static_cast<hsize_t>(plan.n_samples());

  set_string_attr(root, "format", k_format, ctx);
  set_number_attr<std::int64_t>(root, "format_version", H5T_NATIVE_INT64, k_format_version, ctx);
  set_string_attr(root, "aimc_version", k_version, ctx);
  set_string_attr(root, "git_sha", k_git_sha, ctx);
  set_number_attr<std::uint64_t>(root, "seed", H5T_NATIVE_UINT64, plan.params.seed, ctx);
  set_string_attr(root, "config", plan.config_text, ctx);
  set_string_attr(root, "config_hash", plan.config_hash, ctx);
  set_string_attr(root, "experiment_file", info.experiment_file, ctx);
  set_string_attr(root, "command_line", info.command_line, ctx);
  set_string_attr(root, "model", info.model_path, ctx);
  set_string_attr(root, "model_name", info.model_name, ctx);
  set_string_attr(root, "start_time", iso_now(), ctx);
  set_number_attr<double>(root, "start_time_unix", H5T_NATIVE_DOUBLE, unix_now(), ctx);
  set_number_attr<double>(root, "end_time_unix", H5T_NATIVE_DOUBLE, k_nan, ctx);
  set_number_attr<std::int64_t>(root, "n_ranks", H5T_NATIVE_INT64, info.n_ranks, ctx);
  set_number_attr<std::int64_t>(root, "resume_count", H5T_NATIVE_INT64, 0, ctx);
  set_number_attr<std::int64_t>(root, "complete", H5T_NATIVE_INT64, 0, ctx);
  set_number_attr<std::int64_t>(root, "n_points", H5T_NATIVE_INT64,
                                static_cast<std::int64_t>(n_points), ctx);
  set_number_attr<std::int64_t>(root, "n_chips", H5T_NATIVE_INT64, plan.params.n_chips, ctx);
  set_number_attr<std::int64_t>(root, "n_samples", H5T_NATIVE_INT64, plan.n_samples(), ctx);
  set_number_attr<std::int64_t>(root, "n_classes", H5T_NATIVE_INT64, classes, ctx);
  set_number_attr<std::int64_t>(root, "n_layers", H5T_NATIVE_INT64,
                                static_cast<std::int64_t>(info.layer_names.size()), ctx);
  set_number_attr<std::int64_t>(root, "ideal_correct", H5T_NATIVE_INT64, -1, ctx);
  set_number_attr<std::int64_t>(root, "ideal_total", H5T_NATIVE_INT64, 0, ctx);
  set_number_attr<double>(root, "ideal_accuracy", H5T_NATIVE_DOUBLE, k_nan, ctx);
  std::string axes;
  for (const experiment::SweepAxis& a : plan.params.sweep)
    axes += (axes.empty() ? "" : "\n") + a.key;
  set_string_attr(root, "axes", axes, ctx);

  // /points: one row per sweep point.
  std::vector<std::int64_t> index(n_points), group(n_points);
  std::vector<double> t(n_points);
  for (hsize_t p = 0; p < n_points; ++p) {
    index[p] = static_cast<std::int64_t>(p);
    group[p] = plan.points[p].program_group;
    t[p] = plan.points[p].t_inference_s;
  }
  create_column(root, "points/index", H5T_STD_I64LE, n_points, 1, nullptr, ctx);
  write_all(root, "points/index", H5T_NATIVE_INT64, index.data(), ctx);
  create_column(root, "points/program_group", H5T_STD_I64LE, n_points, 1, nullptr, ctx);
  write_all(root, "points/program_group", H5T_NATIVE_INT64, group.data(), ctx);
  create_column(root, "points/t_inference_s", H5T_IEEE_F64LE, n_points, 1, nullptr, ctx);
  write_all(root, "points/t_inference_s", H5T_NATIVE_DOUBLE, t.data(), ctx);
  const std::int64_t zero = 0;
  for (const char* s : {"mean", "std", "sem", "ci95_low", "ci95_high", "min", "median", "max"})
    create_column(root, std::string("points/accuracy_") + s, H5T_IEEE_F64LE, n_points, 1, &k_nan,
                  ctx);
  create_column(root, "points/n", H5T_STD_I64LE, n_points, 1, &zero, ctx);

  // /samples: one row per (point, chip); point-major. The key fields say which sample a row is.
  std::vector<SampleRecord> keys(n);
  std::vector<double> s_t(n);
  for (hsize_t i = 0; i < n; ++i) {
    keys[i] = row_key(plan, static_cast<std::int64_t>(i));
    s_t[i] = t[static_cast<std::size_t>(keys[i].point)];
  }
  experiment::for_each_sample_field([&](const auto& field) {
    using Field = std::decay_t<decltype(field)>;
    if constexpr (k_scalar<Field>) {
      if (field.role != Role::Key) return;
      std::vector<ElementOf<Field>> column;
      for (const SampleRecord& k : keys)
        column.push_back(field.get(k));
      const std::string name = dataset_of(field);
      create_column(root, name, file_type<ElementOf<Field>>(), n, 1, nullptr, ctx);
      write_all(root, name, mem_type<ElementOf<Field>>(), column.data(), ctx);
    }
  });
  create_column(root, "samples/t_inference_s", H5T_IEEE_F64LE, n, 1, nullptr, ctx);
  write_all(root, "samples/t_inference_s", H5T_NATIVE_DOUBLE, s_t.data(), ctx);

  // Axis values, per point and per sample: numbers where every value is one, else strings.
  for (std::size_t a = 0; a < plan.params.sweep.size(); ++a) {
    const std::string& key = plan.params.sweep[a].key;
    std::vector<std::string> per_point;
    for (const experiment::SweepPoint& sp : plan.points)
      per_point.push_back(sp.values[a]);
    std::vector<std::string> per_sample;
    for (hsize_t i = 0; i < n; ++i)
      per_sample.push_back(per_point[static_cast<std::size_t>(keys[i].point)]);
    std::vector<double> num;
    if (all_numeric(per_point, num)) {
      std::vector<double> num_s;
      all_numeric(per_sample, num_s);
      create_column(root, "points/" + key, H5T_IEEE_F64LE, n_points, 1, nullptr, ctx);
      write_all(root, "points/" + key, H5T_NATIVE_DOUBLE, num.data(), ctx);
      create_column(root, "samples/" + key, H5T_IEEE_F64LE, n, 1, nullptr, ctx);
      write_all(root, "samples/" + key, H5T_NATIVE_DOUBLE, num_s.data(), ctx);
    } else {
      write_strings(root, "points/" + key, per_point, ctx);
      write_strings(root, "samples/" + key, per_sample, ctx);
    }
  }

  const std::uint8_t not_done = 0;
  create_column(root, k_done, H5T_STD_U8LE, n, 1, &not_done, ctx);
  const auto layers = static_cast<std::int64_t>(info.layer_names.size());
  write_strings(root, "layers/name", info.layer_names, ctx);
  // Each field a sample writes, at its fill value until then, and the per-point means.
  experiment::for_each_sample_field([&](const auto& field) {
    if (!written_with_sample(field.role)) return;
    using E = ElementOf<std::decay_t<decltype(field)>>;
    create_column(root, dataset_of(field), file_type<E>(), n,
                  row_length(field.extent, classes, layers), &field.fill, ctx,
                  field.extent != Extent::Scalar);
    if (field.point_mean)
      create_column(root, "points/" + std::string(field.name), H5T_IEEE_F64LE, n_points, 1, &k_nan,
                    ctx);
  });
  set_string_attr(root, "sample_fields", sample_fields_json(), ctx);
  check(H5Fflush(root, H5F_SCOPE_GLOBAL), ctx + ": cannot flush (disk full?)");
}

}  // namespace

ResultsFile::~ResultsFile() = default;

std::unique_ptr<ResultsFile> ResultsFile::open_existing(const std::string& path, bool writable) {
  h5::silence_errors();
  if (!fs::exists(path)) throw Error(path + ": no such results file");
  if (H5Fis_hdf5(path.c_str()) <= 0)
    throw Error(path + ": not an HDF5 file, expected aimc results (docs/results-format.md)");
  std::unique_ptr<ResultsFile> r(new ResultsFile());
  r->path_ = path;
  r->file_ = h5::Handle(
      H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!r->file_.valid())
    throw Error(path + ": HDF5 cannot open the file " +
                (writable ? "for writing (read-only, or in use by another run?)" : "(corrupt?)"));
  const hid_t root = r->file_.get();
  if (!h5::has_attribute(root, "format") ||
      h5::read_string_attribute(root, "format", path) != k_format)
    throw Error(path + ": not an aimc results file (no format = aimc-results attribute)");
  const std::int64_t version = h5::read_int_attribute(root, "format_version", path).at(0);
  if (version != k_format_version)
    throw Error(path + ": results format version " + std::to_string(version) + " (" +
                (version < k_format_version ? "an older" : "a newer") + " aimc), this aimc " +
                "reads version " + std::to_string(k_format_version) +
                " only; results of different versions are not comparable (docs/results-format.md)");
  r->config_hash_ = h5::read_string_attribute(root, "config_hash", path);
  r->seed_ = static_cast<std::uint64_t>(h5::read_int_attribute(root, "seed", path).at(0));
  r->n_points_ = h5::read_int_attribute(root, "n_points", path).at(0);
  r->n_chips_ = h5::read_int_attribute(root, "n_chips", path).at(0);
  r->classes_ = static_cast<int>(h5::read_int_attribute(root, "n_classes", path).at(0));
  r->layers_ = static_cast<int>(h5::read_int_attribute(root, "n_layers", path).at(0));
  r->load_state();
  return r;
}

void ResultsFile::load_state() {
  const hid_t root = file_.get();
  done_ = read_all<std::uint8_t>(root, k_done, H5T_NATIVE_UINT8, path_);
  const std::size_t n = done_.size();
  if (static_cast<std::int64_t>(n) != n_points_ * n_chips_)
    throw Error(path_ + ": sample tables have inconsistent lengths (corrupt file?)");
  rows_.assign(n, {});
  // The scalar fields of every row, which the summary and merge need; derived ones are recomputed
  // from these, and vectors (per class, per layer: most of a row) are read on demand (read_row).
  experiment::for_each_sample_field([&](const auto& field) {
    using Field = std::decay_t<decltype(field)>;
    using E = ElementOf<Field>;
    if (field.member == nullptr) return;
    if (field.role == Role::Index) {
      if constexpr (std::is_same_v<typename Field::Value, std::int64_t>)
        for (std::size_t i = 0; i < n; ++i)
          rows_[i].*field.member = static_cast<std::int64_t>(i);
      return;
    }
    const std::size_t len = row_length(field.extent, classes_, layers_);
    const std::string name = dataset_of(field);
    const std::size_t count = value_count(root, name, path_);
    if (count != n * len)
      throw Error(path_ + ": dataset '" + name + "' has " + std::to_string(count) +
                  " values, expected " + std::to_string(n * len) + " (corrupt file?)");
    if constexpr (k_scalar<Field>) {
      const std::vector<E> column = read_all<E>(root, name, mem_type<E>(), path_);
      for (std::size_t i = 0; i < n; ++i)
        rows_[i].*field.member = column[i];
    }
  });
  samples_of_point_.assign(static_cast<std::size_t>(n_points_), {});
  for (std::size_t i = 0; i < n; ++i) {
    const std::int64_t p = rows_[i].point;
    if (p < 0 || p >= n_points_)
      throw Error(path_ + ": sample " + std::to_string(i) + " names point " + std::to_string(p) +
                  ", expected 0.." + std::to_string(n_points_ - 1) + " (corrupt file?)");
    samples_of_point_[static_cast<std::size_t>(p)].push_back(static_cast<std::int64_t>(i));
  }
}

std::unique_ptr<ResultsFile> ResultsFile::open_for_run(const std::string& path,
                                                       const experiment::Plan& plan,
                                                       const RunInfo& info, bool& resumed) {
  h5::silence_errors();
  resumed = fs::exists(path);
  if (!resumed) {
    const fs::path parent = fs::path(path).parent_path();
    std::error_code ec;
    if (!parent.empty()) fs::create_directories(parent, ec);
    // Built under a temporary name and renamed when whole: a crash during creation leaves no
    // half-made file under the real name.
    const std::string part = path + ".part";
    fs::remove(part, ec);
    try {
      create_layout(part, plan, info, info.classes);
    } catch (...) {
      fs::remove(part, ec);
      throw;
    }
    fs::rename(part, path, ec);
    if (ec) throw Error(path + ": cannot rename " + part + ": " + ec.message());
  }
  // Checked read-only first: a file of another experiment is never opened for writing.
  {
    const std::unique_ptr<ResultsFile> probe = open_existing(path, false);
    if (probe->config_hash_ != plan.config_hash)
      throw Error(path + ": holds results of a different experiment (configuration hash " +
                  probe->config_hash_ + ", this run " + plan.config_hash +
                  "); use another --output, or remove the file to start over");
    if (probe->n_samples() != plan.n_samples())
      throw Error(path + ": has " + std::to_string(probe->n_samples()) + " samples, expected " +
                  std::to_string(plan.n_samples()));
  }
  std::unique_ptr<ResultsFile> r = open_existing(path, true);
  const hid_t root = r->file_.get();
  if (resumed) {
    const std::int64_t count = h5::read_int_attribute(root, "resume_count", path).at(0);
    set_number_attr<std::int64_t>(root, "resume_count", H5T_NATIVE_INT64, count + 1, path);
  }
  set_number_attr<std::int64_t>(root, "n_ranks", H5T_NATIVE_INT64, info.n_ranks, path);
  r->flush();
  return r;
}

void ResultsFile::flush() {
  check(H5Fflush(file_.get(), H5F_SCOPE_GLOBAL), path_ + ": cannot flush (disk full?)");
}

bool ResultsFile::is_done(std::int64_t sample) const {
  return done_.at(static_cast<std::size_t>(sample)) != 0;
}

std::int64_t ResultsFile::n_done() const {
  std::int64_t n = 0;
  for (const std::uint8_t d : done_)
    n += d;
  return n;
}

void ResultsFile::write(const SampleRecord& r) {
  const hid_t root = file_.get();
  if (r.sample < 0 || r.sample >= n_samples())
    throw Error(path_ + ": sample " + std::to_string(r.sample) + ", expected 0.." +
                std::to_string(n_samples() - 1));
  const auto row = static_cast<hsize_t>(r.sample);
  const SampleRecord& filed = rows_[row];
  // Everything is checked before anything is written, so a bad record leaves the row untouched.
  experiment::for_each_sample_field([&](const auto& field) {
    if constexpr (k_scalar<std::decay_t<decltype(field)>>) {
      if (field.role == Role::Key && field.get(r) != field.get(filed))
        throw Error(path_ + ": sample " + std::to_string(r.sample) + " has " +
                    std::string(field.name) + " " + std::to_string(field.get(r)) +
                    ", the file's row " + std::to_string(field.get(filed)));
    } else {
      const std::size_t len = row_length(field.extent, classes_, layers_);
      if (written_with_sample(field.role) && field.get(r).size() != len)
        throw Error(path_ + ": sample " + std::to_string(r.sample) + " has " +
                    std::to_string(field.get(r).size()) + " values of " + std::string(field.name) +
                    ", expected " + std::to_string(len));
    }
  });
  experiment::for_each_sample_field([&](const auto& field) {
    using Field = std::decay_t<decltype(field)>;
    if (!written_with_sample(field.role)) return;
    const typename Field::Value v = field.get(r);
    if constexpr (k_scalar<Field>)
      write_row(root, dataset_of(field), mem_type<ElementOf<Field>>(), row, 1, &v, path_);
    else
      write_row(root, dataset_of(field), mem_type<ElementOf<Field>>(), row, v.size(), v.data(),
                path_);
  });
  flush();
  // The done flag goes last, in its own flush: a sample marked done is whole.
  const std::uint8_t one = 1;
  write_row(root, k_done, H5T_NATIVE_UINT8, row, 1, &one, path_);
  flush();
  done_[row] = 1;
  rows_[row] = r;
  // Kept in memory like a row load_state read: scalars only.
  experiment::for_each_sample_field([&](const auto& field) {
    if constexpr (!k_scalar<std::decay_t<decltype(field)>>) (rows_[row].*field.member).clear();
  });
  write_point(r.point);
  flush();
}

SampleRecord ResultsFile::read_row(std::int64_t sample) const {
  const std::size_t row = static_cast<std::size_t>(sample);
  SampleRecord r = rows_.at(row);
  experiment::for_each_sample_field([&](const auto& field) {
    using Field = std::decay_t<decltype(field)>;
    if constexpr (!k_scalar<Field>) {
      if (field.member == nullptr) return;
      using E = ElementOf<Field>;
      auto& v = r.*field.member;
      v.resize(row_length(field.extent, classes_, layers_));
      read_row_values(file_.get(), dataset_of(field), mem_type<E>(), row, v.size(), v.data(),
                      path_);
    }
  });
  return r;
}

void ResultsFile::write_point(std::int64_t p) {
  const hid_t root = file_.get();
  std::vector<double> acc;
  std::vector<const SampleRecord*> finished;
  for (const std::int64_t i : samples_of_point_.at(static_cast<std::size_t>(p))) {
    const auto s = static_cast<std::size_t>(i);
    if (done_[s] == 0) continue;
    acc.push_back(rows_[s].accuracy());
    finished.push_back(&rows_[s]);
  }
  const experiment::PointSummary s = experiment::summarize(acc);
  const auto row = static_cast<hsize_t>(p);
  const double v[8] = {s.mean, s.std, s.sem, s.ci95_low, s.ci95_high, s.min, s.median, s.max};
  const char* names[8] = {"mean", "std", "sem", "ci95_low", "ci95_high", "min", "median", "max"};
  for (int k = 0; k < 8; ++k)
    write_row(root, std::string("points/accuracy_") + names[k], H5T_NATIVE_DOUBLE, row, 1, &v[k],
              path_);
  write_row(root, "points/n", H5T_NATIVE_INT64, row, 1, &s.n, path_);
  experiment::for_each_sample_field([&](const auto& field) {
    if constexpr (k_scalar<std::decay_t<decltype(field)>>) {
      if (!field.point_mean) return;
      double sum = 0.0;
      for (const SampleRecord* rec : finished)
        sum += static_cast<double>(field.get(*rec));
      const double mean = s.n > 0 ? sum / static_cast<double>(s.n) : k_nan;
      write_row(root, "points/" + std::string(field.name), H5T_NATIVE_DOUBLE, row, 1, &mean, path_);
    }
  });
}

bool ResultsFile::has_baseline() const {
  return h5::read_int_attribute(file_.get(), "ideal_total", path_).at(0) > 0;
}

void ResultsFile::write_baseline(std::int64_t correct, std::int64_t total) {
  const hid_t root = file_.get();
  set_number_attr<std::int64_t>(root, "ideal_correct", H5T_NATIVE_INT64, correct, path_);
  set_number_attr<double>(root, "ideal_accuracy", H5T_NATIVE_DOUBLE,
                          total > 0 ? static_cast<double>(correct) / total : k_nan, path_);
  set_number_attr<std::int64_t>(root, "ideal_total", H5T_NATIVE_INT64, total, path_);
  flush();
}

void ResultsFile::finish() {
  const hid_t root = file_.get();
  for (std::int64_t p = 0; p < n_points_; ++p)
    write_point(p);
  set_number_attr<double>(root, "end_time_unix", H5T_NATIVE_DOUBLE, unix_now(), path_);
  const std::int64_t complete = n_done() == n_samples() ? 1 : 0;
  set_number_attr<std::int64_t>(root, "complete", H5T_NATIVE_INT64, complete, path_);
  flush();
}

std::vector<std::int64_t> ResultsFile::merge_from(const ResultsFile& other) {
  std::vector<std::int64_t> both;
  std::vector<std::size_t> take;
  for (std::size_t i = 0; i < done_.size(); ++i) {
    if (other.done_[i] == 0) continue;
    if (done_[i] != 0)
      both.push_back(static_cast<std::int64_t>(i));
    else
      take.push_back(i);
  }
  if (!both.empty() || take.empty()) return both;
  // What a sample writes, and its done flag last, as the writer does.
  std::vector<std::pair<std::string, hid_t>> columns;
  experiment::for_each_sample_field([&](const auto& field) {
    if (written_with_sample(field.role))
      columns.emplace_back(dataset_of(field), mem_type<ElementOf<std::decay_t<decltype(field)>>>());
  });
  columns.emplace_back(k_done, H5T_NATIVE_UINT8);
  for (const auto& [name, type] : columns) {
    const h5::Handle src = open_dataset(other.file_.get(), name, other.path_);
    const h5::Handle space(H5Dget_space(src.get()), H5Sclose);
    const hssize_t count = H5Sget_simple_extent_npoints(space.get());
    const std::size_t row_len = static_cast<std::size_t>(count) / done_.size();
    const std::size_t bytes = H5Tget_size(type);
    std::vector<unsigned char> in(static_cast<std::size_t>(count) * bytes);
    std::vector<unsigned char> out(in.size());
    check(H5Dread(src.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, in.data()),
          other.path_ + ": cannot read '" + name + "'");
    const h5::Handle dst = open_dataset(file_.get(), name, path_);
    check(H5Dread(dst.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()),
          path_ + ": cannot read '" + name + "'");
    for (const std::size_t i : take)
      std::memcpy(out.data() + i * row_len * bytes, in.data() + i * row_len * bytes,
                  row_len * bytes);
    check(H5Dwrite(dst.get(), type, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()),
          path_ + ": cannot write '" + name + "' (disk full?)");
  }
  for (const std::size_t i : take) {
    done_[i] = 1;
    rows_[i] = other.rows_[i];
  }
  if (!has_baseline() && other.has_baseline()) {
    const hid_t o = other.file_.get();
    write_baseline(h5::read_int_attribute(o, "ideal_correct", other.path_).at(0),
                   h5::read_int_attribute(o, "ideal_total", other.path_).at(0));
  }
  flush();
  return both;
}

std::string summary_table(const std::string& path) {
  const std::unique_ptr<ResultsFile> r = ResultsFile::open_existing(path, false);
  const hid_t root = r->handle();
  std::vector<std::string> axes;
  {
    std::stringstream ss(h5::read_string_attribute(root, "axes", path));
    std::string line;
    while (std::getline(ss, line))
      if (!line.empty()) axes.push_back(line);
  }
  const auto n = read_all<std::int64_t>(root, "points/n", H5T_NATIVE_INT64, path);
  const auto mean = read_all<double>(root, "points/accuracy_mean", H5T_NATIVE_DOUBLE, path);
  const auto lo = read_all<double>(root, "points/accuracy_ci95_low", H5T_NATIVE_DOUBLE, path);
  const auto hi = read_all<double>(root, "points/accuracy_ci95_high", H5T_NATIVE_DOUBLE, path);
  const auto mn = read_all<double>(root, "points/accuracy_min", H5T_NATIVE_DOUBLE, path);
  const auto mx = read_all<double>(root, "points/accuracy_max", H5T_NATIVE_DOUBLE, path);
  const auto point_mean = [&](auto member) {
    return read_all<double>(root, "points/" + std::string(experiment::sample_field_name(member)),
                            H5T_NATIVE_DOUBLE, path);
  };
  const auto uj = point_mean(&SampleRecord::energy_uJ_mean);
  const auto tw = point_mean(&SampleRecord::tops_per_w);
  std::vector<std::vector<std::string>> axis_text;
  for (const std::string& a : axes) {
    const h5::Handle d = open_dataset(root, "points/" + a, path);
    const h5::Handle type(H5Dget_type(d.get()), H5Tclose);
    if (H5Tget_class(type.get()) == H5T_STRING) {
      axis_text.push_back(read_strings(root, "points/" + a, path));
    } else {
      std::vector<std::string> text;
      for (const double v : read_all<double>(root, "points/" + a, H5T_NATIVE_DOUBLE, path)) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%g", v);
        text.emplace_back(buf);
      }
      axis_text.push_back(text);
    }
  }
  std::ostringstream os;
  os << "|";
  for (const std::string& a : axes)
    os << " " << a << " |";
  os << " chips | accuracy % (mean ± 95% CI) | min % | max % | µJ/image | TOPS/W |\n|";
  for (std::size_t a = 0; a < axes.size(); ++a)
    os << "---|";
  os << "---|---|---|---|---|---|\n";
  for (std::size_t p = 0; p < n.size(); ++p) {
    os << "|";
    for (const auto& t : axis_text)
      os << " " << t[p] << " |";
    char buf[160];
    if (n[p] == 0)
      std::snprintf(buf, sizeof buf, " 0 | – | – | – | – | – |\n");
    else if (n[p] == 1)
      std::snprintf(buf, sizeof buf, " 1 | %.2f | %.2f | %.2f | %.1f | %.3f |\n", 100 * mean[p],
                    100 * mn[p], 100 * mx[p], uj[p], tw[p]);
    else
      std::snprintf(buf, sizeof buf, " %lld | %.2f ± %.2f | %.2f | %.2f | %.1f | %.3f |\n",
                    static_cast<long long>(n[p]), 100 * mean[p], 100 * (hi[p] - lo[p]) / 2,
                    100 * mn[p], 100 * mx[p], uj[p], tw[p]);
    os << buf;
  }
  const double ideal = h5::read_double_attribute(root, "ideal_accuracy", path).at(0);
  if (std::isfinite(ideal)) {
    char buf[96];
    std::snprintf(buf, sizeof buf, "software baseline (ideal float32, same images): %.2f %%\n",
                  100 * ideal);
    os << buf;
  }
  return os.str();
}

MergeReport merge_results(const std::string& output, const std::vector<std::string>& inputs) {
  if (inputs.empty()) throw Error("merge: no input files, expected at least one");
  if (fs::exists(output))
    throw Error(output + ": already exists, expected a new file name for the merged results");
  std::vector<std::unique_ptr<ResultsFile>> in;
  for (const std::string& p : inputs) {
    in.push_back(ResultsFile::open_existing(p, false));
    if (in.back()->config_hash() != in.front()->config_hash() ||
        in.back()->seed() != in.front()->seed() ||
        in.back()->n_samples() != in.front()->n_samples())
      throw Error(p + ": results of a different experiment than " + inputs.front() +
                  " (configuration hash " + in.back()->config_hash() + " vs " +
                  in.front()->config_hash() + "), expected parts of one study");
  }
  const std::string part = output + ".part";
  std::error_code ec;
  fs::remove(part, ec);
  fs::copy_file(inputs.front(), part, ec);
  if (ec) throw Error(part + ": cannot create: " + ec.message());
  MergeReport report;
  try {
    std::unique_ptr<ResultsFile> out = ResultsFile::open_existing(part, true);
    for (std::size_t k = 1; k < in.size(); ++k) {
      const std::vector<std::int64_t> both = out->merge_from(*in[k]);
      if (!both.empty())
        throw Error(inputs[k] + ": sample " + std::to_string(both.front()) + " (and " +
                    std::to_string(both.size() - 1) +
                    " more) also appear in an earlier input, expected each sample in one input");
    }
    out->finish();
    report.samples = out->n_samples();
    for (std::int64_t i = 0; i < out->n_samples(); ++i)
      if (!out->is_done(i)) report.missing.push_back(i);
  } catch (...) {
    fs::remove(part, ec);
    throw;
  }
  fs::rename(part, output, ec);
  if (ec) throw Error(output + ": cannot rename " + part + ": " + ec.message());
  return report;
}

}  // namespace aimc::io
