#include "network/perf_work.hpp"

#include <map>

namespace aimc::network {

// The work of every mapped layer besides its MVMs, from the model graph. Each digital node is
// charged to the pipeline stage of the latest conv or linear layer before it (the stage whose
// output it processes): BatchNorm and the ReLU right after it run on that layer's local digital
// units, residual adds, the ReLU after an add, and pooling on the global digital units; clip and
// leaky_relu count as ReLUs (one compare or scale per value) in the same places. The option-A
// shortcut, concat, slice, pad and flatten only route or place data that is already on the mesh
// (no arithmetic), so they add no digital work. A grouped conv is a dense layer here (its
// block-diagonal crossbar matrix, zeros included). A final linear layer run
// digitally (mapping.last_layer = digital) becomes global MACs of the last mapped stage.
std::vector<hardware::LayerWork> layer_work(const Model& model, const Network& net,
                                            std::size_t mapped) {
  const auto& dense = net.dense_layers();
  std::map<int, std::size_t> dense_of_node;
  for (std::size_t i = 0; i < dense.size(); ++i)
    dense_of_node[dense[i].node] = i;
  std::vector<hardware::LayerWork> work(mapped);
  std::size_t stage = 0;
  for (std::size_t k = 0; k < model.nodes.size(); ++k) {
    const Node& n = model.nodes[k];
    const std::int64_t out = n.out_shape.size();
    const Shape in = n.inputs.empty()
                         ? model.input
                         : model.nodes[static_cast<std::size_t>(n.inputs[0])].out_shape;

    if (n.op == OpType::conv2d || n.op == OpType::linear) {
      const std::size_t d = dense_of_node.at(static_cast<int>(k));
      if (d < mapped) {
        stage = d;
        work[d].mvms_per_image = std::int64_t{n.out_shape.h} * n.out_shape.w;
        work[d].input_activations = in.size();
      } else {
        // Unmapped: the global digital units do its MACs.
        work[stage].digital_macs += dense[d].macs_per_image();
        work[stage].global.affine += dense[d].macs_per_image();
      }
      continue;
    }
    hardware::LayerWork& w = work[stage];
    switch (n.op) {
      case OpType::batchnorm:
        w.local.affine += out;
        break;
      case OpType::relu:
      case OpType::clip:
      case OpType::leaky_relu: {
        const OpType from = model.nodes[static_cast<std::size_t>(n.inputs[0])].op;
        const bool local =
            from == OpType::batchnorm || from == OpType::conv2d || from == OpType::linear;
        (local ? w.local : w.global).relu += out;
        break;
      }
      case OpType::add:
        w.global.add += out;
        break;
      case OpType::maxpool:
      case OpType::avgpool:
        w.global.pool += out * n.kernel * n.kernel;
        break;
      case OpType::global_avgpool:
      case OpType::global_maxpool:
        w.global.pool += in.size();
        break;
      case OpType::input:
      case OpType::conv2d:
      case OpType::linear:
      case OpType::shortcut_a:
      case OpType::concat:
      case OpType::slice:
      case OpType::pad:
      case OpType::flatten:
        break;
    }
  }
  return work;
}

}  // namespace aimc::network
