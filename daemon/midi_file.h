// Standard MIDI files (SMF type 1) of the composer's notes: a tempo track, then one track per
// lane on its own channel (GM drums on channel 10) with its name and program change. Times are
// the notes' places on the beat grid at 480 ticks per quarter note.
#pragma once

#include <string>
#include <vector>

#include "composer.h"
#include "style.h"

namespace wavecast {

// `end_beat`: notes still sounding there are ended there. Throws std::runtime_error naming the path.
void write_midi_file(const std::string& path, const Style& style, int lanes, double tempo_bpm,
                     const std::vector<MidiEvent>& events, double end_beat);

// The MIDI channel (0-based) of a lane: drums on 9, the others in order around it.
int midi_channel(const TrackStyle& track, int lane);

}  // namespace wavecast
