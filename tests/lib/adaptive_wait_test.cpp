// SPDX-License-Identifier: GPL-2.0
// The waiting policy of blocked calls (userspace/lib/adaptive_wait.h) on a
// fake clock: how its budget follows the waits, and the regression it was
// written for (a pair of waiters stuck sleeping on every message).
#include <gtest/gtest.h>

#include "userspace/lib/adaptive_wait.h"

namespace {

using exo::wait::Mode;

// Time moves only when the test says, or by |tick| at every read.
struct FakeClock {
  static inline uint64_t now = 1000000;
  static inline uint64_t tick = 0;
  static uint64_t now_ns() { return now += tick; }
};
using Wait = exo::wait::BasicAdaptiveWait<FakeClock>;
constexpr auto kSpin = Wait::kSpinLimits;
constexpr auto kYield = Wait::kYieldLimits;

class AdaptiveWaitTest : public testing::Test {
 protected:
  void SetUp() override {
    FakeClock::now = 1000000;
    FakeClock::tick = 100;  // 100 ns a clock read: 16 pauses' worth
  }
  // A wait whose peer never comes during the active phase, then sleeps
  // |asleep_ns| before the message arrives.
  void wait_that_sleeps(Wait& w, uint64_t asleep_ns) {
    ASSERT_FALSE(w.wait_actively([] { return false; }));
    FakeClock::now += asleep_ns;
    w.ended_asleep();
  }
  // A wait whose message comes after |reads| clock reads of spinning.
  bool wait_that_spins(Wait& w, int reads) {
    int checks = 0;
    return w.wait_actively([&] { return ++checks > reads * Wait::kPausesPerClockRead; });
  }
};

TEST_F(AdaptiveWaitTest, StartsAtItsModesBudget) {
  EXPECT_EQ(Wait(Mode::kSpin).budget(), kSpin.start);
  EXPECT_EQ(Wait(Mode::kYield).budget(), kYield.start);
  EXPECT_EQ(Wait(Mode::kSleep).budget(), 0u);
  EXPECT_TRUE(Wait(Mode::kSleep).at_minimum());
}

TEST_F(AdaptiveWaitTest, SleepModeNeverWaitsActively) {
  Wait w(Mode::kSleep);
  int checks = 0;
  EXPECT_FALSE(w.wait_actively([&] {
    ++checks;
    return false;
  }));
  EXPECT_LE(checks, 1);
}

// Regression: the yield loop yielded before its first check, so every
// send of a yielding benchmark peer (whose room was there) paid a yield.
TEST_F(AdaptiveWaitTest, AConditionAlreadyTrueCostsNoYieldNorPause) {
  for (Mode mode : {Mode::kSpin, Mode::kYield, Mode::kSleep}) {
    Wait w(mode);
    int checks = 0;
    EXPECT_TRUE(w.wait_actively([&] { return ++checks > 0; }));
    EXPECT_EQ(checks, 1);
  }
}

TEST_F(AdaptiveWaitTest, AWaitThatEndsSpinningRaisesTheBudgetToTwiceItsLength) {
  Wait w(Mode::kSpin);
  FakeClock::tick = 2000;  // 2 us a clock read, one read per 16 pauses
  ASSERT_TRUE(wait_that_spins(w, 4));  // 3 reads after the clock started: 6 us
  EXPECT_GE(w.budget(), 2 * 3 * 2000u);
  EXPECT_GT(w.budget(), kSpin.start);
  EXPECT_LE(w.budget(), kSpin.max);
}

// Regression (bistable pingpong-block): each side of a round trip found the
// other asleep, waited out its ~20 us wake-up asleep, and a count-based
// budget shrank on every such wait, so both stayed asleep for good. A wait
// that slept only a little must raise the budget to cover it.
TEST_F(AdaptiveWaitTest, AShortSleepRaisesTheBudgetSoTheNextWaitSpinsThroughIt) {
  Wait w(Mode::kSpin);
  for (int i = 0; i < 20; ++i) wait_that_sleeps(w, 20000);
  EXPECT_GE(w.budget(), 40000u) << "a 20 us wake-up is not covered";
  // The next wait, as long, now ends spinning.
  FakeClock::tick = 1000;
  EXPECT_TRUE(wait_that_spins(w, 25));
}

TEST_F(AdaptiveWaitTest, LongSleepsOfAnIdlePeerShrinkTheBudgetToItsMinimum) {
  Wait w(Mode::kSpin);
  for (int i = 0; i < 200; ++i) wait_that_sleeps(w, 10 * kSpin.max);
  EXPECT_EQ(w.budget(), kSpin.min);
  EXPECT_TRUE(w.at_minimum());
}

TEST_F(AdaptiveWaitTest, TheBudgetNeverPassesItsMaximum) {
  Wait w(Mode::kSpin);
  for (int i = 0; i < 50; ++i) {
    wait_that_sleeps(w, 1000);
    ASSERT_LE(w.budget(), kSpin.max);
  }
  FakeClock::tick = 50000;
  ASSERT_TRUE(wait_that_spins(w, 1));
  EXPECT_LE(w.budget(), kSpin.max);
}

TEST_F(AdaptiveWaitTest, YieldingFollowsTheWaitsInCallsAndShrinksWhenTheySleep) {
  Wait w(Mode::kYield);
  for (int at : {10, 18, 30, 50}) {  // the check before the first yield is the 1st
    int checks = 0;
    ASSERT_TRUE(w.wait_actively([&] { return ++checks == at; })) << at;
    uint64_t wanted = 2u * (at - 2) + 2;
    EXPECT_EQ(w.budget(), wanted < kYield.max ? wanted : kYield.max) << at;
  }
  for (int i = 0; i < 200; ++i) wait_that_sleeps(w, 1000);
  EXPECT_EQ(w.budget(), kYield.min);
}

}  // namespace
