// The style parser: any bytes give a style the composer can play, or a ConfigError.
#include "fuzz/fuzz_input.h"
#include "score/style.h"
#include "util/toml_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = wavecast::fuzz::as_file(data, size, ".toml");
    try {
        const wavecast::Style s = wavecast::load_style(path);
        if (s.tracks.empty() || s.scale.empty() || s.form.empty() || !(s.tempo > 0)) __builtin_trap();
    } catch (const wavecast::ConfigError&) {
    }
    return 0;
}
