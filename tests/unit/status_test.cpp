// Status is written in one place (daemon/status.cpp), each leaf struct field for field: these
// tests count a struct's fields and hold its JSON's keys to them, so a field added to one of
// them fails here until it is published.
#include <gtest/gtest.h>

#include <cmath>

#include "daemon/status.h"

using namespace wavecast;

namespace {

// Converts to anything: aggregate-initialising a struct with N of these compiles exactly when it
// has N fields or more.
struct Any {
    template <class T>
    operator T() const;
};

template <class T, class... A>
constexpr size_t field_count() {
    if constexpr (requires { T{A{}..., Any{}}; }) return field_count<T, A..., Any>();
    else return sizeof...(A);
}

}  // namespace

TEST(StatusJson, EveryFieldOfEveryLeafIsPublished) {
    EXPECT_EQ(to_json(JackView{}).size(), field_count<JackView>());
    EXPECT_EQ(to_json(LinkView{}).size(), field_count<LinkView>());
    EXPECT_EQ(to_json(MidiClockView{}).size(), field_count<MidiClockView>());
    EXPECT_EQ(to_json(RecorderStatus{}).size(), field_count<RecorderStatus>());
    EXPECT_EQ(to_json(LoudnessStats{}).size(), field_count<LoudnessStats>());
    EXPECT_EQ(to_json(LatencyView{}).size(), field_count<LatencyView>());
    // An Icecast output adds its type and the reconnects its connects give.
    EXPECT_EQ(to_json(IcecastStatus{}).size(), field_count<IcecastStatus>() + 2);
}

TEST(StatusJson, TheDaemonsShapeIsTheContracts) {
    DaemonStatus s;
    s.backend = "cpu";
    s.model = {"m.safetensors", "small", true};
    s.jack.enabled = true, s.jack.xruns = 3;
    s.tempo.link = LinkView{2, 120, 0.01, 1.001};
    s.streams.emplace_back();
    s.streams.back().name = "main";
    const nlohmann::json j = to_json(s);
    for (const char* key : {"backend", "model", "sample_rate", "output_rate", "uptime_s", "jack", "clock", "link", "midi_clock", "streams"})
        EXPECT_TRUE(j.contains(key)) << key;
    EXPECT_EQ(j["model"]["weights"], "trained");
    EXPECT_EQ(j["clock"], "jack");
    EXPECT_EQ(j["link"]["enabled"], true);
    EXPECT_EQ(j["link"]["peers"], 2);
    EXPECT_EQ(j["midi_clock"], (nlohmann::json{{"enabled", false}}));
    EXPECT_EQ(j["streams"][0]["xruns"], 3) << "each stream shows JACK's xruns";
    EXPECT_TRUE(j["streams"][0]["loudness"]["momentary_lufs"].is_null()) << "no infinity in JSON: a meter that heard only silence";
    EXPECT_EQ(j["streams"][0]["params"].size(), kParamCount);
}
