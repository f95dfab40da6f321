#include "score/midi_file.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <map>
#include <stdexcept>

#include "util/files.h"
#include "util/smf.h"

namespace wavecast {
namespace {

// The bytes of a MIDI file and where reading has got to; every read is bounded by the end of the
// chunk being read, so an event may not run into the next one.
class SmfBytes {
public:
    SmfBytes(std::string path, std::vector<uint8_t> bytes) : path_(std::move(path)), b_(std::move(bytes)), limit_(b_.size()) {}
    std::runtime_error fail(const std::string& why) const {
        return std::runtime_error(path_ + ": " + why + " (at byte " + std::to_string(at_) + ")");
    }
    void need(size_t n) const {
        if (at_ > limit_ || n > limit_ - at_) throw fail(limit_ == b_.size() ? "truncated" : "event runs past the end of its track");
    }
    uint32_t be(int n) {
        need(static_cast<size_t>(n));
        uint32_t v = 0;
        for (int i = 0; i < n; ++i) v = v << 8 | b_[at_++];
        return v;
    }
    uint32_t var() {
        uint32_t v = 0;
        for (int i = 0; i < 4; ++i) {
            const uint8_t c = byte();
            v = v << 7 | (c & 0x7F);
            if (!(c & 0x80)) return v;
        }
        throw fail("variable-length number longer than 4 bytes");
    }
    uint8_t byte() {
        need(1);
        return b_[at_++];
    }
    uint8_t peek() const {
        need(1);
        return b_[at_];
    }
    std::string text(size_t n) {
        need(n);
        std::string s(b_.begin() + static_cast<long>(at_), b_.begin() + static_cast<long>(at_ + n));
        at_ += n;
        return s;
    }
    size_t at() const { return at_; }
    size_t size() const { return b_.size(); }
    void seek(size_t at) { at_ = at; }
    void limit_to(size_t end) { limit_ = end; }

private:
    std::string path_;
    std::vector<uint8_t> b_;
    size_t at_ = 0, limit_;
};

// The score being read: a part per (track, channel) that has notes, each a lane.
struct ScoreReader {
    MidiScore score;
    uint32_t division = 480;
    bool have_tempo = false;
    struct Part {
        int track, channel, program = 0;
        std::string name;
    };
    std::vector<Part> parts;
    std::map<int, int> programs;  // (track << 4 | channel) -> last program

    int part_of(int track, int channel, const std::string& name) {
        for (size_t i = 0; i < parts.size(); ++i)
            if (parts[i].track == track && parts[i].channel == channel) return static_cast<int>(i);
        parts.push_back({track, channel, 0, name.empty() ? "channel " + std::to_string(channel + 1) : name});
        return static_cast<int>(parts.size()) - 1;
    }

    void meta(SmfBytes& in, std::string& name) {
        const uint8_t type = in.byte();
        const uint32_t n = in.var();
        const std::string data = in.text(n);
        if (type == 0x51 && n == 3 && !have_tempo) {
            const uint32_t us_per_beat = static_cast<uint32_t>(uint8_t(data[0]) << 16 | uint8_t(data[1]) << 8 | uint8_t(data[2]));
            if (us_per_beat == 0) throw in.fail("tempo of 0 microseconds per beat");
            score.tempo_bpm = 60e6 / us_per_beat;
            have_tempo = true;
        }
        if (type == 0x03) name = data;
    }

    void track(SmfBytes& in, int t) {
        in.need(8);
        if (in.text(4) != "MTrk") throw in.fail("expected MTrk");
        const uint32_t len = in.be(4);
        in.need(len);
        const size_t end = in.at() + len;
        in.limit_to(end);
        uint64_t tick = 0;
        uint8_t status = 0;
        std::string name;
        std::map<int, std::pair<uint64_t, int>> open;  // (channel << 8 | pitch) -> (tick, velocity)
        while (in.at() < end) {
            tick += in.var();
            if (in.peek() & 0x80) status = in.byte();
            else if (!status) throw in.fail("running status without a status byte");
            if (status == 0xFF || status == 0xF0 || status == 0xF7) {
                if (status == 0xFF) meta(in, name);
                else in.text(in.var());  // system exclusive, skipped
                status = 0;
                continue;
            }
            if (status > 0xF0) throw in.fail("system message " + std::to_string(status) + " in a MIDI file");
            const int kind = status & 0xF0, ch = status & 0x0F;
            const int d1 = in.byte(), d2 = (kind == 0xC0 || kind == 0xD0) ? 0 : in.byte();
            if ((d1 | d2) & 0x80) throw in.fail("data byte above 127");
            if (kind == 0xC0) programs[t << 4 | ch] = d1;
            if (kind == 0x90 && d2 > 0) open[ch << 8 | d1] = {tick, d2};
            else if (kind == 0x80 || kind == 0x90) note_off(open, t, ch, d1, tick, name);
        }
        in.seek(end);
        in.limit_to(in.size());
    }

    void note_off(std::map<int, std::pair<uint64_t, int>>& open, int t, int ch, int pitch, uint64_t tick, const std::string& name) {
        auto it = open.find(ch << 8 | pitch);
        if (it == open.end()) return;
        const int lane = part_of(t, ch, name);
        parts[static_cast<size_t>(lane)].program = programs[t << 4 | ch];
        const double start = static_cast<double>(it->second.first) / division, stop = static_cast<double>(tick) / division;
        score.notes.push_back({lane, pitch, it->second.second, start, std::max(stop, start + 1.0 / division)});
        score.beats = std::max(score.beats, stop);
        open.erase(it);
    }

    // The style the parts make: a lane each, with its name, GM program and drums on channel 10.
    void make_style(const std::string& path) {
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
    }
};

}  // namespace

MidiScore read_midi_file(const std::string& path) {
    SmfBytes in(path, read_regular_file(path, kMaxMidiFileBytes));
    if (in.size() < 14 || in.text(4) != "MThd") throw in.fail("not a standard MIDI file (no MThd)");
    const uint32_t header_len = in.be(4);
    const uint32_t format = in.be(2), tracks = in.be(2);
    ScoreReader reader;
    reader.division = in.be(2);
    in.seek(8 + header_len);
    if (format > 1) throw in.fail("MIDI format " + std::to_string(format) + " is not supported (0 or 1)");
    if (reader.division & 0x8000 || reader.division == 0) throw in.fail("SMPTE time division is not supported");
    for (uint32_t t = 0; t < tracks; ++t) reader.track(in, static_cast<int>(t));
    if (reader.score.notes.empty()) throw in.fail("no notes");
    std::sort(reader.score.notes.begin(), reader.score.notes.end(),
              [](const ScoreNote& a, const ScoreNote& c) { return a.start < c.start; });
    reader.make_style(path);
    return std::move(reader.score);
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
