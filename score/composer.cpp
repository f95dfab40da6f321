#include "score/composer.h"

#include <algorithm>
#include <cmath>

#include "kernels/frame_features.h"
#include "kernels/philox.h"

namespace wavecast {
namespace {

constexpr int kRest = -99;  // a motif step without a note

// The roles' patterns where a style gives none.
const char* default_pattern(const std::string& role, const std::string& comping) {
    if (role == "bass") return "x.....x.x...x...";
    if (role == "lead") return "x..x..x.x..x..x.";
    return comping == "arp" ? "x.x.x.x.x.x.x.x." : "x.....x.....x...";
}

bool plays(const Pattern& p, int step) {
    return !p.empty() && (p[static_cast<size_t>(step)] != '.' && p[static_cast<size_t>(step)] != '-');
}

}  // namespace

Composer::Composer(int lanes, int sample_rate, int frame_hop, uint64_t seed)
    : lanes_(lanes),
      frame_beats_per_bpm_(static_cast<double>(frame_hop) / sample_rate / 60.0),
      frame_hop_(frame_hop),
      seed_(seed),
      notes_(static_cast<size_t>(lanes)),
      motif_(static_cast<size_t>(lanes)),
      last_voicing_centre_(static_cast<size_t>(lanes), 0) {
    for (auto& n : notes_) n.reserve(64);
}

void Composer::set_style(std::shared_ptr<const Style> style, bool now) {
    // A style ends a given score; set_score sets its score after this.
    score_.clear();
    score_pending_ = false;
    if (!style_) {
        style_ = std::move(style);
        tempo_ = style_->tempo;
    } else {
        pending_ = std::move(style);
        pending_now_ = now;
    }
}

float Composer::rand(int lane, int k) const {
    return philox_uniform(seed_ ^ 0xC0315E5Eull, static_cast<uint32_t>(lane),
                          (static_cast<uint64_t>(bar_) << 12) | static_cast<uint64_t>(k & 4095));
}

int Composer::degree_pitch(int degree, int octave) const {
    const int n = static_cast<int>(style_->scale.size());
    const int oct = degree >= 0 ? degree / n : -((-degree + n - 1) / n);
    // A key set live moves the style's tonic by at most a tritone, so registers stay where the style put them.
    const int root = key_ < 0 ? style_->root : style_->root + ((key_ - style_->root % 12 + 18) % 12 - 6);
    return root + 12 * (octave + oct) + style_->scale[static_cast<size_t>(degree - oct * n)];
}

void Composer::set_seed(uint64_t seed) {
    if (seed == seed_) return;
    seed_ = seed;
    for (auto& m : motif_) m.clear();
}

double Composer::swung(int step) const { return step / 4.0 + (step % 4 == 2 ? style_->swing * 0.5 : 0.0); }

void Composer::add(int lane, int pitch, int velocity, double start_step, double length_steps) {
    const double bar_start = static_cast<double>(bar_) * 4.0;
    const int step = static_cast<int>(start_step);
    if (step < min_step_) return;
    const double start = bar_start + swung(step) + (start_step - step) / 4.0;
    // Nothing outlasts its bar: the next bar may start the same pitch on the bar line.
    double end = std::min(start + std::max(length_steps, 0.25) / 4.0, bar_start + 4.0);
    pitch = std::clamp(pitch, 0, 127);
    // One pitch sounds once per lane at a time (MIDI cannot say otherwise): an earlier note of the
    // same pitch ends where this one starts, and this one ends where a later one starts. Swing
    // can push an off-beat note onto the next step's, which is what makes this necessary.
    auto& notes = notes_[static_cast<size_t>(lane)];
    for (Note& n : notes) {
        if (n.pitch != pitch) continue;
        if (n.start <= start && start < n.end) n.end = start;
        if (start < n.start && n.start < end) end = n.start;
    }
    notes.erase(std::remove_if(notes.begin(), notes.end(), [](const Note& n) { return !n.sounding && n.end <= n.start; }), notes.end());
    if (end <= start) return;
    notes.push_back({pitch, std::clamp(velocity, 1, 127), start, end, false});
}

void Composer::start_bar() {
    if (pending_) {
        style_ = std::move(pending_);
        pending_.reset();
        form_bar_ = 0;
        for (auto& m : motif_) m.clear();
    }
    ++bar_;
    min_step_ = 0;
    if (score_pending_) score_from_bar_ = bar_, score_pending_ = false;
    if (score_.empty()) {
        plan_bar();
    } else {
        // A given score: the notes that start in this bar, the score repeating every score_beats_.
        const double bar_start = static_cast<double>(bar_) * 4.0, origin = static_cast<double>(score_from_bar_) * 4.0;
        const double pass = std::floor((bar_start - origin) / score_beats_);
        for (int k = 0; k < 2; ++k) {  // the bar may straddle the end of one pass and the start of the next
            const double offset = origin + (pass + k) * score_beats_;
            for (const ScoreNote& n : score_) {
                const double start = offset + n.start;
                if (start < bar_start || start >= bar_start + 4.0 || n.lane >= lanes_) continue;
                notes_[static_cast<size_t>(n.lane)].push_back({n.pitch, n.velocity, start, offset + n.end, false});
            }
        }
        section_name_ = "score";
    }
    ++form_bar_;
}

void Composer::set_score(std::shared_ptr<const Style> style, std::vector<ScoreNote> notes, double beats) {
    set_style(std::move(style));
    score_ = std::move(notes);
    score_beats_ = std::max(4.0, std::ceil(beats / 4.0) * 4.0);  // whole bars, so passes stay on the bar grid
    score_pending_ = true;
}

void Composer::plan_bar() {
    const Style& s = *style_;
    int total = 0;
    for (const auto& sec : s.form) total += sec.bars;
    if (pending_next_section_) {
        // This bar starts the next section: the next section line at or after it (a bar that
        // starts one already stays). The fill, if it did not make the bar before, is not played
        // late in this one.
        const int64_t at = form_bar_ % total;
        int start = 0;
        for (size_t i = 0; i < s.form.size() && start < at; ++i) start += s.form[i].bars;
        form_bar_ = start;
        pending_next_section_ = false, pending_fill_ = false;
    }
    if (form_bar_ >= total) form_bar_ = 0, ++pass_;
    size_t si = 0;
    int at = static_cast<int>(form_bar_);
    for (; si < s.form.size(); ++si) {
        if (at < s.form[si].bars) break;
        at -= s.form[si].bars;
    }
    const Section& sec = s.form[si];
    section_name_ = sec.name;
    const int bar_in_sec = at;
    const bool last_bar = bar_in_sec + 1 == sec.bars;

    // Chords: the progression, entered at a different point in each section so that sections
    // differ; the last bar of a section of 4 or more bars is the dominant, a cadence into the next.
    const auto& prog = s.progression;
    auto chord_at = [&](int b, size_t section) { return prog[(static_cast<size_t>(b) + 2 * section) % prog.size()]; };
    std::vector<int> chord = chord_at(bar_in_sec, si);
    const bool cadence = last_bar && sec.bars >= 4;
    if (cadence) chord = {4, 6, 8};
    const int next_root = last_bar ? chord_at(0, (si + 1) % s.form.size())[0] : chord_at(bar_in_sec + 1, si)[0];

    const double density = sec.density * (0.35 + 0.65 * intensity_) * density_scale_;
    const bool crash = bar_in_sec == 0 && bar_ > 0;
    for (int lane = 0; lane < lanes_ && lane < static_cast<int>(s.tracks.size()); ++lane) {
        const TrackStyle& t = s.tracks[static_cast<size_t>(lane)];
        if (std::find(sec.roles.begin(), sec.roles.end(), t.role) == sec.roles.end()) {
            if (t.role == "lead") motif_[static_cast<size_t>(lane)].clear();  // a new motif when it comes back
            continue;
        }
        if (t.role == "drums") plan_drums(lane, t, density, last_bar || pending_fill_, crash);
        else if (t.role == "bass") plan_bass(lane, t, chord, density, next_root);
        else if (t.role == "harmony") plan_harmony(lane, t, chord, density);
        else if (intensity_ >= 0.15) {
            if (bar_in_sec == 0) motif_[static_cast<size_t>(lane)].clear();
            plan_lead(lane, t, chord, density, bar_in_sec % 4 == 3 || last_bar);
        }
    }
    pending_fill_ = false;
}

void Composer::plan_drums(int lane, const TrackStyle& t, double density, bool fill, bool crash) {
    struct Voice {
        const Pattern* p;
        const char* fallback;
        int pitch;
    };
    const Voice voices[] = {{&t.kick, "x...x...x...x...", 36},
                            {&t.snare, "....x.......x...", 38},
                            {&t.hat, "x.x.x.x.x.x.x.x.", 42},
                            {&t.open_hat, "", 46},
                            {&t.ride, "", 51},
                            {&t.clap, "", 39}};
    const int base = static_cast<int>(70 + 40 * intensity_);
    int k = 0;
    for (const Voice& v : voices) {
        const Pattern p = v.p->empty() ? Pattern(v.fallback) : *v.p;
        for (int step = 0; step < 16 && !p.empty(); ++step, ++k) {
            if (!plays(p, step)) continue;
            if (fill && step >= 12 && v.pitch != 36) continue;  // the fill owns the last beat
            const bool accent = p[static_cast<size_t>(step)] == 'o';
            const bool anchor = v.pitch == 36 && step % 4 == 0;  // the kick's downbeats always play
            if (!accent && !anchor && rand(lane, k) > density) continue;
            add(lane, v.pitch, base + (accent ? 15 : 0) - 12 + static_cast<int>(24 * rand(lane, k + 512)) / 2, step, 1);
        }
    }
    if (crash) add(lane, 49, base + 10, 0, 4);
    if (fill) add_fill(lane);
}

void Composer::add_fill(int lane) {
    // A snare roll over the last beat, rising, with toms under it when the music is intense.
    const int base = static_cast<int>(70 + 40 * intensity_);
    for (int step = 12; step < 16; ++step) {
        add(lane, 38, base - 25 + 10 * (step - 12), step, 1);
        if (intensity_ > 0.5 && step % 2 == 1) add(lane, step < 14 ? 47 : 45, base, step, 1);
    }
}

void Composer::cue(Cue c) {
    if (c == Cue::next_section) pending_next_section_ = true;
    pending_fill_ = true;
}

void Composer::fill_this_bar() {
    const double last_beat = static_cast<double>(bar_) * 4.0 + 3.0;
    for (int lane = 0; lane < lanes_ && lane < static_cast<int>(style_->tracks.size()); ++lane) {
        if (style_->tracks[static_cast<size_t>(lane)].role != "drums") continue;
        // The fill owns the last beat, as in a planned fill: all but the kick give way.
        auto& notes = notes_[static_cast<size_t>(lane)];
        notes.erase(
            std::remove_if(notes.begin(), notes.end(), [&](const Note& n) { return !n.sounding && n.start >= last_beat && n.pitch != 36; }),
            notes.end());
        add_fill(lane);
    }
}

void Composer::plan_bass(int lane, const TrackStyle& t, const std::vector<int>& chord, double density, int next_root) {
    const Pattern p = t.pattern.empty() ? Pattern(default_pattern("bass", "")) : t.pattern;
    const int octave = -2 + t.octave;
    const int base = static_cast<int>(75 + 35 * intensity_);
    for (int step = 0; step < 16; ++step) {
        const char c = p[static_cast<size_t>(step)];
        if (c == '.' || c == '-') continue;
        if (step != 0 && c != 'o' && rand(lane, step) > density) continue;
        int len = 1;
        while (step + len < 16 && p[static_cast<size_t>(step + len)] == '-') ++len;
        int pitch = degree_pitch(chord[0], octave);
        if (c == '3') pitch = degree_pitch(chord[1], octave);
        if (c == '5') pitch = degree_pitch(chord[2], octave);
        if (c == '8') pitch += 12;
        // The last note of the bar leans toward the next chord's root: a step above or below.
        if (step >= 12 && c == 'x' && rand(lane, 100 + step) < 0.35 * style_->variation * temperature_)
            pitch = degree_pitch(next_root + (rand(lane, 200 + step) < 0.5 ? 1 : -1), octave);
        add(lane, pitch, base + (c == 'o' ? 15 : 0), step, len * 0.9);
    }
}

void Composer::plan_harmony(int lane, const TrackStyle& t, const std::vector<int>& chord, double density) {
    // Voice leading: each chord tone goes to the octave nearest the last chord's centre.
    int& centre = last_voicing_centre_[static_cast<size_t>(lane)];
    if (centre == 0) centre = degree_pitch(0, -1 + t.octave) + 7;
    std::vector<int> voicing;
    for (int d : chord) {
        int p = degree_pitch(d, -1 + t.octave);
        while (p < centre - 6) p += 12;
        while (p > centre + 6) p -= 12;
        voicing.push_back(p);
    }
    std::sort(voicing.begin(), voicing.end());
    int sum = 0;
    for (int p : voicing) sum += p;
    centre = (centre + sum / static_cast<int>(voicing.size())) / 2;  // drift slowly with the music
    const int base = static_cast<int>(55 + 35 * intensity_);

    if (t.comping == "pad") {
        for (int p : voicing) add(lane, p, base - 5, 0, 16);
        return;
    }
    const Pattern pat = t.pattern.empty() ? Pattern(default_pattern("harmony", t.comping)) : t.pattern;
    int next_tone = 0;
    for (int step = 0; step < 16; ++step) {
        if (!plays(pat, step)) continue;
        if (step != 0 && pat[static_cast<size_t>(step)] != 'o' && rand(lane, step) > density) continue;
        int len = 1;
        while (step + len < 16 && !plays(pat, step + len)) ++len;
        const int vel = base + (pat[static_cast<size_t>(step)] == 'o' ? 12 : 0);
        if (t.comping == "stabs") {
            for (int p : voicing) add(lane, p, vel, step, std::min(len, 3) * 0.9);
        } else {  // arp: up through the chord, and an octave up on every other cycle
            const int cycle = next_tone / static_cast<int>(voicing.size());
            add(lane, voicing[static_cast<size_t>(next_tone) % voicing.size()] + 12 * (cycle % 2), vel, step, len * 0.9);
            ++next_tone;
        }
    }
}

void Composer::plan_lead(int lane, const TrackStyle& t, const std::vector<int>& chord, double density, bool phrase_end) {
    auto& motif = motif_[static_cast<size_t>(lane)];
    const Pattern pat = t.pattern.empty() ? Pattern(default_pattern("lead", "")) : t.pattern;
    if (motif.empty()) {
        // A two-bar motif in scale degrees above the chord root: chord tones on the beats, steps
        // between them, rests where the pattern rests or density thins it.
        motif.assign(32, kRest);
        int d = static_cast<int>(rand(lane, 3000) * 3) * 2;  // start on a chord tone
        for (int step = 0; step < 32; ++step) {
            const int s16 = step % 16;
            if (!plays(pat, s16) || (step != 0 && rand(lane, 3001 + step) > 0.4 + 0.6 * density)) continue;
            if (s16 % 4 == 0) d = static_cast<int>(std::lround(d / 2.0)) * 2;  // onto a chord tone
            else d += rand(lane, 3100 + step) < 0.5 ? 1 : -1;
            d = std::clamp(d, -2, 9);
            motif[static_cast<size_t>(step)] = d;
        }
    }
    const int half = static_cast<int>(bar_ % 2) * 16;
    const double vary = style_->variation * temperature_;
    std::vector<std::pair<int, int>> bar_notes;  // (step, degree)
    for (int step = 0; step < 16; ++step) {
        int d = motif[static_cast<size_t>(half + step)];
        if (d == kRest) continue;
        if (rand(lane, 4000 + step) < 0.25 * vary) continue;                                    // drop a note
        if (rand(lane, 4100 + step) < 0.4 * vary) d += rand(lane, 4200 + step) < 0.5 ? 1 : -1;  // bend one
        bar_notes.emplace_back(step, d);
    }
    const int base = static_cast<int>(70 + 40 * intensity_);
    for (size_t i = 0; i < bar_notes.size(); ++i) {
        const auto [step, d] = bar_notes[i];
        const int next = i + 1 < bar_notes.size() ? bar_notes[i + 1].first : 16;
        // At a phrase end the last note is held to the bar line: the phrase breathes.
        const double len = (i + 1 == bar_notes.size() && phrase_end) ? 16 - step : std::min(next - step, 4) * 0.9;
        add(lane, degree_pitch(chord[0] + d, t.octave), base + (step % 4 == 0 ? 8 : 0), step, len);
    }
}

void Composer::next_frames(int frames, float* features) {
    for (int f = 0; f < frames; ++f) {
        const double per_frame = tempo_ * frame_beats_per_bpm_;
        const double begin = beat_, end = beat_ + per_frame;
        // Plan every bar that starts before this frame ends.
        while (style_ && static_cast<double>(bar_ + 1) * 4.0 < end) start_bar();
        if (pending_fill_ && score_.empty() && bar_ >= 0 && end < static_cast<double>(bar_) * 4.0 + 3.0) {
            fill_this_bar();
            pending_fill_ = false;
        }
        // A switch "now" happens on the next beat inside this frame: the unplayed rest of the bar
        // is dropped and written again, in the new style, from its first section.
        const double next_beat = std::ceil(begin);
        if (pending_ && pending_now_ && next_beat < end && bar_ >= 0) {
            style_ = std::move(pending_);
            pending_.reset();
            form_bar_ = 0;
            for (auto& m : motif_) m.clear();
            for (auto& notes : notes_)
                notes.erase(std::remove_if(notes.begin(), notes.end(), [&](const Note& n) { return !n.sounding && n.start >= next_beat; }),
                            notes.end());
            min_step_ = static_cast<int>(std::lround((next_beat - static_cast<double>(bar_) * 4.0) * 4.0));
            plan_bar();
            ++form_bar_;
        }
        auto sample_at = [&](double b) {
            return sample_ + static_cast<uint64_t>(std::clamp((b - begin) / per_frame, 0.0, 1.0) * (frame_hop_ - 1));
        };
        for (; static_cast<double>(next_tick_) / 24.0 < end; ++next_tick_)
            clock_ticks_.push_back(sample_at(static_cast<double>(next_tick_) / 24.0));
        for (int lane = 0; lane < lanes_; ++lane) {
            float* feat = features + (static_cast<size_t>(f) * lanes_ + lane) * kFrameFeatures;
            clear_frame(feat);
            auto& notes = notes_[static_cast<size_t>(lane)];
            for (Note& n : notes) {
                if (n.start >= end) continue;
                const bool onset = !n.sounding;
                if (onset) {
                    events_.push_back({sample_at(n.start), n.start, lane, true, n.pitch, n.velocity});
                    n.sounding = true;
                }
                add_note(feat, n.pitch, n.velocity, onset, static_cast<float>(std::max(0.0, begin - n.start) * 60.0 / tempo_));
                if (n.end <= end) events_.push_back({sample_at(n.end), n.end, lane, false, n.pitch, 0});
            }
            notes.erase(std::remove_if(notes.begin(), notes.end(), [&](const Note& n) { return n.sounding && n.end <= end; }), notes.end());
        }
        beat_ = end;
        sample_ += static_cast<uint64_t>(frame_hop_);
    }
}

void Composer::take_clock_ticks(std::vector<uint64_t>& out) {
    out.insert(out.end(), clock_ticks_.begin(), clock_ticks_.end());
    clock_ticks_.clear();
}

void Composer::take_events(std::vector<MidiEvent>& out) {
    // Within one sample, note-offs first: a repeated pitch must end before it starts again.
    std::stable_sort(events_.begin(), events_.end(),
                     [](const MidiEvent& a, const MidiEvent& b) { return a.sample != b.sample ? a.sample < b.sample : (!a.on && b.on); });
    out.insert(out.end(), events_.begin(), events_.end());
    events_.clear();
}

}  // namespace wavecast
