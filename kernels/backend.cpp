#include "kernels/backend.h"

#include <algorithm>
#include <stdexcept>

#include "kernels/conditioning.h"
#include "kernels/cpu/lane_threads.h"
#include "kernels/masking.h"

namespace wavecast {

#if !defined(WAVECAST_HAVE_CUDA)
std::vector<CudaDevice> cuda_devices(std::string* why) {
    if (why) *why = "this build has no CUDA support (configured with WAVECAST_CUDA=OFF or no toolkit)";
    return {};
}

std::unique_ptr<Masking> make_cuda_masking(int, int) {
    throw std::runtime_error("masking: this build has no CUDA support (configured with WAVECAST_CUDA=OFF or no toolkit)");
}

std::unique_ptr<Conditioning> make_cuda_conditioning(const Model&, void*) {
    throw std::runtime_error("conditioning: this build has no CUDA support (configured with WAVECAST_CUDA=OFF or no toolkit)");
}

std::unique_ptr<Generator> make_cuda_generator(std::shared_ptr<const Model>, std::vector<LaneKey>, Precision, CudaKernel) {
    throw std::runtime_error("generator: this build has no CUDA support (configured with WAVECAST_CUDA=OFF or no toolkit)");
}
#endif

std::vector<LaneKey> lane_keys(uint64_t seed, int lanes) {
    std::vector<LaneKey> keys(static_cast<size_t>(std::max(lanes, 0)));
    for (size_t i = 0; i < keys.size(); ++i) keys[i] = {seed, static_cast<uint32_t>(i)};
    return keys;
}

std::unique_ptr<Generator> make_cpu_generator(std::shared_ptr<const Model> model, int lanes, uint64_t seed, int threads) {
    return make_cpu_generator(std::move(model), lane_keys(seed, lanes), threads);
}

std::unique_ptr<Generator> make_cuda_generator(std::shared_ptr<const Model> model, int lanes, uint64_t seed, Precision precision,
                                               CudaKernel kernel) {
    return make_cuda_generator(std::move(model), lane_keys(seed, lanes), precision, kernel);
}

CudaKernel parse_cuda_kernel(const std::string& name) {
    if (name == "auto") return CudaKernel::automatic;
    if (name == "cluster") return CudaKernel::cluster;
    if (name == "generic") return CudaKernel::generic;
    if (name == "tensor") return CudaKernel::tensor;
    throw std::invalid_argument("unknown CUDA kernel '" + name + "' (auto, cluster, generic or tensor)");
}

std::unique_ptr<Masking> make_masking(const std::string& backend, int sample_rate, int channels) {
    if (backend == "cuda") return make_cuda_masking(sample_rate, channels);
    if (backend == "off") return make_no_masking(channels);
    if (backend != "cpu") throw std::runtime_error("masking: backend '" + backend + "' is neither cpu, cuda nor off");
    return make_cpu_masking(sample_rate, channels);
}

BackendPlan plan_backends(const std::string& request) {
    if (request != "auto" && request != "cpu" && request != "cuda")
        throw std::runtime_error("unknown backend '" + request + "' (auto, cpu or cuda)");
    BackendPlan plan{"cpu", "cpu", ""};
    if (request == "cpu") {
        plan.note = "backend cpu (requested): the generator, the conditioning network and masking on the CPU";
        return plan;
    }
    std::string why;
    const auto devices = cuda_devices(&why);
    if (request == "auto") {
        plan.note = devices.empty()
                        ? "backend cpu (auto; no CUDA device: " + why + ")"
                        : "backend cpu (auto; CUDA device " + devices[0].name + " present: --backend cuda runs every stage on it)";
        return plan;
    }
    if (devices.empty()) throw std::runtime_error("backend cuda unavailable: no CUDA device (" + why + ")");
    plan.generator = plan.masking = "cuda";
    plan.note = "backend cuda (requested) on " + devices[0].name + ": the generator and cuDNN conditioning, cuFFT masking";
    return plan;
}

BackendChoice make_generator(const std::string& backend, std::shared_ptr<const Model> model, std::vector<LaneKey> keys, Precision precision,
                             int cpu_threads) {
    BackendChoice c;
    const int lanes = static_cast<int>(keys.size());
    if (backend == "cuda") {
        c.generator = make_cuda_generator(std::move(model), std::move(keys), precision);
        c.note = std::string("weights ") + precision_name(precision) + ", " + c.generator->kernel();
    } else if (backend == "cpu") {
        c.generator = make_cpu_generator(std::move(model), std::move(keys), cpu_threads);
        const int threads = lane_groups(lanes, cpu_threads);
        c.note = "cpu, " + std::to_string(threads) + (threads == 1 ? " thread" : " threads");
    } else {
        throw std::runtime_error("generator: backend '" + backend + "' is neither cpu nor cuda");
    }
    return c;
}

}  // namespace wavecast
