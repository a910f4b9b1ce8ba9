#include "hardware/perf_model.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>

#include "util/error.hpp"
#include "util/json.hpp"

namespace aimc::hardware {

namespace {

constexpr std::pair<ReadMode, const char*> k_read_modes[] = {{ReadMode::one_phase, "one_phase"},
                                                             {ReadMode::four_phase, "four_phase"}};

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// Lays out rows of cells: the first column left-aligned, the others right-aligned.
std::string columns(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& r : rows) {
    width.resize(std::max(width.size(), r.size()), 0);
    for (std::size_t k = 0; k < r.size(); ++k)
      width[k] = std::max(width[k], r[k].size());
  }
  std::ostringstream os;
  for (const auto& r : rows) {
    std::string line;
    for (std::size_t k = 0; k < r.size(); ++k) {
      const std::string pad(width[k] - r[k].size(), ' ');
      line += k == 0 ? r[k] + pad : pad + r[k];
      if (k + 1 < r.size()) line += "  ";
    }
    while (!line.empty() && line.back() == ' ')
      line.pop_back();
    os << line << "\n";
  }
  return os.str();
}

double ops_energy_nJ(const DigitalOps& ops, const PerfParams& p) {
  return (static_cast<double>(ops.affine) * p.affine_energy_pJ +
          static_cast<double>(ops.relu) * p.relu_energy_pJ +
          static_cast<double>(ops.add) * p.add_energy_pJ +
          static_cast<double>(ops.pool) * p.pool_energy_pJ) *
         1e-3;
}

}  // namespace

bool read_mode_from_name(const std::string& s, ReadMode& out) {
  for (const auto& [mode, name] : k_read_modes) {
    if (s == name) {
      out = mode;
      return true;
    }
  }
  return false;
}

const char* read_mode_name(ReadMode m) {
  for (const auto& [mode, name] : k_read_modes)
    if (mode == m) return name;
  return "?";
}

double PerfParams::mvm_latency_ns(ReadMode m) const {
  return m == ReadMode::one_phase ? mvm_latency_ns_one_phase : mvm_latency_ns_four_phase;
}

double PerfParams::mvm_energy_nJ(ReadMode m) const {
  return m == ReadMode::one_phase ? mvm_energy_nJ_one_phase : mvm_energy_nJ_four_phase;
}

double PerfParams::mvm_fixed_energy_nJ(ReadMode m) const {
  return (1.0 - input_energy_share) * mvm_energy_nJ(m);
}

double PerfParams::mvm_input_energy_full_nJ(ReadMode m) const {
  return input_energy_share * mvm_energy_nJ(m) / calibration_input_activity;
}

