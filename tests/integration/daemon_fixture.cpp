#include "tests/integration/daemon_fixture.h"

std::string DaemonTest::setup_error_;
TempDir* DaemonTest::dir_ = nullptr;
harness::JackServer* DaemonTest::jack_ = nullptr;
harness::Daemon* DaemonTest::daemon_ = nullptr;
