// SPDX-License-Identifier: GPL-2.0
// The adaptive magazine size: MagazineSizer driven directly with synthetic
// ticks (grows on misses and on contention, shrinks only when idle or
// under pressure, cools down after a change, never flaps under steady
// load, keeps a trace of its changes), then through a cache's tick and
// shrink.
#include <stdlib.h>

#include <vector>

#include <gtest/gtest.h>

#include "module/core/slab/magazine_sizer.h"
#include "module/core/slab/slab_api.h"
#include "userspace/hosted/hosted.h"

namespace exo_test {
namespace {

using exo::slab::MagazineSizer;

std::vector<exo_slab_resize_event> trace_of(const MagazineSizer& s) {
  std::vector<exo_slab_resize_event> events(EXO_SLAB_TRACE_LEN);
  events.resize(s.trace(events.data()));
  return events;
}

class SizerTest : public testing::Test {
 protected:
  SizerTest() { sizer_.init(); }

  // A tick of |ops| operations of which |misses| missed the CPU layer.
  void tick(u64 ops, u64 misses = 0, u64 contended = 0) { sizer_.tick(ops, misses, contended); }
  void idle_tick() { tick(0); }
  u32 size() const { return sizer_.size(); }
  std::vector<exo_slab_resize_event> trace() const { return trace_of(sizer_); }

  MagazineSizer sizer_;
};

TEST_F(SizerTest, StartsAtTheInitialSizeWithAnEmptyTrace) {
  EXPECT_EQ(size(), MagazineSizer::kInitial);
  EXPECT_EQ(sizer_.ticks(), 0u);
  EXPECT_TRUE(trace().empty());
}

TEST_F(SizerTest, GrowsWhenMoreThanOneInKMissShareMisses) {
  static_assert(MagazineSizer::kMissShare == 64, "the figures below assume 1/64");
  tick(1000, 1000 / 64);  // 15 of 1000: not more than 1/64
  tick(6400, 100);        // exactly 1/64
  EXPECT_EQ(size(), MagazineSizer::kInitial);
  tick(6400, 101);
  EXPECT_EQ(size(), 2 * MagazineSizer::kInitial);
  std::vector<exo_slab_resize_event> t = trace();
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].tick, 3u);
  EXPECT_EQ(t[0].from, MagazineSizer::kInitial);
  EXPECT_EQ(t[0].to, 2 * MagazineSizer::kInitial);
  EXPECT_EQ(t[0].reason, EXO_SLAB_GROW_MISSES);
  EXPECT_EQ(t[0].ops, 6400u);
  EXPECT_EQ(t[0].misses, 101u);
  EXPECT_EQ(t[0].contended, 0u);
}

TEST_F(SizerTest, JudgesMissesOnlyOnEnoughOperations) {
  tick(MagazineSizer::kMinOpsToJudge - 1, MagazineSizer::kMinOpsToJudge - 1);
  EXPECT_EQ(size(), MagazineSizer::kInitial);
  tick(MagazineSizer::kMinOpsToJudge, MagazineSizer::kMinOpsToJudge);
  EXPECT_EQ(size(), 2 * MagazineSizer::kInitial);
}

TEST_F(SizerTest, GrowsWhenTheDepotLockIsContended) {
  tick(10, 0, MagazineSizer::kContendedToGrow);  // not more than the threshold
  EXPECT_EQ(size(), MagazineSizer::kInitial);
  tick(10, 0, MagazineSizer::kContendedToGrow + 1);
  EXPECT_EQ(size(), 2 * MagazineSizer::kInitial);
  std::vector<exo_slab_resize_event> t = trace();
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].reason, EXO_SLAB_GROW_CONTENTION);
  EXPECT_EQ(t[0].contended, MagazineSizer::kContendedToGrow + 1);
  // Contention counts even when too few operations to judge misses.
  EXPECT_LT(t[0].ops, MagazineSizer::kMinOpsToJudge);
}

