// SPDX-License-Identifier: GPL-2.0
// The scheduling policy driven by a fake clock: which queue a fiber joins,
// which one runs next, what a thief may take, the run-length predictor and
// the aging bound.
#include <gtest/gtest.h>

#include <deque>
#include <vector>

#include "userspace/fibers/run_queue.h"

namespace {

using exo::fiber::ClassQueue;
using exo::fiber::Policy;
using exo::fiber::QueueKind;
using exo::fiber::QueueParams;
using exo::fiber::RunNode;
using exo::fiber::RunPredictor;
using exo::fiber::RunQueues;
using Level = RunQueues::StealLevel;

constexpr int32_t kHere = 0, kThere = 1;
constexpr uint64_t kUs = 1000, kMs = 1000 * kUs;
constexpr uint64_t kNever = UINT64_MAX;  // no waited-long-enough rule

QueueParams params(Policy policy = Policy::kPredictive) {
  QueueParams p;
  p.policy = policy;
  return p;
}

RunNode node(uint64_t predicted_ns, int32_t last_worker = -1, uint64_t last_ran_ns = 0) {
  RunNode n;
  n.predicted_ns = predicted_ns;
  n.last_worker = last_worker;
  n.last_ran_ns = last_ran_ns;
  return n;
}

TEST(FiberPredictor, EmaConvergesAndScoresWithin20Percent) {
  RunPredictor p;
  EXPECT_FALSE(p.record(1000));  // the first run is not scored
  EXPECT_EQ(p.predicted_ns(), 1000u);
  EXPECT_TRUE(p.record(1100));   // 1000 predicted: within 20% of 1100
  EXPECT_FALSE(p.record(5000));  // ~1025 predicted
  for (int i = 0; i < 40; ++i) (void)p.record(5000);
  EXPECT_NEAR(static_cast<double>(p.predicted_ns()), 5000.0, 50.0);
  EXPECT_TRUE(p.record(5000));
  // Integer fixed point keeps sub-microsecond runs apart.
  RunPredictor small;
  (void)small.record(10);
  for (int i = 0; i < 20; ++i) (void)small.record(30);
  EXPECT_GE(small.predicted_ns(), 28u);
}

TEST(FiberRunQueue, BucketsGrowByFourFromOneMicrosecond) {
  EXPECT_EQ(ClassQueue::bucket_for(0), 0u);
  EXPECT_EQ(ClassQueue::bucket_for(900), 0u);
  EXPECT_LT(ClassQueue::bucket_for(2 * kUs), ClassQueue::bucket_for(20 * kUs));
  EXPECT_LT(ClassQueue::bucket_for(20 * kUs), ClassQueue::bucket_for(2 * kMs));
  EXPECT_EQ(ClassQueue::bucket_for(UINT64_MAX / 2), ClassQueue::kBuckets - 1);
}

TEST(FiberRunQueue, ClassifiesHotNormalColdByWhereAndWhenItLastRan) {
  RunQueues q(kHere, params());
  uint64_t now = 100 * kMs;
  RunNode woken = node(kUs, kThere, 0);
  RunNode recent = node(kUs, kHere, now - 50 * kUs);
  RunNode earlier = node(kUs, kHere, now - 1 * kMs);
  RunNode stale = node(kUs, kHere, now - 50 * kMs);
  RunNode elsewhere = node(kUs, kThere, now - 10 * kUs);
  RunNode fresh = node(kUs);
  EXPECT_EQ(q.push(&woken, now, true), QueueKind::kHot);
  EXPECT_EQ(q.push(&recent, now, false), QueueKind::kHot);
  EXPECT_EQ(q.push(&earlier, now, false), QueueKind::kNormal);
  EXPECT_EQ(q.push(&stale, now, false), QueueKind::kCold);
  EXPECT_EQ(q.push(&elsewhere, now, false), QueueKind::kCold);
  EXPECT_EQ(q.push(&fresh, now, false), QueueKind::kCold);
  EXPECT_EQ(q.size(), 6u);
}

TEST(FiberRunQueue, HotFirstThenShortestPredicted) {
  RunQueues q(kHere, params());
  uint64_t now = 100 * kMs;
  RunNode long_normal = node(2 * kMs, kHere, now - 1 * kMs);
  RunNode short_cold = node(2 * kUs, kThere, 0);
  RunNode mid_normal = node(50 * kUs, kHere, now - 1 * kMs);
  RunNode hot_a = node(5 * kMs), hot_b = node(5 * kMs);
  (void)q.push(&long_normal, now, false);
  (void)q.push(&short_cold, now, false);
  (void)q.push(&mid_normal, now, false);
  (void)q.push(&hot_a, now, true);
  (void)q.push(&hot_b, now, true);
  bool aged;
  // Hot ones first, the latest readied first (its data is the warmest).
  EXPECT_EQ(q.pop(now, &aged), &hot_b);
  EXPECT_EQ(q.pop(now, &aged), &hot_a);
  // Then by prediction across normal and cold.
  EXPECT_EQ(q.pop(now, &aged), &short_cold);
  EXPECT_EQ(q.pop(now, &aged), &mid_normal);
  EXPECT_EQ(q.pop(now, &aged), &long_normal);
  EXPECT_FALSE(aged);
  EXPECT_EQ(q.pop(now, &aged), nullptr);
}

TEST(FiberRunQueue, FifoPolicyIsArrivalOrderWhateverThePrediction) {
  RunQueues q(kHere, params(Policy::kFifo));
  RunNode a = node(5 * kMs), b = node(1 * kUs), c = node(100 * kUs, kHere, 0);
  (void)q.push(&a, 0, false);
  (void)q.push(&b, 0, true);
  (void)q.push(&c, 0, false);
  bool aged;
  EXPECT_EQ(q.pop(0, &aged), &a);
  EXPECT_EQ(q.pop(0, &aged), &b);
  EXPECT_EQ(q.pop(0, &aged), &c);
}

TEST(FiberRunQueue, ThievesTakeColdOnlyUntilTheyHaveIdledLongEnough) {
  RunQueues q(kHere, params());
  uint64_t now = 100 * kMs;
  RunNode hot = node(kUs, kHere, now - 10 * kUs);
  RunNode normal = node(kUs, kHere, now - 1 * kMs);
  RunNode cold1 = node(kUs), cold2 = node(kUs);
  (void)q.push(&hot, now, false);
  (void)q.push(&normal, now, false);
  (void)q.push(&cold1, now, false);
  (void)q.push(&cold2, now + 1, false);
  QueueKind from;
  EXPECT_TRUE(q.has_stealable(Level::kColdOnly, now, kNever));
  EXPECT_EQ(q.steal(Level::kColdOnly, now, kNever, &from), &cold1);  // oldest first
  EXPECT_EQ(from, QueueKind::kCold);
  EXPECT_EQ(q.steal(Level::kColdOnly, now, kNever, &from), &cold2);
  EXPECT_FALSE(q.has_stealable(Level::kColdOnly, now, kNever));
  EXPECT_EQ(q.steal(Level::kColdOnly, now, kNever, &from), nullptr);
  EXPECT_EQ(q.steal(Level::kNormalToo, now, kNever, &from), &normal);
  EXPECT_EQ(from, QueueKind::kNormal);
  EXPECT_FALSE(q.has_stealable(Level::kNormalToo, now, kNever));
  EXPECT_TRUE(q.has_stealable(Level::kAny, now, kNever));
  EXPECT_EQ(q.steal(Level::kAny, now, kNever, &from), &hot);
  EXPECT_EQ(from, QueueKind::kHot);
  EXPECT_EQ(q.size(), 0u);
}

TEST(FiberRunQueue, ThievesTakeWarmFibersThatWaitedPastTheBoundBehindABusyWorker) {
  RunQueues q(kHere, params());
  uint64_t now = 100 * kMs;
  RunNode hot = node(kUs, kHere, now - 10 * kUs);
  RunNode normal = node(kUs, kHere, now - 1 * kMs);
  (void)q.push(&normal, now, false);
  (void)q.push(&hot, now + 10 * kUs, false);
  QueueKind from;
  // Nothing cold, nothing waited 50 us: a cold-only thief goes away.
  EXPECT_FALSE(q.has_stealable(Level::kColdOnly, now + 40 * kUs, 50 * kUs));
  EXPECT_EQ(q.steal(Level::kColdOnly, now + 40 * kUs, 50 * kUs, &from), nullptr);
  // The worker stayed busy: the one that waited longest goes first.
  EXPECT_TRUE(q.has_stealable(Level::kColdOnly, now + 55 * kUs, 50 * kUs));
  EXPECT_EQ(q.steal(Level::kColdOnly, now + 55 * kUs, 50 * kUs, &from), &normal);
  EXPECT_EQ(from, QueueKind::kNormal);
  EXPECT_FALSE(q.has_stealable(Level::kColdOnly, now + 55 * kUs, 50 * kUs));
  EXPECT_EQ(q.steal(Level::kColdOnly, now + 60 * kUs, 50 * kUs, &from), &hot);
  EXPECT_EQ(from, QueueKind::kHot);
  EXPECT_EQ(q.size(), 0u);
}

// A worker's life in fake time: short fibers (1-10 us) keep arriving, each
// run by shortest-predicted-first ahead of one long fiber (5 ms predicted).
// Without aging the long one never runs while the flood lasts; with it, it
// runs within the aging bound plus one aged-pick spacing.
uint64_t long_fiber_wait(uint64_t aging_bound_ns, uint64_t flood_ns) {
  QueueParams p = params();
  p.aging_bound_ns = aging_bound_ns;
  RunQueues q(kHere, p);
  std::deque<RunNode> shorts;
  RunNode long_one = node(5 * kMs, kHere, 0);
  uint64_t now = 1 * kMs;
  (void)q.push(&long_one, now, false);
  const uint64_t enqueued = now++;
  unsigned seed = 1;
  for (int i = 0; i < 4; ++i) {
    shorts.push_back(node(kUs + i * kUs, kHere, now));
    (void)q.push(&shorts.back(), now, false);
  }
  while (now < enqueued + flood_ns) {
    bool aged;
    RunNode* n = q.pop(now, &aged);
    if (n == &long_one) return now - enqueued;
    seed = seed * 1103515245 + 12345;
    uint64_t run = kUs + (seed >> 16) % (9 * kUs);
    now += run;
    // The run readies the next short request (a deque keeps the nodes
    // where they are).
    shorts.push_back(node(run, kHere, now));
    (void)q.push(&shorts.back(), now, false);
  }
  return UINT64_MAX;
}

TEST(FiberRunQueue, AgingRunsALongFiberAmongAFloodOfShortOnesWithinTheBound) {
  const uint64_t bound = 10 * kMs;
  uint64_t wait = long_fiber_wait(bound, 500 * kMs);
  ASSERT_NE(wait, UINT64_MAX) << "the long fiber starved for the whole flood";
  EXPECT_GE(wait, bound);  // shortest first until then
  EXPECT_LE(wait, bound + bound / 8 + 10 * kUs);
  // The bound is the knob: a shorter one runs it sooner.
  EXPECT_LE(long_fiber_wait(2 * kMs, 500 * kMs), 2 * kMs + 2 * kMs / 8 + 10 * kUs);
}

TEST(FiberRunQueue, AgedPicksAreSpacedSoABacklogIsNotRunInArrivalOrder) {
  // A backlog older than the bound (a skynet tree): one aged pick per
  // spacing, and the rest by the normal rules (newest hot first).
  QueueParams p = params();
  p.aging_bound_ns = 1 * kMs;
  p.aged_spacing_ns = 100 * kUs;
  RunQueues q(kHere, p);
  std::vector<RunNode> old_ones(10, node(kUs));
  for (auto& n : old_ones) (void)q.push(&n, 0, true);
  uint64_t now = 5 * kMs;
  bool aged;
  EXPECT_EQ(q.pop(now, &aged), &old_ones[0]);
  EXPECT_TRUE(aged);
  EXPECT_EQ(q.pop(now + 1, &aged), &old_ones[9]);  // within the spacing: LIFO hot
  EXPECT_FALSE(aged);
  EXPECT_EQ(q.pop(now + 100 * kUs, &aged), &old_ones[1]);
  EXPECT_TRUE(aged);
}

}  // namespace

namespace {

// Regression: a push stamped by another thread's later clock read looked
// "aged" (unsigned wrap of now - enqueued) and went ahead of shorter work.
TEST(FiberRunQueue, a_push_stamped_after_now_is_not_aged) {
  RunQueues q(kHere, params());
  RunNode later = node(5 * kMs), shorter = node(kUs);
  (void)q.push(&later, 10 * kMs + 5, false);
  (void)q.push(&shorter, 10 * kMs - 5, false);
  bool aged;
  EXPECT_EQ(q.pop(10 * kMs, &aged), &shorter);
  EXPECT_FALSE(aged);
}

}  // namespace
