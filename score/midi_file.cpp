#include "midi_file.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <map>
#include <stdexcept>

#include "files.h"
#include "smf.h"

namespace wavecast {
MidiScore read_midi_file(const std::string& path) {
    const std::vector<uint8_t> b = read_regular_file(path, kMaxMidiFileBytes);
    size_t at = 0;
    size_t limit = b.size();  // the end of the chunk being read: an event may not run into the next one
    auto fail = [&](const std::string& why) { return std::runtime_error(path + ": " + why + " (at byte " + std::to_string(at) + ")"); };
    auto need = [&](size_t n) {
        if (at > limit || n > limit - at) throw fail(limit == b.size() ? "truncated" : "event runs past the end of its track");
    };
    auto be = [&](int n) {
        need(static_cast<size_t>(n));
        uint32_t v = 0;
        for (int i = 0; i < n; ++i) v = v << 8 | b[at++];
        return v;
    };
    auto var = [&]() {
        uint32_t v = 0;
        for (int i = 0; i < 4; ++i) {
            need(1);
            const uint8_t c = b[at++];
            v = v << 7 | (c & 0x7F);
            if (!(c & 0x80)) return v;
        }
        throw fail("variable-length number longer than 4 bytes");
    };
    if (b.size() < 14 || std::string(b.begin(), b.begin() + 4) != "MThd") throw fail("not a standard MIDI file (no MThd)");
    at = 4;
    const uint32_t header_len = be(4);
    const uint32_t format = be(2), tracks = be(2), division = be(2);
    at = 8 + header_len;
    if (format > 1) throw fail("MIDI format " + std::to_string(format) + " is not supported (0 or 1)");
    if (division & 0x8000 || division == 0) throw fail("SMPTE time division is not supported");

    MidiScore score;
    bool have_tempo = false;
    struct Part {
        int track, channel, program = 0;
        std::string name;
    };
    std::vector<Part> parts;
    auto part_of = [&](int track, int channel, const std::string& name) {
        for (size_t i = 0; i < parts.size(); ++i)
            if (parts[i].track == track && parts[i].channel == channel) return static_cast<int>(i);
        parts.push_back({track, channel, 0, name.empty() ? "channel " + std::to_string(channel + 1) : name});
        return static_cast<int>(parts.size()) - 1;
    };
    std::map<int, int> programs;  // (track << 4 | channel) -> last program
    for (uint32_t t = 0; t < tracks; ++t) {
        need(8);
        if (std::string(b.begin() + static_cast<long>(at), b.begin() + static_cast<long>(at) + 4) != "MTrk") throw fail("expected MTrk");
        at += 4;
        const uint32_t len = be(4);
        need(len);
        const size_t end = at + len;
        limit = end;
        uint64_t tick = 0;
        uint8_t status = 0;
        std::string name;
        std::map<int, std::pair<uint64_t, int>> open;  // (channel << 8 | pitch) -> (tick, velocity)
        while (at < end) {
            tick += var();
            need(1);
            if (b[at] & 0x80) status = b[at++];
            else if (!status) throw fail("running status without a status byte");
            if (status == 0xFF) {
                need(1);
                const uint8_t type = b[at++];
                const uint32_t n = var();
                need(n);
                if (type == 0x51 && n == 3 && !have_tempo) {
                    const uint32_t us_per_beat = static_cast<uint32_t>(b[at] << 16 | b[at + 1] << 8 | b[at + 2]);
                    if (us_per_beat == 0) throw fail("tempo of 0 microseconds per beat");
                    score.tempo_bpm = 60e6 / us_per_beat;
                    have_tempo = true;
                }
                if (type == 0x03) name.assign(b.begin() + static_cast<long>(at), b.begin() + static_cast<long>(at + n));
                at += n;
                status = 0;
                continue;
            }
            if (status == 0xF0 || status == 0xF7) {
                const uint32_t n = var();
                need(n);
                at += n;
                status = 0;
                continue;
            }
            if (status > 0xF0) throw fail("system message " + std::to_string(status) + " in a MIDI file");
            const int kind = status & 0xF0, ch = status & 0x0F;
            const int data = (kind == 0xC0 || kind == 0xD0) ? 1 : 2;
            need(static_cast<size_t>(data));
            const int d1 = b[at], d2 = data == 2 ? b[at + 1] : 0;
            if ((d1 | d2) & 0x80) throw fail("data byte above 127");
            at += static_cast<size_t>(data);
            if (kind == 0xC0) programs[static_cast<int>(t) << 4 | ch] = d1;
            const int key = ch << 8 | d1;
            if (kind == 0x90 && d2 > 0) {
                open[key] = {tick, d2};
            } else if (kind == 0x80 || kind == 0x90) {
                auto it = open.find(key);
                if (it == open.end()) continue;
                const int lane = part_of(static_cast<int>(t), ch, name);
                parts[static_cast<size_t>(lane)].program = programs[static_cast<int>(t) << 4 | ch];
                const double start = static_cast<double>(it->second.first) / division, stop = static_cast<double>(tick) / division;
                score.notes.push_back({lane, d1, it->second.second, start, std::max(stop, start + 1.0 / division)});
                score.beats = std::max(score.beats, stop);
                open.erase(it);
            }
        }
        at = end;
        limit = b.size();
    }
    if (score.notes.empty()) throw fail("no notes");
    std::sort(score.notes.begin(), score.notes.end(), [](const ScoreNote& a, const ScoreNote& c) { return a.start < c.start; });
    Style& s = score.style;
    s.name = "score";
    s.description = "notes from " + path;
    s.file = path;
    s.tempo = score.tempo_bpm;
    s.scale = {0, 2, 4, 5, 7, 9, 11};
    s.progression = {{0, 2, 4}};
    for (const Part& p : parts) {
        TrackStyle tr;
        tr.name = p.name;
        tr.program = p.program;
        tr.drums = p.channel == 9;
        tr.role = tr.drums ? "drums" : "lead";
        s.tracks.push_back(tr);
    }
    s.form = {Section{"score", 1, 1.0, {"drums", "bass", "harmony", "lead"}}};
    return score;
}

int midi_channel(const TrackStyle& track, int lane) {
    if (track.drums) return 9;
    return lane < 9 ? lane : std::min(lane + 1, 15);
}

void write_midi_file(const std::string& path, const Style& style, int lanes, double tempo_bpm, const std::vector<MidiEvent>& events,
                     double end_beat) {
    using namespace smf;
    const int tracks = std::min<int>(lanes, static_cast<int>(style.tracks.size()));
    std::vector<uint8_t> file = header(1, tracks + 1);  // type 1: simultaneous tracks
    const auto tempo_chunk =
        track_chunk({meta_text(0x03, "wavecast " + style.name), set_tempo(tempo_bpm), {0, 1, {0xFF, 0x58, 0x04, 4, 2, 24, 8}}});  // 4/4
    file.insert(file.end(), tempo_chunk.begin(), tempo_chunk.end());

    for (int lane = 0; lane < tracks; ++lane) {
        const TrackStyle& t = style.tracks[static_cast<size_t>(lane)];
        const uint8_t ch = static_cast<uint8_t>(midi_channel(t, lane));
        std::vector<Event> ev{meta_text(0x03, t.name)};
        ev.push_back({0, 1, {static_cast<uint8_t>(0xC0 | ch), static_cast<uint8_t>(t.program)}});
        std::map<int, int> sounding;
        for (const MidiEvent& e : events) {
            if (e.track != lane || e.beat > end_beat) continue;
            // A note-on at the file's last tick would sort after the closing note-offs and sound forever.
            if (e.on && ticks(e.beat) >= ticks(end_beat)) continue;
            ev.push_back({ticks(e.beat),
                          e.on ? 2 : 0,
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
