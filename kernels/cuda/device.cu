#include "kernels/backend.h"
#include "kernels/cuda/common.h"

namespace wavecast {

std::vector<CudaDevice> cuda_devices(std::string* why) {
    int count = 0;
    // No device or no driver is an ordinary answer here, not an error: the CPU backend serves.
    const cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
        if (why) *why = std::string("cudaGetDeviceCount: ") + cudaGetErrorString(err);
        cudaGetLastError();  // clear the sticky error so later calls start clean
        return {};
    }
    std::vector<CudaDevice> out;
    for (int i = 0; i < count; ++i) {
        cudaDeviceProp p{};
        CUDA_CHECK(cudaGetDeviceProperties(&p, i));
        out.push_back({i, p.name, p.multiProcessorCount, p.major, p.minor, p.totalGlobalMem});
    }
    if (out.empty() && why) *why = "the CUDA runtime reports no device";
    return out;
}

}  // namespace wavecast
