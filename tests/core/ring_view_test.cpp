// SPDX-License-Identifier: GPL-2.0
// RingView: the zero-copy free ring (take/return), the bounds check of
// zero-copy descriptors and readiness per wait kind.
#include <string.h>

#include <set>

#include <gtest/gtest.h>

#include "module/core/ring_view.h"
#include "tests/core/test_region.h"

namespace exo_test {
namespace {

constexpr u32 kBufSize = 256;
// The free ring has room for twice the pool, rounded up to a power of two:
// 16 cells for these 5 buffers.
constexpr u32 kBufCount = 5;
constexpr u32 kFreeCapacity = 16;

class RingViewTest : public testing::Test {
 protected:
  RingViewTest() : region_({8, EXO_MODE_SPSC, kBufSize, kBufCount}), view_(region_.view()) {}

  void take_all() {
    u32 buf;
    for (u32 i = 0; i < kBufCount; ++i) ASSERT_TRUE(view_.take_buffer(&buf));
  }

  u8* pool() { return region_.bytes() + region_.info().pool_offset; }

  TestRegion region_;
  exo::RingView view_;
};

TEST_F(RingViewTest, TakeBufferHandsOutEveryBufferOnceThenFails) {
  std::set<u32> taken;
  for (u32 i = 0; i < kBufCount; ++i) {
    u32 buf = ~0u;
    ASSERT_TRUE(view_.take_buffer(&buf));
    EXPECT_LT(buf, kBufCount);
    taken.insert(buf);
  }
  EXPECT_EQ(taken.size(), kBufCount);
  u32 buf;
  EXPECT_FALSE(view_.take_buffer(&buf));
  EXPECT_FALSE(view_.ready(EXO_WAIT_BUFFER));
}

TEST_F(RingViewTest, ReturnedBufferIsTakenAgain) {
  ASSERT_NO_FATAL_FAILURE(take_all());
  ASSERT_TRUE(view_.return_buffer(3));
  EXPECT_TRUE(view_.ready(EXO_WAIT_BUFFER));
  u32 buf = ~0u;
  ASSERT_TRUE(view_.take_buffer(&buf));
  EXPECT_EQ(buf, 3u);
}

TEST_F(RingViewTest, ReturnBufferRefusesIndexOutsidePool) {
  ASSERT_NO_FATAL_FAILURE(take_all());
  for (u32 bad : {kBufCount, 1000u, ~0u}) EXPECT_FALSE(view_.return_buffer(bad)) << bad;
  EXPECT_EQ(region_.free_buffers(), 0u);
}

TEST_F(RingViewTest, ReturnBufferFailsOnlyWhenEveryFreeCellHoldsABuffer) {
  ASSERT_EQ(region_.info().free_capacity, kFreeCapacity);
  // 5 buffers in 16 cells: eleven more returns fit (a confused peer's
  // duplicates of valid indices), the twelfth finds no cell.
  for (u32 i = 0; i < kFreeCapacity - kBufCount; ++i)
    EXPECT_TRUE(view_.return_buffer(i % kBufCount)) << "return " << i;
  EXPECT_EQ(region_.free_buffers(), kFreeCapacity);
  EXPECT_FALSE(view_.return_buffer(0));
  EXPECT_EQ(region_.free_buffers(), kFreeCapacity);
}

TEST_F(RingViewTest, TakeBufferDropsOutOfRangeIndexFoundInFreeRing) {
  region_.free_cells()[0].buf = 1000;  // a peer scribbled on the free ring
  u32 buf = ~0u;
  EXPECT_FALSE(view_.take_buffer(&buf));
  EXPECT_EQ(buf, ~0u);
  // The bad cell is consumed: the next take gets the next buffer.
  ASSERT_TRUE(view_.take_buffer(&buf));
  EXPECT_EQ(buf, 1u);
}

TEST_F(RingViewTest, ReadyFollowsRingState) {
  EXPECT_FALSE(view_.ready(EXO_WAIT_DATA));
  EXPECT_TRUE(view_.ready(EXO_WAIT_SPACE));
  EXPECT_TRUE(view_.ready(EXO_WAIT_BUFFER));
  for (u32 i = 0; i < 8; ++i) ASSERT_EQ(region_.write("x", 1), 1);
  EXPECT_TRUE(view_.ready(EXO_WAIT_DATA));
  EXPECT_FALSE(view_.ready(EXO_WAIT_SPACE));
}

TEST_F(RingViewTest, ReadyIsFalseForUnknownKinds) {
  for (u32 which : {u32{EXO_WAIT_NR}, 100u, ~0u}) EXPECT_FALSE(view_.ready(which)) << which;
}

// --- the free ring holds twice the pool ------------------------------------

// A pool of a power of two: its free ring has exactly 2 x buf_count cells.
class FreeRingOfTwiceThePool : public testing::Test {
 protected:
  static constexpr u32 kCount = 4;
  FreeRingOfTwiceThePool() : region_({8, EXO_MODE_SPSC, kBufSize, kCount}), view_(region_.view()) {}

