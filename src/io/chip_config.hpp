#pragma once

#include <string>
#include <vector>

#include "hardware/chip_params.hpp"

namespace aimc::io {

// Reads a chip configuration (INI, Boost.Program_options syntax; configs/chips/*.ini) and applies
// `overrides` ("section.key=value", as given to --set), which win over the file. Device
// parameters start from the published defaults of device.kind and device.devices_per_polarity;
// the file overrides single values. Unknown keys, bad values and out-of-range values throw
// aimc::Error with one line naming the file and the key. An empty path means the defaults.
hardware::ChipParams read_chip_config(const std::string& path,
                                      const std::vector<std::string>& overrides);

// Throws aimc::Error naming `origin` and the line when INI text has a '%' outside a comment.
// Boost.Program_options 1.74 formats its error messages by substituting tokens such as
// %canonical_option% and %value% with the offending text, repeatedly, so text that contains such
// a token never finishes (an endless loop found by fuzz_config). No aimc key or value needs '%'.
void check_no_percent(const std::string& text, const std::string& origin);

// Whether `key` ("section.key") is a chip configuration key.
bool is_chip_key(const std::string& key);

// The resolved configuration as INI text, every key, for logs and result files.
std::string chip_config_text(const hardware::ChipParams& p);

}  // namespace aimc::io
