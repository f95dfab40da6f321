// Every GPU test starts with REQUIRE_GPU(): where no device answers it skips, visibly, saying why.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "kernels/backend.h"

#define REQUIRE_GPU()                                                                \
    do {                                                                             \
        std::string why;                                                             \
        if (wavecast::cuda_devices(&why).empty()) GTEST_SKIP() << "no GPU: " << why; \
    } while (0)
