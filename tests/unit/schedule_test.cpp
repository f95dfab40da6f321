// The station's clock (daemon/schedule.h): which changes fall due between two readings of the
// local time, on synthetic times.
#include <gtest/gtest.h>

#include "daemon/schedule.h"

using namespace wavecast;

namespace {
constexpr long long kDay = 86400;
// 2026-12-07, a Monday, at local midnight (days since 1970-01-01: 20794).
constexpr long long kMonday = 20794 * kDay;

std::vector<std::string> styles_of(const std::vector<Scheduler::Change>& changes) {
    std::vector<std::string> out;
    for (const auto& c : changes) out.push_back(c.style);
    return out;
}
}  // namespace

TEST(Schedule, TimesOfDayFireOnceWhenPassedAndOnlyOnTheirDays) {
    ScheduleEntry e;
    e.at_s = {6 * 3600, 18 * 3600};
    e.styles = {"ambient"};
    e.days = 1u << 1;  // Mondays
    Scheduler s({e});
    EXPECT_TRUE(s.due(kMonday + 6 * 3600 - 1).empty()) << "the first reading only starts the clock";
    EXPECT_EQ(s.due(kMonday + 6 * 3600).size(), 1u) << "due at 06:00:00 exactly";
    EXPECT_TRUE(s.due(kMonday + 6 * 3600 + 1).empty()) << "and once";
    EXPECT_EQ(s.due(kMonday + 20 * 3600).size(), 1u) << "18:00 passed between readings";
    EXPECT_TRUE(s.due(kMonday + kDay + 7 * 3600).empty()) << "Tuesday 06:00 is not a Monday";
    EXPECT_EQ(s.due(kMonday + 7 * kDay + 6 * 3600).size(), 1u) << "the next Monday's 06:00, once, after a jump of days";
    EXPECT_EQ(s.due(kMonday + 7 * kDay + 18 * 3600).size(), 1u);
}

TEST(Schedule, EveryTakesTheStylesInTurnAlignedToTheClock) {
    ScheduleEntry e;
    e.every_s = 900;
    e.styles = {"a", "b", "c"};
    Scheduler s({e});
    s.due(kMonday + 10);
    EXPECT_TRUE(s.due(kMonday + 899).empty());
    const auto at15 = s.due(kMonday + 900);
    ASSERT_EQ(styles_of(at15).size(), 1u);
    EXPECT_EQ(styles_of(s.due(kMonday + 1800)).size(), 1u);
    // The turn is the slot's number since the epoch, so a restart continues the same rotation.
    Scheduler again({e});
    again.due(kMonday + 1799);
    EXPECT_EQ(styles_of(again.due(kMonday + 1800)), std::vector<std::string>{s.entries()[0].styles[(kMonday + 1800) / 900 % 3]});
    EXPECT_NE(styles_of(at15), styles_of(again.due(kMonday + 2700)));
}

TEST(Schedule, TheClockGoingBackFiresNothing) {
    ScheduleEntry e;
    e.every_s = 60;
    e.styles = {"a"};
    Scheduler s({e});
    s.due(kMonday + 600);
    EXPECT_TRUE(s.due(kMonday + 300).empty());
    EXPECT_TRUE(s.due(kMonday + 330).empty()) << "nothing passed since the clock went back";
    EXPECT_EQ(s.due(kMonday + 360).size(), 1u);
}
