#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hardware/mapping.hpp"
#include "util/key_schema.hpp"

namespace aimc::hardware {

// The chip's two MVM read modes (Le Gallo et al., Nature Electronics 2023): one phase per MVM
// (low precision, fastest), or four phases whose results are combined (high precision), which
// takes about four times as long and as much energy.
enum class ReadMode { one_phase, four_phase };

bool read_mode_from_name(const std::string& s, ReadMode& out);
const char* read_mode_name(ReadMode m);

// The throughput and energy constants of the chip ([perf] in configs/chips/*.ini). Every default
// is the value of configs/chips/hermes64.ini, which gives each one's source; docs/
// performance-model.md gives the equations. "Per MVM" means one MVM of one full core.
struct PerfParams {
  // The read mode networks run in (aimc perf without --peak).
  ReadMode read_mode = ReadMode::four_phase;
  // Latency of one MVM on one core: 2·64·256² ops / 63.1 and 16.1 TOPS (Le Gallo 2023).
  double mvm_latency_ns_one_phase = 132.94;
  double mvm_latency_ns_four_phase = 521.03;
  // Energy of one MVM on one core, at full utilisation and the calibration input activity:
  // 2·256² ops / 9.76 and 2.48 TOPS/W, i.e. 0.86 and 3.38 µJ per full-chip MVM / 64 cores.
  double mvm_energy_nJ_one_phase = 13.43;
  double mvm_energy_nJ_four_phase = 52.85;
  // Mean |x_n| (DAC-normalised inputs, in [0, 1]) of the inputs at which the MVM energies above
  // were measured.
  double calibration_input_activity = 0.5;
  // Share of the MVM energy at the calibration activity that is proportional to the input
  // magnitude (PWM pulse length: crossbar conduction, CCO counting); the rest is fixed per MVM
  // (ADC bias and readout, periphery, clock).
  double input_energy_share = 0.3;
  // The mean |x_n| assumed for every layer when no measured input statistics are given.
  double default_input_activity = 0.1;
  // Digital energy per element operation (local and global digital units alike).
  double affine_energy_pJ = 0.6;
  double relu_energy_pJ = 0.02;
  double add_energy_pJ = 0.16;
  double pool_energy_pJ = 0.16;
  // Digital throughput: element ops per ns of one core's local digital unit, and of the global
  // digital units together.
  double local_ops_per_ns = 16.0;
  double global_ops_per_ns = 64.0;
  // On-chip mesh: energy per byte moved between cores, each core's input bandwidth (GB/s = bytes
  // per ns), and the latency of one transfer.
  double mesh_energy_pJ_per_byte = 2.0;
  double mesh_bandwidth_GBps_per_core = 8.0;
  double mesh_latency_ns = 10.0;
  // Bytes of one activation sent between cores, and of one partial sum.
  int activation_bytes = 1;
  int partial_sum_bytes = 2;
  // Chip area, for GOPS/mm²: 16.1 TOPS / 400 GOPS/mm² (Le Gallo 2023).
  double chip_area_mm2 = 40.25;

