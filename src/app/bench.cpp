#include "app/bench.hpp"

#include <tbb/global_control.h>
#include <tbb/info.h>

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <regex>

#include "app/common.hpp"
#include "hardware/tile.hpp"
#include "io/chip_config.hpp"
#include "io/cifar10.hpp"
#include "io/model_file.hpp"
#include "network/analog_chip.hpp"
#include "network/gemm.hpp"
#include "network/layers.hpp"
#include "physics/device_model.hpp"
#include "util/isa.hpp"
#include "util/json.hpp"
#include "util/rng.hpp"

namespace aimc::app {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// CPU seconds of this process: on a shared machine, time-slicing with other work inflates wall
// time but not this, so one-thread figures are also reported in CPU time.
double cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Single-thread Eigen sgemm on n×n matrices, best of `reps`: the machine's GEMM peak as aimc's
// own kernels see it (same compiler flags, same library).
double gemm_gflops(int n, int reps) {
  const Eigen::MatrixXf a = Eigen::MatrixXf::Random(n, n);
  const Eigen::MatrixXf b = Eigen::MatrixXf::Random(n, n);
  Eigen::MatrixXf c(n, n);
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    c.noalias() = a * b;
    best = std::min(best, seconds_since(t0));
  }
  return 2.0 * n * n * static_cast<double>(n) / best / 1e9;
}

// The GEMM kernel of `isa` on one conv layer's shape (K × O weights, `rows` output pixels, packed
// strips), 1 thread, best of `reps`: GFLOP/s. For the ratio of each ISA level to the best one.
double kernel_gflops(Isa isa, int k, int out, std::int64_t rows, int reps) {
  std::vector<float> x(static_cast<std::size_t>(network::packed_size(rows, k)));
  std::vector<float> w(static_cast<std::size_t>(k) * out);
  std::vector<float> y(static_cast<std::size_t>(rows) * out);
  RandomStream rng(StreamKey{2, 0, 0, 0, Purpose::test});
  for (float& v : x)
    v = static_cast<float>(rng.uniform());
  for (float& v : w)
    v = static_cast<float>(rng.uniform() - 0.5);
  std::vector<std::int64_t> offsets;
  const network::StripRows strips = network::packed_strips(x.data(), rows, k, offsets);
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    network::gemm_strips_rows_with(isa, strips, 0, k, w.data(), out, y.data(), rows, false);
    best = std::min(best, seconds_since(t0));
  }
  return 2.0 * static_cast<double>(rows) * k * out / best / 1e9;
}

// Best-of-`reps` images/s of ideal inference on `threads` TBB threads (after one warm-up pass).
double aimc_images_per_s(const network::Network& net, const network::ImageSet& data, int threads,
                         int reps) {
  const tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
  const network::IdealBackend backend;
  (void)net.infer(data.image(0), std::min(data.size(), 256), backend);
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    const auto logits = net.infer(data.image(0), data.size(), backend);
    best = std::min(best, seconds_since(t0));
  }
  return data.size() / best;
}

// Runs benchmarks/pytorch_resnet.py and returns its images/s (0 if it could not run).
double pytorch_images_per_s(const std::string& npz, const std::string& data_dir, int images,
                            int threads, std::string& note) {
  const std::string cmd = "/usr/bin/python3 '" + std::string(AIMC_SOURCE_DIR) +
                          "/benchmarks/pytorch_resnet.py' --model '" + npz + "' --data '" +
                          data_dir + "' --images " + std::to_string(images) + " --threads " +
                          std::to_string(threads) + " --json 2>&1";
  FILE* pipe = ::popen(cmd.c_str(), "r");
  if (pipe == nullptr) return 0.0;
  std::string out;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, pipe) != nullptr)
    out += buf;
  const int rc = ::pclose(pipe);
  std::smatch m;
  static const std::regex re(R"re("images_per_s":\s*([0-9.eE+-]+))re");
  if (rc != 0 || !std::regex_search(out, m, re)) {
    note = out.substr(0, out.find('\n'));
    return 0.0;
  }
  return std::stod(m[1].str());
}

