#include "io/chip_config.hpp"

#include <map>

#include "util/error.hpp"

namespace aimc::io {

bool is_chip_key(const std::string& key) {
  return find_key(hardware::chip_keys(), key) != nullptr;
}

hardware::ChipParams read_chip_config(const std::string& path,
                                      const std::vector<std::string>& overrides) {
  // Overrides win over the file: they are taken first and the file only fills the rest.
  std::map<std::string, IniEntry> given;
  for (IniEntry& e : parse_overrides(overrides))
    given.emplace(e.key, std::move(e));
  if (!path.empty())
    for (IniEntry& e : parse_ini(read_text_file(path, "chip configuration"), path))
      given.emplace(e.key, std::move(e));
  for (const auto& [key, e] : given)
    if (!is_chip_key(key))
      throw Error(e.origin + ": unknown chip key '" + key +
                  "', expected one of the keys that 'aimc keys' lists (docs/chip.md)");

  const auto& keys = hardware::chip_keys();
  hardware::ChipParams p;
  for (const auto& k : keys) {
    const auto it = given.find(k.name);
    if (it != given.end() && !k.set(p, it->second.value))
      throw Error(it->second.origin + ": " + k.name + " = '" + it->second.value + "', expected " +
                  k.expected);
  }
  // Ranges first, each reported where its value came from; then the constraints between keys.
  const std::string where = path.empty() ? std::string("--set") : path;
  for (const auto& k : keys)
    if (!k.in_range(p)) {
      const auto it = given.find(k.name);
      throw Error((it != given.end() ? it->second.origin : where) + ": " + k.name + " = " +
                  k.get(p) + ", expected " + k.expected);
    }
  try {
    p.validate();
  } catch (const Error& e) {
    throw Error(where + ": " + e.what());
  }
  return p;
}

std::string chip_keys_markdown() {
  const hardware::ChipParams defaults;
  std::string out =
      "| key | type | default | unit | range | phases | what it sets |\n"
      "|---|---|---|---|---|---|---|\n";
  for (const auto& k : hardware::chip_keys()) {
    // A '|' inside a cell would split it: enum names are listed with '/' here.
    std::string type = k.type;
    for (std::size_t i = 0; (i = type.find(" | ", i)) != std::string::npos;)
      type.replace(i, 3, " / ");
    std::string doc = k.doc;
    for (std::size_t i = 0; (i = doc.find('|', i)) != std::string::npos; i += 2)
      doc.replace(i, 1, "\\|");
    out += "| `" + k.name + "` | " + type + " | " + k.get(defaults) + " | " + k.unit + " | " +
           k.range + " | " + phase_names(k.phases) + " | " + doc + " |\n";
  }
  return out;
}

}  // namespace aimc::io
