// What the offline subcommands take from the daemon's config (wavecastd's command line makes it):
// where the styles are, which backend and model play, and the main stream's parameters, so that
// a render sounds like the stream.
#pragma once

#include <map>
#include <string>

#include "kernels/model.h"

namespace wavecast {

struct OfflineSetup {
    std::string styles_dir;
    std::string backend = "auto";       // auto, cpu or cuda
    std::string cpu_model, cuda_model;  // the model each backend plays
    Precision precision = Precision::fp32;
    int cpu_threads = 0;
    std::map<std::string, double> stream_params;  // the config's first [stream.params]

    const std::string& model_for(const std::string& generator_backend) const {
        return generator_backend == "cuda" ? cuda_model : cpu_model;
    }
};

}  // namespace wavecast
