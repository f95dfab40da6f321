// Ableton Link: wavecast joins the Link session on the local network (performers' DAWs, apps,
// hardware), takes its tempo, gives it ours when ours is changed here, and pulls its streams'
// beat into phase with the session's (per quantum, a bar of 4 by default).
#pragma once

#include <memory>
#include <vector>

#include "tempo/tempo_source.h"

namespace ableton {
class Link;
}

namespace wavecast {

class LinkSync final : public TempoSource {
public:
    explicit LinkSync(double quantum);
    ~LinkSync() override;

    // Adopts a tempo the session changed, publishes one changed here (on the first stream), and
    // nudges every stream's tempo by up to 5 % until its beat is in phase with the session's. The
    // session is joined at the first turn, with the first stream's tempo.
    void follow(const std::vector<BeatFollower*>& streams, double latency_s) override;
    void describe(TempoStatus& into) const override { into.link = view_; }

private:
    std::unique_ptr<ableton::Link> link_;
    const double quantum_;
    double known_tempo_ = 0;  // the tempo both sides last agreed on
    LinkView view_;
};

}  // namespace wavecast