const KeyTable<PerfParams>& perf_keys() {
  using P = PerfParams;
  static const KeyTable<P> keys = [] {
    // Every default is configs/chips/hermes64.ini's value, which cites its source.
    const auto real = [](const char* name, auto ref, Range range, const char* unit,
                         const char* doc) {
      return real_key<P>(name, ref, range, unit, phase_perf, doc);
    };
    return KeyTable<P>{
        enum_key<P>("perf.read_mode", AIMC_MEMBER(read_mode),
                    {ReadMode::one_phase, ReadMode::four_phase}, read_mode_name, phase_perf,
                    "MVM read mode that networks run in (aimc perf without --peak)"),
        real("perf.mvm_latency_ns_one_phase", AIMC_MEMBER(mvm_latency_ns_one_phase), above(0), "ns",
             "one full-core MVM, one-phase read"),
        real("perf.mvm_latency_ns_four_phase", AIMC_MEMBER(mvm_latency_ns_four_phase), above(0),
             "ns", "one full-core MVM, four-phase read"),
        real("perf.mvm_energy_nJ_one_phase", AIMC_MEMBER(mvm_energy_nJ_one_phase), above(0), "nJ",
             "one full-core MVM at the calibration activity, one-phase read"),
        real("perf.mvm_energy_nJ_four_phase", AIMC_MEMBER(mvm_energy_nJ_four_phase), above(0), "nJ",
             "one full-core MVM at the calibration activity, four-phase read"),
        real("perf.calibration_input_activity", AIMC_MEMBER(calibration_input_activity),
             above_up_to(0, 1), "", "mean |x_n| at which the MVM energies were measured"),
        real("perf.input_energy_share", AIMC_MEMBER(input_energy_share), between(0, 1), "",
             "share of the MVM energy proportional to the input magnitude"),
        real("perf.default_input_activity", AIMC_MEMBER(default_input_activity), between(0, 1), "",
             "mean |x_n| assumed without measured inputs"),
        real("perf.affine_energy_pJ", AIMC_MEMBER(affine_energy_pJ), at_least(0), "pJ",
             "digital multiply-add (BatchNorm affine)"),
        real("perf.relu_energy_pJ", AIMC_MEMBER(relu_energy_pJ), at_least(0), "pJ",
             "digital ReLU, per element"),
        real("perf.add_energy_pJ", AIMC_MEMBER(add_energy_pJ), at_least(0), "pJ",
             "digital add (residuals, partial sums), per element"),
        real("perf.pool_energy_pJ", AIMC_MEMBER(pool_energy_pJ), at_least(0), "pJ",
             "digital pooling, per input element"),
        real("perf.local_ops_per_ns", AIMC_MEMBER(local_ops_per_ns), above(0), "1/ns",
             "element ops per ns of one core's local digital unit"),
        real("perf.global_ops_per_ns", AIMC_MEMBER(global_ops_per_ns), above(0), "1/ns",
             "element ops per ns of the global digital units together"),
        real("perf.mesh_energy_pJ_per_byte", AIMC_MEMBER(mesh_energy_pJ_per_byte), at_least(0),
             "pJ/B", "on-chip mesh energy per byte moved between cores"),
        real("perf.mesh_bandwidth_GBps_per_core", AIMC_MEMBER(mesh_bandwidth_GBps_per_core),
             above(0), "GB/s", "each core's mesh input bandwidth"),
        real("perf.mesh_latency_ns", AIMC_MEMBER(mesh_latency_ns), at_least(0), "ns",
             "latency of one mesh transfer"),
        int_key<P>("perf.activation_bytes", AIMC_MEMBER(activation_bytes), 1, 8, "B", phase_perf,
                   "bytes of one activation sent between cores"),
        int_key<P>("perf.partial_sum_bytes", AIMC_MEMBER(partial_sum_bytes), 1, 8, "B", phase_perf,
                   "bytes of one partial sum sent between cores"),
        real("perf.chip_area_mm2", AIMC_MEMBER(chip_area_mm2), above(0), "mm²",
             "chip area, for GOPS/mm²"),
    };
  }();
  return keys;
}

void PerfParams::validate() const {
  check_ranges(perf_keys(), *this);
}

PeakPerf peak_performance(const PerfParams& params, const MappingParams& mapping, ReadMode mode) {
  params.validate();
  mapping.validate();
  // Ops of one full-core MVM: one multiply and one add per cell.
  const double ops = 2.0 * mapping.core_rows * mapping.core_cols;
  PeakPerf peak;
  peak.tops = mapping.cores * ops / params.mvm_latency_ns(mode) * 1e-3;  // ops/ns = GOPS
  peak.tops_per_w = ops / (params.mvm_energy_nJ(mode) * 1e3);            // ops/nJ = GOPS/W
  peak.gops_per_mm2 = peak.tops * 1e3 / params.chip_area_mm2;
  return peak;
}

