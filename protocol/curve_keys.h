// CURVE key pairs for remote control (ZeroMQ's CurveZMQ): made by `wavecast keygen PATH`, which
// writes PATH (the pair; keep it secret, mode 0600) and PATH.pub (the public key, to hand to the
// other side). Both are TOML: public = "<Z85>" and, in the pair, secret = "<Z85>".
#pragma once

#include <string>

namespace wavecast {

struct CurveKeys {
    std::string public_key;  // Z85, 40 characters
    std::string secret_key;  // Z85, 40 characters; empty when read from a .pub file
};

CurveKeys generate_curve_keys();
// Writes `path` (0600) and `path`.pub; throws std::runtime_error naming the path.
void write_curve_keys(const std::string& path, const CurveKeys& keys);
// Reads a pair or a .pub file; throws std::runtime_error "PATH: reason".
CurveKeys read_curve_keys(const std::string& path);
// True for 40 characters that decode as Z85 to a 32-byte key.
bool valid_curve_key(const std::string& z85);
// A Z85 key as given, or the public key of the .pub (or pair) file it names.
std::string public_key_of(const std::string& key_or_path);

}  // namespace wavecast
