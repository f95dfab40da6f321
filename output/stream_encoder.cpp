#include "output/stream_encoder.h"

#include <lame/lame.h>
#include <opus/opusenc.h>

#include <stdexcept>

namespace wavecast {
namespace {

class OpusEncoder final : public StreamEncoder {
public:
    OpusEncoder(int rate, int bitrate_kbps, const std::string& title, const std::string& artist) : artist_(artist) {
        OggOpusComments* tags = comments(title);
        int err = 0;
        enc_.reset(ope_encoder_create_pull(tags, rate, 2, 0, &err));
        ope_comments_destroy(tags);
        if (!enc_) throw std::runtime_error(std::string("Opus encoder: ") + ope_strerror(err));
        ope_encoder_ctl(enc_.get(), OPUS_SET_BITRATE(bitrate_kbps * 1000));
        // Live: audio is encoded as it comes (libopusenc's default holds 2 s back before it
        // decides how to encode it) and its page goes out within 200 ms (the default holds a
        // second), so a listener hears the music, and its title, close behind JACK. Held back, a
        // listener joining a source that has just (re)connected heard 2 s less than they waited.
        check(ope_encoder_ctl(enc_.get(), OPE_SET_DECISION_DELAY(0)), "decision delay");
        check(ope_encoder_ctl(enc_.get(), OPE_SET_MUXING_DELAY(9600)), "muxing delay");
    }

    void encode(const float* interleaved, size_t frames, std::string& out) override {
        if (frames > 0) check(ope_encoder_write_float(enc_.get(), interleaved, static_cast<int>(frames)), "write");
        pages(out);
    }

    bool retitle(const std::string& title, std::string& out) override {
        OggOpusComments* tags = comments(title);
        const int rc = ope_encoder_chain_current(enc_.get(), tags);
        ope_comments_destroy(tags);
        check(rc, "chain");
        pages(out);
        return true;
    }

private:
    OggOpusComments* comments(const std::string& title) const {
        OggOpusComments* c = ope_comments_create();
        if (!c) throw std::runtime_error("Opus encoder: out of memory");
        ope_comments_add(c, "TITLE", title.c_str());
        if (!artist_.empty()) ope_comments_add(c, "ARTIST", artist_.c_str());
        return c;
    }
    void pages(std::string& out) {
        unsigned char* page = nullptr;
        opus_int32 len = 0;
        while (ope_encoder_get_page(enc_.get(), &page, &len, 0)) out.append(reinterpret_cast<const char*>(page), static_cast<size_t>(len));
    }
    static void check(int rc, const char* what) {
        if (rc != OPE_OK) throw std::runtime_error(std::string("Opus encoder ") + what + ": " + ope_strerror(rc));
    }

    std::unique_ptr<OggOpusEnc, decltype(&ope_encoder_destroy)> enc_{nullptr, ope_encoder_destroy};
    const std::string artist_;
};

class Mp3Encoder final : public StreamEncoder {
public:
    Mp3Encoder(int rate, int bitrate_kbps) {
        lame_ = lame_init();
        if (!lame_) throw std::runtime_error("MP3 encoder: out of memory");
        lame_set_in_samplerate(lame_, rate);
        lame_set_num_channels(lame_, 2);
        lame_set_brate(lame_, bitrate_kbps);
        lame_set_quality(lame_, 5);  // LAME's "good" speed/quality trade
        if (lame_init_params(lame_) < 0) {
            lame_close(lame_);
            throw std::runtime_error("MP3 encoder: LAME refused " + std::to_string(rate) + " Hz at " + std::to_string(bitrate_kbps) +
                                     " kbit/s");
        }
    }
    ~Mp3Encoder() override { lame_close(lame_); }

    void encode(const float* interleaved, size_t frames, std::string& out) override {
        // LAME's worst case: 1.25 bytes a sample plus 7200.
        buf_.resize(frames * 5 / 4 + 7200);
        const int n = lame_encode_buffer_interleaved_ieee_float(lame_, interleaved, static_cast<int>(frames), buf_.data(),
                                                                static_cast<int>(buf_.size()));
        if (n < 0) throw std::runtime_error("MP3 encoder: LAME error " + std::to_string(n));
        out.append(reinterpret_cast<const char*>(buf_.data()), static_cast<size_t>(n));
    }
    bool retitle(const std::string&, std::string&) override { return false; }

private:
    lame_global_flags* lame_ = nullptr;
    std::vector<unsigned char> buf_;
};

}  // namespace

const std::vector<std::string>& stream_formats() {
    static const std::vector<std::string> f{"opus", "mp3"};
    return f;
}

std::unique_ptr<StreamEncoder> make_stream_encoder(const std::string& format, int rate, int bitrate_kbps, const std::string& title,
                                                   const std::string& artist) {
    if (format == "opus") return std::make_unique<OpusEncoder>(rate, bitrate_kbps, title, artist);
    if (format == "mp3") return std::make_unique<Mp3Encoder>(rate, bitrate_kbps);
    throw std::runtime_error("unknown stream format '" + format + "' (opus or mp3)");
}

}  // namespace wavecast
