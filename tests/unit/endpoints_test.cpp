// The loopback guard reads an endpoint as libzmq will bind it: one address and a port, nothing
// that could listen beyond this machine without CURVE.
#include <gtest/gtest.h>

#include "control/endpoints.h"

using wavecast::endpoint_problem;

TEST(Endpoints, TakesWhatStaysOnThisMachine) {
    for (const char* e : {"tcp://127.0.0.1:5557", "tcp://127.0.0.2:1", "tcp://localhost:5557", "tcp://lo:5557", "tcp://[::1]:5557",
                          "tcp://127.0.0.1:*", "tcp://127.0.0.1:0", "ipc:///tmp/wavecast.sock", "inproc://x"})
        EXPECT_EQ(endpoint_problem(e, false), "") << e;
}

// libzmq binds what follows a ';' (the first part is a source address): the 2026-12-07 attack
// listened on 0.0.0.0 through an endpoint that began with 127.0.0.1.
TEST(Endpoints, RefusesASourceAddressPart) {
    for (const char* e : {"tcp://127.0.0.1:5557;0.0.0.0:5559", "tcp://127.0.0.1:1;127.0.0.1:2", "tcp://127.0.0.1;0.0.0.0:5559"}) {
        EXPECT_NE(endpoint_problem(e, false).find("';'"), std::string::npos) << e;
        EXPECT_NE(endpoint_problem(e, true), "") << e << " (with CURVE too: one address is one address)";
    }
}

TEST(Endpoints, RefusesWildcardsNamesAndMalformedPorts) {
    for (const char* e : {"tcp://*:5557", "tcp://0.0.0.0:5557", "tcp://eth0:5557", "tcp://127.evil.example:5557",
                          "tcp://127.0.0.1.nip.io:5557", "tcp://[::]:5557", "tcp://[::ffff:10.0.0.1]:5557", "tcp://10.1.2.3:5557"})
        EXPECT_NE(endpoint_problem(e, false).find("can be reached from other machines"), std::string::npos) << e;
    for (const char* e : {"tcp://127.0.0.1", "tcp://127.0.0.1:", "tcp://127.0.0.1:99999", "tcp://127.0.0.1:55x", "tcp://::1:5557",
                          "tcp://[::1]5557", "tcp://:5557", "tcp://127.0.0.1:1:2"})
        EXPECT_NE(endpoint_problem(e, false), "") << e;
    EXPECT_NE(endpoint_problem("epgm://lo;239.192.7.7:6678", false).find("only tcp://"), std::string::npos);
}

TEST(Endpoints, CurveTakesAnyWellFormedAddress) {
    for (const char* e : {"tcp://*:5557", "tcp://0.0.0.0:5557", "tcp://eth0:5557", "tcp://[::]:5557"})
        EXPECT_EQ(endpoint_problem(e, true), "") << e;
    EXPECT_NE(endpoint_problem("tcp://0.0.0.0", true), "");
}
