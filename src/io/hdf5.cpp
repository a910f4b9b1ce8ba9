#include "io/hdf5.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>

#include "util/error.hpp"

namespace aimc::io::h5 {

namespace {
bool g_file_close_failed = false;

// HDF5 1.10's H5Fclose frees the file when its final flush fails (disk full) but keeps the ID,
// so any later close of that ID, including the library's own at exit, crashes. Remember it.
void close_handle(hid_t id, Handle::Closer closer) {
  if (closer(id) < 0 && closer == &H5Fclose) g_file_close_failed = true;
}
}  // namespace

bool file_close_failed() {
  return g_file_close_failed;
}

Handle& Handle::operator=(Handle&& o) noexcept {
  if (this != &o) {
    if (valid() && closer_ != nullptr) close_handle(id_, closer_);
    id_ = o.id_;
    closer_ = o.closer_;
    o.id_ = H5I_INVALID_HID;
  }
  return *this;
}

Handle::~Handle() {
  if (valid() && closer_ != nullptr) close_handle(id_, closer_);
}

void silence_errors() {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

Handle open_read(const std::string& path) {
  silence_errors();
  {
    std::ifstream probe(path, std::ios::binary);
    if (!probe) throw Error(path + ": cannot open: " + std::strerror(errno));
  }
  if (H5Fis_hdf5(path.c_str()) <= 0) throw Error(path + ": not an HDF5 file");
  Handle f(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
  if (!f.valid()) throw Error(path + ": HDF5 cannot open the file (corrupt or truncated?)");
  return f;
}

Handle open_group(hid_t parent, const std::string& name, const std::string& context) {
  if (H5Lexists(parent, name.c_str(), H5P_DEFAULT) <= 0)
    throw Error(context + ": missing group '" + name + "'");
  Handle g(H5Gopen2(parent, name.c_str(), H5P_DEFAULT), H5Gclose);
  if (!g.valid()) throw Error(context + ": '" + name + "' is not a group");
  return g;
}

bool has_attribute(hid_t obj, const std::string& name) {
  return H5Aexists(obj, name.c_str()) > 0;
}

namespace {

Handle open_attribute(hid_t obj, const std::string& name, const std::string& context) {
  if (!has_attribute(obj, name)) throw Error(context + ": missing attribute '" + name + "'");
  Handle a(H5Aopen(obj, name.c_str(), H5P_DEFAULT), H5Aclose);
  if (!a.valid()) throw Error(context + ": cannot open attribute '" + name + "'");
  return a;
}

// Reads a numeric attribute of any integer or float class into `mem_type` values.
template <typename T>
std::vector<T> read_numeric(hid_t obj, const std::string& name, const std::string& context,
                            hid_t mem_type, bool integer, const char* expected) {
  Handle a = open_attribute(obj, name, context);
  Handle type(H5Aget_type(a.get()), H5Tclose);
  const H5T_class_t cls = H5Tget_class(type.get());
  if (cls != H5T_INTEGER && !(cls == H5T_FLOAT && !integer))
    throw Error(context + ": attribute '" + name + "' is not " + expected);
  Handle space(H5Aget_space(a.get()), H5Sclose);
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  std::vector<T> values(n > 0 ? static_cast<std::size_t>(n) : 0);
  if (n > 0 && H5Aread(a.get(), mem_type, values.data()) < 0)
    throw Error(context + ": cannot read attribute '" + name + "' as " + expected);
  return values;
}

}  // namespace

std::string read_string_attribute(hid_t obj, const std::string& name, const std::string& context) {
  Handle a = open_attribute(obj, name, context);
  Handle type(H5Aget_type(a.get()), H5Tclose);
  if (H5Tget_class(type.get()) != H5T_STRING)
    throw Error(context + ": attribute '" + name + "' is not a string");
  Handle space(H5Aget_space(a.get()), H5Sclose);
  if (H5Sget_simple_extent_npoints(space.get()) != 1)
    throw Error(context + ": attribute '" + name + "' is not a single string");
  if (H5Tis_variable_str(type.get()) > 0) {
    Handle mem(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mem.get(), H5T_VARIABLE);
    H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
    char* value = nullptr;
    if (H5Aread(a.get(), mem.get(), static_cast<void*>(&value)) < 0 || value == nullptr)
      throw Error(context + ": cannot read string attribute '" + name + "'");
    std::string out(value);
    H5free_memory(value);
    return out;
  }
  const std::size_t size = H5Tget_size(type.get());
  std::string out(size, '\0');
  Handle mem(H5Tcopy(type.get()), H5Tclose);
  if (H5Aread(a.get(), mem.get(), out.data()) < 0)
    throw Error(context + ": cannot read string attribute '" + name + "'");
  out.resize(std::strlen(out.c_str()));
  return out;
}

std::vector<std::int64_t> read_int_attribute(hid_t obj, const std::string& name,
                                             const std::string& context) {
  return read_numeric<std::int64_t>(obj, name, context, H5T_NATIVE_INT64, true, "an integer");
}

std::vector<double> read_double_attribute(hid_t obj, const std::string& name,
                                          const std::string& context) {
  return read_numeric<double>(obj, name, context, H5T_NATIVE_DOUBLE, false, "a number");
}

std::vector<std::string> list_members(hid_t group, const std::string& context) {
  std::vector<std::string> names;
  auto collect = [](hid_t, const char* name, const H5L_info_t*, void* data) -> herr_t {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
  };
  hsize_t idx = 0;
  if (H5Literate(group, H5_INDEX_NAME, H5_ITER_INC, &idx, collect, &names) < 0)
    throw Error(context + ": cannot list group members");
  return names;
}

bool is_dataset(hid_t group, const std::string& name) {
  H5O_info_t info;
  if (H5Oget_info_by_name2(group, name.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0)
    return false;
  return info.type == H5O_TYPE_DATASET;
}

FloatArray read_float_dataset(hid_t group, const std::string& name, const std::string& context) {
  Handle d(H5Dopen2(group, name.c_str(), H5P_DEFAULT), H5Dclose);
  if (!d.valid()) throw Error(context + ": cannot open dataset '" + name + "'");
  Handle type(H5Dget_type(d.get()), H5Tclose);
  const H5T_class_t cls = H5Tget_class(type.get());
  if (cls != H5T_FLOAT && cls != H5T_INTEGER)
    throw Error(context + ": tensor '" + name + "' is not numeric (expected float32)");
  Handle space(H5Dget_space(d.get()), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank < 0) throw Error(context + ": tensor '" + name + "' has an unreadable shape");
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr);
  FloatArray out;
  std::int64_t count = 1;
  for (hsize_t v : dims) {
    out.shape.push_back(static_cast<std::int64_t>(v));
    count *= static_cast<std::int64_t>(v);
  }
  // A corrupt header could claim an absurd size; 1 G values is far beyond any model here.
  if (count < 0 || count > (std::int64_t{1} << 30))
    throw Error(context + ": tensor '" + name + "' claims " + std::to_string(count) +
                " values, more than aimc accepts");
  out.data.resize(static_cast<std::size_t>(count));
  if (count > 0 &&
      H5Dread(d.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data.data()) < 0)
    throw Error(context + ": cannot read tensor '" + name + "' (file truncated or corrupt?)");
  return out;
}

}  // namespace aimc::io::h5
