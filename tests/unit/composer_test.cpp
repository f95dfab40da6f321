#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "kernels/frame_features.h"
#include "score/composer.h"
#include "score/style.h"

using namespace wavecast;

namespace {

const std::map<std::string, std::shared_ptr<const Style>>& styles() {
    static const auto s = load_styles(std::string(WAVECAST_SOURCE_DIR) + "/config/styles");
    return s;
}

constexpr int kRate = 16000, kHop = 160, kLanes = 4;

// Composes `seconds` of a style and returns every event.
std::vector<MidiEvent> compose(const std::string& style, double seconds, uint64_t seed, Composer** keep = nullptr, double intensity = 0.8) {
    static std::vector<std::unique_ptr<Composer>> alive;
    alive.push_back(std::make_unique<Composer>(kLanes, kRate, kHop, seed));
    Composer& c = *alive.back();
    c.set_style(styles().at(style));
    c.set_intensity(intensity);
    std::vector<float> feats(static_cast<size_t>(50) * kLanes * kFrameFeatures);
    std::vector<MidiEvent> ev;
    for (int f = 0; f < static_cast<int>(seconds * kRate / kHop); f += 50) {
        c.next_frames(50, feats.data());
        c.take_events(ev);
    }
    if (keep) *keep = &c;
    return ev;
}

bool same(const std::vector<MidiEvent>& a, const std::vector<MidiEvent>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (a[i].sample != b[i].sample || a[i].pitch != b[i].pitch || a[i].on != b[i].on || a[i].track != b[i].track ||
            a[i].velocity != b[i].velocity)
            return false;
    return true;
}

}  // namespace

TEST(Composer, SameSeedGivesSameNotesAndAnotherSeedOthers) {
    const auto a = compose("techno", 120, 7), b = compose("techno", 120, 7), c = compose("techno", 120, 8);
    ASSERT_GT(a.size(), 1000u);
    EXPECT_TRUE(same(a, b));
    EXPECT_FALSE(same(a, c));
}

TEST(Composer, EveryStyleComposesTenMinutesOfBalancedOrderedNotes) {
    ASSERT_GE(styles().size(), 8u);
    for (const auto& [name, style] : styles()) {
        const auto ev = compose(name, 600, 1);
        std::map<int, int> ons_per_track;
        std::map<std::pair<int, int>, int> open;  // (track, pitch) -> sounding count
        uint64_t last = 0;
        for (const auto& e : ev) {
            ASSERT_GE(e.sample, last) << name << ": events out of order";
            last = e.sample;
            ASSERT_GE(e.pitch, 0);
            ASSERT_LE(e.pitch, 127);
            int& sounding = open[std::make_pair(e.track, e.pitch)];
            if (e.on) {
                ASSERT_EQ(sounding, 0) << name << ": pitch " << e.pitch << " restarted on track " << e.track << " while sounding";
                ++sounding, ++ons_per_track[e.track];
            } else {
                ASSERT_EQ(sounding, 1) << name << ": note-off without a note-on";
                --sounding;
            }
        }
        for (size_t t = 0; t < style->tracks.size() && t < static_cast<size_t>(kLanes); ++t)
            EXPECT_GT(ons_per_track[static_cast<int>(t)], 50) << name << ": track " << style->tracks[t].name << " hardly plays";
    }
}

