// Ableton Link: wavecast joins the Link session on the local network (performers' DAWs, apps,
// hardware), takes its tempo, gives it ours when ours is changed here, and pulls its streams'
// beat into phase with the session's (per quantum, a bar of 4 by default).
#pragma once

#include <cstddef>
#include <memory>
#include <vector>

namespace ableton {
class Link;
}

namespace wavecast {

class Stream;

struct LinkView {
    bool enabled = false;
    size_t peers = 0;
    double tempo = 0;              // the session's
    double phase_error_beats = 0;  // the session's phase less the first stream's, in (-q/2, q/2]
    double nudge = 1;              // the tempo factor pulling it into phase
};

class LinkSync {
public:
    LinkSync(double tempo, double quantum);
    ~LinkSync();

    // Called by the control thread at each turn (tens of ms): adopts a tempo the session
    // changed, publishes one changed here (on the first stream), and nudges every stream's tempo
    // by up to 5 % until its beat is in phase with the session's. `extra_s`: the output latency
    // after the ring (JackOutput::output_latency_s).
    void follow(const std::vector<std::unique_ptr<Stream>>& streams, double extra_s);
    LinkView view() const;

private:
    std::unique_ptr<ableton::Link> link_;
    const double quantum_;
    double known_tempo_;  // the tempo both sides last agreed on
    LinkView view_;
};

}  // namespace wavecast
