// SPDX-License-Identifier: GPL-2.0
// SeqRing, single-threaded: claims, publication, release, batch claims,
// wrap-around and the 32-bit sequence wrap in both modes, then how each mode
// gives cells back. The threaded cases are in threads_test.cpp.
#include <string.h>

#include <vector>

#include <gtest/gtest.h>

#include "module/core/ring/seq_ring.h"
#include "tests/core/test_region.h"

namespace exo_test {
namespace {

constexpr u32 kCapacity = 8;

// The message ring of a real region; each slot carries a u64 value.
class SeqRingTest : public testing::TestWithParam<u32> {
 protected:
  SeqRingTest() : region_({kCapacity, GetParam()}), view_(region_.view()) {}

  exo::SeqRing<exo_slot>& ring() { return view_.messages(); }

  // Claims up to |n| cells at once, stores consecutive values from
  // next_value_ and publishes them; returns how many.
  u32 produce(u32 n) {
    u64 first = 0;
    u32 got = ring().claim_produce(n, &first);
    for (u32 i = 0; i < got; ++i) {
      u64 value = next_value_++;
      memcpy(ring().at(first + i).data, &value, sizeof(value));
      ring().publish(first + i);
    }
    return got;
  }

  // Claims up to |max| cells at once, releases them; returns their values.
  std::vector<u64> consume(u32 max) {
    u64 first = 0;
    u32 got = ring().claim_consume(max, &first);
    std::vector<u64> values(got);
    for (u32 i = 0; i < got; ++i) {
      memcpy(&values[i], ring().at(first + i).data, sizeof(u64));
      ring().release(first + i);
    }
    return values;
  }

  // Consumes everything, checking values continue from next_expected_.
  void drain_in_order() {
    for (;;) {
      std::vector<u64> values = consume(kCapacity);
      if (values.empty()) return;
      for (u64 v : values) ASSERT_EQ(v, next_expected_++);
    }
  }

  exo_ring_header* header() { return region_.header(); }

