// wavecast: the command-line client. Sends one request over ZeroMQ (REQ, with the lazy pirate
// pattern: on a timeout the socket is closed and reopened and the request sent again), prints
// the reply, and exits non-zero on an error reply or when the daemon does not answer.
#include <CLI/CLI.hpp>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "protocol/curve_keys.h"
#include "protocol/protocol.h"
#include "protocol/requests.h"

using json = nlohmann::json;
using namespace wavecast;
namespace p = wavecast::protocol;

namespace {

constexpr int kExitError = 1;    // the daemon answered with an error
constexpr int kExitNoReply = 2;  // no answer at all
constexpr int kExitUsage = 3;

struct Options {
    std::string endpoint = wavecast::protocol::kDefaultControl;
    std::string telemetry = wavecast::protocol::kDefaultTelemetry;
    bool json_out = false;
    int timeout_ms = 2000;
    int retries = 3;
    // CURVE, for a daemon with [security] curve = true: its public key and our key pair.
    std::string server_key, own_public, own_secret;
};

// A socket that speaks CURVE when the options say so; a daemon with CURVE ignores any other.
void secure(zmq::socket_t& s, const Options& o) {
    if (o.server_key.empty()) return;
    s.set(zmq::sockopt::curve_serverkey, o.server_key);
    s.set(zmq::sockopt::curve_publickey, o.own_public);
    s.set(zmq::sockopt::curve_secretkey, o.own_secret);
}

// Returns the reply, or nullopt after `retries` attempts without one.
std::optional<json> request(const Options& o, const json& req) {
    zmq::context_t ctx(1);
    const std::string payload = wavecast::protocol::to_wire(req);
    for (int attempt = 1; attempt <= o.retries; ++attempt) {
        zmq::socket_t s(ctx, zmq::socket_type::req);
        s.set(zmq::sockopt::linger, 0);
        secure(s, o);
        s.connect(o.endpoint);
        s.send(zmq::buffer(payload), zmq::send_flags::none);
        zmq::pollitem_t items[] = {{s.handle(), 0, ZMQ_POLLIN, 0}};
        zmq::poll(items, 1, std::chrono::milliseconds(o.timeout_ms));
        if (items[0].revents & ZMQ_POLLIN) {
            zmq::message_t m;
            (void)s.recv(m, zmq::recv_flags::none);
            json r = json::parse(m.to_string_view(), nullptr, false);
            if (r.is_discarded()) r = wavecast::protocol::error_reply(nullptr, "bad_reply", "the daemon's reply is not JSON");
            return r;
        }
        if (attempt < o.retries)
            std::fprintf(stderr, "wavecast: no reply from %s within %d ms, retrying (%d/%d)\n", o.endpoint.c_str(), o.timeout_ms,
                         attempt + 1, o.retries);
    }
    return std::nullopt;
}

void print_status(const json& r) {
    std::printf("backend %s, model %s (%s weights), %d Hz, up %.0f s\n", r.value("backend", "?").c_str(),
                r["model"].value("shape", "?").c_str(), r["model"].value("weights", "?").c_str(), r.value("sample_rate", 0),
                r.value("uptime_s", 0.0));
    if (r.contains("jack") && !r["jack"].value("connected", true))
        std::printf("JACK server away: reconnecting (the streams keep their state)\n");
    if (r.contains("link") && r["link"].value("enabled", false))
        std::printf("Ableton Link: %d peer(s), tempo %.2f, phase error %+.3f beats\n", r["link"].value("peers", 0),
                    r["link"].value("tempo", 0.0), r["link"].value("phase_error_beats", 0.0));
    for (const auto& s : r["streams"]) {
        std::printf("stream %s: style %s, %llu samples, rtf %.2f, ring %.0f/%.0f ms, underruns %llu, xruns %llu\n",
                    s.value("name", "?").c_str(), s.value("style", "?").c_str(),
                    static_cast<unsigned long long>(s.value("samples_generated", 0ull)), s.value("rtf", 0.0), s.value("ring_ms", 0.0),
                    s.value("lookahead_ms", 0.0), static_cast<unsigned long long>(s.value("underruns", 0ull)),
                    static_cast<unsigned long long>(s.value("xruns", 0ull)));
        std::printf("  bar %lld (%s), beat %.2f\n", static_cast<long long>(s.value("bar", 0ll)), s.value("section", "").c_str(),
                    s.value("beat", 0.0));
        std::printf("  params %s\n", s["params"].dump().c_str());
        if (s.contains("latency")) {
            const json& l = s["latency"];
            std::printf(
                "  a change reaches the JACK ports within %.0f ms: block %.0f + render %.0f + look-ahead %.0f + masking %.0f + "
                "limiter %.0f + resampler %.0f (gain_db %.0f ms, masking not in its way)\n",
                l.value("total_ms", 0.0), l.value("block_ms", 0.0), l.value("render_ms", 0.0), l.value("lookahead_ms", 0.0),
                l.value("masking_ms", 0.0), l.value("limiter_ms", 0.0), l.value("resampler_ms", 0.0), l.value("gain_total_ms", 0.0));
            if (s.value("producer_priority", 0) > 0) std::printf("  producer at realtime priority %d\n", s.value("producer_priority", 0));
        }
        if (s.value("generator_failures", 0) > 0)
            std::printf("  generator failed %d time(s), now on %s: %s\n", s.value("generator_failures", 0), s.value("backend", "?").c_str(),
                        s.value("last_failure", "").c_str());
        if (s["recording"].value("active", false))
            std::printf("  recording to %s (%llu frames)\n", s["recording"].value("path", "").c_str(),
                        static_cast<unsigned long long>(s["recording"].value("frames", 0ull)));
        if (!s["recording"].value("error", "").empty()) std::printf("  recording: %s\n", s["recording"].value("error", "").c_str());
    }
}

// One line a binding, as a performer reads a controller's layout ("ch" 0: any channel).
void print_mappings(const json& r) {
    const std::string file = r.contains("file") && r["file"].is_string() ? r["file"].get<std::string>() : "(no mapping file)";
    if (r.contains("cc")) std::printf("stream %s, %s\n", r.value("stream", "?").c_str(), file.c_str());
    auto ch = [](const json& b) { return b.value("channel", 0) ? std::to_string(b.value("channel", 0)) : std::string("any"); };
    for (const auto& b : r.value("cc", json::array()))
        std::printf("  CC %-3d ch %-3s -> %-12s %g .. %g (%s)\n", b.value("cc", 0), ch(b).c_str(), b.value("param", "").c_str(),
                    b.value("min", 0.0), b.value("max", 0.0), b.value("curve", "").c_str());
    for (const auto& b : r.value("program", json::array()))
        std::printf("  program %-3d ch %-3s -> style %s (crossfade %g s%s)\n", b.value("program", 0), ch(b).c_str(),
                    b.value("style", "").c_str(), b.value("crossfade", 0.0), b.value("now", false) ? ", now" : ", at the bar");
    for (const auto& b : r.value("keys", json::array()))
        std::printf("  notes %d..%d ch %-3s -> key\n", b.value("low", 0), b.value("high", 0), ch(b).c_str());
    for (const auto& b : r.value("cue", json::array()))
        std::printf("  note %-3d ch %-3s -> cue %s\n", b.value("note", 0), ch(b).c_str(), b.value("cue", "").c_str());
    if (r.contains("saved")) std::printf("saved to %s\n", r["saved"].get<std::string>().c_str());
}

int send_and_print(const Options& o, const json& req) {
    const auto reply = request(o, req);
    if (!reply) {
        std::fprintf(stderr, "wavecast: no reply from %s after %d tries of %d ms: is wavecastd running, and on this endpoint?%s\n",
                     o.endpoint.c_str(), o.retries, o.timeout_ms,
                     o.server_key.empty() ? " (a daemon with CURVE answers only --server-key/--key clients)"
                                          : " (or is this key not on the daemon's allowed_clients?)");
        return kExitNoReply;
    }
    const json& r = *reply;
    const bool ok = r.value("ok", false);
    if (o.json_out) {
        std::printf("%s\n", r.dump().c_str());
    } else if (!ok) {
        const json& e = r.contains("error") ? r["error"] : json::object();
        std::fprintf(stderr, "wavecast: %s failed (%s): %s\n", req.value("cmd", "?").c_str(), e.value("code", "?").c_str(),
                     e.value("message", "").c_str());
    } else if (req["cmd"] == "status") {
        print_status(r);
    } else if (req["cmd"] == "mappings") {
        print_mappings(r);
    } else if (req["cmd"] == "styles") {
        for (const auto& s : r["styles"]) std::printf("%-12s %s\n", s.value("name", "").c_str(), s.value("description", "").c_str());
    } else {
        json shown = r;
        shown.erase("ok");
        shown.erase("id");
        std::printf("ok %s\n", shown.dump().c_str());
    }
    return ok ? 0 : kExitError;
}

volatile std::sig_atomic_t g_stop = 0;

int watch(const Options& o, const std::string& topic, int count) {
    std::signal(SIGINT, [](int) { g_stop = 1; });
    std::signal(SIGTERM, [](int) { g_stop = 1; });
    zmq::context_t ctx(1);
    zmq::socket_t sub(ctx, zmq::socket_type::sub);
    sub.set(zmq::sockopt::linger, 0);
    sub.set(zmq::sockopt::subscribe, topic);
    secure(sub, o);
    sub.connect(o.telemetry);
    int seen = 0;
    while (!g_stop && (count <= 0 || seen < count)) {
        std::vector<zmq::message_t> parts;
        zmq::pollitem_t items[] = {{sub.handle(), 0, ZMQ_POLLIN, 0}};
        zmq::poll(items, 1, std::chrono::milliseconds(200));
        if (!(items[0].revents & ZMQ_POLLIN)) continue;
        if (!zmq::recv_multipart(sub, std::back_inserter(parts)) || parts.size() != 2) continue;
        if (o.json_out)
            std::printf("{\"topic\":%s,\"body\":%s}\n", json(parts[0].to_string()).dump().c_str(), parts[1].to_string().c_str());
        else std::printf("%s %s\n", parts[0].to_string().c_str(), parts[1].to_string().c_str());
        std::fflush(stdout);
        ++seen;
    }
    return 0;
}

// Every subcommand's arguments, and the request each makes.
struct Args {
    std::string stream = "main";
    std::string keygen_path;
    std::string style_name, blend;
    double crossfade = 0;
    bool now = false;
    std::vector<std::string> assignments;
    std::string path, record_midi;
    double seconds = 0;
    int bits = 24;
    bool overwrite = false;
    std::string score_path;
    std::string learn_param, learn_curve = "linear";
    std::optional<double> learn_min, learn_max;
    bool learn_cancel = false;
    bool mappings_save = false;
    std::string cue_what;
    std::string topic;
    int count = 0;
};

void add_stream_commands(CLI::App& app, Args& a) {
    app.add_subcommand("ping", "check that the daemon answers");
    app.add_subcommand("status", "show the daemon's and each stream's state");
    app.add_subcommand("styles", "list the styles");
    auto* style = app.add_subcommand("style", "switch the stream's style");
    style->add_option("NAME", a.style_name)->required();
    style->add_option("--blend", a.blend, "mix styles, e.g. a=0.3,b=0.7");
    style->add_option("--crossfade", a.crossfade, "seconds to morph over (0 to 600)");
    style->add_flag("--now", a.now, "switch at once instead of at the next bar");
    app.add_subcommand("set", "set live parameters, e.g. set temperature=0.9 gain_db=-3 (see `wavecast params`)")
        ->add_option("KEY=VALUE", a.assignments)
        ->required();
    app.add_subcommand("params", "list the live parameters `set` takes: ranges, units, defaults, meaning");
    auto* cue = app.add_subcommand("cue", "a performer's cue: a drum fill to end the bar, or the next section from the next bar");
    cue->add_option("WHAT", a.cue_what, "fill or next-section")->required();
}

void add_file_commands(CLI::App& app, Args& a) {
    auto* record = app.add_subcommand("record", "record what the stream plays to a .wav or .flac file");
    record->add_option("PATH", a.path, "output file, in the daemon's recordings folder (relative paths resolve there)")->required();
    record->add_option("--seconds", a.seconds, "stop after this long (default: until stop-record)");
    record->add_option("--bits", a.bits, "16 or 24");
    record->add_option("--midi", a.record_midi, "also write the stream's MIDI to this .mid file (in the recordings folder too)");
    record->add_flag("--overwrite", a.overwrite, "replace files of those names (refused otherwise)");
    app.add_subcommand("stop-record", "finish the stream's recording");
    app.add_subcommand("score", "play a MIDI file (on the daemon's machine) instead of composing, until the next style")
        ->add_option("PATH", a.score_path)
        ->required();
}

void add_midi_commands(CLI::App& app, Args& a) {
    auto* learn = app.add_subcommand("learn", "MIDI learn: the next knob moved on control_midi_in sets PARAM from then on");
    learn->add_option("PARAM", a.learn_param, "a live parameter (see `wavecast params`)");
    learn->add_option("--min", a.learn_min, "the value at the knob's bottom (default: the parameter's least)");
    learn->add_option("--max", a.learn_max, "the value at the knob's top (default: the parameter's greatest)");
    learn->add_option("--curve", a.learn_curve, "linear, or exp (equal ratios per step)");
    learn->add_flag("--cancel", a.learn_cancel, "forget a learn still waiting for a knob");
    app.add_subcommand("mappings", "list the stream's MIDI bindings")
        ->add_flag("--save", a.mappings_save, "also write them to the stream's mapping file (the old one kept as FILE.bak)");
}

// "a=0.3,b=0.7" -> the blend; nullopt (said why) when an item is not NAME=WEIGHT.
std::optional<std::vector<std::pair<std::string, double>>> parse_blend(const std::string& blend) {
    std::vector<std::pair<std::string, double>> out;
    std::stringstream ss(blend);
    for (std::string item; !blend.empty() && std::getline(ss, item, ',');) {
        const auto eq = item.find('=');
        try {
            if (eq == std::string::npos) throw std::invalid_argument(item);
            out.emplace_back(item.substr(0, eq), std::stod(item.substr(eq + 1)));
        } catch (const std::exception&) {
            std::fprintf(stderr, "wavecast: --blend takes NAME=WEIGHT,... ('%s' is not one)\n", item.c_str());
            return std::nullopt;
        }
    }
    return out;
}

// "temperature=0.9" ... -> set; nullopt (said why) for one that is not KEY=NUMBER. Names and
// ranges are the daemon's to check, with the reason.
std::optional<p::Set> parse_set(const std::optional<std::string>& stream, const std::vector<std::string>& assignments) {
    p::Set c{stream, {}};
    for (const auto& a : assignments) {
        const auto eq = a.find('=');
        size_t used = 0;
        double v = 0;
        try {
            if (eq == std::string::npos || eq == 0) throw std::invalid_argument(a);
            v = std::stod(a.substr(eq + 1), &used);
            if (used != a.size() - eq - 1) throw std::invalid_argument(a);
        } catch (const std::exception&) {
            std::fprintf(stderr, "wavecast: '%s' is not KEY=NUMBER (e.g. temperature=0.9)\n", a.c_str());
            return std::nullopt;
        }
        c.params.emplace_back(a.substr(0, eq), v);
    }
    return c;
}

// The request `cmd` makes of the daemon; nullopt (said why) for arguments it cannot send.
std::optional<p::Command> command_for(const std::string& cmd, const Args& a) {
    const std::optional<std::string> on = a.stream;
    if (cmd == "ping") return p::Ping{};
    if (cmd == "status") return p::Status{};
    if (cmd == "styles") return p::Styles{};
    if (cmd == "style") {
        auto blend = parse_blend(a.blend);
        if (!blend) return std::nullopt;
        return p::StyleCmd{on, a.style_name, a.now, a.crossfade, std::move(*blend)};
    }
    if (cmd == "set") return parse_set(on, a.assignments);
    if (cmd == "record") return p::Record{on, a.path, a.seconds, a.bits, a.record_midi, a.overwrite};
    if (cmd == "score") return p::Score{on, a.score_path};
    if (cmd == "stop-record") return p::StopRecord{on};
    if (cmd == "mappings") return p::Mappings{on, a.mappings_save};
    if (cmd == "learn") {
        const auto curve = p::from_name<p::Curve>(a.learn_curve);
        if (a.learn_param.empty() == !a.learn_cancel || !curve) {
            std::fprintf(stderr, "wavecast: learn takes a PARAM, or --cancel; --curve is %s\n", p::choices_text<p::Curve>().c_str());
            return std::nullopt;
        }
        return p::Learn{on, a.learn_param, a.learn_min, a.learn_max, *curve, a.learn_cancel};
    }
    if (cmd == "cue") {
        // On the command line the words are joined with a dash, as options are.
        const auto what = p::from_name<p::CueKind>(a.cue_what == "next-section" ? "next_section" : a.cue_what);
        if (!what) {
            std::fprintf(stderr, "wavecast: cue takes fill or next-section\n");
            return std::nullopt;
        }
        return p::Cue{on, *what};
    }
    return std::nullopt;
}

// The CURVE keys of `o`, from the options; false (said why) when they cannot be had.
bool take_keys(Options& o, const std::string& server_key, const std::string& key_file, int& rc) {
    if (server_key.empty() != key_file.empty()) {
        std::fprintf(stderr, "wavecast: CURVE needs both --server-key and --key\n");
        rc = kExitUsage;
        return false;
    }
    if (server_key.empty()) return true;
    try {
        o.server_key = wavecast::public_key_of(server_key);
        const auto own = wavecast::read_curve_keys(key_file);
        if (own.secret_key.empty()) throw std::runtime_error(key_file + ": holds no secret key (give the pair, not the .pub)");
        o.own_public = own.public_key;
        o.own_secret = own.secret_key;
        return true;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "wavecast: %s\n", e.what());
        rc = kExitError;
        return false;
    }
}

