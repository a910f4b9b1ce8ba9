#include "io/ini.hpp"

#include <boost/program_options.hpp>
#include <fstream>
#include <set>
#include <sstream>

#include "util/error.hpp"

namespace aimc::io {

namespace po = boost::program_options;

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

void check_no_percent(const std::string& text, const std::string& origin) {
  std::istringstream in(text);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    const std::string code = line.substr(0, line.find('#'));
    if (code.find('%') != std::string::npos)
      throw Error(origin + ": line " + std::to_string(n) +
                  ": '%' in a key or value, expected none (keys are section.name, values numbers, "
                  "names or paths)");
  }
}

std::vector<IniEntry> parse_ini(const std::string& text, const std::string& origin) {
  check_no_percent(text, origin);
  const po::options_description none;
  po::parsed_options parsed(&none);
  try {
    std::istringstream body(text);
    parsed = po::parse_config_file(body, none, true);
  } catch (const po::error& e) {
    throw Error(origin + ": " + e.what());
  }
  std::vector<IniEntry> out;
  std::set<std::string> seen;
  for (const po::option& o : parsed.options) {
    IniEntry e{o.string_key, o.value.empty() ? std::string() : trim(o.value.front()), origin};
    if (!seen.insert(e.key).second)
      throw Error(origin + ": " + e.key + " is given twice, expected it once");
    out.push_back(std::move(e));
  }
  return out;
}

std::vector<IniEntry> parse_overrides(const std::vector<std::string>& overrides) {
  std::string text;
  for (const std::string& o : overrides) {
    if (o.find('=') == std::string::npos)
      throw Error("--set '" + o + "': expected section.key=value");
    text += o + "\n";
  }
  return parse_ini(text, "--set");
}

std::string read_text_file(const std::string& path, const std::string& what) {
  std::ifstream file(path);
  if (!file) throw Error(path + ": cannot open " + what);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

}  // namespace aimc::io
