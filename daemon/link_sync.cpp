#include "link_sync.h"

#include <spdlog/spdlog.h>
#include <ableton/Link.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>

#include "stream.h"

namespace wavecast {
namespace {

// How hard the phase is pulled: 0.5 % faster or slower per hundredth of a beat of error, at
// most 5 %. The nudge is heard a look-ahead later, so the gain stays well inside what that delay
// allows (gain x beats per second x look-ahead << 1). Within the dead band (1.5 ms at 120 bpm)
// the tempo is left alone.
constexpr double kGainPerBeat = 0.5, kMaxNudge = 0.05, kDeadBandBeats = 0.003;

}  // namespace

LinkSync::LinkSync(double tempo, double quantum) : link_(std::make_unique<ableton::Link>(tempo)), quantum_(quantum), known_tempo_(tempo) {
    link_->enable(true);
    view_.enabled = true;
    view_.tempo = tempo;
}

LinkSync::~LinkSync() { link_->enable(false); }

void LinkSync::follow(const std::vector<std::unique_ptr<Stream>>& streams, double extra_s) {
    if (streams.empty()) return;
    auto state = link_->captureAppSessionState();
    const auto now = link_->clock().micros();
    const double session = state.tempo();
    const double ours = streams.front()->tempo();
    if (std::abs(session - known_tempo_) > 1e-6) {
        // The session moved (a peer, or joining one): every stream follows.
        const double bpm = std::clamp(session, 20.0, 300.0);
        for (const auto& s : streams) s->set_param(Param::tempo, bpm);
        spdlog::info("Ableton Link: tempo {:.2f} from the session ({} peers)", session, link_->numPeers());
        known_tempo_ = session;
    } else if (std::abs(ours - known_tempo_) > 1e-6) {
        // Changed here (`wavecast set tempo=...`): the session follows us.
        state.setTempo(ours, now);
        link_->commitAppSessionState(state);
        for (const auto& s : streams) s->set_param(Param::tempo, ours);
        known_tempo_ = ours;
        spdlog::info("Ableton Link: tempo {:.2f} given to the session", ours);
    }

    // Phase: the session's position in its quantum against the beat each stream plays, both at
    // one instant. Read apart (the session's at the turn's start, ours after the tempo work),
    // a control thread preempted in between on a busy machine saw the gap as phase error.
    const auto link_at = link_->clock().micros();
    const auto ours_at = std::chrono::steady_clock::now();
    const double session_phase = state.phaseAtTime(link_at, quantum_);
    for (size_t i = 0; i < streams.size(); ++i) {
        const double ours_phase = std::fmod(std::fmod(streams[i]->playing_beat(ours_at, extra_s), quantum_) + quantum_, quantum_);
        double err = session_phase - ours_phase;
        if (err > quantum_ / 2) err -= quantum_;
        if (err <= -quantum_ / 2) err += quantum_;
        const double nudge = std::abs(err) < kDeadBandBeats ? 1.0 : 1.0 + std::clamp(kGainPerBeat * err, -kMaxNudge, kMaxNudge);
        streams[i]->set_tempo_nudge(nudge);
        if (i == 0) view_.phase_error_beats = err, view_.nudge = nudge;
    }
    view_.peers = link_->numPeers();
    view_.tempo = session;
}

LinkView LinkSync::view() const { return view_; }

}  // namespace wavecast
