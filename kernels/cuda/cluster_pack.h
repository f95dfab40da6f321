// The host side of the cluster generator's layout (cluster_layout.h): each CTA's block of weights,
// packed from a model in the storage precision. Plain C++: the unit tests check it without a GPU.
#pragma once

#include <vector>

#include "kernels/cuda/cluster_layout.h"
#include "kernels/model.h"

namespace wavecast {

NetDims net_dims(const ModelSpec& spec);

// [cluster][weights_bytes]: CTA c's block at c * weights_bytes, laid out as `l` says. Matrices are
// rounded to `p` exactly as with_precision() rounds the CPU reference's (fp16: throws
// std::runtime_error for a weight beyond its range), the rest stays fp32.
std::vector<unsigned char> pack_cluster_weights(const Model& model, const ClusterLayout& l, Precision p);

}  // namespace wavecast
