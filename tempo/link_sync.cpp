#include "tempo/link_sync.h"

#include <spdlog/spdlog.h>
#include <ableton/Link.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>

#include "tempo/beat_phase.h"

namespace wavecast {

LinkSync::LinkSync(double quantum) : quantum_(quantum) {}

LinkSync::~LinkSync() {
    if (link_) link_->enable(false);
}

void LinkSync::follow(const std::vector<BeatFollower*>& streams, double extra_s) {
    if (streams.empty()) return;
    if (!link_) {
        known_tempo_ = view_.tempo = streams.front()->tempo();
        link_ = std::make_unique<ableton::Link>(known_tempo_);
        link_->enable(true);
        spdlog::info("Ableton Link enabled: tempo {:.2f}, quantum {}", known_tempo_, quantum_);
    }
    auto state = link_->captureAppSessionState();
    const auto now = link_->clock().micros();
    const double session = state.tempo();
    const double ours = streams.front()->tempo();
    if (std::abs(session - known_tempo_) > 1e-6) {
        // The session moved (a peer, or joining one): every stream follows.
        const double bpm = std::clamp(session, 20.0, 300.0);
        for (BeatFollower* s : streams) s->set_tempo(bpm);
        spdlog::info("Ableton Link: tempo {:.2f} from the session ({} peers)", session, link_->numPeers());
        known_tempo_ = session;
    } else if (std::abs(ours - known_tempo_) > 1e-6) {
        // Changed here (`wavecast set tempo=...`): the session follows us.
        state.setTempo(ours, now);
        link_->commitAppSessionState(state);
        for (BeatFollower* s : streams) s->set_tempo(ours);
        known_tempo_ = ours;
        spdlog::info("Ableton Link: tempo {:.2f} given to the session", ours);
    }

    // Phase: the session's position against the beat each stream plays, both at one instant.
    // Read apart (the session's at the turn's start, ours after the tempo work), a control
    // thread preempted in between on a busy machine saw the gap as phase error.
    const auto link_at = link_->clock().micros();
    const auto ours_at = std::chrono::steady_clock::now();
    const PhaseReading r = pull_into_phase(streams, state.phaseAtTime(link_at, quantum_), ours_at, extra_s, quantum_);
    view_.phase_error_beats = r.error_beats, view_.nudge = r.nudge;
    view_.peers = link_->numPeers();
    view_.tempo = session;
}

}  // namespace wavecast
