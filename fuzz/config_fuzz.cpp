// The daemon's config parser: any bytes give a config or a ConfigError, nothing else.
#include "daemon/config.h"
#include "fuzz/fuzz_input.h"
#include "util/toml_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = wavecast::fuzz::as_file(data, size, ".toml");
    try {
        const wavecast::DaemonConfig c = wavecast::load_config(path);
        // load_config promises a stream, and a model for every backend (named, or picked by it).
        if (c.streams.empty() || c.model_for("cpu").empty() || c.model_for("cuda").empty() || c.fallback().empty()) __builtin_trap();
    } catch (const wavecast::ConfigError&) {
    }
    return 0;
}
