#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "protocol/protocol.h"
#include "protocol/requests.h"

using namespace wavecast::protocol;

namespace {

// Parses `raw`, expecting an Error with `code` whose message mentions `field`.
void expect_error(const std::string& raw, const std::string& code, const std::string& field = "") {
    json id;
    try {
        parse_request(raw, id);
        FAIL() << "accepted: " << raw;
    } catch (const Error& e) {
        EXPECT_EQ(e.code, code) << raw << " -> " << e.what();
        EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
}

}  // namespace

TEST(Protocol, ParsesValidRequestsAndKeepsTheirId) {
    json id;
    const auto r = parse_request(R"({"cmd":"set","id":17,"stream":"main","params":{"temperature":0.9}})", id);
    EXPECT_EQ(r.cmd, "set");
    EXPECT_EQ(id, 17);
    EXPECT_EQ(r.body["params"]["temperature"], 0.9);
    for (const char* raw :
         {R"({"cmd":"ping"})", R"({"cmd":"status","id":"abc"})", R"({"cmd":"styles"})", R"({"cmd":"style","name":"techno","now":true})",
          R"({"cmd":"record","path":"/tmp/x.wav","seconds":3})", R"({"cmd":"stop-record","stream":"main"})"})
        EXPECT_NO_THROW(parse_request(raw, id)) << raw;
}

TEST(Protocol, RejectsMalformedRequestsWithCodesNamingTheField) {
    expect_error("{not json", code::bad_json);
    expect_error("", code::bad_json);
    expect_error("[1,2]", code::bad_request);
    expect_error(R"({"id":1})", code::bad_request, "cmd");
    expect_error(R"({"cmd":5})", code::bad_type, "cmd");
    expect_error(R"({"cmd":"dance"})", code::unknown_command, "dance");
    expect_error(R"({"cmd":"ping","volume":3})", code::bad_request, "volume");
    expect_error(std::string(kMaxRequestBytes + 1, ' '), code::too_large);
}

TEST(Protocol, ErrorRepliesCarryTheRequestIdWhenThereIsOne) {
    json id;
    EXPECT_THROW(parse_request(R"({"cmd":"dance","id":42})", id), Error);
    EXPECT_EQ(id, 42);
    const json r = error_reply(id, code::unknown_command, "x");
    EXPECT_FALSE(r["ok"]);
    EXPECT_EQ(r["id"], 42);
    EXPECT_EQ(r["error"]["code"], "unknown_command");
}

TEST(Protocol, ChecksParametersByNameTypeAndRange) {
    EXPECT_DOUBLE_EQ(check_param("params", "temperature", 0.5), 0.5);
    EXPECT_DOUBLE_EQ(check_param("params", "tempo", 128), 128);
    auto code_of = [](const std::string& name, const json& v) {
        try {
            check_param("params", name, v);
        } catch (const Error& e) {
            return e.code;
        }
        return std::string("accepted");
    };
    EXPECT_EQ(code_of("volume", 1), code::unknown_param);
    EXPECT_EQ(code_of("temperature", "hot"), code::bad_type);
    EXPECT_EQ(code_of("temperature", nullptr), code::bad_type);
    EXPECT_EQ(code_of("temperature", -0.1), code::out_of_range);
    EXPECT_EQ(code_of("tempo", 1000), code::out_of_range);
    EXPECT_EQ(code_of("gain_db", std::numeric_limits<double>::infinity()), code::out_of_range);
    EXPECT_EQ(code_of("gain_db", std::nan("")), code::out_of_range);
    EXPECT_EQ(code_of("key", 2.5), code::bad_type);
    EXPECT_EQ(code_of("key", 12), code::out_of_range);
    EXPECT_EQ(code_of("seed", -1), code::out_of_range);
    EXPECT_DOUBLE_EQ(check_param("params", "key", 7), 7);
}

TEST(Protocol, TypedGettersRefuseWrongTypes) {
    const json body = {{"path", 3}, {"seconds", "ten"}, {"now", 1}};
    EXPECT_THROW(get_string(body, "path"), Error);
    EXPECT_THROW(get_number(body, "seconds", 0, 10), Error);
    EXPECT_THROW(get_bool(body, "now"), Error);
    EXPECT_FALSE(get_string(body, "missing").has_value());
    EXPECT_THROW(require_string(body, "missing"), Error);
}

// The README's table of live parameters is the one params.h holds (`wavecast params` prints it).
TEST(Params, TheReadmesTableIsTheParameterTable) {
    std::ifstream in(std::string(WAVECAST_SOURCE_DIR) + "/README.md");
    std::stringstream readme;
    readme << in.rdbuf();
    EXPECT_NE(readme.str().find(wavecast::params_markdown()), std::string::npos)
        << "README.md's table differs from protocol/params.h; paste `wavecast params`:\n"
        << wavecast::params_markdown();
}

// Every command goes to JSON and parses back to itself: the client and the daemon share one vocabulary.
TEST(Protocol, TypedCommandsRoundTrip) {
    using namespace wavecast;
    const std::vector<Command> commands = {Ping{},
                                           Status{},
                                           Styles{},
                                           StyleCmd{"main", "house", true, 8.0, {{"house", 0.7}, {"jazz_trio", 0.3}}},
                                           Set{std::nullopt, {{"temperature", 0.8}, {"key", 3}}},
                                           Record{"b", "set.flac", 30, 16, "set.mid", true},
                                           StopRecord{"main"},
                                           Score{std::nullopt, "x.mid"},
                                           Learn{"main", "temperature", 0.2, 1.5, Curve::exp, false},
                                           Learn{std::nullopt, "", std::nullopt, std::nullopt, Curve::linear, true},
                                           Mappings{"main", true},
                                           Cue{"main", CueKind::fill},
                                           Cue{std::nullopt, CueKind::next_section}};
    for (const auto& c : commands) {
        json id;
        const json wire = to_json(c, 7);
        const TypedRequest back = parse(wire.dump(), id);
        EXPECT_EQ(id, 7);
        EXPECT_EQ(to_json(back.command, 7), wire) << wire.dump();
    }
}

TEST(Protocol, TypedParsingChecksEveryField) {
    json id;
    auto code_of = [&](const std::string& raw) {
        try {
            parse(raw, id);
        } catch (const Error& e) {
            return e.code;
        }
        return std::string("accepted");
    };
    EXPECT_EQ(code_of(R"({"cmd":"set","params":{}})"), code::bad_request);
    EXPECT_EQ(code_of(R"({"cmd":"set","params":{"tempo":1000}})"), code::out_of_range);
    EXPECT_EQ(code_of(R"({"cmd":"style","name":"a","crossfade":601})"), code::out_of_range);
    EXPECT_EQ(code_of(R"({"cmd":"style","name":"a","blend":{"b":1}})"), code::bad_request);
    EXPECT_EQ(code_of(R"({"cmd":"style","name":"a","blend":{"a":0}})"), code::out_of_range);
    EXPECT_EQ(code_of(R"({"cmd":"record","path":"x.wav","bits":20})"), code::out_of_range);
    EXPECT_EQ(code_of(R"({"cmd":"record","path":""})"), code::out_of_range);
    EXPECT_EQ(code_of(R"({"cmd":"record","path":"x.wav","overwrite":"yes"})"), code::bad_type);
    EXPECT_EQ(code_of(R"({"cmd":"score"})"), code::bad_request);
    EXPECT_EQ(code_of(R"({"cmd":"learn"})"), code::bad_request);
    EXPECT_EQ(code_of(R"({"cmd":"learn","param":"loudness"})"), code::unknown_param);
    EXPECT_EQ(code_of(R"({"cmd":"learn","param":"tempo","max":301})"), code::out_of_range);
    EXPECT_EQ(code_of(R"({"cmd":"learn","param":"gain_db","curve":"exp"})"), code::out_of_range);  // -60 .. 12 crosses 0
    EXPECT_EQ(code_of(R"({"cmd":"learn","param":"gain_db","curve":"log"})"), code::out_of_range);
    EXPECT_EQ(code_of(R"({"cmd":"learn","cancel":true,"param":"tempo"})"), code::bad_request);
    EXPECT_EQ(code_of(R"({"cmd":"mappings","save":1})"), code::bad_type);
    EXPECT_EQ(code_of(R"({"cmd":"cue"})"), code::bad_request);
    EXPECT_EQ(code_of(R"({"cmd":"cue","what":"drop"})"), code::out_of_range);
    EXPECT_EQ(code_of(R"({"cmd":"cue","what":1})"), code::bad_type);
    EXPECT_EQ(code_of(R"({"cmd":"learn","param":"tempo","min":60,"max":180,"curve":"exp"})"), "accepted");
    EXPECT_EQ(code_of(R"({"cmd":"set","params":{"temperature":0.5}})"), "accepted");
}
