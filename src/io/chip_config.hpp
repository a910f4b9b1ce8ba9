#pragma once

#include <string>
#include <vector>

#include "hardware/chip_params.hpp"
#include "io/ini.hpp"

namespace aimc::io {

// Reads a chip configuration (INI, Boost.Program_options syntax; configs/chips/*.ini) and applies
// `overrides` ("section.key=value", as given to --set), which win over the file. The keys are
// hardware::chip_keys(), applied in their declared order: device.kind and
// device.devices_per_polarity first start from the published values of that device model, and
// the keys after them override single values. Unknown keys, bad values and out-of-range values
// throw aimc::Error with one line naming the file (or --set), the key and what was expected. An
// empty path means the defaults.
hardware::ChipParams read_chip_config(const std::string& path,
                                      const std::vector<std::string>& overrides);

// Whether `key` ("section.key") is a chip configuration key.
bool is_chip_key(const std::string& key);

}  // namespace aimc::io