TEST(Composer, StatisticsFollowTheStyleFile) {
    for (const auto& [name, style] : styles()) {
        Composer* c = nullptr;
        const auto ev = compose(name, 120, 3, &c);
        // Tempo: the beat grid advanced by tempo * minutes (to within a frame).
        EXPECT_NEAR(c->beat(), style->tempo * 2.0, style->tempo / 60.0 * kHop / kRate + 1e-6) << name;
        std::map<std::string, std::vector<int>> pitches;
        for (const auto& e : ev)
            if (e.on) pitches[style->tracks[static_cast<size_t>(e.track)].role].push_back(e.pitch);
        auto mean = [](const std::vector<int>& v) {
            double s = 0;
            for (int p : v) s += p;
            return v.empty() ? 0.0 : s / static_cast<double>(v.size());
        };
        // Register: bass below harmony below (or around) lead.
        if (!pitches["bass"].empty() && !pitches["lead"].empty()) {
            EXPECT_LT(mean(pitches["bass"]), mean(pitches["lead"]) - 12) << name;
        }
        // Drums stay on General MIDI percussion keys; a style without drums plays none.
        bool has_drums = false;
        for (const auto& t : style->tracks) has_drums |= t.drums;
        EXPECT_EQ(!pitches["drums"].empty(), has_drums) << name;
        for (int p : pitches["drums"]) EXPECT_TRUE(p >= 35 && p <= 81) << name << " drum key " << p;
        // Every harmony and lead note belongs to the style's scale (drums and bass leading tones aside).
        std::set<int> pcs;
        for (int d : style->scale) pcs.insert((style->root + d) % 12);
        for (const char* role : {"harmony", "lead"})
            for (int p : pitches[role]) EXPECT_TRUE(pcs.count(p % 12)) << name << ": " << role << " pitch " << p << " outside the scale";
    }
}

TEST(Composer, SectionsChangeWhatPlaysAndMotifsDoNotLoop) {
    const auto& style = *styles().at("techno");
    const auto ev = compose("techno", 60.0 * 32 * 4 / style.tempo, 5);  // 32 bars
    const double bar_samples = 4 * 60.0 / style.tempo * kRate;
    std::map<int, std::set<int>> tracks_in_bar;
    std::map<int, std::vector<int>> lead_in_bar;
    for (const auto& e : ev) {
        if (!e.on) continue;
        const int bar = static_cast<int>(e.sample / bar_samples);
        tracks_in_bar[bar].insert(e.track);
        if (e.track == 3) lead_in_bar[bar].push_back(e.pitch * 1000 + static_cast<int>(e.sample - bar * bar_samples) / 100);
    }
    // techno's form opens with 8 bars of intro (drums and harmony only), then a build with all four.
    for (int bar = 0; bar < 7; ++bar) EXPECT_EQ(tracks_in_bar[bar].count(3), 0u) << "lead in intro bar " << bar;
    EXPECT_EQ(tracks_in_bar[10].size(), 4u);
    std::set<std::vector<int>> distinct;
    for (const auto& [bar, sig] : lead_in_bar) distinct.insert(sig);
    EXPECT_GE(distinct.size(), lead_in_bar.size() * 3 / 4) << "the lead repeats itself bar for bar";
}

TEST(Composer, TempoChangesKeepTheBeatGridAndStyleChangesWaitForTheBar) {
    Composer c(kLanes, kRate, kHop, 1);
    c.set_style(styles().at("house"));
    std::vector<float> feats(static_cast<size_t>(kLanes) * kFrameFeatures);
    std::vector<MidiEvent> ev;
    double last_beat = 0;
    for (int f = 0; f < 3000; ++f) {
        if (f == 1000) c.set_tempo(140);
        if (f == 2001) c.set_style(styles().at("techno"));
        c.next_frames(1, feats.data());
        ASSERT_GT(c.beat(), last_beat);
        last_beat = c.beat();
        c.take_events(ev);
    }
    // Kicks stay on whole beats across the tempo change.
    int kicks = 0;
    for (const auto& e : ev)
        if (e.on && e.track == 0 && e.pitch == 36) {
            EXPECT_NEAR(e.beat, std::round(e.beat), 1e-9);
            ++kicks;
        }
    EXPECT_GT(kicks, 50);
    EXPECT_EQ(c.style().name, "techno");
}

