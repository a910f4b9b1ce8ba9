#pragma once

#include <string>
#include <vector>

#include "util/key_schema.hpp"

namespace aimc::io {

// One "key = value" of an INI text, with its section prefix ("device.g_max_uS"), and where it
// came from (a file name, or "--set") for error messages.
using IniEntry = Setting;

// Every entry of INI text (Boost.Program_options syntax), in order, values trimmed. Throws
// aimc::Error naming `origin` for a syntax error, a '%' (check_no_percent) or a key given twice.
std::vector<IniEntry> parse_ini(const std::string& text, const std::string& origin);
// The same for --set overrides ("section.key=value" each), origin "--set".
std::vector<IniEntry> parse_overrides(const std::vector<std::string>& overrides);
// The whole text of a file; throws aimc::Error "PATH: cannot open <what>".
std::string read_text_file(const std::string& path, const std::string& what);

// `s` without leading and trailing blanks (space, tab, CR).
std::string trim(const std::string& s);

// Throws aimc::Error naming `origin` and the line when INI text has a '%' outside a comment.
// Boost.Program_options 1.74 formats its error messages by substituting tokens such as
// %canonical_option% and %value% with the offending text, repeatedly, so text that contains such
// a token never finishes (an endless loop found by fuzz_config). No aimc key or value needs '%'.
void check_no_percent(const std::string& text, const std::string& origin);

}  // namespace aimc::io
