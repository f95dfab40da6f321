"""Prints the note events of a standard MIDI file as JSON lines, read with a third-party reader
(mido), so the test compares wavecast's writer against someone else's parser."""
import json
import sys

import mido

midi = mido.MidiFile(sys.argv[1])
print(json.dumps({"type": midi.type, "ticks_per_beat": midi.ticks_per_beat, "tracks": [t.name for t in midi.tracks]}))
for index, track in enumerate(midi.tracks):
    tick = 0
    for msg in track:
        tick += msg.time
        if msg.type == "program_change":
            print(json.dumps({"track": index, "tick": tick, "program": msg.program, "channel": msg.channel}))
        elif msg.type in ("note_on", "note_off"):
            on = msg.type == "note_on" and msg.velocity > 0
            print(json.dumps({"track": index, "tick": tick, "on": on, "note": msg.note, "velocity": msg.velocity if on else 0,
                              "channel": msg.channel}))
