#include "score/style.h"

#include <algorithm>
#include <filesystem>

#include "util/toml_util.h"

namespace wavecast {
namespace fs = std::filesystem;

namespace {

const std::map<std::string, std::vector<int>>& scales() {
    static const std::map<std::string, std::vector<int>> s = {
        {"major", {0, 2, 4, 5, 7, 9, 11}},          {"minor", {0, 2, 3, 5, 7, 8, 10}},
        {"dorian", {0, 2, 3, 5, 7, 9, 10}},         {"mixolydian", {0, 2, 4, 5, 7, 9, 10}},
        {"phrygian", {0, 1, 3, 5, 7, 8, 10}},       {"lydian", {0, 2, 4, 6, 7, 9, 11}},
        {"harmonic_minor", {0, 2, 3, 5, 7, 8, 11}}, {"pentatonic_major", {0, 2, 4, 7, 9}},
        {"pentatonic_minor", {0, 3, 5, 7, 10}},     {"blues", {0, 3, 5, 6, 7, 10}},
    };
    return s;
}

// "C", "F#", "Bb", optionally with an octave ("A3"); octave 4 holds middle C (MIDI 60).
bool parse_key(const std::string& k, int& midi) {
    static const std::map<char, int> base{{'C', 0}, {'D', 2}, {'E', 4}, {'F', 5}, {'G', 7}, {'A', 9}, {'B', 11}};
    if (k.empty() || !base.count(static_cast<char>(std::toupper(k[0])))) return false;
    int pc = base.at(static_cast<char>(std::toupper(k[0])));
    size_t i = 1;
    if (i < k.size() && (k[i] == '#' || k[i] == 'b')) pc += k[i++] == '#' ? 1 : -1;
    int octave = 4;
    if (i < k.size()) {
        if (i + 1 != k.size() || !std::isdigit(static_cast<unsigned char>(k[i]))) return false;
        octave = k[i] - '0';
    }
    midi = (octave + 1) * 12 + pc;
    return midi >= 12 && midi <= 108;
}

// What each kind of section plays, and how densely, unless the style says otherwise.
const std::map<std::string, Section>& section_kinds() {
    static const std::vector<std::string> all{"drums", "bass", "harmony", "lead"};
    static const std::map<std::string, Section> k = {
        {"intro", {"intro", 4, 0.5, {"drums", "harmony"}}},
        {"build", {"build", 8, 0.75, all}},
        {"drop", {"drop", 16, 1.0, all}},
        {"groove", {"groove", 8, 1.0, all}},
        {"verse", {"verse", 8, 0.8, all}},
        {"chorus", {"chorus", 8, 1.0, all}},
        {"breakdown", {"breakdown", 8, 0.6, {"bass", "harmony", "lead"}}},
        {"bridge", {"bridge", 8, 0.7, {"bass", "harmony", "lead"}}},
        {"solo", {"solo", 8, 0.9, {"bass", "harmony", "lead"}}},
        {"outro", {"outro", 4, 0.5, {"drums", "bass", "harmony"}}},
    };
    return k;
}

// Checks a pattern: 16 steps of the characters `allowed`; empty means "the role's default".
void check_pattern(const TomlReader& r, const toml::table& t, const char* key, const std::string& allowed, Pattern& out) {
    out = r.get_string(t, key, "");
    if (out.empty()) return;
    if (out.size() != 16 || out.find_first_not_of(allowed) != std::string::npos)
        r.fail(t.get(key), std::string("'") + key + "' must be 16 steps of \"" + allowed + "\" (one per sixteenth note)");
}

std::vector<Section> parse_form(const TomlReader& r, const toml::table& t) {
    std::vector<Section> form;
    if (const toml::node* f = t.get("form")) {
        if (!f->is_array() || f->as_array()->empty()) r.fail(f, "form must be a non-empty array of \"section:bars\" strings");
        for (const auto& item : *f->as_array()) {
            const std::string spec = item.is_string() ? item.as_string()->get() : "";
            const auto colon = spec.find(':');
            const std::string kind = spec.substr(0, colon);
            auto it = section_kinds().find(kind);
            int bars = it != section_kinds().end() ? it->second.bars : 0;
            try {
                if (colon != std::string::npos) bars = std::stoi(spec.substr(colon + 1));
            } catch (const std::exception&) {
                bars = 0;
            }
            if (it == section_kinds().end() || bars < 1 || bars > 256) {
                std::string known;
                for (const auto& [n, _] : section_kinds()) known += (known.empty() ? "" : ", ") + n;
                r.fail(&item, "form entry '" + spec + "' is not SECTION:BARS with a known section (" + known + ") and 1..256 bars");
            }
            Section sec = it->second;
            sec.bars = bars;
            form.push_back(sec);
        }
    } else {
        for (const char* k : {"intro", "verse", "chorus", "breakdown", "chorus", "outro"}) form.push_back(section_kinds().at(k));
    }

    return form;
}

std::vector<std::vector<int>> parse_progression(const TomlReader& r, const toml::table& t, size_t scale_size) {
    std::vector<std::vector<int>> progression;
    if (const toml::node* p = t.get("progression")) {
        if (!p->is_array() || p->as_array()->empty()) r.fail(p, "progression must be a non-empty array of scale degrees");
        for (const auto& deg : *p->as_array()) {
            if (!deg.is_integer() || deg.as_integer()->get() < 1 || deg.as_integer()->get() > static_cast<int64_t>(scale_size))
                r.fail(&deg, "progression entries are scale degrees 1.." + std::to_string(scale_size));
            const int root = static_cast<int>(deg.as_integer()->get()) - 1;
            progression.push_back({root, root + 2, root + 4});  // a triad stacked in thirds of the scale
        }
    } else {
        progression = {{0, 2, 4}};
    }

    return progression;
}

TrackStyle parse_track(const TomlReader& r, const toml::node& node) {
    const toml::table& tt = *node.as_table();
    r.only_keys(tt,
                {"name", "role", "program", "drums", "pan", "level_db", "octave", "pattern", "comping", "kick", "snare", "hat", "open_hat",
                 "ride", "clap"},
                "[[track]]");
    TrackStyle tr;
    tr.name = r.get_string(tt, "name", "");
    if (tr.name.empty()) r.fail(&tt, "a [[track]] needs a name");
    tr.program = static_cast<int>(r.get_int(tt, "program", 0, 0, 127));
    tr.drums = r.get_bool(tt, "drums", false);
    tr.pan = r.get_number(tt, "pan", 0.0, -1.0, 1.0);
    tr.level_db = r.get_number(tt, "level_db", 0.0, -60.0, 12.0);
    tr.octave = static_cast<int>(r.get_int(tt, "octave", 0, -3, 3));
    const std::string fallback = tr.drums ? "drums" : (tr.name == "bass" || tr.name == "lead") ? tr.name : "harmony";
    tr.role = r.get_string(tt, "role", fallback);
    if (tr.role != "drums" && tr.role != "bass" && tr.role != "harmony" && tr.role != "lead")
        r.fail(tt.get("role"), "role must be drums, bass, harmony or lead");
    if ((tr.role == "drums") != tr.drums)
        r.fail(tt.get("role") ? tt.get("role") : &tt, "role \"drums\" goes with drums = true, and only with it");
    tr.comping = r.get_string(tt, "comping", tr.comping);
    if (tr.comping != "pad" && tr.comping != "stabs" && tr.comping != "arp") r.fail(tt.get("comping"), "comping must be pad, stabs or arp");
    check_pattern(r, tt, "pattern", tr.role == "bass" ? "xo.-358" : "xo.-", tr.pattern);
    for (auto [key, dst] : {std::pair{"kick", &tr.kick},
                            {"snare", &tr.snare},
                            {"hat", &tr.hat},
                            {"open_hat", &tr.open_hat},
                            {"ride", &tr.ride},
                            {"clap", &tr.clap}})
        check_pattern(r, tt, key, "xo.", *dst);
    return tr;
}

}  // namespace

Style load_style(const std::string& path) {
    TomlReader r(path);
    const toml::table t = r.parse();
    r.only_keys(t, {"name", "description", "tempo", "key", "scale", "progression", "swing", "variation", "form", "track"}, "a style");
    Style s;
    s.file = path;
    s.name = r.get_string(t, "name", fs::path(path).stem().string());
    if (s.name.empty() || s.name.find_first_of(" \t/") != std::string::npos)
        r.fail(t.get("name"), "name must be non-empty, without spaces or '/'");
    s.description = r.get_string(t, "description", "");
    if (s.description.empty()) r.fail_line(0, "'description' is required (one line shown by `wavecast styles`)");
    s.tempo = r.get_number(t, "tempo", s.tempo, 20, 300);
    const std::string key = r.get_string(t, "key", "C");
    if (!parse_key(key, s.root)) r.fail(t.get("key"), "key '" + key + "' is not a note name like C, F#, Bb or A3");
    const std::string scale = r.get_string(t, "scale", "major");
    auto it = scales().find(scale);
    if (it == scales().end()) {
        std::string known;
        for (const auto& [n, _] : scales()) known += (known.empty() ? "" : ", ") + n;
        r.fail(t.get("scale"), "unknown scale '" + scale + "' (known: " + known + ")");
    }
    s.scale = it->second;
    s.swing = r.get_number(t, "swing", 0.0, 0.0, 0.5);
    s.variation = r.get_number(t, "variation", s.variation, 0.0, 1.0);
    s.form = parse_form(r, t);
    s.progression = parse_progression(r, t, s.scale.size());
    const toml::node* tracks = t.get("track");
    if (!tracks || !tracks->is_array_of_tables() || tracks->as_array()->empty()) r.fail(tracks, "at least one [[track]] is required");
    for (const auto& node : *tracks->as_array()) s.tracks.push_back(parse_track(r, node));
    return s;
}

std::map<std::string, std::shared_ptr<const Style>> load_styles(const std::string& dir) {
    if (!fs::is_directory(dir)) throw ConfigError(dir + ": styles directory does not exist");
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.is_regular_file() && e.path().extension() == ".toml") files.push_back(e.path());
    std::sort(files.begin(), files.end());
    std::map<std::string, std::shared_ptr<const Style>> out;
    for (const auto& f : files) {
        auto s = std::make_shared<const Style>(load_style(f.string()));
        if (out.count(s->name))
            throw ConfigError(f.string() + ": style name '" + s->name + "' is already defined by " + out[s->name]->file);
        out[s->name] = std::move(s);
    }
    if (out.empty()) throw ConfigError(dir + ": no style files (*.toml)");
    return out;
}

}  // namespace wavecast