// The tick after a change measures the new size: it changes nothing.
TEST_F(SizerTest, CoolsDownForOneTickAfterEachChange) {
  tick(1000, 500);
  EXPECT_EQ(size(), 32u);
  tick(1000, 500);
  EXPECT_EQ(size(), 32u) << "the tick after a growth";
  tick(1000, 500);
  EXPECT_EQ(size(), 64u);
  tick(0, 0, 1000);
  EXPECT_EQ(size(), 64u) << "contention in the tick after a growth";
  sizer_.pressure();
  EXPECT_EQ(size(), 32u);
  tick(1000, 500);
  EXPECT_EQ(size(), 32u) << "the tick after a shrink";
  tick(1000, 500);
  EXPECT_EQ(size(), 64u);
}

TEST_F(SizerTest, GrowsUpToTheMaximumAndStops) {
  std::vector<u32> sizes;
  for (int i = 0; i < 40; ++i) {
    tick(10000, 5000, 100);
    if (sizes.empty() || sizes.back() != size()) sizes.push_back(size());
  }
  EXPECT_EQ(sizes, (std::vector<u32>{32, 64, 128, 256}));
  EXPECT_EQ(size(), MagazineSizer::kMax);
  EXPECT_EQ(trace().size(), 4u);
}

TEST_F(SizerTest, SteadyLoadNeverShrinks) {
  tick(1000, 500);
  ASSERT_EQ(size(), 32u);
  // Any busy tick without enough misses, however few operations it has.
  const u64 ops[] = {1, 10, 255, 256, 10000, 1};
  for (int round = 0; round < 50; ++round)
    for (u64 n : ops) tick(n, n / (2 * MagazineSizer::kMissShare));
  EXPECT_EQ(size(), 32u);
  EXPECT_EQ(trace().size(), 1u);
}

TEST_F(SizerTest, ShrinksAfterIdleTicksDownToTheMinimum) {
  tick(1000, 500);
  tick(1000, 500);
  tick(1000, 500);
  ASSERT_EQ(size(), 64u);
  idle_tick();
  EXPECT_EQ(size(), 64u) << "one idle tick is not idleness";
  tick(5);
  idle_tick();
  EXPECT_EQ(size(), 64u) << "a busy tick resets the idle count";
  idle_tick();
  EXPECT_EQ(size(), 32u);
  idle_tick();
  EXPECT_EQ(size(), 32u) << "the idle count starts again after a change";
  idle_tick();
  EXPECT_EQ(size(), 16u);
  for (int i = 0; i < 20; ++i) idle_tick();
  EXPECT_EQ(size(), MagazineSizer::kMin);
  std::vector<exo_slab_resize_event> t = trace();
  ASSERT_EQ(t.size(), 5u);
  for (size_t i = 2; i < t.size(); ++i) {
    EXPECT_EQ(t[i].reason, EXO_SLAB_SHRINK_IDLE);
    EXPECT_EQ(t[i].to, t[i].from / 2);
    EXPECT_EQ(t[i].ops, 0u);
  }
}

TEST_F(SizerTest, PressureHalvesAtOnceDownToTheMinimum) {
  sizer_.pressure();
  EXPECT_EQ(size(), MagazineSizer::kInitial / 2);
  sizer_.pressure();
  EXPECT_EQ(size(), MagazineSizer::kMin);
  std::vector<exo_slab_resize_event> t = trace();
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].reason, EXO_SLAB_SHRINK_PRESSURE);
  EXPECT_EQ(t[0].tick, 0u);
  EXPECT_EQ(sizer_.ticks(), 0u) << "pressure is no tick";
}

// A load whose miss rate falls as magazines grow (as a real one does):
// the size climbs to where misses drop to 1/64 and stays there, with
// no change back and forth however long the load lasts.
TEST_F(SizerTest, NeverFlapsUnderSteadyLoad) {
  for (int i = 0; i < 500; ++i) {
    u64 ops = 4096;
    tick(ops, ops / size());  // 1/16 at 16, 1/32, then 1/64: not more than 1/64
  }
  EXPECT_EQ(size(), 64u);
  std::vector<exo_slab_resize_event> t = trace();
  ASSERT_EQ(t.size(), 2u);
  for (const exo_slab_resize_event& e : t) {
    EXPECT_EQ(e.reason, EXO_SLAB_GROW_MISSES);
    EXPECT_EQ(e.to, 2 * e.from);
  }
  EXPECT_LT(t[1].tick, 10u) << "settled early";
}

