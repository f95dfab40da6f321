// Standard MIDI files (SMF type 1) of the composer's notes: a tempo track, then one track per
// lane on its own channel (GM drums on channel 10) with its name and program change. Times are
// the notes' places on the beat grid at 480 ticks per quarter note.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "score/composer.h"
#include "score/style.h"

namespace wavecast {

// `end_beat`: notes still sounding there are ended there. Throws std::runtime_error naming the path.
void write_midi_file(const std::string& path, const Style& style, int lanes, double tempo_bpm, const std::vector<MidiEvent>& events,
                     double end_beat);

// A standard MIDI file read for playing through the neural instruments: one part per (track,
// channel) that has notes, in order of appearance, each becoming a lane.
struct MidiScore {
    double tempo_bpm = 120;  // the first tempo in the file (later changes are not followed)
    double beats = 0;        // up to the last note's end
    Style style;             // a lane per part: its name, GM program, drums on channel 10
    std::vector<ScoreNote> notes;
};

// The largest MIDI file read: far beyond any score (a dense hour is a few MB), small enough to
// parse in milliseconds.
inline constexpr size_t kMaxMidiFileBytes = 16u << 20;

// Throws std::runtime_error "PATH: reason" for a file that is not a readable SMF (format 0 or 1,
// ticks per quarter note), is not a regular file, or is larger than kMaxMidiFileBytes.
MidiScore read_midi_file(const std::string& path);

// The MIDI channel (0-based) of a lane: drums on 9, the others in order around it.
int midi_channel(const TrackStyle& track, int lane);

}  // namespace wavecast
