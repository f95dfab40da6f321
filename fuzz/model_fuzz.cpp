// The model loader: any bytes give a valid model or a ModelError naming the file.
#include "fuzz/fuzz_input.h"
#include "kernels/model.h"
#include "kernels/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = wavecast::fuzz::as_file(data, size, ".safetensors");
    try {
        const wavecast::Model m = wavecast::load_model(path);
        wavecast::validate_spec(m.spec, path);
    } catch (const wavecast::ModelError& e) {
        if (std::string(e.what()).rfind(path, 0) != 0) __builtin_trap();  // the reason names the file
    }
    return 0;
}
