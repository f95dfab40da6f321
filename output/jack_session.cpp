#include "output/jack_session.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace wavecast {
namespace {
constexpr uint32_t kClockPeriod = 1024;  // frames a period of the internal clock, as the dummy jackd's
}  // namespace

JackSession::JackSession(Settings settings, ControlMidiIn& midi_in) : settings_(std::move(settings)), midi_in_(midi_in) {
    if (!settings_.enabled) {
        spdlog::info("JACK disabled ([jack] enabled = false): the streams play by the internal clock at {} Hz", settings_.internal_rate);
        return;
    }
    try {
        jack_ = std::make_unique<JackOutput>(settings_.client, settings_.server);
        spdlog::info("JACK client '{}' at {} Hz, period {} frames", settings_.client, jack_->sample_rate(), jack_->buffer_size());
    } catch (const JackServerMissing& e) {
        spdlog::warn("no JACK server answers ({}); the streams play by the internal clock at {} Hz until one does", e.what(),
                     settings_.internal_rate);
    }
}

JackSession::~JackSession() { stop(); }

int JackSession::rate() const { return jack_ ? jack_->sample_rate() : settings_.internal_rate; }

void JackSession::start(std::vector<StreamOutput*> outputs) {
    outputs_ = std::move(outputs);
    rate_ = rate();
    if (!jack_) return start_clock();
    for (StreamOutput* o : outputs_) jack_->add_stream(o);
    jack_->add_control_input(&midi_in_);
    jack_->activate(settings_.autoconnect);
}

void JackSession::start_clock() {
    std::lock_guard lock(mu_);
    clock_ = std::make_unique<InternalClock>(outputs_, rate_, kClockPeriod);
}

void JackSession::stop_clock() {
    std::lock_guard lock(mu_);
    if (clock_) cycles_before_ += clock_->cycles();
    clock_.reset();
}

uint64_t JackSession::step() {
    const auto now = std::chrono::steady_clock::now();
    if (settings_.enabled) {
        if (jack_ && !jack_->server_gone()) {
            connections_ = jack_->connections();
        } else {
            if (jack_) {
                spdlog::error("the JACK server went away; reconnecting as '{}' with backoff, the streams on the internal clock meanwhile",
                              settings_.client);
                {
                    std::lock_guard lock(mu_);
                    cycles_before_ += jack_->cycles();
                    xruns_before_ += jack_->xruns();
                    jack_.reset();
                }
                start_clock();
                backoff_s_ = 0.1;
                next_try_ = now;
            }
            if (now >= next_try_) rejoin(now);
        }
    }
    std::lock_guard lock(mu_);
    return cycles_before_ + (jack_ ? jack_->cycles() : 0) + (clock_ ? clock_->cycles() : 0);
}

void JackSession::rejoin(std::chrono::steady_clock::time_point now) {
    try {
        auto joined = std::make_unique<JackOutput>(settings_.client, settings_.server);  // throws while no server answers
        // One clock at a time: the internal one stops before JACK's callbacks begin.
        stop_clock();
        for (StreamOutput* o : outputs_) {
            if (const std::string note = o->reopened_at(joined->sample_rate()); !note.empty())
                spdlog::warn("stream '{}': {}", o->name(), note);
            joined->add_stream(o);
        }
        joined->add_control_input(&midi_in_);
        const bool first = connections_.empty();
        joined->activate(first && settings_.autoconnect);
        if (!first) joined->restore(connections_);
        {
            std::lock_guard lock(mu_);
            jack_ = std::move(joined);
        }
        rate_ = jack_->sample_rate();
        spdlog::info("JACK server {}: client '{}' at {} Hz, period {} frames", first ? "joined" : "back", settings_.client,
                     jack_->sample_rate(), jack_->buffer_size());
    } catch (const std::exception& e) {
        if (!clock_) start_clock();
        // A server that answers but refuses us is worth a line each try; one still away is not.
        if (dynamic_cast<const JackServerMissing*>(&e))
            spdlog::debug("JACK reconnection failed: {}; next try in {:.1f} s", e.what(), backoff_s_);
        else spdlog::warn("JACK reconnection refused: {}; next try in {:.1f} s", e.what(), backoff_s_);
        next_try_ = now + std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(backoff_s_));
        backoff_s_ = std::min(backoff_s_ * 2, 2.0);
    }
}

void JackSession::stop() {
    std::unique_ptr<JackOutput> jack;
    {
        std::lock_guard lock(mu_);
        jack.swap(jack_);
    }
    if (jack) jack->deactivate();
    jack.reset();
    stop_clock();
}

JackView JackSession::status() const {
    std::lock_guard lock(mu_);
    JackView s;
    s.enabled = settings_.enabled;
    s.client = settings_.client;
    s.connected = jack_ != nullptr;
    s.buffer_size = jack_ ? jack_->buffer_size() : 0;
    s.realtime = jack_ ? jack_->realtime() : false;
    s.xruns = xruns_before_ + (jack_ ? jack_->xruns() : 0);
    s.internal_clock = clock_ != nullptr;
    return s;
}

int JackSession::callback_priority() const {
    std::lock_guard lock(mu_);
    return jack_ ? jack_->callback_priority() : 0;
}

double JackSession::transport_bpm() const {
    std::lock_guard lock(mu_);
    return jack_ ? jack_->transport_bpm() : 0.0;
}

double JackSession::output_latency_s() const {
    std::lock_guard lock(mu_);
    return jack_ ? jack_->output_latency_s() : 0.0;
}

}  // namespace wavecast
