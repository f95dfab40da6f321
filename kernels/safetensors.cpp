#include "kernels/safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bit>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "kernels/half.h"

namespace wavecast {
namespace {

using json = nlohmann::json;

// A header larger than this is not a model header but a corrupt length field.
constexpr uint64_t kMaxHeaderBytes = 64ull << 20;
constexpr uint64_t kMaxFileBytes = 8ull << 30;  // far above any model of ours; /dev/zero-sized files are refused

uint64_t read_le64(const unsigned char* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

}  // namespace

std::string shape_string(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

namespace {

using Fail = std::function<ModelError(const std::string&)>;

// A regular file only, opened without blocking: a FIFO in a model's place must not hang a load,
// nor /dev/zero fill the memory. (util/'s read_regular_file, which kernels/ cannot use.)
std::vector<unsigned char> read_model_bytes(const std::string& path, const Fail& fail) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) throw fail(std::string("cannot open: ") + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        throw fail("not a regular file");
    }
    if (static_cast<uint64_t>(st.st_size) > kMaxFileBytes) {
        ::close(fd);
        throw fail("too large: " + std::to_string(st.st_size) + " bytes");
    }
    std::vector<unsigned char> bytes(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < bytes.size()) {
        const ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += static_cast<size_t>(n);
    }
    ::close(fd);
    bytes.resize(got);
    return bytes;
}

// One header entry's tensor, its bytes checked against the data section (`data_len` bytes).
Tensor read_tensor(const std::string& name, const json& entry, const unsigned char* data, uint64_t data_len, const Fail& fail) {
    const auto where = "tensor '" + name + "': ";
    if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") || !entry.contains("data_offsets"))
        throw fail(where + "entry lacks dtype, shape or data_offsets");
    const auto& dtype_j = entry["dtype"];
    const auto& shape_j = entry["shape"];
    const auto& off_j = entry["data_offsets"];
    if (!dtype_j.is_string() || !shape_j.is_array() || !off_j.is_array() || off_j.size() != 2 || !off_j[0].is_number_unsigned() ||
        !off_j[1].is_number_unsigned())
        throw fail(where + "malformed dtype, shape or data_offsets");
    const std::string dtype = dtype_j.get<std::string>();
    size_t elem;
    if (dtype == "F32") elem = 4;
    else if (dtype == "F16" || dtype == "BF16") elem = 2;
    else throw fail(where + "unsupported dtype " + dtype + " (F32, F16 or BF16 expected)");

    Tensor t;
    uint64_t count = 1;
    for (const auto& d : shape_j) {
        if (!d.is_number_unsigned() || d.get<uint64_t>() > (1ull << 32)) throw fail(where + "bad shape");
        t.shape.push_back(d.get<int64_t>());
        count *= d.get<uint64_t>();
        if (count > (1ull << 34)) throw fail(where + "shape too large");
    }
    const uint64_t begin = off_j[0].get<uint64_t>(), end = off_j[1].get<uint64_t>();
    if (begin > end || end > data_len)
        throw fail(where + "data [" + std::to_string(begin) + ", " + std::to_string(end) + ") lies past the end of the file's data (" +
                   std::to_string(data_len) + " bytes): truncated?");
    if (end - begin != count * elem)
        throw fail(where + "holds " + std::to_string(end - begin) + " bytes but shape " + shape_string(t.shape) + " of " + dtype +
                   " needs " + std::to_string(count * elem));
    t.data.resize(count);
    const unsigned char* p = data + begin;
    for (uint64_t i = 0; i < count; ++i) {
        if (elem == 4) {
            uint32_t u = 0;
            for (int b = 3; b >= 0; --b) u = (u << 8) | p[4 * i + b];
            t.data[i] = std::bit_cast<float>(u);
        } else {
            const uint16_t u = static_cast<uint16_t>(p[2 * i] | (p[2 * i + 1] << 8));
            t.data[i] = dtype == "F16" ? half_to_float(u) : bf16_to_float(u);
        }
    }
    return t;
}

}  // namespace

SafetensorsFile read_safetensors(const std::string& path) {
    const Fail fail = [&](const std::string& why) { return ModelError(path + ": " + why); };
    const std::vector<unsigned char> bytes = read_model_bytes(path, fail);
    if (bytes.size() < 8) throw fail("truncated: " + std::to_string(bytes.size()) + " bytes, not a safetensors file");
    const uint64_t header_len = read_le64(bytes.data());
    if (header_len > kMaxHeaderBytes || header_len > bytes.size() - 8)
        throw fail("truncated or corrupt: header length " + std::to_string(header_len) + " exceeds the file (" +
                   std::to_string(bytes.size()) + " bytes)");
    json header;
    try {
        header = json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(header_len));
    } catch (const json::exception& e) {
        throw fail(std::string("header is not valid JSON: ") + e.what());
    }
    if (!header.is_object()) throw fail("header is not a JSON object");
    const unsigned char* data = bytes.data() + 8 + header_len;
    const uint64_t data_len = bytes.size() - 8 - header_len;
    SafetensorsFile file;
    for (auto& [name, entry] : header.items()) {
        if (name != "__metadata__") {
            file.tensors.emplace(name, read_tensor(name, entry, data, data_len, fail));
            continue;
        }
        if (!entry.is_object()) throw fail("__metadata__ is not an object");
        for (auto& [k, v] : entry.items()) {
            if (!v.is_string()) throw fail("__metadata__ value '" + k + "' is not a string");
            file.metadata[k] = v.get<std::string>();
        }
    }
    return file;
}

void write_safetensors(const std::string& path, const SafetensorsFile& file) {
    json header = json::object();
    if (!file.metadata.empty()) header["__metadata__"] = file.metadata;
    uint64_t offset = 0;
    for (const auto& [name, t] : file.tensors) {
        const uint64_t bytes = t.data.size() * 4;
        header[name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string h = header.dump();
    while ((h.size() + 8) % 8 != 0) h += ' ';  // the format pads the header to 8-byte alignment

    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) throw ModelError(path + ": cannot write: " + std::strerror(errno));
        unsigned char len[8];
        for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(h.size() >> (8 * i));
        out.write(reinterpret_cast<const char*>(len), 8);
        out.write(h.data(), static_cast<std::streamsize>(h.size()));
        static_assert(std::endian::native == std::endian::little, "safetensors data is little-endian");
        for (const auto& [name, t] : file.tensors)
            out.write(reinterpret_cast<const char*>(t.data.data()), static_cast<std::streamsize>(t.data.size() * 4));
        if (!out.flush()) throw ModelError(path + ": write failed: " + std::strerror(errno));
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) throw ModelError(path + ": cannot rename into place: " + std::strerror(errno));
}

}  // namespace wavecast
