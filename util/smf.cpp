#include "util/smf.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace wavecast {
namespace smf {

void put_var(std::vector<uint8_t>& out, uint32_t v) {
    uint8_t buf[5];
    int n = 0;
    buf[n++] = v & 0x7F;
    while (v >>= 7) buf[n++] = static_cast<uint8_t>(0x80 | (v & 0x7F));
    while (n) out.push_back(buf[--n]);
}

void put_be(std::vector<uint8_t>& out, uint32_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

std::vector<uint8_t> header(int format, int tracks) {
    std::vector<uint8_t> file{'M', 'T', 'h', 'd'};
    put_be(file, 6, 4);
    put_be(file, static_cast<uint32_t>(format), 2);
    put_be(file, static_cast<uint32_t>(tracks), 2);
    put_be(file, kPpq, 2);
    return file;
}

std::vector<uint8_t> track_chunk(std::vector<Event> events) {
    std::stable_sort(events.begin(), events.end(),
                     [](const Event& a, const Event& b) { return a.tick != b.tick ? a.tick < b.tick : a.order < b.order; });
    std::vector<uint8_t> body;
    uint32_t now = 0;
    for (const auto& e : events) {
        put_var(body, e.tick - now);
        now = e.tick;
        body.insert(body.end(), e.bytes.begin(), e.bytes.end());
    }
    put_var(body, 0);
    body.insert(body.end(), {0xFF, 0x2F, 0x00});  // end of track
    std::vector<uint8_t> chunk{'M', 'T', 'r', 'k'};
    put_be(chunk, static_cast<uint32_t>(body.size()), 4);
    chunk.insert(chunk.end(), body.begin(), body.end());
    return chunk;
}

Event meta_text(uint8_t type, const std::string& text) {
    Event t{0, 1, {0xFF, type}};
    put_var(t.bytes, static_cast<uint32_t>(text.size()));
    t.bytes.insert(t.bytes.end(), text.begin(), text.end());
    return t;
}

Event set_tempo(double bpm) {
    Event t{0, 1, {0xFF, 0x51, 0x03}};
    put_be(t.bytes, static_cast<uint32_t>(std::llround(60e6 / bpm)), 3);
    return t;
}

uint32_t ticks(double beat) { return static_cast<uint32_t>(std::llround(std::max(beat, 0.0) * kPpq)); }

}  // namespace smf

std::vector<uint8_t> midi_messages_file(double tempo_bpm, const std::vector<TimedMessage>& messages, double end_beat) {
    using namespace smf;
    std::vector<uint8_t> file = header(0, 1);
    std::vector<Event> ev{meta_text(0x03, "wavecast recording"), set_tempo(tempo_bpm)};
    std::map<int, int> sounding;  // (channel << 8 | pitch) -> count
    for (const TimedMessage& m : messages) {
        const uint8_t kind = m.bytes[0] & 0xF0;
        const bool on = kind == 0x90 && m.size == 3 && m.bytes[2] > 0, off = kind == 0x80 || (kind == 0x90 && !on);
        int& n = sounding[(m.bytes[0] & 0x0F) << 8 | m.bytes[1]];
        if (off && n == 0) continue;                           // the end of a note that began before the messages did
        if (on && ticks(m.beat) >= ticks(end_beat)) continue;  // would start as the file ends, and never stop
        if (on || off) n += on ? 1 : -1;
        ev.push_back({ticks(m.beat), off ? 0 : on ? 2 : 1, std::vector<uint8_t>(m.bytes, m.bytes + m.size)});
    }
    for (const auto& [key, n] : sounding)
        for (int i = 0; i < n; ++i)
            ev.push_back({ticks(end_beat), 0, {static_cast<uint8_t>(0x80 | (key >> 8)), static_cast<uint8_t>(key & 0x7F), 0}});
    const auto chunk = track_chunk(ev);
    file.insert(file.end(), chunk.begin(), chunk.end());
    return file;
}

}  // namespace wavecast
