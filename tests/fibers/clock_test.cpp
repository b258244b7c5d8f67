// SPDX-License-Identifier: GPL-2.0
// The scheduler's clock (time-stamp counter where it is invariant) keeps
// CLOCK_MONOTONIC's rate and never goes back on one thread.
#include <gtest/gtest.h>
#include <unistd.h>

#include "userspace/fibers/clock.h"

namespace {

using exo::fiber::Clock;

TEST(FiberClock, KeepsTheMonotonicClocksRate) {
  Clock::init();
  uint64_t c0 = Clock::now_ns(), m0 = Clock::monotonic_ns();
  usleep(30'000);
  uint64_t c1 = Clock::now_ns(), m1 = Clock::monotonic_ns();
  // Calibrated over 2 ms: well within 5% (the reads pair up within a few us).
  EXPECT_NEAR(static_cast<double>(c1 - c0) / static_cast<double>(m1 - m0), 1.0, 0.05);
}

TEST(FiberClock, NeverGoesBackOnOneThread) {
  Clock::init();
  uint64_t last = Clock::now_ns();
  for (int i = 0; i < 200'000; ++i) {
    uint64_t t = Clock::now_ns();
    ASSERT_GE(t, last);
    last = t;
  }
}

}  // namespace
