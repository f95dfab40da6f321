// Writing standard MIDI files: the chunks, the variable-length times, meta events, and a type-0
// file of raw channel messages. The composer's own files (score/midi_file.h) and a recording's
// MIDI (output/recorder.h) are built with it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace wavecast {
namespace smf {

inline constexpr int kPpq = 480;  // ticks per quarter note

struct Event {
    uint32_t tick;
    int order;  // ties: note-offs (0) before meta and programme (1) before note-ons (2)
    std::vector<uint8_t> bytes;
};

void put_var(std::vector<uint8_t>& out, uint32_t v);
void put_be(std::vector<uint8_t>& out, uint32_t v, int bytes);
// "MThd": format 0 or 1, `tracks` tracks, kPpq.
std::vector<uint8_t> header(int format, int tracks);
// "MTrk" of `events`, in order of tick and, within one, of `order`.
std::vector<uint8_t> track_chunk(std::vector<Event> events);
Event meta_text(uint8_t type, const std::string& text);
Event set_tempo(double bpm);
uint32_t ticks(double beat);

}  // namespace smf

// A MIDI channel message at a place on the beat grid.
struct TimedMessage {
    double beat;
    uint8_t bytes[3];
    uint8_t size;
};

// A type-0 file of raw channel messages (e.g. what a recording captured off MIDI out), with one
// tempo; notes still on at `end_beat` are ended there, and note-offs of notes that began before
// the first message are left out. The file's bytes.
std::vector<uint8_t> midi_messages_file(double tempo_bpm, const std::vector<TimedMessage>& messages, double end_beat);

}  // namespace wavecast
