#include "io/peak_experiment.hpp"

#include <boost/program_options.hpp>
#include <cmath>
#include <fstream>
#include <sstream>

#include "util/error.hpp"

namespace aimc::io {

namespace po = boost::program_options;

const char* const k_peak_figures[3] = {"tops", "tops_per_w", "gops_per_mm2"};

PeakExperiment read_peak_experiment(const std::string& path) {
  po::options_description o;
  o.add_options()("peak.chip", po::value<std::string>(), "")(
      "peak.read_modes", po::value<std::string>(), "")("peak.tolerance", po::value<double>(), "");
  for (const char* mode : {"one_phase", "four_phase"})
    for (const char* fig : k_peak_figures)
      o.add_options()((std::string("expect.") + mode + "." + fig).c_str(), po::value<double>(), "");
  std::ifstream file(path);
  if (!file) throw Error(path + ": cannot open experiment file");
  po::variables_map vm;
  try {
    po::store(po::parse_config_file(file, o, false), vm);
  } catch (const po::error& e) {
    throw Error(path + ": " + e.what());
  }
  PeakExperiment ex;
  if (vm.count("peak.chip") == 0U) throw Error(path + ": peak.chip is missing, expected a path");
  ex.chip = vm["peak.chip"].as<std::string>();
  if (vm.count("peak.read_modes") != 0U) {
    ex.modes.clear();
    std::istringstream modes(vm["peak.read_modes"].as<std::string>());
    for (std::string name; modes >> name;) {
      hardware::ReadMode m{};
      if (!hardware::read_mode_from_name(name, m))
        throw Error(path + ": peak.read_modes has '" + name +
                    "', expected one_phase and/or four_phase");
      ex.modes.push_back(m);
    }
    if (ex.modes.empty())
      throw Error(path + ": peak.read_modes is empty, expected one_phase and/or four_phase");
  }
  if (vm.count("peak.tolerance") != 0U) ex.tolerance = vm["peak.tolerance"].as<double>();
  if (!(ex.tolerance > 0 && ex.tolerance < 1))
    throw Error(path + ": peak.tolerance = " + std::to_string(ex.tolerance) +
                ", expected a relative tolerance in (0, 1)");
  for (const auto& [key, value] : vm) {
    if (key.rfind("expect.", 0) != 0) continue;
    const double v = value.as<double>();
    if (!(v > 0 && std::isfinite(v)))
      throw Error(path + ": " + key + " = " + std::to_string(v) + ", expected a positive number");
    ex.expect[key.substr(7)] = v;
  }
  return ex;
}

}  // namespace aimc::io
