// A stream's network outputs (Icecast sources, icecast_output.h) as the config lists them: fed
// by the producer after each block reaches the ring, changed by a reload, read by status. The
// producer takes no lock and allocates nothing per block: a change waits until its next block.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "output/icecast_output.h"

namespace wavecast {

class NetworkOutputs {
public:
    explicit NetworkOutputs(std::string stream) : stream_(std::move(stream)) {}

    // Any thread: the outputs `configs` lists, taken up before the producer's next block. An
    // output whose settings are unchanged keeps its connection; the others are closed or opened.
    void set(std::vector<IcecastConfig> configs);
    // Producer: a block as it plays (interleaved stereo at `rate`) and its title.
    void push(const float* interleaved, size_t frames, int rate, const std::string& title);
    // Any thread: each output's state, in the config's order (as of the last block).
    std::vector<IcecastStatus> status() const;

private:
    void take_change();

    const std::string stream_;
    std::atomic<bool> changed_{false};
    std::mutex pending_mu_;
    std::vector<IcecastConfig> pending_;
    // Changed only by the producer, under list_mu_, which status() takes to read it.
    mutable std::mutex list_mu_;
    std::vector<std::unique_ptr<IcecastOutput>> outputs_;
};

}  // namespace wavecast
