// The parsers under fuzz read files, as the daemon does: each input is written to a file of
// this process's own first.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>

namespace wavecast::fuzz {

inline std::string as_file(const uint8_t* data, size_t size, const char* suffix) {
    static const std::string path = "/tmp/wavecast-fuzz-" + std::to_string(getpid()) + suffix;
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) __builtin_trap();
    if (size) std::fwrite(data, 1, size, f);
    std::fclose(f);
    return path;
}

}  // namespace wavecast::fuzz