PerfModel::PerfModel(const PerfParams& params, const Mapping& mapping, std::vector<LayerWork> work,
                     std::vector<int> replication)
    : params_(params),
      mapping_(mapping),
      work_(std::move(work)),
      replication_(std::move(replication)) {
  params_.validate();
  const std::size_t n = mapping_.layers.size();
  if (work_.size() != n)
    throw Error(mapping_.model + ": the performance model got work for " +
                std::to_string(work_.size()) + " layers, the mapping has " + std::to_string(n));
  if (replication_.empty()) replication_.assign(n, 1);
  if (replication_.size() != n)
    throw Error(mapping_.model + ": " + std::to_string(replication_.size()) +
                " replication factors for " + std::to_string(n) + " mapped layers");
  for (std::size_t l = 0; l < n; ++l) {
    if (replication_[l] < 1)
      throw Error(mapping_.model + ": replication of " + mapping_.layers[l].name + " = " +
                  std::to_string(replication_[l]) + ", expected a positive integer");
    if (work_[l].mvms_per_image < 1)
      throw Error(mapping_.model + ": " + mapping_.layers[l].name +
                  " has no MVMs per image, expected at least 1");
  }

  const ReadMode mode = params_.read_mode;
  const double t_mvm = params_.mvm_latency_ns(mode);
  const double e_fixed = params_.mvm_fixed_energy_nJ(mode);
  const double e_input_full = params_.mvm_input_energy_full_nJ(mode);
  const double core_cells = double{1.0} * mapping_.params.core_rows * mapping_.params.core_cols;

  NetworkPerf& r = base_;
  r.model = mapping_.model;
  r.read_mode = mode;
  r.cores = mapping_.params.cores;
  r.layers.resize(n);
  slope_nJ_.assign(n, 0.0);

  // Per layer: its blocks, the distinct row and column blocks, and the cores they sit on.
  std::vector<std::vector<int>> layer_blocks(n);
  for (std::size_t b = 0; b < mapping_.blocks.size(); ++b)
    layer_blocks[static_cast<std::size_t>(mapping_.blocks[b].layer)].push_back(static_cast<int>(b));

  int extra_cores = 0;
  for (std::size_t l = 0; l < n; ++l) {
    const LayerWork& w = work_[l];
    LayerPerf& lp = r.layers[l];
    const LayerShape& shape = mapping_.layers[l];
    std::set<int> row0s;
    std::set<int> col0s;
    std::set<int> cores;
    double cell_fraction = 0;  // Σ over blocks of rows·cols / core cells
    for (int b : layer_blocks[l]) {
      const Block& blk = mapping_.blocks[static_cast<std::size_t>(b)];
      row0s.insert(blk.row0);
      col0s.insert(blk.col0);
      cores.insert(blk.core);
      cell_fraction += static_cast<double>(blk.cells()) / core_cells;
    }
    const auto n_blocks = static_cast<double>(layer_blocks[l].size());
    const auto row_blocks = static_cast<std::int64_t>(row0s.size());
    const auto col_blocks = static_cast<std::int64_t>(col0s.size());
    const int rep = replication_[l];
    const auto m = static_cast<double>(w.mvms_per_image);
    extra_cores += static_cast<int>(cores.size()) * (rep - 1);

    lp.name = shape.name;
    lp.blocks = static_cast<int>(layer_blocks[l].size());
    lp.cores = static_cast<int>(cores.size()) * rep;
    lp.replication = rep;
    lp.mvms_per_image = w.mvms_per_image;
    lp.macs_per_image = w.mvms_per_image * shape.rows * shape.cols + w.digital_macs;

    // Local digital work: the caller's ops plus the accumulation of the row blocks' partial
    // sums, one add per output and extra row block.
    DigitalOps local = w.local;
    local.add += (row_blocks - 1) * shape.cols * w.mvms_per_image;
    // Mesh: the input feature map to every column block (each row block gets its share of the
    // rows, so a column's blocks together get it once), the partial sums to the accumulating
    // core, and the operands of the global digital units.
    const double input_bytes =
        static_cast<double>(w.input_activations * col_blocks * params_.activation_bytes) +
        static_cast<double>((row_blocks - 1) * shape.cols * w.mvms_per_image *
                            params_.partial_sum_bytes);
    lp.mesh_bytes = input_bytes + static_cast<double>(w.global.total() * params_.activation_bytes);

    // One im2col column: the core's MVM, its local digital unit and its mesh input run
    // concurrently, so the slowest of the three sets the step.
    const double per_core_mvm = m * n_blocks;
    const double t_local =
        static_cast<double>(local.total()) / per_core_mvm / params_.local_ops_per_ns;
    const double t_mesh = input_bytes / per_core_mvm / params_.mesh_bandwidth_GBps_per_core;
    lp.step_ns = std::max({t_mvm, t_local, t_mesh});

    const double global_ns = static_cast<double>(w.global.total()) / params_.global_ops_per_ns;
    r.global_digital_ns += global_ns;

    lp.mvm_fixed_nJ = n_blocks * m * e_fixed;
    slope_nJ_[l] = m * e_input_full * cell_fraction;
    lp.local_digital_nJ = ops_energy_nJ(local, params_);
    lp.global_digital_nJ = ops_energy_nJ(w.global, params_);
    lp.mesh_nJ = lp.mesh_bytes * params_.mesh_energy_pJ_per_byte * 1e-3;
    // The latency along the path: the layer's columns one after another on its busiest core
    // (set below), one mesh transfer, and its global digital work.
    lp.latency_ns = params_.mesh_latency_ns + global_ns;
  }
  r.cores_used = mapping_.cores_used() + extra_cores;
  if (r.cores_used > r.cores)
    throw Error(mapping_.model + ": the replication needs " + std::to_string(r.cores_used) +
                " cores, the chip has " + std::to_string(r.cores));

  // Busy time per image of every core: each of its blocks does its layer's MVMs, split over the
  // layer's replicas. A layer's stage is its share on its busiest core.
  std::vector<double> core_ns(static_cast<std::size_t>(mapping_.cores_used()), 0.0);
  for (const Block& blk : mapping_.blocks) {
    const auto l = static_cast<std::size_t>(blk.layer);
    core_ns[static_cast<std::size_t>(blk.core)] +=
        static_cast<double>(work_[l].mvms_per_image) * r.layers[l].step_ns / replication_[l];
  }
  for (std::size_t l = 0; l < n; ++l) {
    std::vector<int> on_core(core_ns.size(), 0);
    for (int b : layer_blocks[l])
      ++on_core[static_cast<std::size_t>(mapping_.blocks[static_cast<std::size_t>(b)].core)];
    const int most = *std::max_element(on_core.begin(), on_core.end());
    LayerPerf& lp = r.layers[l];
    lp.stage_ns = most * static_cast<double>(lp.mvms_per_image) * lp.step_ns / lp.replication;
    lp.latency_ns += lp.stage_ns;
  }

  const double busiest_core = *std::max_element(core_ns.begin(), core_ns.end());
  r.cycle_ns = std::max(busiest_core, r.global_digital_ns);
  if (r.global_digital_ns > busiest_core) {
    r.bottleneck = -1;
  } else {
    r.bottleneck = 0;
    for (std::size_t l = 1; l < n; ++l)
      if (r.layers[l].stage_ns > r.layers[static_cast<std::size_t>(r.bottleneck)].stage_ns)
        r.bottleneck = static_cast<int>(l);
  }
  r.images_per_s = 1e9 / r.cycle_ns;
  for (const LayerPerf& lp : r.layers) {
    r.latency_ns += lp.latency_ns;
    r.macs_per_image += lp.macs_per_image;
    fixed_nJ_ += lp.energy_nJ();
  }
  r.gops = 2.0 * static_cast<double>(r.macs_per_image) * r.images_per_s * 1e-9;
}

