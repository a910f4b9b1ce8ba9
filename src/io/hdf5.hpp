#pragma once

// A thin RAII layer over the HDF5 C API. The parallel (Open MPI) HDF5 build ships no supported
// C++ API (the C++ wrapper is not thread- or MPI-safe), and HighFive is not in Debian 12, so aimc
// wraps the few calls it needs. Every failure becomes an aimc::Error naming the file and object.

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace aimc::io::h5 {

// Owns one hid_t and closes it with the matching H5*close.
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);
  Handle() = default;
  Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : id_(o.id_), closer_(o.closer_) { o.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& o) noexcept;
  ~Handle();
  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer closer_ = nullptr;
};

// Turns off HDF5's automatic error-stack printing: aimc reports its own one-line errors.
void silence_errors();

// Whether closing a file failed (its last flush did not reach the disk). HDF5 1.10 is then left
// with a dangling file ID, and its own clean-up at exit (MPI_Finalize, atexit) crashes on it:
// the caller must end the process without that clean-up (std::_Exit).
bool file_close_failed();

// Opens an existing file read-only; fails with "<path>: not an HDF5 file" or the OS reason.
Handle open_read(const std::string& path);
Handle open_group(hid_t parent, const std::string& name, const std::string& context);

bool has_attribute(hid_t obj, const std::string& name);
// Readers convert from any stored integer/float/string type of the right class; `context` prefixes
// error messages, e.g. "model.h5: node 3".
std::string read_string_attribute(hid_t obj, const std::string& name, const std::string& context);
std::vector<std::int64_t> read_int_attribute(hid_t obj, const std::string& name,
                                             const std::string& context);
std::vector<double> read_double_attribute(hid_t obj, const std::string& name,
                                          const std::string& context);

// Names of the direct members of a group, in name order.
std::vector<std::string> list_members(hid_t group, const std::string& context);
bool is_dataset(hid_t group, const std::string& name);

struct FloatArray {
  std::vector<std::int64_t> shape;
  std::vector<float> data;
};
FloatArray read_float_dataset(hid_t group, const std::string& name, const std::string& context);

}  // namespace aimc::io::h5
