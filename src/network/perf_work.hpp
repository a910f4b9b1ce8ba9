#pragma once

#include <cstddef>
#include <vector>

#include "hardware/perf_model.hpp"
#include "network/model.hpp"
#include "network/network.hpp"

namespace aimc::network {

// The work of every mapped layer besides its MVMs, from the model graph, for the throughput and
// energy model (hardware/perf_model.hpp). `mapped` is the number of dense layers on the chip's
// cores (all of them, or all but the last with mapping.last_layer = digital).
std::vector<hardware::LayerWork> layer_work(const Model& model, const Network& net,
                                            std::size_t mapped);

}  // namespace aimc::network
