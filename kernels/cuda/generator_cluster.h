// The cluster generator kernel (generator_cluster.cu): a Hopper thread-block cluster holds the
// sample loop's weights in shared memory for the life of a launch and walks every sample of its
// lanes, the CTAs exchanging one partial sum per layer over distributed shared memory. The state
// it keeps between calls is the generic kernel's (generator_state.h).
#pragma once

#include <cuda_runtime.h>

#include <memory>
#include <string>

#include "kernels/cuda/cluster_layout.h"
#include "kernels/cuda/device_buffer.h"
#include "kernels/cuda/generator_state.h"
#include "kernels/model.h"

namespace wavecast {

class ClusterKernel {
public:
    // Picks the lanes per cluster and the cluster size for `lanes` lanes, packs and uploads the
    // weights. Throws std::runtime_error where no layout fits this device, or, unless
    // `allow_waves`, where the lanes' clusters would not all run at once (the generic kernel
    // serves: it measured better there, benchmarks/RESULTS.md).
    ClusterKernel(const Model& model, Precision precision, int lanes, bool allow_waves);
    // Enqueues one call on `stream`; embed is the [A][R] embedding in the storage precision.
    void launch(const RunArgs& a, const void* embed, cudaStream_t stream) const;
    // "cluster of 8 CTAs x 1 lane, 16 clusters at once (183 KiB of shared memory a CTA)"
    std::string describe() const;
    const ClusterLayout& layout() const { return layout_; }

private:
    NetDims dims_;
    Precision precision_;
    ClusterLayout layout_;
    int resident_clusters_ = 0;
    DeviceBuffer<unsigned char> blocks_;
};

}  // namespace wavecast
