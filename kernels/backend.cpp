#include "backend.h"

#include <stdexcept>

#include "cpu/lane_threads.h"
#include "masking.h"

namespace wavecast {

#if !defined(WAVECAST_HAVE_CUDA)
std::vector<CudaDevice> cuda_devices(std::string* why) {
    if (why) *why = "this build has no CUDA support (configured with WAVECAST_CUDA=OFF or no toolkit)";
    return {};
}

std::unique_ptr<Masking> make_cuda_masking(int, int) {
    throw std::runtime_error("masking: this build has no CUDA support (configured with WAVECAST_CUDA=OFF or no toolkit)");
}

std::unique_ptr<Generator> make_cuda_generator(std::shared_ptr<const Model>, int, uint64_t, Precision, CudaKernel) {
    throw std::runtime_error("generator: this build has no CUDA support (configured with WAVECAST_CUDA=OFF or no toolkit)");
}
#endif

CudaKernel parse_cuda_kernel(const std::string& name) {
    if (name == "auto") return CudaKernel::automatic;
    if (name == "cluster") return CudaKernel::cluster;
    if (name == "generic") return CudaKernel::generic;
    throw std::invalid_argument("unknown CUDA kernel '" + name + "' (auto, cluster or generic)");
}

std::unique_ptr<Masking> make_masking(const std::string& request, int sample_rate, int channels) {
    if (request == "cpu" || (request == "auto" && cuda_devices().empty())) return make_cpu_masking(sample_rate, channels);
    return make_cuda_masking(sample_rate, channels);
}

std::string resolve_backend(const std::string& request, std::string* note) {
    if (request != "auto" && request != "cpu" && request != "cuda")
        throw std::runtime_error("unknown backend '" + request + "' (auto, cpu or cuda)");
    if (request == "cpu") {
        if (note) *note = "backend cpu (requested)";
        return "cpu";
    }
    std::string why;
    const auto devices = cuda_devices(&why);
    if (devices.empty()) {
        if (request == "cuda") throw std::runtime_error("backend cuda unavailable: no CUDA device (" + why + ")");
        if (note) *note = "backend cpu (auto: no CUDA device: " + why + ")";
        return "cpu";
    }
    if (request == "cuda") {
        if (note) *note = "backend cuda (requested) on " + devices[0].name;
        return "cuda";
    }
    // The CUDA generator has not yet been checked against the CPU reference on a GPU (its gpu
    // tests are written and skip here): until they have passed, auto stays on the CPU.
    if (note) *note = "backend cpu (auto: CUDA device " + devices[0].name + " present; the CUDA generator is not yet verified, --backend cuda runs it)";
    return "cpu";
}

BackendChoice make_generator(const std::string& request, std::shared_ptr<const Model> model, int lanes, uint64_t seed,
                             Precision precision, int cpu_threads) {
    BackendChoice c;
    if (resolve_backend(request, &c.note) == "cuda") {
        c.generator = make_cuda_generator(std::move(model), lanes, seed, precision);
        c.note += std::string(", weights ") + precision_name(precision) + ", " + c.generator->kernel();
    } else {
        c.generator = make_cpu_generator(std::move(model), lanes, seed, cpu_threads);
        const int threads = lane_groups(lanes, cpu_threads);
        c.note += ", " + std::to_string(threads) + (threads == 1 ? " thread" : " threads");
    }
    return c;
}

}  // namespace wavecast
