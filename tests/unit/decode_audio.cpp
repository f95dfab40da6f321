#include "tests/unit/decode_audio.h"

#include <mpg123.h>
#include <opus/opusfile.h>

#include <algorithm>
#include <cmath>

namespace wavecast::test {

std::vector<float> decode_opus(const std::string& bytes, std::vector<std::string>* titles) {
    std::vector<float> out;
    int err = 0;
    OggOpusFile* f = op_open_memory(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), &err);
    if (!f) return out;
    if (titles)
        for (int link = 0; link < op_link_count(f); ++link) {
            const char* t = opus_tags_query(op_tags(f, link), "TITLE", 0);
            titles->push_back(t ? t : "");
        }
    float buf[2 * 5760];
    for (;;) {
        const int n = op_read_float_stereo(f, buf, 2 * 5760);
        if (n == OP_HOLE) continue;  // a gap in the data (a cut at the end): go on
        if (n <= 0) break;
        out.insert(out.end(), buf, buf + 2 * n);
    }
    op_free(f);
    return out;
}

std::vector<float> decode_mp3(const std::string& bytes, int& rate) {
    // mpg123 rather than libsndfile: a listener joins mid-frame, and mpg123 finds the next frame's
    // sync where libsndfile refuses a file that does not start with one.
    std::vector<float> out;
    mpg123_handle* h = mpg123_new(nullptr, nullptr);
    if (!h) return out;
    mpg123_param(h, MPG123_ADD_FLAGS, MPG123_FORCE_FLOAT | MPG123_QUIET, 0.0);
    if (mpg123_open_feed(h) == MPG123_OK) {
        std::vector<unsigned char> buf(1 << 16);
        size_t done = 0;
        int rc = mpg123_decode(h, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), buf.data(), buf.size(), &done);
        int channels = 2;
        for (;;) {
            if (rc == MPG123_NEW_FORMAT) {
                long r = 0;
                int enc = 0;
                mpg123_getformat(h, &r, &channels, &enc);
                rate = static_cast<int>(r);
            }
            const float* f = reinterpret_cast<const float*>(buf.data());
            for (size_t i = 0; i + channels <= done / sizeof(float); i += static_cast<size_t>(channels)) {
                out.push_back(f[i]);
                out.push_back(channels > 1 ? f[i + 1] : f[i]);
            }
            if (rc == MPG123_NEED_MORE || rc == MPG123_ERR) break;
            rc = mpg123_decode(h, nullptr, 0, buf.data(), buf.size(), &done);
        }
    }
    mpg123_delete(h);
    return out;
}

double longest_quiet_s(const std::vector<float>& stereo, int rate) {
    const size_t win = static_cast<size_t>(rate / 20), frames = stereo.size() / 2;
    size_t run = 0, longest = 0;
    for (size_t w = 0; w + win <= frames; w += win) {
        double e = 0;
        for (size_t i = w; i < w + win; ++i) e += stereo[2 * i] * stereo[2 * i] + stereo[2 * i + 1] * stereo[2 * i + 1];
        const bool quiet = 10 * std::log10(e / (2.0 * win) + 1e-30) < -60;
        run = quiet ? run + 1 : 0;
        longest = std::max(longest, run);
    }
    return static_cast<double>(longest * win) / rate;
}

}  // namespace wavecast::test
