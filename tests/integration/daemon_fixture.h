// The daemon most end-to-end tests share: one wavecastd (the shipped styles, a random small model)
// on a dummy jackd of its own, started once for the suite. Tests that need another start their
// own beside it.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "tests/integration/harness.h"
#include "tests/unit/temp_dir.h"

class DaemonTest : public ::testing::Test {
protected:
    // A failure here is recorded and reported by every test's SetUp: gtest would otherwise mark
    // the tests skipped, and a skip must never stand for a broken daemon.
    static void SetUpTestSuite() {
        try {
            dir_ = new TempDir;
            jack_ = new harness::JackServer(dir_->path.string());
            daemon_ = new harness::Daemon(dir_->path.string(), *jack_);
            if (!daemon_->wait_ready(30)) setup_error_ = "wavecastd did not come up:\n" + daemon_->proc->log();
        } catch (const std::exception& e) {
            setup_error_ = e.what();
        }
    }
    static void TearDownTestSuite() {
        delete daemon_;
        delete jack_;
        delete dir_;
        daemon_ = nullptr, jack_ = nullptr, dir_ = nullptr;
    }
    void SetUp() override {
        if (!setup_error_.empty()) FAIL() << setup_error_;
    }

    static TempDir* dir_;
    static harness::JackServer* jack_;
    static harness::Daemon* daemon_;
    static std::string setup_error_;
};