// Programs every core of a full chip (cores × core_rows × core_cols weights, uniform in [-1, 1])
// on the calling thread and returns the seconds, best of `reps`: the programming cost of the
// chip itself, whatever a network's mapping leaves unused. Also returns, in `set_time_s`, the
// cost of then drifting every tile to t = 1 h (read-noise variances included), in `cpu_s` the
// programming's CPU seconds (best of `reps`), and in `first_s` the first repetition's seconds:
// that one also pays the kernel's first touch of the chip's device state (about 67 MB for
// 64 × 256 × 256 weights), which later chips of a process reuse.
double full_chip_program_s(const hardware::ChipParams& params, int reps, double& set_time_s,
                           double& cpu_s, double& first_s) {
  const int rows = params.mapping.core_rows;
  const int cols = params.mapping.core_cols;
  std::vector<float> w(static_cast<std::size_t>(rows) * cols);
  RandomStream rng(StreamKey{1, 0, 0, 0, Purpose::test});
  for (float& v : w)
    v = static_cast<float>(2.0 * rng.uniform() - 1.0);
  const physics::DeviceModel device(params.device);
  double best = 1e30;
  set_time_s = 1e30;
  cpu_s = 1e30;
  for (int r = 0; r < reps; ++r) {
    std::vector<hardware::AnalogTile> tiles;
    tiles.reserve(static_cast<std::size_t>(params.mapping.cores));
    auto t0 = Clock::now();
    const double c0 = cpu_seconds();
    for (int c = 0; c < params.mapping.cores; ++c)
      tiles.emplace_back(w.data(), rows, cols, cols, params, device,
                         StreamKey{1, 0, 0, static_cast<std::uint32_t>(c), Purpose::programming});
    const double took = seconds_since(t0);
    if (r == 0) first_s = took;
    best = std::min(best, took);
    cpu_s = std::min(cpu_s, cpu_seconds() - c0);
    t0 = Clock::now();
    for (int c = 0; c < params.mapping.cores; ++c)
      tiles[c].set_time(3600.0,
                        StreamKey{1, 1, 0, static_cast<std::uint32_t>(c), Purpose::read_noise});
    set_time_s = std::min(set_time_s, seconds_since(t0));
  }
  return best;
}

