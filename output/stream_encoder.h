// The encoders a network output sends with: Ogg Opus (libopusenc) and MP3 (LAME). PCM in, the
// container's bytes out, and the title where the format carries it in the stream.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace wavecast {

class StreamEncoder {
public:
    virtual ~StreamEncoder() = default;
    // Interleaved stereo at the rate the encoder was made for; appends the bytes ready to `out`.
    virtual void encode(const float* interleaved, size_t frames, std::string& out) = 0;
    // Ogg Opus: ends the current logical stream and starts a chained one whose tags carry the
    // title (what Icecast and players read), its first bytes appended to `out`; true. MP3 carries
    // no title: false, and the caller sends it beside the stream (ICY metadata).
    virtual bool retitle(const std::string& title, std::string& out) = 0;
};

// The formats make_stream_encoder knows, as the config names them.
const std::vector<std::string>& stream_formats();

// `format` one of stream_formats(); `rate` the PCM's (resampled where the codec needs another);
// `artist` goes in the Opus tags. Throws std::runtime_error saying why the encoder refused.
std::unique_ptr<StreamEncoder> make_stream_encoder(const std::string& format, int rate, int bitrate_kbps, const std::string& title,
                                                   const std::string& artist);

}  // namespace wavecast
