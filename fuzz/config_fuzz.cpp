// The daemon's config parser: any bytes give a config or a ConfigError, nothing else.
#include "config.h"
#include "fuzz_input.h"
#include "toml_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = wavecast::fuzz::as_file(data, size, ".toml");
    try {
        const wavecast::DaemonConfig c = wavecast::load_config(path);
        if (c.streams.empty() || c.model.empty()) __builtin_trap();  // load_config promises both
    } catch (const wavecast::ConfigError&) {
    }
    return 0;
}
