// Which backend runs each stage (the generator with its conditioning network, and masking): one
// decision from the request "cpu", "cuda" or "auto", made and logged in one place.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kernels/generator.h"
#include "kernels/masking.h"

namespace wavecast {

struct CudaDevice {
    int index = 0;
    std::string name;
    int sm_count = 0;
    int cc_major = 0, cc_minor = 0;
    size_t memory_bytes = 0;
};

// The devices the CUDA runtime reports. Empty when this build has no CUDA, or when no driver or
// device answers; `why` (if given) then says which.
std::vector<CudaDevice> cuda_devices(std::string* why = nullptr);

// Where each stage runs: "cpu" or "cuda". The conditioning network runs with the generator (the
// CPU reference, or cuDNN beside the CUDA kernels).
struct BackendPlan {
    std::string generator, masking;
    std::string note;  // one line for the log: what was asked, what was found, what runs where
};

// "cpu": every stage on the CPU. "cuda": every stage on the GPU (std::runtime_error where no
// device answers). "auto": the CPU for now, device or not, until many streams on CUDA have been
// shown sound (benchmarks/RESULTS.md, the GPU runs); `cuda` asks for the GPU. The daemon picks
// its model by this plan before loading one.
BackendPlan plan_backends(const std::string& request);

struct BackendChoice {
    std::unique_ptr<Generator> generator;
    std::string note;  // the kernel and its threads, for the log
};

// The generator on `backend` ("cpu" or "cuda", a plan's), a lane for each key (lane_keys() for one
// stream). `precision` is the CUDA backend's weight storage; the CPU computes in fp32 whatever it
// says. `cpu_threads` is the CPU backend's.
BackendChoice make_generator(const std::string& backend, std::shared_ptr<const Model> model, std::vector<LaneKey> keys,
                             Precision precision = Precision::fp32, int cpu_threads = 1);

// The masking stage on `backend` ("cpu" or "cuda", a plan's; "off": none, make_no_masking).
std::unique_ptr<Masking> make_masking(const std::string& backend, int sample_rate, int channels);

}  // namespace wavecast