// Times one sampled chip of `request.chip_path` against ideal inference of `net` on `data`.
void bench_chip(const BenchRequest& request, const network::Model& model,
                const network::Network& net, const network::ImageSet& data,
                const std::string& data_dir, int max_threads, JsonObject& j, std::ostream& out) {
  const int reps = request.reps;
  const hardware::ChipParams params = io::read_chip_config(request.chip_path, request.overrides);
  network::InferenceParams chip_inference = request.inference;
  chip_inference.fold_batchnorm = false;
  const network::Network chip_net(model, chip_inference);
  auto one = std::make_unique<tbb::global_control>(tbb::global_control::max_allowed_parallelism, 1);
  double full_set_time_s = 0;
  double full_program_cpu_s = 0;
  double full_program_first_s = 0;
  const int full_reps = std::max(reps, 5);
  const double full_program_s = full_chip_program_s(params, full_reps, full_set_time_s,
                                                    full_program_cpu_s, full_program_first_s);
  const std::int64_t full_devices =
      std::int64_t{2} * params.mapping.cores * params.mapping.core_rows * params.mapping.core_cols;
  auto t0 = Clock::now();
  network::AnalogChip chip(chip_net, params, model.name, 1, 0);
  const double program_s = seconds_since(t0);
  std::int64_t devices = 0;
  for (const auto& b : chip.mapping().blocks)
    devices += 2 * b.cells();
  const auto calibration = io::read_cifar10_train(data_dir, params.calibration_images);
  t0 = Clock::now();
  chip.calibrate(calibration);
  const double calibrate_s = seconds_since(t0);
  chip.set_time(3600.0);
  one.reset();
  j.add("full_chip_program_s", full_program_s)
      .add("full_chip_program_cpu_s", full_program_cpu_s)
      .add("full_chip_program_first_s", full_program_first_s)
      .add("full_chip_set_time_s", full_set_time_s)
      .add("full_chip_devices", full_devices)
      .add("chip_program_s", program_s)
      .add("chip_devices", devices)
      .add("chip_calibrate_s", calibrate_s);
  if (!request.json) {
    out << format(
        "full chip, 1 thread: programming %d cores of %dx%d weights (%lld polarity devices) "
        "%.3f s (%.3f s CPU), best of %d; the process's first chip %.3f s; drift and read-noise "
        "variances to t = 1 h %.3f s\n",
        params.mapping.cores, params.mapping.core_rows, params.mapping.core_cols,
        static_cast<long long>(full_devices), full_program_s, full_program_cpu_s, full_reps,
        full_program_first_s, full_set_time_s);
    std::string label = request.chip_path;
    for (const std::string& o : request.overrides)
      label += " --set " + o;
    out << format(
        "chip %s, 1 thread: programming %lld devices (%d cores) %.3f s; calibration %.2f s\n",
        label.c_str(), static_cast<long long>(devices), chip.mapping().cores_used(), program_s,
        calibrate_s);
  }
  // Noisy and ideal inference alternate, best of `reps` each, so that both see the same load
  // on a shared machine; the ratio is the figure to compare.
  for (int threads = 1; threads <= std::max(1, std::min(2, max_threads)); ++threads) {
    const tbb::global_control limit(tbb::global_control::max_allowed_parallelism, threads);
    double chip_best = 1e30;
    double ideal_best = 1e30;
    double chip_cpu = 1e30;
    double ideal_cpu = 1e30;
    const network::IdealBackend ideal;
    for (int r = 0; r < reps; ++r) {
      t0 = Clock::now();
      double c0 = cpu_seconds();
      (void)chip_net.infer(data.image(0), data.size(), chip);
      chip_best = std::min(chip_best, seconds_since(t0));
      chip_cpu = std::min(chip_cpu, cpu_seconds() - c0);
      t0 = Clock::now();
      c0 = cpu_seconds();
      (void)net.infer(data.image(0), data.size(), ideal);
      ideal_best = std::min(ideal_best, seconds_since(t0));
      ideal_cpu = std::min(ideal_cpu, cpu_seconds() - c0);
    }
    const double chip_ips = data.size() / chip_best;
    const double ideal_ips = data.size() / ideal_best;
    const std::string t = std::to_string(threads) + "t";
    j.add("chip_images_per_s_" + t, chip_ips).add("chip_over_ideal_" + t, chip_ips / ideal_ips);
    if (threads == 1) j.add("chip_over_ideal_cpu_1t", ideal_cpu / chip_cpu);
    if (!request.json) {
      out << format(
          "chip inference, %d thread(s): %.1f images/s at t = 1 h, %.2fx ideal (%.1f "
          "images/s)",
          threads, chip_ips, chip_ips / ideal_ips, ideal_ips);
      if (threads == 1)
        out << format("; in CPU time %.1f vs %.1f images/s, %.2fx", data.size() / chip_cpu,
                      data.size() / ideal_cpu, ideal_cpu / chip_cpu);
      out << "\n";
    }
  }
}

}  // namespace

