// The standard MIDI file reader (the `score` command and `render --score` take files from users).
#include <cmath>
#include <stdexcept>

#include "fuzz/fuzz_input.h"
#include "score/midi_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string path = wavecast::fuzz::as_file(data, size, ".mid");
    try {
        const wavecast::MidiScore s = wavecast::read_midi_file(path);
        if (!(s.tempo_bpm > 0) || !std::isfinite(s.tempo_bpm) || !(s.beats >= 0)) __builtin_trap();
        for (const auto& n : s.notes)
            if (!(n.end > n.start) || n.pitch < 0 || n.pitch > 127) __builtin_trap();
    } catch (const std::runtime_error&) {
    }
    return 0;
}
