#include "protocol/curve_keys.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <toml++/toml.h>
#include <zmq.h>
#include <fstream>
#include <stdexcept>

#include "util/files.h"

namespace wavecast {

bool valid_curve_key(const std::string& z85) {
    if (z85.size() != 40) return false;
    uint8_t raw[32];
    return zmq_z85_decode(raw, z85.c_str()) != nullptr;
}

CurveKeys generate_curve_keys() {
    char pub[41], sec[41];
    if (zmq_curve_keypair(pub, sec) != 0)
        throw std::runtime_error("cannot make a CURVE key pair: this libzmq was built without CURVE (libsodium)");
    return {pub, sec};
}

void write_curve_keys(const std::string& path, const CurveKeys& keys) {
    const std::string pair =
        "# wavecast CURVE key pair: keep this file secret\npublic = \"" + keys.public_key + "\"\nsecret = \"" + keys.secret_key + "\"\n";
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, pair.data(), pair.size()) != static_cast<ssize_t>(pair.size()) || close(fd) != 0)
        throw std::runtime_error(path + ": cannot write the key pair");
    std::ofstream pub(path + ".pub");
    pub << "# wavecast CURVE public key\npublic = \"" << keys.public_key << "\"\n";
    if (!pub.flush()) throw std::runtime_error(path + ".pub: cannot write the public key");
}

CurveKeys read_curve_keys(const std::string& path) {
    toml::table t;
    try {
        const std::vector<uint8_t> bytes = read_regular_file(path, 64 * 1024);
        t = toml::parse(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), path);
    } catch (const toml::parse_error& e) {
        const auto& src = e.source();
        throw std::runtime_error(path + (src.begin ? ":" + std::to_string(src.begin.line) : std::string()) + ": " +
                                 std::string(e.description()));
    }
    CurveKeys k;
    k.public_key = t["public"].value_or(std::string());
    k.secret_key = t["secret"].value_or(std::string());
    if (!valid_curve_key(k.public_key)) throw std::runtime_error(path + ": 'public' must be a 40-character Z85 CURVE key");
    if (t.contains("secret") && !valid_curve_key(k.secret_key))
        throw std::runtime_error(path + ": 'secret' must be a 40-character Z85 CURVE key");
    if (!k.secret_key.empty()) {
        struct stat st {};
        if (stat(path.c_str(), &st) == 0 && (st.st_mode & 077))
            throw std::runtime_error(path + ": holds a secret key but others may read it (chmod 600)");
    }
    return k;
}

std::string public_key_of(const std::string& key_or_path) {
    if (valid_curve_key(key_or_path)) return key_or_path;
    return read_curve_keys(key_or_path).public_key;
}

}  // namespace wavecast