  double mvm_latency_ns(ReadMode m) const;
  double mvm_energy_nJ(ReadMode m) const;
  // The split of mvm_energy_nJ(m): E(a) = fixed + a · input_full, so E(calibration activity) is
  // the published figure. input_full is the input part when every input is at full scale.
  double mvm_fixed_energy_nJ(ReadMode m) const;
  double mvm_input_energy_full_nJ(ReadMode m) const;
  void validate() const;
};

// The [perf] keys of a chip configuration, declared once (util/key_schema.hpp).
const KeyTable<PerfParams>& perf_keys();

// Element operations of the digital units.
struct DigitalOps {
  std::int64_t affine = 0;  // multiply-add: BatchNorm's affine, digital MACs
  std::int64_t relu = 0;
  std::int64_t add = 0;   // residual adds, partial-sum accumulation
  std::int64_t pool = 0;  // one per input element of a pooling window
  std::int64_t total() const { return affine + relu + add + pool; }
};

// The work of one mapped layer per image, besides its MVMs, as the caller derives it from the
// network graph (cli/cmd_perf.cpp does it for the ResNet graphs).
struct LayerWork {
  // MVMs per image on each of the layer's blocks: output pixels for a conv, 1 for a linear layer.
  std::int64_t mvms_per_image = 0;
  // Activations of the layer's input feature map (C·H·W), sent over the mesh once to each of
  // its column blocks; each block builds its im2col vectors locally.
  std::int64_t input_activations = 0;
  // On the layer's cores' local digital units (BatchNorm affine, the ReLU that follows), besides
  // the partial-sum accumulation, which the model adds from the mapping.
  DigitalOps local;
  // On the global digital units (residual adds, pooling, a digital last layer), charged to this
  // layer's pipeline stage.
  DigitalOps global;
  // MACs of an unmapped layer run on the global digital units (mapping.last_layer = digital),
  // counted in the network's MACs; their energy is in global.affine.
  std::int64_t digital_macs = 0;
};

struct LayerPerf {
  std::string name;
  int blocks = 0;
  int cores = 0;  // cores holding the layer's blocks, all replicas included
  int replication = 1;
  std::int64_t mvms_per_image = 0;  // per block, before replication splits them
  std::int64_t macs_per_image = 0;
  double input_activity = 0;  // mean |x_n| used for the input energy
  double step_ns = 0;         // one im2col column: max(MVM, local digital, mesh input)
  double stage_ns = 0;        // busy time of the layer's busiest core per image
  double latency_ns = 0;      // the layer's share of the image's latency
  double mesh_bytes = 0;      // per image
  // Energy per image, by part.
  double mvm_fixed_nJ = 0;
  double mvm_input_nJ = 0;
  double mvm_input_slope_nJ = 0;  // mvm_input_nJ per unit of input_activity
  double local_digital_nJ = 0;
  double global_digital_nJ = 0;
  double mesh_nJ = 0;
  double energy_nJ() const {
    return mvm_fixed_nJ + mvm_input_nJ + local_digital_nJ + global_digital_nJ + mesh_nJ;
  }
};

struct NetworkPerf {
  std::string model;
  ReadMode read_mode = ReadMode::four_phase;
  std::vector<LayerPerf> layers;
  int cores_used = 0;  // replicas included
  int cores = 0;
  int bottleneck = 0;            // the layer whose stage sets the throughput (-1: global digital)
  double cycle_ns = 0;           // time between images in the pipeline: the slowest stage
  double global_digital_ns = 0;  // busy time of the global digital units per image
  double images_per_s = 0;
  double latency_ns = 0;
  std::int64_t macs_per_image = 0;
  double gops = 0;       // 2·MACs per image × images/s
  double energy_nJ = 0;  // per image
  // Per layer input, the paper's unit for ResNet-9: every layer takes one im2col column. The step
  // is the slowest layer's; the energy is Σ_l (layer energy per image / its MVMs per image).
  double layer_input_ns = 0;
  double layer_input_nJ = 0;
  double tops_per_w = 0;
  double power_W = 0;

  // The per-layer table and the totals, for aimc perf.
  std::string table() const;
  std::string json() const;
};

// Peak MVM figures: every core runs full 256 × 256 8-bit MVMs back to back at the calibration
// input activity, MVMs only (the paper's definition).
struct PeakPerf {
  double tops = 0;
  double tops_per_w = 0;
  double gops_per_mm2 = 0;
};
PeakPerf peak_performance(const PerfParams& params, const MappingParams& mapping, ReadMode mode);

// Throughput and energy of a mapped network. Built once per (mapping, network); the energy of
// each image then follows from that image's per-layer input statistics at the cost of a dot
// product:
//   E_image = fixed_energy_nJ() + Σ_l activity_slope_nJ()[l] · a_l,
// where a_l is the mean |x_n| over all DAC inputs of layer l for that image (x_n in [-1, 1]).
// Throughput and latency do not depend on the data: the PWM window is fixed.
class PerfModel {
 public:
  // `work` has one entry per mapping layer; `replication` (empty: all 1) one per mapping layer, the
  // number of copies of the layer's blocks, each on cores of its own, that share its MVMs. Throws
  // aimc::Error when the sizes differ or the replicas need more cores than the chip has.
  PerfModel(const PerfParams& params, const Mapping& mapping, std::vector<LayerWork> work,
            std::vector<int> replication = {});

  const PerfParams& params() const { return params_; }
  const Mapping& mapping() const { return mapping_; }
  const std::vector<int>& replication() const { return replication_; }

  // The full breakdown at these per-layer activities (one per mapping layer, each in [0, 1]), or
  // at params().default_input_activity for every layer.
  NetworkPerf evaluate(const std::vector<double>& input_activity) const;
  NetworkPerf evaluate() const;

  // Energy per image (nJ) for one image's per-layer activities: the affine form above.
  double energy_per_image_nJ(const std::vector<double>& input_activity) const;
  double fixed_energy_nJ() const { return fixed_nJ_; }
  const std::vector<double>& activity_slope_nJ() const { return slope_nJ_; }
  // Data-independent figures.
  double images_per_s() const;
  std::int64_t macs_per_image() const;
  // 2·MACs / energy, in TOPS/W, for an energy per image in nJ.
  double tops_per_w(double energy_nJ) const;

 private:
  void check_activity(const std::vector<double>& a) const;

  PerfParams params_;
  Mapping mapping_;
  std::vector<LayerWork> work_;
  std::vector<int> replication_;
  NetworkPerf base_;  // everything but the activity-dependent energy, at activity 0
  double fixed_nJ_ = 0;
  std::vector<double> slope_nJ_;
};

}  // namespace aimc::hardware