TEST(Composer, AStyleSwitchNowTakesEffectOnTheNextBeat) {
    Composer c(kLanes, kRate, kHop, 1);
    c.set_style(styles().at("house"));
    std::vector<float> feats(static_cast<size_t>(kLanes) * kFrameFeatures);
    while (c.beat() < 5.3) c.next_frames(1, feats.data());  // a third of the way into bar 2's second beat
    c.set_style(styles().at("techno"), true);
    std::vector<MidiEvent> ev;
    c.take_events(ev);
    ev.clear();
    while (c.beat() < 6.05) c.next_frames(1, feats.data());
    EXPECT_EQ(c.style().name, "techno") << "still " << c.style().name << " at beat " << c.beat();
    c.take_events(ev);
    bool drums_on_beat = false;  // techno's accented kick on every beat: the drums play on the beat after the switch
    for (const auto& e : ev) drums_on_beat |= e.on && e.beat >= 6.0 && e.beat < 6.05 && e.track == 0;
    EXPECT_TRUE(drums_on_beat) << "nothing played on the beat after the switch";
    Composer d(kLanes, kRate, kHop, 1);
    d.set_style(styles().at("house"));
    while (d.beat() < 5.3) d.next_frames(1, feats.data());
    d.set_style(styles().at("techno"));
    while (d.beat() < 7.9) d.next_frames(1, feats.data());
    EXPECT_EQ(d.style().name, "house") << "without now, the switch waits for the bar line";
    while (d.beat() < 8.05) d.next_frames(1, feats.data());
    EXPECT_EQ(d.style().name, "techno");
}

TEST(Composer, KeyAndSeedAreLiveParameters) {
    Composer c(kLanes, kRate, kHop, 1);
    const auto& style = styles().at("techno");  // A minor
    c.set_style(style);
    c.set_intensity(0.9);
    c.set_key(2);  // D minor from the first bar
    std::vector<float> feats(static_cast<size_t>(50) * kLanes * kFrameFeatures);
    std::vector<MidiEvent> ev;
    for (int i = 0; i < 60; ++i) c.next_frames(50, feats.data());  // 30 s
    c.take_events(ev);
    std::set<int> d_minor;
    for (int d : style->scale) d_minor.insert((2 + d) % 12);
    int tonal = 0;
    for (const auto& e : ev) {
        const auto& role = style->tracks[static_cast<size_t>(e.track)].role;
        if (!e.on || (role != "harmony" && role != "lead")) continue;
        EXPECT_TRUE(d_minor.count(e.pitch % 12)) << "pitch " << e.pitch << " is not in D minor";
        ++tonal;
    }
    EXPECT_GT(tonal, 50);
    Composer a(kLanes, kRate, kHop, 1), b(kLanes, kRate, kHop, 1);
    a.set_style(style), b.set_style(style);
    b.set_seed(77);
    std::vector<MidiEvent> ea, eb;
    for (int i = 0; i < 40; ++i) a.next_frames(50, feats.data()), b.next_frames(50, feats.data());
    a.take_events(ea), b.take_events(eb);
    EXPECT_FALSE(same(ea, eb)) << "another seed set live must give other music";
}

// MIDI clock out's ticks: one at every 24th of a beat from beat 0, at the sample the beat reaches
// it, across a tempo change.
TEST(Composer, ClockTicksFallOnEvery24thOfABeat) {
    Composer c(kLanes, kRate, kHop, 7);
    c.set_style(styles().at("techno"));
    c.set_tempo(120);
    std::vector<float> feats(static_cast<size_t>(100) * kLanes * kFrameFeatures);
    std::vector<uint64_t> ticks;
    c.next_frames(100, feats.data());  // 1 s: beats 0 to 2
    c.take_clock_ticks(ticks);
    c.set_tempo(90);                   // from 1 s on, a beat every 2/3 s
    c.next_frames(100, feats.data());  // beats 2 to 3.5
    c.take_clock_ticks(ticks);
    // The last may fall in either second: the beat sums in floating point.
    ASSERT_GE(ticks.size(), 84u);
    for (size_t k = 0; k < 84; ++k) {
        const double expected = k < 48 ? k * kRate * 0.5 / 24 : kRate + static_cast<double>(k - 48) * kRate * (2.0 / 3.0) / 24;
        // Within 2 samples (an eighth of a millisecond): the rounding the notes' samples have too.
        EXPECT_NEAR(static_cast<double>(ticks[k]), expected, 2.0) << k;
    }
}