void PerfModel::check_activity(const std::vector<double>& a) const {
  if (a.size() != mapping_.layers.size())
    throw Error(mapping_.model + ": " + std::to_string(a.size()) + " input activities for " +
                std::to_string(mapping_.layers.size()) + " mapped layers");
  for (std::size_t l = 0; l < a.size(); ++l) {
    if (!(a[l] >= 0 && a[l] <= 1)) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%g", a[l]);
      throw Error(mapping_.model + ": input activity of " + mapping_.layers[l].name + " = " + buf +
                  ", expected a mean |x_n| in [0, 1]");
    }
  }
}

double PerfModel::energy_per_image_nJ(const std::vector<double>& input_activity) const {
  check_activity(input_activity);
  double e = fixed_nJ_;
  for (std::size_t l = 0; l < slope_nJ_.size(); ++l)
    e += slope_nJ_[l] * input_activity[l];
  return e;
}

NetworkPerf PerfModel::evaluate(const std::vector<double>& input_activity) const {
  NetworkPerf r = base_;
  r.energy_nJ = energy_per_image_nJ(input_activity);
  for (std::size_t l = 0; l < r.layers.size(); ++l) {
    r.layers[l].input_activity = input_activity[l];
    r.layers[l].mvm_input_nJ = slope_nJ_[l] * input_activity[l];
    r.layers[l].mvm_input_slope_nJ = slope_nJ_[l];
    r.layer_input_ns = std::max(r.layer_input_ns, r.layers[l].step_ns);
    r.layer_input_nJ += r.layers[l].energy_nJ() / static_cast<double>(r.layers[l].mvms_per_image);
  }
  r.tops_per_w = tops_per_w(r.energy_nJ);
  r.power_W = r.energy_nJ * 1e-9 * r.images_per_s;
  return r;
}