  TestRegion region_;
  exo::RingView view_;
};

// Returns only fail once more buffers were returned than exist: after
// 2 x count - count extra returns of valid indices, the ring is full.
TEST_F(FreeRingOfTwiceThePool, ReturnBufferFailsOnlyAfterCountExtraReturns) {
  ASSERT_EQ(region_.info().free_capacity, 2 * kCount);
  for (u32 i = 0; i < 2 * kCount - kCount; ++i)
    EXPECT_TRUE(view_.return_buffer(i)) << "extra return " << i;
  EXPECT_EQ(region_.free_buffers(), 2 * kCount);
  for (u32 i = 0; i < kCount; ++i) EXPECT_FALSE(view_.return_buffer(i)) << "return " << i;
  EXPECT_EQ(region_.free_buffers(), 2 * kCount);
  // A take frees a cell: the next return fits again, and only one.
  u32 buf = ~0u;
  ASSERT_TRUE(view_.take_buffer(&buf));
  EXPECT_EQ(buf, 0u);
  EXPECT_TRUE(view_.return_buffer(buf));
  EXPECT_FALSE(view_.return_buffer(buf));
}

// A taker preempted between its claim and its release holds one cell; the
// other buffers keep cycling through the spare cells meanwhile, and none is
// lost. What 2 x count cells guarantee is one lap of the spare cells
// (count take/return pairs): a return after that needs the held cell.
TEST_F(FreeRingOfTwiceThePool, BuffersCycleWhileATakerHoldsAClaimedCell) {
  ASSERT_EQ(region_.info().free_capacity, 2 * kCount);
  exo::RingView taker = region_.view();
  u64 held = 0;
  ASSERT_EQ(taker.free_buffers().claim_consume(1, &held), 1u);
  const u32 taker_buf = taker.free_buffers().at(held).buf;
  for (u32 i = 0; i < 2 * kCount - kCount; ++i) {
    u32 buf = ~0u;
    ASSERT_TRUE(view_.take_buffer(&buf)) << "take " << i;
    EXPECT_NE(buf, taker_buf);
    ASSERT_TRUE(view_.return_buffer(buf)) << "return " << i;
  }
  taker.free_buffers().release(held);
  EXPECT_EQ(region_.free_buffers(), kCount - 1);
  std::set<u32> available;
  for (u32 i = 0; i < kCount - 1; ++i) {
    u32 buf = ~0u;
    ASSERT_TRUE(view_.take_buffer(&buf)) << "take " << i;
    EXPECT_NE(buf, taker_buf);
    available.insert(buf);
  }
  EXPECT_EQ(available.size(), kCount - 1);
}

TEST(RingViewWithoutPool, HasNoBuffersToTakeOrReturn) {
  TestRegion region({8, EXO_MODE_MPMC});
  exo::RingView view = region.view();
  EXPECT_FALSE(view.has_pool());
  u32 buf;
  EXPECT_FALSE(view.take_buffer(&buf));
  EXPECT_FALSE(view.return_buffer(0));
  EXPECT_FALSE(view.ready(EXO_WAIT_BUFFER));
}

// --- zc_payload bounds ------------------------------------------------------

struct DescCase {
  const char* label;
  exo_zc_desc desc;
  s64 expect;  // offset of the payload in the pool, or -1 for "rejected"
};

void PrintTo(const DescCase& c, std::ostream* os) { *os << c.label; }

class ZcPayload : public RingViewTest, public testing::WithParamInterface<DescCase> {};

TEST_P(ZcPayload, AcceptsOnlyRangesInsideOneBuffer) {
  const DescCase& c = GetParam();
  const u8* payload = view_.zc_payload(c.desc);
  if (c.expect < 0)
    EXPECT_EQ(payload, nullptr);
  else
    EXPECT_EQ(payload, pool() + c.expect);
}

constexpr u32 kLast = kBufCount - 1;

const DescCase kDescs[] = {
    {"WholeFirstBuffer", {0, 0, kBufSize, 0}, 0},
    {"WholeLastBuffer", {kLast, 0, kBufSize, 0}, kLast * kBufSize},
    {"TailOfBuffer", {2, 200, 56, 0}, 2 * kBufSize + 200},
    {"EmptyRangeAtEndOfPool", {kLast, kBufSize, 0, 0}, kBufCount * kBufSize},
    {"ReservedFieldIgnored", {1, 0, 1, 0xffffffff}, kBufSize},
    {"BufIndexEqualsCount", {kBufCount, 0, 1, 0}, -1},
    {"BufIndexAllOnes", {0xffffffff, 0, 0, 0}, -1},
    {"LenOneByteTooMany", {0, 0, kBufSize + 1, 0}, -1},
    {"OffsetPastEnd", {0, kBufSize + 1, 0, 0}, -1},
    {"RangeCrossingEnd", {0, kBufSize - 1, 2, 0}, -1},
    {"RangeCrossingIntoNextBuffer", {1, 200, 100, 0}, -1},
    {"OffsetAllOnes", {0, 0xffffffff, 1, 0}, -1},
    {"OffsetAllOnesEmpty", {0, 0xffffffff, 0, 0}, -1},
    {"LenAllOnesWrappingToZero", {0, 1, 0xffffffff, 0}, -1},
    {"HalvesWrappingToZero", {0, 0x80000000, 0x80000000, 0}, -1},
    {"LenAllOnes", {0, 0, 0xffffffff, 0}, -1},
};

INSTANTIATE_TEST_SUITE_P(Descs, ZcPayload, testing::ValuesIn(kDescs),
                         [](const testing::TestParamInfo<DescCase>& p) { return p.param.label; });

}  // namespace
}  // namespace exo_test