void run_bench(const BenchRequest& request, std::ostream& out) {
  const std::string data_dir = request.data_dir.empty() ? default_data_dir() : request.data_dir;
  const network::Model model = io::read_model(request.model_path);
  const network::ImageSet data = io::read_cifar10_test(data_dir, request.images);
  const network::Network net(model, request.inference);
  const double flop_per_image = 2.0 * static_cast<double>(net.macs_per_image());
  const int max_threads = tbb::info::default_concurrency();

  const Isa isa = active_isa();
  const double peak = [] {
    const tbb::global_control one(tbb::global_control::max_allowed_parallelism, 1);
    return gemm_gflops(1024, 10);
  }();
  const double fma_peak = network::fma_peak_gflops(isa);
  JsonObject j;
  j.add("model", model.name)
      .add("images", data.size())
      .add("kernels", isa_name(isa))
      .add("fma_peak_gflops_1t", fma_peak)
      .add("gemm_peak_gflops_1t", peak);
  std::string levels;
  for (const Isa i : supported_isas())
    levels += std::string(levels.empty() ? "" : ", ") + isa_name(i);
  if (!request.json) {
    out << format("kernels: %s (this CPU supports %s; AIMC_ISA forces a lower level)\n",
                  isa_name(isa), levels.c_str());
    out << format("FMA limit, 1 thread (register-only %s probe): %.1f GFLOP/s\n", isa_name(isa),
                  fma_peak);
    out << format("Eigen sgemm 1024^3, 1 thread: %.1f GFLOP/s (%.2f of the FMA limit)\n", peak,
                  peak / fma_peak);
  }
  // Each supported kernel level on a mid-network conv (K = 16·9, O = 16, 16,384 output pixels:
  // resnet's first stage), against the level in use.
  const double best_kernel = kernel_gflops(isa, 144, 16, 16384, std::max(3, request.reps));
  for (const Isa i : supported_isas()) {
    const double g =
        i == isa ? best_kernel : kernel_gflops(i, 144, 16, 16384, std::max(3, request.reps));
    j.add(std::string("kernel_gflops_") + isa_name(i), g);
    if (!request.json)
      out << format("GEMM kernel %-8s 1 thread, 16384x144x16: %6.1f GFLOP/s = %.2fx %s\n",
                    isa_name(i), g, g / best_kernel, isa_name(isa));
  }
  if (!request.json) {
    out << "(\"of FMA\" is aimc's GFLOP/s over threads x the FMA limit)\n";
    out << format("%-8s %-10s %12s %10s %10s %12s %14s\n", "threads", "engine", "images/s",
                  "GFLOP/s", "of FMA", "PyTorch im/s", "aimc/PyTorch");
  }
  for (int threads = 1; threads <= std::max(1, std::min(2, max_threads)); ++threads) {
    const double ips = aimc_images_per_s(net, data, threads, request.reps);
    const double gflops = flop_per_image * ips / 1e9;
    std::string note;
    const double torch_ips =
        request.torch_model.empty()
            ? 0.0
            : pytorch_images_per_s(request.torch_model, data_dir, request.images, threads, note);
    const std::string t = std::to_string(threads) + "t";
    j.add("aimc_images_per_s_" + t, ips)
        .add("aimc_gflops_" + t, gflops)
        .add("aimc_fraction_of_fma_" + t, gflops / (fma_peak * threads))
        .add("aimc_fraction_of_peak_" + t, gflops / (peak * threads));
    if (torch_ips > 0) {
      j.add("pytorch_images_per_s_" + t, torch_ips).add("aimc_over_pytorch_" + t, ips / torch_ips);
    }
    if (!request.json) {
      out << format(
          "%-8d %-10s %12.1f %10.1f %9.0f%% %12s %14s\n", threads, "aimc ideal", ips, gflops,
          100.0 * gflops / (fma_peak * threads),
          torch_ips > 0 ? std::to_string(static_cast<int>(torch_ips)).c_str() : "-",
          torch_ips > 0 ? (std::to_string(ips / torch_ips).substr(0, 4) + "x").c_str() : "-");
      if (!note.empty()) out << format("  (PyTorch did not run: %s)\n", note.c_str());
    }
  }
  if (!request.chip_path.empty())
    bench_chip(request, model, net, data, data_dir, max_threads, j, out);
  if (request.json) out << j.str() << '\n';
}

}  // namespace aimc::app
