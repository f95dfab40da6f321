#include "midi_file.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <map>
#include <stdexcept>

namespace wavecast {
namespace {

constexpr int kPpq = 480;

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

struct Timed {
    uint32_t tick;
    int order;  // ties: note-offs (0) before meta and programme (1) before note-ons (2)
    std::vector<uint8_t> bytes;
};

std::vector<uint8_t> track_chunk(std::vector<Timed> events) {
    std::stable_sort(events.begin(), events.end(), [](const Timed& a, const Timed& b) {
        return a.tick != b.tick ? a.tick < b.tick : a.order < b.order;
    });
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

Timed meta_text(uint8_t type, const std::string& text) {
    Timed t{0, 1, {0xFF, type}};
    put_var(t.bytes, static_cast<uint32_t>(text.size()));
    t.bytes.insert(t.bytes.end(), text.begin(), text.end());
    return t;
}

uint32_t ticks(double beat) { return static_cast<uint32_t>(std::llround(std::max(beat, 0.0) * kPpq)); }

}  // namespace

void write_midi_messages(const std::string& path, double tempo_bpm, const std::vector<TimedMessage>& messages, double end_beat) {
    std::vector<uint8_t> file{'M', 'T', 'h', 'd'};
    put_be(file, 6, 4);
    put_be(file, 0, 2);  // type 0: one track
    put_be(file, 1, 2);
    put_be(file, kPpq, 2);
    std::vector<Timed> ev{meta_text(0x03, "wavecast recording")};
    Timed set_tempo{0, 1, {0xFF, 0x51, 0x03}};
    put_be(set_tempo.bytes, static_cast<uint32_t>(std::llround(60e6 / tempo_bpm)), 3);
    ev.push_back(set_tempo);
    std::map<int, int> sounding;  // (channel << 8 | pitch) -> count
    for (const TimedMessage& m : messages) {
        const uint8_t kind = m.bytes[0] & 0xF0;
        const bool on = kind == 0x90 && m.size == 3 && m.bytes[2] > 0, off = kind == 0x80 || (kind == 0x90 && !on);
        int& n = sounding[(m.bytes[0] & 0x0F) << 8 | m.bytes[1]];
        if (off && n == 0) continue;  // the end of a note that began before the messages did
        if (on || off) n += on ? 1 : -1;
        ev.push_back({ticks(m.beat), off ? 0 : on ? 2 : 1, std::vector<uint8_t>(m.bytes, m.bytes + m.size)});
    }
    for (const auto& [key, n] : sounding)
        for (int i = 0; i < n; ++i)
            ev.push_back({ticks(end_beat), 0, {static_cast<uint8_t>(0x80 | (key >> 8)), static_cast<uint8_t>(key & 0x7F), 0}});
    const auto chunk = track_chunk(ev);
    file.insert(file.end(), chunk.begin(), chunk.end());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out.write(reinterpret_cast<const char*>(file.data()), static_cast<std::streamsize>(file.size())))
        throw std::runtime_error(path + ": cannot write the MIDI file");
}

int midi_channel(const TrackStyle& track, int lane) {
    if (track.drums) return 9;
    return lane < 9 ? lane : std::min(lane + 1, 15);
}

void write_midi_file(const std::string& path, const Style& style, int lanes, double tempo_bpm, const std::vector<MidiEvent>& events,
                     double end_beat) {
    const int tracks = std::min<int>(lanes, static_cast<int>(style.tracks.size()));
    std::vector<uint8_t> file{'M', 'T', 'h', 'd'};
    put_be(file, 6, 4);
    put_be(file, 1, 2);  // type 1: simultaneous tracks
    put_be(file, static_cast<uint32_t>(tracks + 1), 2);
    put_be(file, kPpq, 2);

    std::vector<Timed> tempo{meta_text(0x03, "wavecast " + style.name)};
    Timed set_tempo{0, 1, {0xFF, 0x51, 0x03}};
    put_be(set_tempo.bytes, static_cast<uint32_t>(std::llround(60e6 / tempo_bpm)), 3);
    tempo.push_back(set_tempo);
    tempo.push_back({0, 1, {0xFF, 0x58, 0x04, 4, 2, 24, 8}});  // 4/4
    const auto tempo_chunk = track_chunk(tempo);
    file.insert(file.end(), tempo_chunk.begin(), tempo_chunk.end());

    for (int lane = 0; lane < tracks; ++lane) {
        const TrackStyle& t = style.tracks[static_cast<size_t>(lane)];
        const uint8_t ch = static_cast<uint8_t>(midi_channel(t, lane));
        std::vector<Timed> ev{meta_text(0x03, t.name)};
        ev.push_back({0, 1, {static_cast<uint8_t>(0xC0 | ch), static_cast<uint8_t>(t.program)}});
        std::map<int, int> sounding;
        for (const MidiEvent& e : events) {
            if (e.track != lane || e.beat > end_beat) continue;
            ev.push_back({ticks(e.beat), e.on ? 2 : 0,
                          {static_cast<uint8_t>((e.on ? 0x90 : 0x80) | ch), static_cast<uint8_t>(e.pitch),
                           static_cast<uint8_t>(e.on ? e.velocity : 0)}});
            sounding[e.pitch] += e.on ? 1 : -1;
        }
        for (const auto& [pitch, n] : sounding)
            if (n > 0) ev.push_back({ticks(end_beat), 0, {static_cast<uint8_t>(0x80 | ch), static_cast<uint8_t>(pitch), 0}});
        const auto chunk = track_chunk(ev);
        file.insert(file.end(), chunk.begin(), chunk.end());
    }
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out.write(reinterpret_cast<const char*>(file.data()), static_cast<std::streamsize>(file.size())))
        throw std::runtime_error(path + ": cannot write the MIDI file");
}

}  // namespace wavecast
