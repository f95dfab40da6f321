#include "daemon/config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "control/osc.h"
#include "output/stream_encoder.h"
#include "protocol/protocol.h"
#include "util/files.h"
#include "util/toml_util.h"

namespace wavecast {
namespace fs = std::filesystem;

namespace {

std::string resolve(const std::string& base_dir, const std::string& p) {
    if (p.empty() || fs::path(p).is_absolute()) return p;
    return (fs::path(base_dir) / p).lexically_normal().string();
}

// [[stream.output]] entries: each an Icecast source, checked in full.
std::vector<IcecastConfig> parse_outputs(const TomlReader& r, const toml::node* node, const std::string& dir) {
    std::vector<IcecastConfig> out;
    if (!node) return out;
    if (!node->is_array_of_tables()) r.fail(node, "'output' must be an array of tables ([[stream.output]])");
    for (const auto& n : *node->as_array()) {
        const toml::table& t = *n.as_table();
        r.only_keys(t,
                    {"type", "host", "port", "mount", "user", "password", "password_file", "format", "bitrate", "name", "genre",
                     "description", "url", "public", "queue_ms"},
                    "[[stream.output]]");
        if (!t.contains("type")) r.fail(&t, "[[stream.output]] needs type (\"icecast\")");
        if (r.get_string(t, "type", "") != "icecast") r.fail(t.get("type"), "type must be \"icecast\"");
        IcecastConfig o;
        o.host = r.get_string(t, "host", o.host);
        if (o.host.empty()) r.fail(t.get("host"), "host must name the Icecast server");
        o.port = static_cast<int>(r.get_int(t, "port", o.port, 1, 65535));
        if (!t.contains("mount")) r.fail(&t, "[[stream.output]] needs mount (\"/live.opus\")");
        o.mount = r.get_string(t, "mount", "");
        if (o.mount.size() < 2 || o.mount[0] != '/' || o.mount.find_first_of(" ?#") != std::string::npos)
            r.fail(t.get("mount"), "mount must be a path such as \"/live.opus\", without spaces, '?' or '#'");
        o.user = r.get_string(t, "user", o.user);
        const bool has_pw = t.contains("password"), has_file = t.contains("password_file");
        if (has_pw == has_file) r.fail(&t, "[[stream.output]] needs password or password_file (one of them)");
        if (has_pw) {
            o.password = r.get_string(t, "password", "");
        } else {
            const std::string path = resolve(dir, r.get_string(t, "password_file", ""));
            std::vector<uint8_t> bytes;
            try {
                bytes = read_regular_file(path, 4096);  // a regular file only: a FIFO would hang a reload
            } catch (const std::runtime_error& e) {
                r.fail(t.get("password_file"), std::string("password_file ") + e.what());
            }
            o.password.assign(bytes.begin(), std::find(bytes.begin(), bytes.end(), '\n'));
            while (!o.password.empty() && (o.password.back() == '\r' || o.password.back() == ' ')) o.password.pop_back();
        }
        if (o.password.empty()) r.fail(t.get(has_pw ? "password" : "password_file"), "the password is empty");
        o.format = r.get_string(t, "format", o.format);
        const auto& formats = stream_formats();
        if (std::find(formats.begin(), formats.end(), o.format) == formats.end())
            r.fail(t.get("format"), "format must be \"opus\" (Ogg Opus) or \"mp3\"");
        o.bitrate_kbps = static_cast<int>(
            r.get_int(t, "bitrate", o.format == "mp3" ? 192 : o.bitrate_kbps, o.format == "mp3" ? 32 : 6, o.format == "mp3" ? 320 : 510));
        o.name = r.get_string(t, "name", "");
        o.genre = r.get_string(t, "genre", "");
        o.description = r.get_string(t, "description", "");
        o.url = r.get_string(t, "url", "");
        o.is_public = r.get_bool(t, "public", false);
        // Each goes into a request header: a line break there would split the request, and the
        // server would refuse every login while the output retried forever.
        for (const auto& [key, value] :
             {std::pair{"host", &o.host}, std::pair{"mount", &o.mount}, std::pair{"user", &o.user}, std::pair{"name", &o.name},
              std::pair{"genre", &o.genre}, std::pair{"description", &o.description}, std::pair{"url", &o.url}})
            if (std::any_of(value->begin(), value->end(), [](char ch) { return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f; }))
                r.fail(t.get(key), std::string(key) + " holds a control character (a line break, a tab): it goes into an HTTP header");
        o.queue_ms = r.get_number(t, "queue_ms", o.queue_ms, 100, 60000);
        out.push_back(std::move(o));
    }
    return out;
}

}  // namespace

std::string default_config_path() {
    if (const char* env = std::getenv("WAVECAST_CONFIG"); env && *env) return env;
    return std::string(WAVECAST_SOURCE_DIR) + "/config/wavecastd.toml";
}

void ConfigOverrides::apply(DaemonConfig& c) const {
    if (!backend.empty()) c.backend = backend;
    if (!control.empty()) c.control = control;
    if (!telemetry.empty()) c.telemetry = telemetry;
    if (!jack_name.empty()) c.jack_name = jack_name;
    if (!log_level.empty()) c.log_level = log_level;
    if (no_jack) c.jack_enabled = false, c.follow_transport = false, c.link = false, c.midi_clock = false, c.midi_clock_send = false;
}

std::string DaemonConfig::model_for(const std::string& backend) const {
    if (!model.empty()) return model;
    // CUDA plays the medium model; a models folder without one (an older install) gets the small one.
    const fs::path medium = fs::path(models_dir) / "medium.safetensors";
    if (backend == "cuda" && fs::exists(medium)) return medium.string();
    return (fs::path(models_dir) / "small.safetensors").string();
}

std::string DaemonConfig::fallback() const {
    if (!fallback_model.empty()) return fallback_model;
    return model.empty() ? model_for("cpu") : model;
}

// On the CPU each stream's generator has threads of its own, and one for all would only make the
// streams wait for each other; a GPU runs many lanes in one launch for about the time of a few.
bool DaemonConfig::batched(const std::string& backend) const {
    if (batch_streams == "on") return true;
    return batch_streams == "auto" && backend == "cuda" && streams.size() > 1;
}

namespace {

void parse_daemon(const TomlReader& r, const toml::table* d, const std::string& dir, DaemonConfig& c) {
    c.styles_dir = resolve(dir, "styles");
    c.models_dir = resolve(dir, "../models");
    c.recordings_dir = resolve(dir, "../recordings");
    if (!d) return;
    r.only_keys(*d, {"backend",  "precision", "cpu_threads", "batch_streams", "masking",           "block_frames", "resampler",
                     "realtime", "control",   "telemetry",   "osc",           "osc_allow",         "model",        "fallback_model",
                     "models",   "styles",    "recordings",  "output_rate",   "status_interval_s", "log_level"},
                "[daemon]");
    c.backend = r.get_string(*d, "backend", c.backend);
    if (c.backend != "auto" && c.backend != "cpu" && c.backend != "cuda")
        r.fail(d->get("backend"), "backend must be \"auto\", \"cpu\" or \"cuda\"");
    try {
        c.precision = parse_precision(r.get_string(*d, "precision", precision_name(c.precision)));
    } catch (const std::invalid_argument&) {
        r.fail(d->get("precision"), "precision must be \"fp32\", \"fp16\" or \"bf16\"");
    }
    c.cpu_threads = static_cast<int>(r.get_int(*d, "cpu_threads", c.cpu_threads, 0, 256));
    c.batch_streams = r.get_string(*d, "batch_streams", c.batch_streams);
    if (c.batch_streams != "auto" && c.batch_streams != "on" && c.batch_streams != "off")
        r.fail(d->get("batch_streams"), "batch_streams must be \"auto\", \"on\" or \"off\"");
    c.masking_backend = r.get_string(*d, "masking", c.masking_backend);
    if (c.masking_backend != "auto" && c.masking_backend != "cpu" && c.masking_backend != "off")
        r.fail(d->get("masking"), "masking must be \"auto\" (where the generator runs), \"cpu\" or \"off\"");
    c.block_frames = static_cast<int>(r.get_int(*d, "block_frames", c.block_frames, 1, 8));
    c.resampler = r.get_string(*d, "resampler", c.resampler);
    if (c.resampler != "high" && c.resampler != "fast") r.fail(d->get("resampler"), "resampler must be \"high\" or \"fast\"");
    c.realtime = r.get_bool(*d, "realtime", c.realtime);
    c.control = r.get_string(*d, "control", c.control);
    c.telemetry = r.get_string(*d, "telemetry", c.telemetry);
    c.osc = r.get_string(*d, "osc", c.osc);
    if (const toml::node* list = d->get("osc_allow")) {
        if (!list->is_array()) r.fail(list, "osc_allow must be an array of IPv4 addresses");
        for (const toml::node& a : *list->as_array()) {
            if (!a.is_string()) r.fail(&a, "osc_allow: each entry must be an IPv4 address");
            c.osc_allow.push_back(a.value_or(std::string()));
        }
    }
    c.model = resolve(dir, r.get_string(*d, "model", ""));
    c.fallback_model = resolve(dir, r.get_string(*d, "fallback_model", ""));
    c.models_dir = resolve(dir, r.get_string(*d, "models", "../models"));
    c.styles_dir = resolve(dir, r.get_string(*d, "styles", "styles"));
    c.recordings_dir = resolve(dir, r.get_string(*d, "recordings", "../recordings"));
    if (c.recordings_dir.empty()) r.fail(d->get("recordings"), "recordings must name a folder");
    c.output_rate = static_cast<int>(r.get_int(*d, "output_rate", c.output_rate, 8000, 192000));
    c.status_interval_s = r.get_number(*d, "status_interval_s", c.status_interval_s, 0.05, 60);
    c.log_level = r.get_string(*d, "log_level", c.log_level);
    static const std::set<std::string> levels{"trace", "debug", "info", "warn", "error"};
    if (!levels.count(c.log_level)) r.fail(d->get("log_level"), "log_level must be trace, debug, info, warn or error");
}

// [jack], [link] and [midi_clock]: at most one tempo source, and none of them without JACK.
void parse_jack_and_tempo(const TomlReader& r, const toml::table& root, DaemonConfig& c) {
    if (const toml::table* j = r.get_table(root, "jack")) {
        r.only_keys(*j, {"enabled", "client_name", "server", "autoconnect", "follow_transport"}, "[jack]");
        c.jack_enabled = r.get_bool(*j, "enabled", c.jack_enabled);
        c.jack_name = r.get_string(*j, "client_name", c.jack_name);
        if (c.jack_name.empty() || c.jack_name.size() > 60) r.fail(j->get("client_name"), "client_name must be 1..60 characters");
        c.jack_server = r.get_string(*j, "server", c.jack_server);
        c.autoconnect = r.get_bool(*j, "autoconnect", c.autoconnect);
        c.follow_transport = r.get_bool(*j, "follow_transport", c.follow_transport);
    }
    if (const toml::table* l = r.get_table(root, "link")) {
        r.only_keys(*l, {"enabled", "quantum"}, "[link]");
        c.link = r.get_bool(*l, "enabled", c.link);
        c.link_quantum = r.get_number(*l, "quantum", c.link_quantum, 1, 16);
        if (c.link && !c.jack_enabled) r.fail(l->get("enabled"), "Link needs JACK: [jack] enabled = false leaves no clock to align");
        if (c.link && c.follow_transport)
            r.fail(l->get("enabled"), "choose one tempo source: [link] enabled or [jack] follow_transport, not both");
    }
    if (const toml::table* m = r.get_table(root, "midi_clock")) {
        r.only_keys(*m, {"enabled", "quantum", "send"}, "[midi_clock]");
        c.midi_clock = r.get_bool(*m, "enabled", c.midi_clock);
        c.midi_clock_quantum = r.get_number(*m, "quantum", c.midi_clock_quantum, 1, 16);
        c.midi_clock_send = r.get_bool(*m, "send", c.midi_clock_send);
        if ((c.midi_clock || c.midi_clock_send) && !c.jack_enabled)
            r.fail(m->get(c.midi_clock ? "enabled" : "send"), "MIDI clock needs JACK: [jack] enabled = false leaves no MIDI ports");
        if (c.midi_clock && (c.link || c.follow_transport))
            r.fail(m->get("enabled"), std::string("choose one tempo source: [midi_clock] enabled or ") +
                                          (c.link ? "[link] enabled" : "[jack] follow_transport") + ", not both");
    }
    if (!c.jack_enabled && c.follow_transport) r.fail(root.get("jack"), "follow_transport needs JACK ([jack] enabled = true)");
}

// [security], then who may reach the endpoints: loopback, or anyone CURVE lets in.
void parse_security(const TomlReader& r, const toml::table& root, const std::string& dir, DaemonConfig& c) {
    const toml::table* sec = r.get_table(root, "security");
    if (sec) {
        r.only_keys(*sec, {"curve", "key_file", "allowed_clients"}, "[security]");
        c.security.curve = r.get_bool(*sec, "curve", false);
        c.security.key_file = resolve(dir, r.get_string(*sec, "key_file", ""));
        if (const toml::node* list = sec->get("allowed_clients")) {
            if (!list->is_array()) r.fail(list, "allowed_clients must be an array of CURVE public keys or .pub files");
            for (const auto& k : *list->as_array()) {
                if (!k.is_string()) r.fail(&k, "allowed_clients: each entry must be a string (a Z85 key or a .pub file)");
                const std::string v = k.as_string()->get();
                c.security.allowed_clients.push_back(v.size() == 40 ? v : resolve(dir, v));
            }
        }
        if (c.security.curve && c.security.key_file.empty()) r.fail(sec, "curve = true needs key_file (make one with `wavecast keygen`)");
        if (c.security.curve && c.security.allowed_clients.empty())
            r.fail(sec, "curve = true needs allowed_clients: the public keys of the clients that may steer");
    }
    const toml::table* daemon = r.get_table(root, "daemon");
    if (!c.osc.empty())
        if (const std::string why = osc_address_problem(c.osc, c.osc_allow); !why.empty())
            r.fail(daemon ? daemon->get("osc") : nullptr, why);
    for (const char* key : {"control", "telemetry"}) {
        const std::string why = endpoint_problem(key == std::string("control") ? c.control : c.telemetry, c.security.curve);
        if (why.empty()) continue;
        const toml::node* at = daemon && daemon->get(key) ? daemon->get(key)
                               : sec                      ? static_cast<const toml::node*>(sec)
                                                          : root.get("daemon");
        r.fail(at, why);
    }
}

StreamConfig parse_stream(const TomlReader& r, const toml::table& t, const std::string& dir) {
    r.only_keys(t, {"name", "style", "seed", "lanes", "lookahead_ms", "loudness_lufs", "true_peak_dbtp", "params", "output", "midi_map"},
                "[[stream]]");
    StreamConfig s;
    s.name = r.get_string(t, "name", s.name);
    if (s.name.empty() || s.name.size() > 32 || s.name.find_first_of(" :/") != std::string::npos)
        r.fail(t.get("name") ? t.get("name") : &t, "stream name must be 1..32 characters without spaces, ':' or '/'");
    s.style = r.get_string(t, "style", s.style);
    s.seed = static_cast<uint64_t>(r.get_int(t, "seed", 1, 0, INT64_MAX));
    s.lanes = static_cast<int>(r.get_int(t, "lanes", s.lanes, 1, 16));
    s.lookahead_ms = r.get_number(t, "lookahead_ms", s.lookahead_ms, 10, 10000);
    s.loudness_lufs = r.get_number(t, "loudness_lufs", s.loudness_lufs, -40, -5);
    s.true_peak_dbtp = r.get_number(t, "true_peak_dbtp", s.true_peak_dbtp, -12, 0);
    if (const toml::table* p = r.get_table(t, "params")) {
        for (const auto& [k, v] : *p) {
            try {
                double value;
                if (v.is_integer()) value = static_cast<double>(v.as_integer()->get());
                else if (v.is_floating_point()) value = v.as_floating_point()->get();
                else throw protocol::Error(protocol::code::bad_type, "params." + std::string(k.str()) + ": must be a number");
                s.params[std::string(k.str())] = protocol::check_param("params", k.str(), value);
            } catch (const protocol::Error& e) {
                r.fail(&v, e.what());
            }
        }
    }
    s.outputs = parse_outputs(r, t.get("output"), dir);
    if (t.contains("midi_map")) s.midi_map = resolve(dir, r.get_string(t, "midi_map", ""));
    return s;
}

// [[stream]]: at least one, each named once, no mount fed twice.
std::vector<StreamConfig> parse_streams(const TomlReader& r, const toml::table& root, const std::string& dir) {
    const toml::node* streams = root.get("stream");
    if (!streams) r.fail_line(0, "no [[stream]] defined; at least one (named \"main\") is needed");
    if (!streams->is_array_of_tables()) r.fail(streams, "'stream' must be an array of tables ([[stream]])");
    std::vector<StreamConfig> out;
    std::set<std::string> names, urls;
    for (const auto& node : *streams->as_array()) {
        const toml::table& t = *node.as_table();
        StreamConfig s = parse_stream(r, t, dir);
        if (!names.insert(s.name).second) r.fail(t.get("name"), "duplicate stream name '" + s.name + "'");
        out.push_back(std::move(s));
    }
    for (const auto& s : out)
        for (const auto& o : s.outputs)
            if (!urls.insert(o.host + ":" + std::to_string(o.port) + o.mount).second)
                r.fail(streams, "two outputs feed " + o.host + ":" + std::to_string(o.port) + o.mount + "; a mount takes one source");
    return out;
}

}  // namespace

DaemonConfig load_config(const std::string& path) {
    TomlReader r(path);
    if (!fs::exists(path)) r.fail_line(0, "no such file");
    const toml::table root = r.parse();
    const std::string dir = fs::absolute(path).parent_path().string();
    r.only_keys(root, {"daemon", "jack", "link", "midi_clock", "security", "stream", "schedule"}, "the file");
    DaemonConfig c;
    c.path = path;
    parse_daemon(r, r.get_table(root, "daemon"), dir, c);
    parse_jack_and_tempo(r, root, c);
    parse_security(r, root, dir, c);
    c.streams = parse_streams(r, root, dir);
    c.schedule = parse_schedule(r, root.get("schedule"));
    for (const auto& e : c.schedule) {
        const bool known = std::any_of(c.streams.begin(), c.streams.end(), [&](const StreamConfig& s) { return s.name == e.stream; });
        if (!e.stream.empty() && !known) r.fail_line(e.line, "[[schedule]] names unknown stream '" + e.stream + "'");
    }
    return c;
}

std::vector<std::string> restart_needed(const DaemonConfig& c, const DaemonConfig& next) {
    std::vector<std::string> at_restart;
    const std::pair<bool, const char*> changes[] = {
        {next.backend != c.backend, "backend"},
        {next.precision != c.precision, "precision"},
        {next.cpu_threads != c.cpu_threads, "cpu_threads"},
        {next.batch_streams != c.batch_streams, "batch_streams"},
        {next.masking_backend != c.masking_backend, "masking"},
        {next.block_frames != c.block_frames, "block_frames"},
        {next.resampler != c.resampler, "resampler"},
        {next.realtime != c.realtime, "realtime"},
        {next.model != c.model || next.models_dir != c.models_dir, "model"},
        {next.fallback_model != c.fallback_model, "fallback_model"},
        {next.control != c.control, "control"},
        {next.telemetry != c.telemetry, "telemetry"},
        {next.osc != c.osc || next.osc_allow != c.osc_allow, "osc"},
        {next.jack_name != c.jack_name, "jack client_name"},
        {next.jack_server != c.jack_server, "jack server"},
        {next.autoconnect != c.autoconnect, "jack autoconnect"},
        {next.jack_enabled != c.jack_enabled, "jack enabled"},
        {next.output_rate != c.output_rate, "output_rate"},
        {next.link != c.link || next.link_quantum != c.link_quantum, "[link]"},
        {next.midi_clock != c.midi_clock || next.midi_clock_quantum != c.midi_clock_quantum || next.midi_clock_send != c.midi_clock_send,
         "[midi_clock]"}};
    for (const auto& [changed, what] : changes)
        if (changed) at_restart.push_back(what);
    bool streams_same = next.streams.size() == c.streams.size();
    for (size_t i = 0; streams_same && i < c.streams.size(); ++i) {
        const StreamConfig &a = next.streams[i], &b = c.streams[i];
        streams_same = a.name == b.name && a.style == b.style && a.seed == b.seed && a.lanes == b.lanes &&
                       a.lookahead_ms == b.lookahead_ms && a.loudness_lufs == b.loudness_lufs && a.true_peak_dbtp == b.true_peak_dbtp &&
                       a.params == b.params;
    }
    if (!streams_same) at_restart.push_back("[[stream]] (steer a running stream with `wavecast set` and `wavecast style`)");
    return at_restart;
}

}  // namespace wavecast
