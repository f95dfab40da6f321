// wavecastd-faults: wavecastd with the faults of $WAVECAST_TEST_FAULTS wrapped around each stream's
// stages (faults.h), for the integration tests of the recovery paths. Never installed.
#include <cstdio>

#include "daemon/cli.h"
#include "tests/support/faults.h"

int main(int argc, char** argv) {
    wavecast::StageHooks hooks;
    try {
        hooks = wavecast::hooks_from_env();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "wavecastd-faults: %s\n", e.what());
        return 1;
    }
    return wavecast::wavecastd_main(argc, argv, hooks);
}
