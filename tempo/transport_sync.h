// Following JACK transport's timebase master (a DAW, a sequencer): while it rolls, every stream
// takes its tempo ([jack] follow_transport, which a reload may turn on or off).
#pragma once

#include <atomic>
#include <functional>

#include "tempo/tempo_source.h"

namespace wavecast {

class TransportSync final : public TempoSource {
public:
    // `bpm`: the transport's tempo while it rolls, 0 while it does not or no server plays.
    TransportSync(std::function<double()> bpm, bool enabled) : bpm_(std::move(bpm)), enabled_(enabled) {}
    void set_enabled(bool on) { enabled_ = on; }
    void follow(const std::vector<BeatFollower*>& streams, double latency_s) override;
    void describe(TempoStatus&) const override {}

private:
    std::function<double()> bpm_;
    std::atomic<bool> enabled_;
};

}  // namespace wavecast