NetworkPerf PerfModel::evaluate() const {
  return evaluate(std::vector<double>(mapping_.layers.size(), params_.default_input_activity));
}

double PerfModel::images_per_s() const {
  return base_.images_per_s;
}

std::int64_t PerfModel::macs_per_image() const {
  return base_.macs_per_image;
}

double PerfModel::tops_per_w(double energy_nJ) const {
  return 2.0 * static_cast<double>(base_.macs_per_image) / (energy_nJ * 1e3);
}

std::string NetworkPerf::table() const {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"layer", "blocks", "cores", "repl", "MVMs/img", "|x_n|", "step ns", "stage us",
                  "latency us", "MVM fix nJ", "MVM in nJ", "digital nJ", "mesh nJ", "total nJ",
                  "energy"});
  double mvm_fixed = 0;
  double mvm_input = 0;
  double digital = 0;
  double mesh = 0;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const LayerPerf& lp = layers[l];
    mvm_fixed += lp.mvm_fixed_nJ;
    mvm_input += lp.mvm_input_nJ;
    digital += lp.local_digital_nJ + lp.global_digital_nJ;
    mesh += lp.mesh_nJ;
    rows.push_back({lp.name + (static_cast<int>(l) == bottleneck ? " *" : ""),
                    std::to_string(lp.blocks), std::to_string(lp.cores),
                    std::to_string(lp.replication), std::to_string(lp.mvms_per_image),
                    fixed(lp.input_activity, 3), fixed(lp.step_ns, 1), fixed(lp.stage_ns * 1e-3, 2),
                    fixed(lp.latency_ns * 1e-3, 2), fixed(lp.mvm_fixed_nJ, 1),
                    fixed(lp.mvm_input_nJ, 1), fixed(lp.local_digital_nJ + lp.global_digital_nJ, 1),
                    fixed(lp.mesh_nJ, 1), fixed(lp.energy_nJ(), 1),
                    fixed(100.0 * lp.energy_nJ() / energy_nJ, 1) + " %"});
  }
  std::ostringstream os;
  os << "perf  " << model << ", " << read_mode_name(read_mode) << " read, " << cores_used << " / "
     << cores << " cores (* = bottleneck stage)\n"
     << columns(rows);
  const auto share = [&](double e) { return fixed(100.0 * e / energy_nJ, 1) + " %"; };
  os << "throughput  " << fixed(images_per_s, 1) << " images/s (one image every "
     << fixed(cycle_ns * 1e-3, 2) << " us, set by "
     << (bottleneck < 0 ? std::string("the global digital units")
                        : layers[static_cast<std::size_t>(bottleneck)].name)
     << "), " << fixed(gops, 1) << " GOPS (2 x " << macs_per_image << " MAC/image)\n"
     << "latency     " << fixed(latency_ns * 1e-3, 1)
     << " us per image (layers one after another)\n"
     << "energy      " << fixed(energy_nJ * 1e-3, 3) << " uJ/image: MVM fixed " << share(mvm_fixed)
     << ", MVM input " << share(mvm_input) << ", digital " << share(digital) << ", mesh "
     << share(mesh) << "\n"
     << "efficiency  " << fixed(tops_per_w, 3) << " TOPS/W, " << fixed(power_W, 3) << " W\n"
     << "per layer input  " << fixed(layer_input_ns * 1e-3, 3) << " us, "
     << fixed(layer_input_nJ * 1e-3, 3)
     << " uJ (every layer one im2col column; Le Gallo 2023, ResNet-9: 1.52 us, 1.51 uJ)\n";
  return os.str();
}

