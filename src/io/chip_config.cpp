#include "io/chip_config.hpp"

#include "util/error.hpp"

namespace aimc::io {

bool is_chip_key(const std::string& key) {
  return find_key(hardware::chip_keys(), key) != nullptr;
}

hardware::ChipParams read_chip_config(const std::string& path,
                                      const std::vector<std::string>& overrides) {
  // Overrides first: the first setting of a key wins.
  std::vector<Setting> settings = parse_overrides(overrides);
  if (!path.empty())
    for (Setting& s : parse_ini(read_text_file(path, "chip configuration"), path))
      settings.push_back(std::move(s));
  return hardware::chip_from_settings(settings, path.empty() ? std::string("--set") : path);
}

}  // namespace aimc::io