// Bursts with idle gaps in between: growth in the bursts, shrinking in
// long gaps only, and never a shrink right after a growth (or back).
TEST_F(SizerTest, NeverChangesInTwoConsecutiveTicks) {
  for (int i = 0; i < 300; ++i) {
    bool busy = (i / 7) % 3 != 2;
    u32 contended = i % 11 == 0 ? 100 : 0;
    if (busy)
      tick(2000, 2000 / (i % 5 + 4), contended);
    else
      idle_tick();
  }
  // The trace keeps the last EXO_SLAB_TRACE_LEN changes, oldest first.
  std::vector<exo_slab_resize_event> t = trace();
  ASSERT_EQ(t.size(), static_cast<size_t>(EXO_SLAB_TRACE_LEN));
  for (size_t i = 1; i < t.size(); ++i) {
    EXPECT_GE(t[i].tick, t[i - 1].tick + 2) << "event " << i;
    EXPECT_EQ(t[i].from, t[i - 1].to) << "event " << i;
  }
  EXPECT_EQ(t.back().to, size());
  EXPECT_EQ(sizer_.ticks(), 300u);
}

TEST_F(SizerTest, TraceKeepsTheLastEventsOldestFirst) {
  // Grow and shrink in turn: 3 events every 5 ticks.
  u32 events = 0;
  for (int cycle = 0; cycle < 10; ++cycle) {
    tick(1000, 500);  // grow
    idle_tick();      // cooling
    idle_tick();      // idle 2: shrink
    sizer_.pressure();
    idle_tick();
    idle_tick();
    events += 3;
    tick(1000, 500);  // grow back, for the next cycle's numbers
    events += 1;
    idle_tick();
  }
  std::vector<exo_slab_resize_event> t = trace();
  ASSERT_EQ(t.size(), static_cast<size_t>(EXO_SLAB_TRACE_LEN));
  ASSERT_GT(events, static_cast<u32>(EXO_SLAB_TRACE_LEN));
  for (size_t i = 1; i < t.size(); ++i) {
    EXPECT_GE(t[i].tick, t[i - 1].tick);
    EXPECT_EQ(t[i].from, t[i - 1].to);
  }
  EXPECT_EQ(t.back().to, size());
  EXPECT_EQ(t.back().tick, sizer_.ticks() - 1);
}

// --- through a cache ------------------------------------------------------

class SlabSizingTest : public testing::Test {
 protected:
  void SetUp() override {
    pages_ = exo_hosted_pages_in_use();
    exo_slab_cache_params params = {"sized", 64, 0, 0, nullptr};
    const char* why = "";
    ASSERT_EQ(exo_slab_create(&params, &cache_, &why), 0) << why;
  }
  void TearDown() override {
    EXPECT_EQ(exo_slab_destroy(cache_), 0u);
    EXPECT_EQ(exo_hosted_pages_in_use(), pages_);
  }
  exo_slab_stats stats() {
    exo_slab_stats s;
    exo_slab_get_stats(cache_, &s);
    return s;
  }
  std::vector<exo_slab_resize_event> trace() {
    exo_slab_stats s = stats();
    return std::vector<exo_slab_resize_event>(s.trace, s.trace + s.trace_len);
  }

  exo_slab_cache* cache_ = nullptr;
  unsigned long pages_ = 0;
};

