// wavecast: the command-line client. Sends one request over ZeroMQ (REQ, with the lazy pirate
// pattern: on a timeout the socket is closed and reopened and the request sent again), prints
// the reply, and exits non-zero on an error reply or when the daemon does not answer.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "curve_keys.h"
#include "protocol.h"
#include "requests.h"

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

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"wavecast: steer a running wavecastd"};
    Options o;
    std::string stream = "main";
    app.add_option("--endpoint", o.endpoint, "control endpoint of wavecastd");
    app.add_option("--telemetry", o.telemetry, "telemetry endpoint (for watch)");
    app.add_option("--stream", stream, "which stream a command addresses");
    app.add_flag("--json", o.json_out, "print replies as JSON");
    app.add_option("--timeout", o.timeout_ms, "milliseconds to wait for each reply")->check(CLI::Range(10, 600000));
    app.add_option("--retries", o.retries, "attempts before giving up")->check(CLI::Range(1, 100));
    std::string server_key, key_file;
    if (const char* e = std::getenv("WAVECAST_SERVER_KEY")) server_key = e;
    if (const char* e = std::getenv("WAVECAST_KEY")) key_file = e;
    app.add_option("--server-key", server_key, "the daemon's CURVE public key, or its .pub file ($WAVECAST_SERVER_KEY)");
    app.add_option("--key", key_file, "our CURVE key pair file, from `wavecast keygen` ($WAVECAST_KEY)");
    app.require_subcommand(1);

    auto* keygen = app.add_subcommand("keygen", "make a CURVE key pair: PATH (secret) and PATH.pub (to give the other side)");
    std::string keygen_path;
    keygen->add_option("PATH", keygen_path)->required();

    app.add_subcommand("ping", "check that the daemon answers");
    app.add_subcommand("status", "show the daemon's and each stream's state");
    app.add_subcommand("styles", "list the styles");
    auto* style = app.add_subcommand("style", "switch the stream's style");
    std::string style_name, blend;
    double crossfade = 0;
    bool now = false;
    style->add_option("NAME", style_name)->required();
    style->add_option("--blend", blend, "mix styles, e.g. a=0.3,b=0.7");
    style->add_option("--crossfade", crossfade, "seconds to morph over")->check(CLI::Range(0.0, 600.0));
    style->add_flag("--now", now, "switch at once instead of at the next bar");
    auto* set = app.add_subcommand("set", "set live parameters, e.g. set temperature=0.9 gain_db=-3");
    std::vector<std::string> assignments;
    set->add_option("KEY=VALUE", assignments)->required();
    auto* record = app.add_subcommand("record", "record what the stream plays to a .wav or .flac file");
    std::string path;
    double seconds = 0;
    int bits = 24;
    record->add_option("PATH", path, "output file, in the daemon's recordings folder (relative paths resolve there)")->required();
    record->add_option("--seconds", seconds, "stop after this long (default: until stop-record)")->check(CLI::Range(0.0, 604800.0));
    record->add_option("--bits", bits, "16 or 24")->check(CLI::IsMember({16, 24}));
    std::string record_midi;
    record->add_option("--midi", record_midi, "also write the stream's MIDI to this .mid file (in the recordings folder too)");
    bool overwrite = false;
    record->add_flag("--overwrite", overwrite, "replace files of those names (refused otherwise)");
    app.add_subcommand("stop-record", "finish the stream's recording");
    auto* score_cmd = app.add_subcommand("score", "play a MIDI file (on the daemon's machine) instead of composing, until the next style");
    std::string score_path;
    score_cmd->add_option("PATH", score_path)->required();
    auto* learn = app.add_subcommand("learn", "MIDI learn: the next knob moved on control_midi_in sets PARAM from then on");
    std::string learn_param, learn_curve = "linear";
    std::optional<double> learn_min, learn_max;
    bool learn_cancel = false;
    learn->add_option("PARAM", learn_param, "a live parameter (see `wavecast params`)");
    learn->add_option("--min", learn_min, "the value at the knob's bottom (default: the parameter's least)");
    learn->add_option("--max", learn_max, "the value at the knob's top (default: the parameter's greatest)");
    learn->add_option("--curve", learn_curve, "linear, or exp (equal ratios per step)")->check(CLI::IsMember({"linear", "exp"}));
    learn->add_flag("--cancel", learn_cancel, "forget a learn still waiting for a knob");
    auto* mappings = app.add_subcommand("mappings", "list the stream's MIDI bindings");
    bool mappings_save = false;
    mappings->add_flag("--save", mappings_save, "also write them to the stream's mapping file (the old one kept as FILE.bak)");
    auto* cue = app.add_subcommand("cue", "a performer's cue: a drum fill to end the bar, or the next section from the next bar");
    std::string cue_what;
    cue->add_option("WHAT", cue_what, "fill or next-section")->required()->check(CLI::IsMember({"fill", "next-section"}));
    app.add_subcommand("params", "list the live parameters `set` takes: ranges, units, defaults, meaning");
    auto* watch_cmd = app.add_subcommand("watch", "print telemetry as it arrives");
    std::string topic;
    int count = 0;
    watch_cmd->add_option("TOPIC", topic, "status, log, ... (default: all)");
    watch_cmd->add_option("--count", count, "exit after this many messages");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int rc = app.exit(e);
        return rc == 0 ? 0 : kExitUsage;
    }

    const std::string cmd = app.get_subcommands().front()->get_name();
    if (cmd == "params") {
        std::fputs(params_markdown().c_str(), stdout);
        return 0;
    }
    try {
        if (cmd == "keygen") {
            const auto keys = wavecast::generate_curve_keys();
            wavecast::write_curve_keys(keygen_path, keys);
            std::printf("wrote %s (secret) and %s.pub\npublic key %s\n", keygen_path.c_str(), keygen_path.c_str(), keys.public_key.c_str());
            return 0;
        }
        if (server_key.empty() != key_file.empty()) {
            std::fprintf(stderr, "wavecast: CURVE needs both --server-key and --key\n");
            return kExitUsage;
        }
        if (!server_key.empty()) {
            o.server_key = wavecast::public_key_of(server_key);
            const auto own = wavecast::read_curve_keys(key_file);
            if (own.secret_key.empty()) throw std::runtime_error(key_file + ": holds no secret key (give the pair, not the .pub)");
            o.own_public = own.public_key;
            o.own_secret = own.secret_key;
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "wavecast: %s\n", e.what());
        return kExitError;
    }
    if (cmd == "watch") return watch(o, topic, count);

    const std::optional<std::string> on_stream = stream;
    p::Command command = p::Ping{};
    if (cmd == "ping") command = p::Ping{};
    else if (cmd == "status") command = p::Status{};
    else if (cmd == "styles") command = p::Styles{};
    else if (cmd == "style") {
        p::StyleCmd c{on_stream, style_name, now, crossfade, {}};
        std::stringstream ss(blend);
        for (std::string item; !blend.empty() && std::getline(ss, item, ',');) {
            const auto eq = item.find('=');
            try {
                if (eq == std::string::npos) throw std::invalid_argument(item);
                c.blend.emplace_back(item.substr(0, eq), std::stod(item.substr(eq + 1)));
            } catch (const std::exception&) {
                std::fprintf(stderr, "wavecast: --blend takes NAME=WEIGHT,... ('%s' is not one)\n", item.c_str());
                return kExitUsage;
            }
        }
        command = c;
    } else if (cmd == "set") {
        p::Set c{on_stream, {}};
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
                return kExitUsage;
            }
            c.params.emplace_back(a.substr(0, eq), v);  // name and range are the daemon's to check, with the reason
        }
        command = c;
    } else if (cmd == "record") {
        command = p::Record{on_stream, path, seconds, bits, record_midi, overwrite};
    } else if (cmd == "score") {
        command = p::Score{on_stream, score_path};
    } else if (cmd == "stop-record") {
        command = p::StopRecord{on_stream};
    } else if (cmd == "learn") {
        if (learn_param.empty() == !learn_cancel) {
            std::fprintf(stderr, "wavecast: learn takes a PARAM, or --cancel\n");
            return kExitUsage;
        }
        command = p::Learn{on_stream, learn_param, learn_min, learn_max, p::from_name<p::Curve>(learn_curve).value_or(p::Curve::linear),
                           learn_cancel};
    } else if (cmd == "mappings") {
        command = p::Mappings{on_stream, mappings_save};
    } else if (cmd == "cue") {
        command = p::Cue{on_stream, *p::from_name<p::CueKind>(cue_what == "next-section" ? "next_section" : cue_what)};
    }
    const json req = p::to_json(command);
    return send_and_print(o, req);
}
