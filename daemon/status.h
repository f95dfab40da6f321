// What `status` says, gathered into one struct and written as JSON in one place. Each of the
// leaf structs (JackView, LinkView, MidiClockView, IcecastStatus, RecorderStatus,
// LoudnessStats, LatencyView) is written field for field by a to_json of its own here, and a unit test holds
// each one's keys to its fields, so a field added to one cannot go unpublished.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "daemon/midi_schedule.h"
#include "daemon/stream.h"
#include "output/jack_session.h"
#include "tempo/tempo_source.h"

namespace wavecast {

struct ModelStatus {
    std::string path, shape;
    bool trained = false;
};

struct DaemonStatus {
    std::string backend;  // the first stream's generator (it changes should the stream fall back)
    ModelStatus model;
    int sample_rate = 0, output_rate = 0;
    double uptime_s = 0;
    JackView jack;
    TempoStatus tempo;
    std::vector<StreamStatus> streams;
};

nlohmann::json to_json(const DaemonStatus& s);
nlohmann::json to_json(const JackView& s);
nlohmann::json to_json(const LinkView& s);
nlohmann::json to_json(const MidiClockView& s);
nlohmann::json to_json(const IcecastStatus& s);
nlohmann::json to_json(const RecorderStatus& s);
nlohmann::json to_json(const LoudnessStats& s);
nlohmann::json to_json(const LatencyView& s);
// One stream's entry: its live parameters (every entry of params.h's table), its last block's
// report, its output's counts and its recording.
nlohmann::json stream_json(const StreamStatus& status, uint64_t xruns);

// The body of a telemetry "notes" message: {"stream", "events": [{track, lane, on, pitch,
// velocity, beat}]}.
nlohmann::json notes_message(const std::string& stream, const std::vector<MidiSchedule::SoundedNote>& notes);

}  // namespace wavecast
