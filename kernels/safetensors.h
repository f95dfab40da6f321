// The safetensors container (8-byte little-endian header length, a JSON header naming each
// tensor's dtype, shape and byte range, then the raw data). Only what wavecast needs: float
// tensors in F32, F16 or BF16, read into float32; written as F32.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace wavecast {

// Every problem with a model file, its message already naming the path and the reason.
class ModelError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct Tensor {
    std::vector<int64_t> shape;
    std::vector<float> data;
};

struct SafetensorsFile {
    std::map<std::string, std::string> metadata;
    std::map<std::string, Tensor> tensors;
};

SafetensorsFile read_safetensors(const std::string& path);
void write_safetensors(const std::string& path, const SafetensorsFile& file);

std::string shape_string(const std::vector<int64_t>& shape);

}  // namespace wavecast