// The live parameters' table, as Markdown or (--json) an array of {name, min, max, integer,
// default (null: the stream's own), unit, help}: what scripts read instead of naming them.
int print_params(bool as_json) {
    if (!as_json) return std::fputs(params_markdown().c_str(), stdout) < 0;
    json out = json::array();
    for (const auto& p : kParams)
        out.push_back({{"name", p.name},
                       {"min", p.min},
                       {"max", p.max},
                       {"integer", p.integer},
                       {"default", std::isnan(p.fallback) ? json(nullptr) : json(p.fallback)},
                       {"unit", p.unit},
                       {"help", p.help}});
    std::printf("%s\n", out.dump(1).c_str());
    return 0;
}

int keygen(const std::string& path) {
    try {
        const auto keys = wavecast::generate_curve_keys();
        wavecast::write_curve_keys(path, keys);
        std::printf("wrote %s (secret) and %s.pub\npublic key %s\n", path.c_str(), path.c_str(), keys.public_key.c_str());
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "wavecast: %s\n", e.what());
        return kExitError;
    }
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"wavecast: steer a running wavecastd"};
    Options o;
    Args a;
    app.add_option("--endpoint", o.endpoint, "control endpoint of wavecastd");
    app.add_option("--telemetry", o.telemetry, "telemetry endpoint (for watch)");
    app.add_option("--stream", a.stream, "which stream a command addresses");
    app.add_flag("--json", o.json_out, "print replies as JSON");
    app.add_option("--timeout", o.timeout_ms, "milliseconds to wait for each reply")->check(CLI::Range(10, 600000));
    app.add_option("--retries", o.retries, "attempts before giving up")->check(CLI::Range(1, 100));
    std::string server_key, key_file;
    if (const char* e = std::getenv("WAVECAST_SERVER_KEY")) server_key = e;
    if (const char* e = std::getenv("WAVECAST_KEY")) key_file = e;
    app.add_option("--server-key", server_key, "the daemon's CURVE public key, or its .pub file ($WAVECAST_SERVER_KEY)");
    app.add_option("--key", key_file, "our CURVE key pair file, from `wavecast keygen` ($WAVECAST_KEY)");
    app.require_subcommand(1);
    app.add_subcommand("keygen", "make a CURVE key pair: PATH (secret) and PATH.pub (to give the other side)")
        ->add_option("PATH", a.keygen_path)
        ->required();
    add_stream_commands(app, a);
    add_file_commands(app, a);
    add_midi_commands(app, a);
    auto* watch_cmd = app.add_subcommand("watch", "print telemetry as it arrives");
    watch_cmd->add_option("TOPIC", a.topic, "status, log, ... (default: all)");
    watch_cmd->add_option("--count", a.count, "exit after this many messages");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);
        return rc == 0 ? 0 : kExitUsage;
    }

    const std::string cmd = app.get_subcommands().front()->get_name();
    if (cmd == "params") return print_params(o.json_out);
    if (cmd == "keygen") return keygen(a.keygen_path);
    if (int rc = 0; !take_keys(o, server_key, key_file, rc)) return rc;
    if (cmd == "watch") return watch(o, a.topic, a.count);
    const std::optional<p::Command> command = command_for(cmd, a);
    if (!command) return kExitUsage;
    return send_and_print(o, p::to_json(*command));
}
