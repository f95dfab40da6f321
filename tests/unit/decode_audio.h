// Decoding what a listener receives (Ogg Opus, MP3) and finding dead air in it: for the stream
// encoders' tests and for the station's, which pull a real Icecast mount.
#pragma once

#include <string>
#include <vector>

namespace wavecast::test {

// Stereo float PCM decoded from an Ogg Opus stream (chained streams followed; `titles` receives
// each link's TITLE tag) at 48 kHz, or from MP3 at its own rate (`rate` receives it). Empty when
// nothing decodes.
std::vector<float> decode_opus(const std::string& bytes, std::vector<std::string>* titles = nullptr);
std::vector<float> decode_mp3(const std::string& bytes, int& rate);

// The longest run of 50 ms windows quieter than -60 dBFS (RMS of both channels), in seconds.
double longest_quiet_s(const std::vector<float>& stereo, int rate);

}  // namespace wavecast::test