std::string NetworkPerf::json() const {
  std::string layers_json = "[";
  double mvm_fixed = 0;
  double mvm_input = 0;
  double local = 0;
  double global = 0;
  double mesh = 0;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const LayerPerf& lp = layers[l];
    mvm_fixed += lp.mvm_fixed_nJ;
    mvm_input += lp.mvm_input_nJ;
    local += lp.local_digital_nJ;
    global += lp.global_digital_nJ;
    mesh += lp.mesh_nJ;
    JsonObject o;
    o.add("name", lp.name)
        .add("blocks", lp.blocks)
        .add("cores", lp.cores)
        .add("replication", lp.replication)
        .add("mvms_per_image", lp.mvms_per_image)
        .add("macs_per_image", lp.macs_per_image)
        .add("input_activity", lp.input_activity)
        .add("step_ns", lp.step_ns)
        .add("stage_ns", lp.stage_ns)
        .add("latency_ns", lp.latency_ns)
        .add("mesh_bytes", lp.mesh_bytes)
        .add("mvm_fixed_nJ", lp.mvm_fixed_nJ)
        .add("mvm_input_nJ", lp.mvm_input_nJ)
        .add("mvm_input_slope_nJ", lp.mvm_input_slope_nJ)
        .add("local_digital_nJ", lp.local_digital_nJ)
        .add("global_digital_nJ", lp.global_digital_nJ)
        .add("mesh_nJ", lp.mesh_nJ)
        .add("energy_nJ", lp.energy_nJ());
    layers_json += (l ? ", " : "") + o.str();
  }
  layers_json += "]";
  JsonObject split;
  split.add("mvm_fixed_nJ", mvm_fixed)
      .add("mvm_input_nJ", mvm_input)
      .add("local_digital_nJ", local)
      .add("global_digital_nJ", global)
      .add("mesh_nJ", mesh);
  JsonObject o;
  o.add("model", model)
      .add("read_mode", read_mode_name(read_mode))
      .add("cores", cores)
      .add("cores_used", cores_used)
      .add("bottleneck", bottleneck < 0 ? std::string("global_digital")
                                        : layers[static_cast<std::size_t>(bottleneck)].name)
      .add("cycle_ns", cycle_ns)
      .add("global_digital_ns", global_digital_ns)
      .add("images_per_s", images_per_s)
      .add("latency_us", latency_ns * 1e-3)
      .add("macs_per_image", macs_per_image)
      .add("gops", gops)
      .add("energy_uJ_per_image", energy_nJ * 1e-3)
      .add("tops_per_w", tops_per_w)
      .add("power_W", power_W)
      .add("layer_input_us", layer_input_ns * 1e-3)
      .add("layer_input_uJ", layer_input_nJ * 1e-3)
      .raw("energy_split", split.str())
      .raw("layers", layers_json);
  return o.str();
}

}  // namespace aimc::hardware
