// SPDX-License-Identifier: GPL-2.0
// A scheduler for a fiber test: unpinned (the machine may have fewer CPUs
// than the test's workers), failing the test if it cannot be made.
#ifndef EXO_TESTS_FIBERS_TEST_SCHED_H
#define EXO_TESTS_FIBERS_TEST_SCHED_H

#include <gtest/gtest.h>

#include "userspace/include/exofiber/exofiber.h"

inline exo_fiber_sched* make_sched(unsigned workers,
                                   exo_fiber_policy policy = EXO_FIBER_PREDICTIVE,
                                   uint64_t aging_bound_ns = 0, bool cold_only = false) {
  exo_fiber_sched_params p{};
  p.workers = workers;
  p.policy = policy;
  p.no_pin = 1;
  p.aging_bound_ns = aging_bound_ns;
  p.steal_cold_only = cold_only;
  exo_fiber_sched* s = nullptr;
  int err = exo_fiber_sched_create(&p, &s);
  EXPECT_EQ(err, 0) << exo_last_error();
  return s;
}

#endif  // EXO_TESTS_FIBERS_TEST_SCHED_H
