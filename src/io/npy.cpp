#include "io/npy.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "util/error.hpp"

namespace aimc::io {

NpyArray read_npy_float32(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open: " + std::strerror(errno));
  char magic[8] = {};
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0)
    throw Error(path + ": not a .npy file");
  const int major = static_cast<unsigned char>(magic[6]);
  std::uint32_t header_len = 0;
  if (major == 1) {
    unsigned char b[2];
    if (!in.read(reinterpret_cast<char*>(b), 2)) throw Error(path + ": truncated .npy header");
    header_len = b[0] | (b[1] << 8);
  } else if (major == 2 || major == 3) {
    unsigned char b[4];
    if (!in.read(reinterpret_cast<char*>(b), 4)) throw Error(path + ": truncated .npy header");
    header_len = b[0] | (b[1] << 8) | (b[2] << 16) | (std::uint32_t{b[3]} << 24);
  } else {
    throw Error(path + ": unsupported .npy version " + std::to_string(major));
  }
  if (header_len > (1U << 20)) throw Error(path + ": .npy header too long");
  std::string header(header_len, '\0');
  if (!in.read(header.data(), header_len)) throw Error(path + ": truncated .npy header");
  if (header.find("'descr': '<f4'") == std::string::npos)
    throw Error(path + ": expected dtype '<f4' (little-endian float32)");
  if (header.find("'fortran_order': False") == std::string::npos)
    throw Error(path + ": expected C order (fortran_order False)");
  const auto open = header.find("'shape': (");
  const auto close = header.find(')', open);
  if (open == std::string::npos || close == std::string::npos)
    throw Error(path + ": .npy header has no shape");
  NpyArray out;
  std::stringstream dims(header.substr(open + 10, close - open - 10));
  std::string item;
  std::int64_t count = 1;
  while (std::getline(dims, item, ',')) {
    if (item.find_first_not_of(' ') == std::string::npos) continue;
    out.shape.push_back(std::stoll(item));
    count *= out.shape.back();
  }
  out.data.resize(static_cast<std::size_t>(count));
  if (!in.read(reinterpret_cast<char*>(out.data.data()),
               static_cast<std::streamsize>(count * sizeof(float))))
    throw Error(path + ": truncated data (expected " + std::to_string(count) + " float32 values)");
  return out;
}

void write_npy_float32(const std::string& path, const std::vector<std::int64_t>& shape,
                       const std::vector<float>& data) {
  std::string dims;
  std::int64_t count = 1;
  for (const std::int64_t d : shape) {
    dims += (dims.empty() ? "" : ", ") + std::to_string(d);
    count *= d;
  }
  if (shape.size() == 1) dims += ",";  // a Python 1-tuple
  if (count != static_cast<std::int64_t>(data.size()))
    throw Error("internal: write_npy_float32 shape does not match the data");
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
  // Magic (6) + version (2) + header length (2) + header + '\n' is a multiple of 64 (NEP 1).
  const std::size_t total = (10 + header.size() + 1 + 63) / 64 * 64;
  header.append(total - 10 - header.size() - 1, ' ');
  header += '\n';
  const std::string tmp = path + ".part";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(path + ": cannot write: " + std::strerror(errno));
    const auto len = static_cast<std::uint16_t>(header.size());
    const char prefix[10] = {'\x93',
                             'N',
                             'U',
                             'M',
                             'P',
                             'Y',
                             1,
                             0,
                             static_cast<char>(len & 0xFF),
                             static_cast<char>(len >> 8)};
    out.write(prefix, 10);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    out.write(reinterpret_cast<const char*>(data.data()),
              static_cast<std::streamsize>(data.size() * sizeof(float)));
    if (!out.flush()) throw Error(path + ": cannot write: " + std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw Error(path + ": cannot write: " + std::strerror(errno));
}

}  // namespace aimc::io
