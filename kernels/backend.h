// Which backend runs the generator: "cpu", "cuda", or "auto" (CUDA when a device is present).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "generator.h"
#include "masking.h"

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

struct BackendChoice {
    std::unique_ptr<Generator> generator;
    std::string note;  // one line for the log: what was found and why this backend was chosen
};

// The generator backend a request ("auto", "cpu" or "cuda") gets: "cpu" or "cuda", with `note`
// saying why (one line for the log). Throws std::runtime_error when the request cannot be met
// (e.g. "cuda" with no device). The daemon picks its model by this before loading one.
std::string resolve_backend(const std::string& request, std::string* note = nullptr);

// Throws std::runtime_error when the request cannot be met (e.g. "cuda" with no device).
// `precision` is the CUDA backend's weight storage; the CPU computes in fp32 whatever it says.
// `cpu_threads` is the CPU backend's (see make_cpu_generator).
BackendChoice make_generator(const std::string& request, std::shared_ptr<const Model> model, int lanes, uint64_t seed,
                             Precision precision = Precision::fp32, int cpu_threads = 1);

// The masking stage on the requested backend: "auto" takes cuFFT when a device answers.
std::unique_ptr<Masking> make_masking(const std::string& request, int sample_rate, int channels);

}  // namespace wavecast
