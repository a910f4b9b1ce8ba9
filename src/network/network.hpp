#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "network/gemm.hpp"
#include "network/layers.hpp"
#include "network/model.hpp"

namespace aimc::network {

struct InferenceParams {
  // Images per TBB task; each task runs its batch through the whole network. Batch boundaries
  // are fixed by this number alone (never by the thread count), so results are bit-identical for
  // any number of threads.
  int batch_images = 32;
  // GEMM rows (output pixels) per call, rounded to whole strips of 16: keeps a packed im2col
  // block in L2.
  int gemm_rows = 512;
  // Fold each conv2d→batchnorm pair into the conv's weights and bias.
  bool fold_batchnorm = true;
  // Run stride-1 convolutions as direct convolution over padded planes; false runs every
  // convolution through packed im2col. Both give the same bits; tests compare the two paths.
  bool direct_conv = true;

  void validate() const;
};

// A conv2d or linear node as one matrix product: y = x · weight + bias, with x the im2col
// matrix (rows = output pixels, K = C·k·k columns) and weight K × O. A linear layer is a 1×1
// "convolution" of its flattened input. A grouped conv's weight is block-diagonal (zero outside
// each group's input-channel rows × output-channel columns), and its MACs count those zeros.
struct DenseLayer {
  int index = 0;  // position in Network::dense_layers()
  int node = 0;
  std::string name;
  bool is_conv = false;
  ConvGeometry geometry;
  MatrixRM weight;  // K × O, row-major: one row of O weights per crossbar input
  Eigen::VectorXf bias;
  std::int64_t macs_per_image() const {
    return std::int64_t{geometry.out.h} * geometry.out.w * weight.rows() * weight.cols();
  }
};

// Where a matmul call sits in the evaluation: which images and which output rows. Backends that
// draw random numbers per MVM key their streams on it, so the draws do not depend on threads.
// Where the rows of one matmul call sit: batch row R = row0 + r is output pixel R % rows_per_image
// of image first_image + R / rows_per_image (rows are image-major). Per-MVM noise is keyed by
// that (image, pixel), so any chunking, batching or path (direct, im2col) draws the same noise.
struct MatmulContext {
  std::int64_t first_image = 0;     // global index of the batch's first image
  std::int64_t row0 = 0;            // first output row of this call within the batch
  std::int64_t rows_per_image = 1;  // output pixels per image: 1 for a linear layer
};

// What the memory handed to MatmulBackend::prepare_input holds.
struct InputLayout {
  enum class Kind {
    // [channels][images][height][width] zero-padded planes, read through a kernel × kernel
    // window at stride 1 into out_h × out_w output pixels per image (direct convolution).
    padded_planes,
    // `rows` GEMM rows (rows / images per image) × k columns, in strips of 16 rows
    // (packed_strips).
    packed_rows,
  };
  Kind kind = Kind::packed_rows;
  std::int64_t first_image = 0;  // global index of the first image it holds
  int images = 0;
  int channels = 0;
  int height = 0;
  int width = 0;
  int kernel = 0;
  int out_h = 0;
  int out_w = 0;
  std::int64_t rows = 0;
  int k = 0;
};

// Computes y = x · W for one dense layer. The ideal backend is exact float GEMM; the analog chip
// replaces it with tiled, noisy crossbar MVMs.
class MatmulBackend {
 public:
  MatmulBackend() = default;
  MatmulBackend(const MatmulBackend&) = delete;
  MatmulBackend& operator=(const MatmulBackend&) = delete;
  virtual ~MatmulBackend() = default;
  // Called once per layer evaluation, before its matmul calls: x[0, count) is the memory every
  // StripRows of those calls reads (the padded planes or the packed im2col/linear rows, a
  // scratch copy of the activations, zero where it pads), laid out as `layout` says. A backend
  // may transform it in place elementwise; the analog chip applies its DAC here once, instead
  // of once per row block and per repeated im2col tap. Zeros must stay zeros.
  virtual void prepare_input(const DenseLayer& /*layer*/, float* /*x*/, std::int64_t /*count*/,
                             const InputLayout& /*layout*/) const {}
  // y (x.rows × O, column-major with leading dimension ld_y) = x · layer.weight.
  virtual void matmul(const DenseLayer& layer, const StripRows& x, float* y, std::int64_t ld_y,
                      const MatmulContext& ctx) const = 0;
};

class IdealBackend final : public MatmulBackend {
 public:
  void matmul(const DenseLayer& layer, const StripRows& x, float* y, std::int64_t ld_y,
              const MatmulContext& ctx) const override;
};

// A model compiled for batched execution: fused steps and a buffer plan.
class Network {
 public:
  Network(const Model& model, const InferenceParams& params);
  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  const std::vector<DenseLayer>& dense_layers() const { return dense_; }
  const InferenceParams& params() const { return params_; }
  int num_classes() const { return num_classes_; }
  std::int64_t macs_per_image() const;
  Shape input_shape() const { return input_; }

  // Logits (row-major, n × num_classes) of n planar uint8 images (n × C·H·W bytes), computed on
  // the calling thread in batches of params().batch_images. `first_image` is the global index of
  // the first image (it keys per-MVM random streams; batches start at multiples of the batch size
  // from it).
  void forward(const std::uint8_t* pixels, int n, float* logits, const MatmulBackend& backend,
               std::int64_t first_image = 0) const;

  // Same, with the batches spread over TBB worker threads. If given, `on_batch` is called with
  // the image count of each finished batch, from whichever thread finished it.
  std::vector<float> infer(const std::uint8_t* pixels, int n, const MatmulBackend& backend,
                           std::int64_t first_image = 0,
                           const std::function<void(int)>& on_batch = {}) const;

  // Runs n images through the network layer by layer: every batch (of params().batch_images, as
  // infer makes them, on TBB threads) passes a step before any batch starts the next, so all n
  // images' activations are held at once. After the last batch has passed dense layer d,
  // `after_dense(d)` runs on the calling thread; if it returns true, the layer's step runs again
  // for every batch, on the same inputs. Recalibration uses it to measure a layer's outputs,
  // correct the layer in the backend, and recompute them before the next layer is measured
  // (network/recalibration.hpp). Writes the logits if `logits` is given; they equal forward's
  // and infer's, bit for bit, when nothing is rerun.
  void forward_layerwise(const std::uint8_t* pixels, int n, const MatmulBackend& backend,
                         std::int64_t first_image, const std::function<bool(int)>& after_dense,
                         float* logits = nullptr) const;

 private:
  struct Step;
  struct Workspace;
  void run_batch(const std::uint8_t* pixels, int n, float* logits, Workspace& ws,
                 const MatmulBackend& backend, std::int64_t first_image) const;
  void run_step(const Step& s, const std::uint8_t* pixels, int n, Workspace& ws,
                const MatmulBackend& backend, std::int64_t first_image) const;
  void write_logits(const Workspace& ws, int n, float* logits) const;

  InferenceParams params_;
  Shape input_;
  int num_classes_ = 0;
  Preprocess preprocess_;
  std::vector<DenseLayer> dense_;
  std::vector<Step> steps_;
  int n_slots_ = 0;
  int output_slot_ = 0;
};

}  // namespace aimc::network
