#include "output/network_outputs.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace wavecast {

void NetworkOutputs::set(std::vector<IcecastConfig> configs) {
    {
        std::lock_guard lock(pending_mu_);
        pending_ = std::move(configs);
    }
    changed_.store(true, std::memory_order_release);
}

void NetworkOutputs::take_change() {
    std::vector<IcecastConfig> configs;
    {
        std::lock_guard lock(pending_mu_);
        configs.swap(pending_);
        changed_.store(false, std::memory_order_relaxed);
    }
    std::vector<std::unique_ptr<IcecastOutput>> next, gone;
    for (const IcecastConfig& c : configs) {
        auto same = std::find_if(outputs_.begin(), outputs_.end(), [&](const auto& o) { return o && o->config() == c; });
        if (same != outputs_.end()) {
            next.push_back(std::move(*same));
        } else {
            next.push_back(std::make_unique<IcecastOutput>(stream_, c));
            spdlog::info("stream '{}': output icecast http://{}:{}{} ({}, {} kbit/s)", stream_, c.host, c.port, c.mount, c.format,
                         c.bitrate_kbps);
        }
    }
    for (auto& o : outputs_)
        if (o) gone.push_back(std::move(o));
    {
        std::lock_guard lock(list_mu_);
        outputs_ = std::move(next);
    }
    for (const auto& o : gone) spdlog::info("stream '{}': output {} closed", stream_, o->status().url);
    // `gone` closes its connections here (each within tens of milliseconds), outside the lock.
}

void NetworkOutputs::push(const float* interleaved, size_t frames, int rate, const std::string& title) {
    if (changed_.load(std::memory_order_acquire)) take_change();
    for (const auto& o : outputs_) o->push(interleaved, frames, rate, title);
}

std::vector<IcecastStatus> NetworkOutputs::status() const {
    std::lock_guard lock(list_mu_);
    std::vector<IcecastStatus> out;
    for (const auto& o : outputs_) out.push_back(o->status());
    return out;
}

}  // namespace wavecast