namespace {

// Composes frame by frame until the composer's beat reaches `beat`.
void compose_to(Composer& c, double beat, std::vector<MidiEvent>& ev) {
    std::vector<float> feats(static_cast<size_t>(kLanes) * kFrameFeatures);
    while (c.beat() < beat) {
        c.next_frames(1, feats.data());
        c.take_events(ev);
    }
}

std::vector<int> onsets(const std::vector<MidiEvent>& ev, int lane, double from, double to) {
    std::vector<int> pitches;
    for (const auto& e : ev)
        if (e.on && e.track == lane && e.beat >= from && e.beat < to) pitches.push_back(e.pitch);
    return pitches;
}

}  // namespace

// A performer's fill: cued early in a bar, the drums play a snare roll over its last beat in place
// of the hats and snares they had planned (the kick stays); cued once the composer is into that
// beat, the roll comes a bar later.
TEST(Composer, AFillCuedPlaysOverTheLastBeat) {
    for (const double cue_at : {9.0, 11.5}) {  // bar 2 (beats 8 to 12): before its last beat, and in it
        Composer plain(kLanes, kRate, kHop, 3), cued(kLanes, kRate, kHop, 3);
        std::vector<MidiEvent> a, b;
        for (Composer* c : {&plain, &cued}) c->set_style(styles().at("techno")), c->set_intensity(0.8);
        compose_to(plain, cue_at, a);
        compose_to(cued, cue_at, b);
        cued.cue(Composer::Cue::fill);
        compose_to(plain, 20, a);
        compose_to(cued, 20, b);
        const double fill_beat = cue_at < 11 ? 11 : 15;
        const std::vector<int> roll = onsets(b, 0, fill_beat, fill_beat + 1);
        EXPECT_EQ(std::count(roll.begin(), roll.end(), 38), 4) << "cued at " << cue_at;
        EXPECT_EQ(std::count(roll.begin(), roll.end(), 42), 0) << "cued at " << cue_at;
        EXPECT_NE(onsets(a, 0, fill_beat, fill_beat + 1), roll) << "without the cue, no roll there";
        // Everything else as it was: the other lanes, and the drums' other beats.
        EXPECT_EQ(onsets(a, 1, 0, 20), onsets(b, 1, 0, 20));
        EXPECT_EQ(onsets(a, 0, 0, fill_beat), onsets(b, 0, 0, fill_beat));
    }
}

// The next section: a fill to end this bar, then the form's next section from the next bar line.
TEST(Composer, TheNextSectionCuedStartsAtTheNextBar) {
    Composer c(kLanes, kRate, kHop, 5);
    c.set_style(styles().at("techno"));  // intro:8, build:8, drop:16, ...
    std::vector<MidiEvent> ev;
    compose_to(c, 2 * 4 + 1, ev);  // bar 2 of the intro
    EXPECT_EQ(c.section(), "intro");
    c.cue(Composer::Cue::next_section);
    compose_to(c, 3 * 4 + 0.5, ev);
    EXPECT_EQ(c.section(), "build") << "at bar 3";
    const std::vector<int> roll = onsets(ev, 0, 11, 12);
    EXPECT_EQ(std::count(roll.begin(), roll.end(), 38), 4);
    // The build runs its 8 bars from there: the drop at bar 11.
    compose_to(c, 10 * 4 + 1, ev);
    EXPECT_EQ(c.section(), "build");
    compose_to(c, 11 * 4 + 1, ev);
    EXPECT_EQ(c.section(), "drop");
}