  TestRegion region_;
  exo::RingView view_;
  u64 next_value_ = 0;
  u64 next_expected_ = 0;
};

TEST_P(SeqRingTest, EmptyRingHasNothingToConsumeAndRoomToProduce) {
  u64 first = 0;
  EXPECT_FALSE(ring().can_consume());
  EXPECT_EQ(ring().claim_consume(1, &first), 0u);
  EXPECT_TRUE(ring().can_produce());
  EXPECT_EQ(header()->cons.pos, 0u);
}

TEST_P(SeqRingTest, FillsToCapacityThenRefusesMore) {
  for (u32 i = 0; i < kCapacity; ++i) ASSERT_EQ(produce(1), 1u) << "message " << i;
  EXPECT_FALSE(ring().can_produce());
  EXPECT_EQ(produce(1), 0u);
  EXPECT_EQ(header()->prod.pos, kCapacity);
  EXPECT_TRUE(ring().can_consume());
  drain_in_order();
  EXPECT_EQ(next_expected_, kCapacity);
  EXPECT_FALSE(ring().can_consume());
}

TEST_P(SeqRingTest, ClaimedCellIsInvisibleToConsumersUntilPublished) {
  u64 pos = 0;
  ASSERT_EQ(ring().claim_produce(1, &pos), 1u);
  EXPECT_FALSE(ring().published(pos));
  EXPECT_FALSE(ring().can_consume());
  EXPECT_TRUE(consume(1).empty());
  ring().publish(pos);
  EXPECT_TRUE(ring().published(pos));
  EXPECT_EQ(consume(1).size(), 1u);
}

TEST_P(SeqRingTest, ConsumedCellIsNotReusableUntilReleased) {
  for (u32 i = 0; i < kCapacity; ++i) ASSERT_EQ(produce(1), 1u);
  u64 pos = 0;
  ASSERT_EQ(ring().claim_consume(1, &pos), 1u);
  EXPECT_FALSE(ring().can_produce());
  EXPECT_EQ(produce(1), 0u);
  ring().release(pos);
  EXPECT_TRUE(ring().can_produce());
  EXPECT_EQ(produce(1), 1u);
}

TEST_P(SeqRingTest, BatchProduceClaimIsPartialWhenFewerCellsAreFree) {
  ASSERT_EQ(produce(5), 5u);
  u64 first = 0;
  EXPECT_EQ(ring().claim_produce(kCapacity, &first), kCapacity - 5);
  EXPECT_EQ(first, 5u);
  EXPECT_EQ(header()->prod.pos, kCapacity);
}

TEST_P(SeqRingTest, BatchClaimsNeverExceedCapacity) {
  EXPECT_EQ(produce(100), kCapacity);
  EXPECT_EQ(consume(100).size(), kCapacity);
}

TEST_P(SeqRingTest, BatchConsumeClaimStopsAtFirstUnpublishedCell) {
  u64 first = 0;
  ASSERT_EQ(ring().claim_produce(4, &first), 4u);
  ring().publish(first + 0);
  ring().publish(first + 1);
  ring().publish(first + 3);  // +2 still being written
  u64 got_first = 0;
  EXPECT_EQ(ring().claim_consume(3, &got_first), 2u);
  EXPECT_EQ(got_first, first);
  ring().release(first + 0);
  ring().release(first + 1);
  ring().publish(first + 2);
  EXPECT_EQ(ring().claim_consume(4, &got_first), 2u);
  EXPECT_EQ(got_first, first + 2);
}

// SPSC's one producer publishes in order, so a consumer checks only the
// last cell of the run it asks for; a producer that publishes out of order
// lends cells it has not published (their contents are validated as any
// cell's are), while MPMC, whose producers finish in any order, scans.
TEST_P(SeqRingTest, BatchConsumeClaimTrustsTheLastCellOnlyInSpsc) {
  u64 first = 0;
  ASSERT_EQ(ring().claim_produce(4, &first), 4u);
  ring().publish(first + 0);
  ring().publish(first + 3);
  u64 got_first = 0;
  EXPECT_EQ(ring().claim_consume(4, &got_first), GetParam() == EXO_MODE_SPSC ? 4u : 1u);
  EXPECT_EQ(got_first, first);
}

// A peer that scribbles a sequence a lap ahead cannot make a batch claim
// lend more cells than the ring has (the last-cell check is bounded).
TEST_P(SeqRingTest, BatchConsumeClaimOfAScribbledRingTakesOneLapAtMost) {
  ASSERT_EQ(produce(kCapacity), kCapacity);
  u64 first = ring().consumer_pos();
  ring().at(first + 1).seq = static_cast<u32>(first + kCapacity + 2);
  u64 got_first = 0;
  EXPECT_LE(ring().claim_consume(kCapacity + 2, &got_first), kCapacity);
}

// A claimed run given back in one call (the borrowing receive): every
// cell of it is free again, in both modes, and the order holds across laps.
TEST_P(SeqRingTest, ReleasedRunFreesEveryCellOfIt) {
  for (int lap = 0; lap < 5; ++lap) {
    ASSERT_EQ(produce(kCapacity), kCapacity);
    u64 first = 0;
    ASSERT_EQ(ring().claim_consume(5, &first), 5u);
    for (u32 i = 0; i < 5; ++i) {
      u64 v;
      memcpy(&v, ring().at(first + i).data, sizeof(v));
      ASSERT_EQ(v, next_expected_++);
    }
    EXPECT_EQ(produce(1), 0u);  // nothing is free before the release
    ring().release_run(first, 5);
    EXPECT_EQ(produce(5), 5u);
    drain_in_order();
  }
}

TEST_P(SeqRingTest, WrapsAroundManyLapsInFifoOrder) {
  // Batches of 1..capacity so that claims start at every cell index.
  for (u32 round = 0; round < 1000; ++round) {
    u32 n = 1 + round % kCapacity;
    ASSERT_EQ(produce(n), n);
    ASSERT_NO_FATAL_FAILURE(drain_in_order());
  }
  EXPECT_EQ(header()->prod.pos, next_value_);
  EXPECT_EQ(header()->cons.pos, next_value_);
}

// Positions are 64-bit, sequences 32-bit: crossing 2^32 (and its multiples)
// must keep the ring working and positions counting up.
TEST_P(SeqRingTest, CrossesThe32BitSequenceWrapInFifoOrder) {
  const u64 kBases[] = {(1ull << 32) - 3, (1ull << 32) - kCapacity, (5ull << 32) - 1,
                        (1ull << 63) - 2};
  for (u64 base : kBases) {
    SCOPED_TRACE(testing::Message() << "base " << base);
    region_.rebase(base, 0);
    next_value_ = next_expected_ = 0;
    u64 first = 0;
    ASSERT_EQ(ring().claim_produce(1, &first), 1u);
    EXPECT_EQ(first, base);  // claims start where the ring says
    ring().publish(first);
    ASSERT_EQ(consume(1).size(), 1u);
    for (u32 lap = 0; lap < 3 * kCapacity; ++lap) {
      ASSERT_EQ(produce(3), 3u);
      ASSERT_NO_FATAL_FAILURE(drain_in_order());
    }
    for (u32 i = 0; i < kCapacity; ++i) ASSERT_EQ(produce(1), 1u);
    EXPECT_EQ(produce(1), 0u) << "full across the wrap";
    ASSERT_NO_FATAL_FAILURE(drain_in_order());
    EXPECT_EQ(header()->prod.pos, base + 1 + next_value_);
  }
}

TEST_P(SeqRingTest, ConsumeClaimGivesUpOnSequenceAheadOfItsPosition) {
  // Not the published cell of this position: a corrupted sequence (or, in
  // MPMC, one seen through a stale position).
  region_.slots()[0].seq = 2;
  u64 first = 0;
  EXPECT_EQ(ring().claim_consume(1, &first), 0u);
  EXPECT_EQ(header()->cons.pos, 0u);
}

// Issue 6, defect 1: a sequence a little ahead of the position made
// readiness say "ready" (diff >= 0) while every claim failed (diff != 0),
// and the kernel's blocking read looped for ever. Both now call it corrupt.
TEST_P(SeqRingTest, SequenceAheadOfAPositionThatDoesNotMoveIsCorruptForClaimAndReadiness) {
  for (u32 ahead : {1u, 2u, kCapacity - 1, kCapacity, 1000u}) {
    SCOPED_TRACE(testing::Message() << "ahead " << ahead);
    region_.reset();
    ASSERT_EQ(produce(3), 3u);
    ASSERT_EQ(consume(1).size(), 1u);
    region_.slot_at(1).seq = static_cast<u32>(1 + 1 + ahead);
    exo::RingState state = exo::RingState::kReady;
    u64 first = 0;
    EXPECT_EQ(ring().claim_consume(1, &first, &state), 0u);
    EXPECT_EQ(state, exo::RingState::kCorrupt);
    EXPECT_EQ(ring().consume_state(), exo::RingState::kCorrupt);
    EXPECT_FALSE(ring().can_consume());
    EXPECT_EQ(ring().peek_consume(&first), exo::RingState::kCorrupt);
    EXPECT_EQ(header()->cons.pos, 1u);
  }
}

TEST_P(SeqRingTest, SequenceMoreThanALapBehindIsCorrupt) {
  ASSERT_EQ(produce(2), 2u);
  ASSERT_EQ(consume(2).size(), 2u);
  // Honest: the cell of position 2 holds 2 (first lap) or, at most a lap
  // behind, 2 + 1 - capacity (a consumer of the last lap still reading).
  region_.slot_at(2).seq = static_cast<u32>(2 + 1 - kCapacity);
  EXPECT_EQ(ring().consume_state(), exo::RingState::kBlocked);
  region_.slot_at(2).seq = static_cast<u32>(2 - kCapacity);
  EXPECT_EQ(ring().consume_state(), exo::RingState::kCorrupt);
  region_.slot_at(2).seq = 0x80000000u;
  EXPECT_EQ(ring().consume_state(), exo::RingState::kCorrupt);
  u64 first = 0;
  exo::RingState state = exo::RingState::kReady;
  EXPECT_EQ(ring().claim_consume(4, &first, &state), 0u);
  EXPECT_EQ(state, exo::RingState::kCorrupt);
}

TEST_P(SeqRingTest, EmptyAndFullAreBlockedNotCorrupt) {
  u64 first = 0;
  exo::RingState state = exo::RingState::kCorrupt;
  EXPECT_EQ(ring().claim_consume(1, &first, &state), 0u);
  EXPECT_EQ(state, exo::RingState::kBlocked);
  EXPECT_EQ(ring().consume_state(), exo::RingState::kBlocked);
  EXPECT_EQ(ring().produce_state(), exo::RingState::kReady);
  ASSERT_EQ(produce(kCapacity), kCapacity);
  state = exo::RingState::kCorrupt;
  EXPECT_EQ(ring().claim_produce(1, &first, &state), 0u);
  EXPECT_EQ(state, exo::RingState::kBlocked);
  EXPECT_EQ(ring().produce_state(), exo::RingState::kBlocked);
  EXPECT_EQ(ring().consume_state(), exo::RingState::kReady);
  EXPECT_EQ(ring().claim_consume(1, &first, &state), 1u);
  EXPECT_EQ(state, exo::RingState::kReady);
}

// The kernel reader looks, copies, then claims; a peek alone moves nothing.
TEST_P(SeqRingTest, PeekFindsTheNextMessageAndClaimAtTakesIt) {
  ASSERT_EQ(produce(2), 2u);
  u64 pos = ~0ull;
  ASSERT_EQ(ring().peek_consume(&pos), exo::RingState::kReady);
  EXPECT_EQ(pos, 0u);
  EXPECT_EQ(header()->cons.pos, 0u);
  ASSERT_TRUE(ring().claim_consumed_at(pos));
  ring().release(pos);
  ASSERT_EQ(ring().peek_consume(&pos), exo::RingState::kReady);
  EXPECT_EQ(pos, 1u);
}

auto mode_name = [](const testing::TestParamInfo<u32>& p) {
  return p.param == EXO_MODE_MPMC ? "Mpmc" : "Spsc";
};
INSTANTIATE_TEST_SUITE_P(Modes, SeqRingTest, testing::Values(EXO_MODE_SPSC, EXO_MODE_MPMC),
                         mode_name);

// --- How cells come back: by mode --------------------------------------------

// SPSC: the consumer gives cells back by advancing its own position and
// never writes a cell; the producer's room comes from the two positions.
class SpscSeqRing : public SeqRingTest {};

TEST_P(SpscSeqRing, ConsumerFreesCellsByAdvancingItsPositionOnRelease) {
  for (u32 i = 0; i < kCapacity; ++i) ASSERT_EQ(produce(1), 1u);
  u64 pos = 0;
  ASSERT_EQ(ring().claim_consume(1, &pos), 1u);
  EXPECT_EQ(header()->cons.pos, 0u) << "a claim alone frees nothing";
  EXPECT_FALSE(ring().can_produce());
  ring().release(pos);
  EXPECT_EQ(header()->cons.pos, 1u);
  EXPECT_EQ(region_.slots()[0].seq, 1u) << "the consumer left the cell as published";
  EXPECT_TRUE(ring().can_produce());
  EXPECT_EQ(produce(kCapacity), 1u);
}

TEST_P(SpscSeqRing, ProducerRefusesInconsistentPositions) {
  // Positions a corrupted ring may hold: the consumer ahead of the
  // producer, or more than a lap behind it. (Past the first lap, so that
  // a fresh view's cached consumer position, 0, vouches for no room.)
  const u64 kBad[][2] = {
      {20, 21}, {20, 1ull << 40}, {20 + kCapacity + 1, 20}, {1ull << 40, 1ull << 63}};
  for (const auto& bad : kBad) {
    SCOPED_TRACE(testing::Message() << "prod " << bad[0] << " cons " << bad[1]);
    header()->prod.pos = bad[0];
    header()->cons.pos = bad[1];
    exo::RingView fresh = region_.view();  // as each kernel call makes one
    EXPECT_FALSE(fresh.messages().can_produce());
    EXPECT_EQ(fresh.messages().produce_state(), exo::RingState::kCorrupt);
    u64 first = 0;
    exo::RingState state = exo::RingState::kReady;
    EXPECT_EQ(fresh.messages().claim_produce(1, &first, &state), 0u);
    EXPECT_EQ(state, exo::RingState::kCorrupt);
    EXPECT_EQ(header()->prod.pos, bad[0]);
  }
}

INSTANTIATE_TEST_SUITE_P(Mode, SpscSeqRing, testing::Values(EXO_MODE_SPSC), mode_name);

// MPMC (Vyukov): positions move by compare-and-swap at claim time; the
// consumer gives a cell back by setting its sequence one lap ahead.
class MpmcSeqRing : public SeqRingTest {};

TEST_P(MpmcSeqRing, ConsumerFreesCellBySettingItsSequenceALapAhead) {
  for (u32 i = 0; i < kCapacity; ++i) ASSERT_EQ(produce(1), 1u);
  u64 pos = 0;
  ASSERT_EQ(ring().claim_consume(1, &pos), 1u);
  EXPECT_EQ(header()->cons.pos, 1u) << "the claim moves the position";
  EXPECT_FALSE(ring().can_produce());
  ring().release(pos);
  EXPECT_EQ(region_.slots()[0].seq, kCapacity);
  EXPECT_TRUE(ring().can_produce());
}

// A peer that scribbles a sequence must not make a claim spin forever
// (retries are bounded) or move the position.
TEST_P(MpmcSeqRing, ProduceClaimGivesUpOnSequenceThatNeverMatches) {
  struct {
    u32 seq;
    exo::RingState state;
  } const kBad[] = {{5u, exo::RingState::kCorrupt},
                    {1u, exo::RingState::kCorrupt},  // "published", yet nobody claimed it
                    {0u - kCapacity, exo::RingState::kBlocked},  // a lap behind: could be honest
                    {0u - kCapacity - 1, exo::RingState::kCorrupt},
                    {0x80000000u, exo::RingState::kCorrupt}};
  for (const auto& bad : kBad) {
    SCOPED_TRACE(testing::Message() << "seq " << bad.seq);
    region_.reset();
    region_.slots()[0].seq = bad.seq;
    u64 first = 0;
    exo::RingState state = exo::RingState::kReady;
    EXPECT_EQ(ring().claim_produce(1, &first, &state), 0u);
    EXPECT_EQ(state, bad.state);
    EXPECT_EQ(ring().produce_state(), bad.state);
    EXPECT_EQ(header()->prod.pos, 0u);
  }
}

// A claimed position whose cell another consumer already released reads as
// "ahead" through the stale position: a second read of the position
// explains it, so it is not corruption.
TEST_P(MpmcSeqRing, SequenceAheadExplainedByAMovedPositionIsNotCorrupt) {
  ASSERT_EQ(produce(2), 2u);
  ASSERT_EQ(consume(1).size(), 1u);  // cell 0 released: seq = capacity
  // A reader that loaded cons.pos == 0 before that consume sees seq 8 at
  // position 0, then position 1 on its second look: the message of 1.
  u64 pos = 0;
  EXPECT_EQ(ring().peek_consume(&pos), exo::RingState::kReady);
  EXPECT_EQ(pos, 1u);
}

INSTANTIATE_TEST_SUITE_P(Mode, MpmcSeqRing, testing::Values(EXO_MODE_MPMC), mode_name);

}  // namespace
}  // namespace exo_test