TEST_F(SlabSizingTest, TickGrowsOnMissesThenShrinksWhenIdle) {
  // Every alloc after a drain misses the CPU layer: half the operations.
  void* keep = exo_slab_alloc(cache_, 0);
  for (int i = 0; i < 300; ++i) {
    exo_slab_free(cache_, exo_slab_alloc(cache_, 0));
    exo_slab_drain_local(cache_);
  }
  exo_slab_stats before = stats();
  exo_slab_tick(cache_);
  exo_slab_stats s = stats();
  EXPECT_EQ(s.ticks, 1u);
  EXPECT_EQ(s.magazine_size, 32u);
  std::vector<exo_slab_resize_event> t = trace();
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].reason, EXO_SLAB_GROW_MISSES);
  EXPECT_EQ(t[0].tick, 1u);
  // The tick saw what the stats count.
  EXPECT_EQ(t[0].ops, before.cpu_alloc_hits + before.cpu_alloc_misses + before.cpu_free_hits +
                          before.cpu_free_misses);
  EXPECT_EQ(t[0].misses, before.cpu_alloc_misses + before.cpu_free_misses);
  EXPECT_GE(t[0].misses, 300u);

  // New magazines take the new size.
  exo_slab_shrink(cache_, 0);  // the depot's old magazines go
  void* obj = exo_slab_alloc(cache_, 0);
  EXPECT_EQ(stats().slab_allocs - s.slab_allocs, 32u) << "a refill of the new size";
  exo_slab_free(cache_, obj);

  // Idle: a cooling tick, a first idle one (it had an operation), then two
  // idle ticks shrink it back.
  exo_slab_tick(cache_);
  exo_slab_tick(cache_);
  EXPECT_EQ(stats().magazine_size, 32u);
  exo_slab_tick(cache_);
  exo_slab_tick(cache_);
  s = stats();
  EXPECT_EQ(s.magazine_size, 16u);
  t = trace();
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[1].reason, EXO_SLAB_SHRINK_IDLE);
  EXPECT_EQ(t[1].from, 32u);
  EXPECT_EQ(t[1].ops, 0u);
  exo_slab_free(cache_, keep);
}

TEST_F(SlabSizingTest, ShrinkUnderPressureHalvesTheMagazineSize) {
  exo_slab_shrink(cache_, 0);
  EXPECT_EQ(stats().magazine_size, 16u);
  exo_slab_shrink(cache_, 1);
  EXPECT_EQ(stats().magazine_size, 8u);
  exo_slab_shrink(cache_, 1);
  exo_slab_stats s = stats();
  EXPECT_EQ(s.magazine_size, MagazineSizer::kMin);
  ASSERT_EQ(s.trace_len, 1u);
  EXPECT_EQ(s.trace[0].reason, EXO_SLAB_SHRINK_PRESSURE);
  EXPECT_EQ(s.trace[0].from, 16u);
  EXPECT_EQ(s.trace[0].to, 8u);
  // Smaller magazines from then on.
  void* obj = exo_slab_alloc(cache_, 0);
  EXPECT_EQ(stats().slab_allocs, 8u);
  exo_slab_free(cache_, obj);
}

// Steady single-thread churn stays in the CPU's two magazines, swapping
// between them at a magazine boundary: no misses, so no growth.
TEST_F(SlabSizingTest, ChurnAcrossAMagazineBoundaryIsNoMiss) {
  // Both magazines full, then the loaded one down to its last object.
  std::vector<void*> objs(32);
  for (void*& obj : objs) obj = exo_slab_alloc(cache_, 0);
  for (void* obj : objs) exo_slab_free(cache_, obj);
  std::vector<void*> held(15);
  for (void*& obj : held) obj = exo_slab_alloc(cache_, 0);
  exo_slab_stats before = stats();
  for (int tick = 0; tick < 10; ++tick) {
    for (int i = 0; i < 500; ++i) {
      // The second alloc empties the loaded magazine and swaps to the
      // previous one; the second free finds it full and swaps back.
      void* a = exo_slab_alloc(cache_, 0);
      void* b = exo_slab_alloc(cache_, 0);
      exo_slab_free(cache_, b);
      exo_slab_free(cache_, a);
    }
    exo_slab_tick(cache_);
  }
  exo_slab_stats s = stats();
  EXPECT_EQ(s.cpu_alloc_misses, before.cpu_alloc_misses);
  EXPECT_EQ(s.cpu_free_misses, before.cpu_free_misses);
  EXPECT_EQ(s.cpu_alloc_hits - before.cpu_alloc_hits, 10u * 500 * 2);
  EXPECT_EQ(s.depot_exchanges, before.depot_exchanges);
  EXPECT_EQ(s.magazine_size, 16u);
  EXPECT_EQ(s.trace_len, 0u);
  for (void* obj : held) exo_slab_free(cache_, obj);
}

}  // namespace
}  // namespace exo_test
