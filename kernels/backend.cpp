#include "backend.h"

#include "masking.h"

#include <stdexcept>

namespace wavecast {

#if !defined(WAVECAST_HAVE_CUDA)
std::vector<CudaDevice> cuda_devices(std::string* why) {
    if (why) *why = "this build has no CUDA support (configured with WAVECAST_CUDA=OFF or no toolkit)";
    return {};
}

std::unique_ptr<Masking> make_cuda_masking(int, int) {
    throw std::runtime_error("masking: this build has no CUDA support (configured with WAVECAST_CUDA=OFF or no toolkit)");
}
#endif

std::unique_ptr<Masking> make_masking(const std::string& request, int sample_rate, int channels) {
    if (request == "cpu" || (request == "auto" && cuda_devices().empty())) return make_cpu_masking(sample_rate, channels);
    return make_cuda_masking(sample_rate, channels);
}

std::string resolve_backend(const std::string& request, std::string* note) {
    if (request != "auto" && request != "cpu" && request != "cuda")
        throw std::runtime_error("unknown backend '" + request + "' (auto, cpu or cuda)");
    std::string said = "backend cpu (requested)";
    if (request != "cpu") {
        std::string why;
        const auto devices = cuda_devices(&why);
        // The CUDA generation loop is not written yet: a present device is reported, not used.
        const std::string cuda_state = devices.empty()
            ? "no CUDA device (" + why + ")"
            : "CUDA device " + devices[0].name + " present, but this build has no CUDA generator yet";
        if (request == "cuda") throw std::runtime_error("backend cuda unavailable: " + cuda_state);
        said = "backend cpu (auto: " + cuda_state + ")";
    }
    if (note) *note = said;
    return "cpu";
}

BackendChoice make_generator(const std::string& request, std::shared_ptr<const Model> model, int lanes, uint64_t seed) {
    BackendChoice c;
    resolve_backend(request, &c.note);
    c.generator = make_cpu_generator(std::move(model), lanes, seed);
    return c;
}

}  // namespace wavecast
