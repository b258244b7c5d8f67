// SPDX-License-Identifier: GPL-2.0
// RingView: the zero-copy free-buffer bitmap (take/return), the bounds check of
// zero-copy descriptors and readiness per wait kind.
#include <string.h>

#include <set>

#include <gtest/gtest.h>

#include "module/core/ring/ring_view.h"
#include "tests/core/test_region.h"

namespace exo_test {
namespace {

constexpr u32 kBufSize = 256;
// One bitmap word, 59 bits of it past the pool.
constexpr u32 kBufCount = 5;

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

TEST_F(RingViewTest, ReturnBufferRefusesIndexOutsidePoolAndChangesNothing) {
  ASSERT_NO_FATAL_FAILURE(take_all());
  for (u32 bad : {kBufCount, 63u, 64u, 1000u, ~0u}) EXPECT_FALSE(view_.return_buffer(bad)) << bad;
  EXPECT_EQ(region_.free_bits()[0], 0u) << "no bit set past the pool";
  EXPECT_EQ(region_.free_buffers(), 0u);
  u32 buf = ~0u;
  EXPECT_FALSE(view_.take_buffer(&buf));
}

TEST_F(RingViewTest, DoubleReturnIsRefusedAndChangesNothing) {
  // Every buffer starts free: returning one again is a double return.
  for (u32 buf = 0; buf < kBufCount; ++buf) EXPECT_FALSE(view_.return_buffer(buf)) << buf;
  EXPECT_EQ(region_.free_bits()[0], (1ull << kBufCount) - 1);
  u32 buf = ~0u;
  ASSERT_TRUE(view_.take_buffer(&buf));
  const u64 bits_taken = region_.free_bits()[0];
  EXPECT_EQ(bits_taken, ((1ull << kBufCount) - 1) & ~(1ull << buf));
  ASSERT_TRUE(view_.take_buffer(&buf));
  EXPECT_TRUE(view_.return_buffer(buf));
  EXPECT_EQ(region_.free_bits()[0], bits_taken);
  EXPECT_FALSE(view_.return_buffer(buf)) << "second return of buffer " << buf;
  EXPECT_EQ(region_.free_bits()[0], bits_taken);
  EXPECT_EQ(region_.free_buffers(), kBufCount - 1);
}

TEST_F(RingViewTest, TakeBufferNeverHandsOutStrayBitsPastThePool) {
  ASSERT_NO_FATAL_FAILURE(take_all());
  region_.free_bits()[0] = ~0ull << kBufCount;  // a peer set bits past the pool
  u32 buf = ~0u;
  EXPECT_FALSE(view_.take_buffer(&buf));
  EXPECT_EQ(buf, ~0u);
  EXPECT_EQ(region_.free_bits()[0], 0u) << "stray bits are cleared";
  EXPECT_EQ(region_.free_buffers(), 0u);
  EXPECT_FALSE(view_.ready(EXO_WAIT_BUFFER));
  ASSERT_TRUE(view_.return_buffer(2));
  ASSERT_TRUE(view_.take_buffer(&buf));
  EXPECT_EQ(buf, 2u);
}

TEST_F(RingViewTest, AnySearchHintFindsTheFreeBuffer) {
  ASSERT_NO_FATAL_FAILURE(take_all());
  ASSERT_TRUE(view_.return_buffer(4));
  for (u64 hint : {0ull, 1ull, 63ull, ~0ull}) {
    region_.header()->free_cons.pos = hint;
    u32 buf = ~0u;
    ASSERT_TRUE(view_.take_buffer(&buf)) << "hint " << hint;
    EXPECT_EQ(buf, 4u);
    ASSERT_TRUE(view_.return_buffer(buf));
  }
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

// --- a pool spanning several bitmap words --------------------------------

TEST(FreeBitmap, EveryBufferOfAMultiWordPoolIsTakenExactlyOnce) {
  TestRegion region({8, EXO_MODE_MPMC, 64, 130});
  exo::RingView view = region.view();
  std::set<u32> taken;
  u32 buf = ~0u;
  while (view.take_buffer(&buf)) {
    EXPECT_LT(buf, 130u);
    EXPECT_TRUE(taken.insert(buf).second) << "buffer " << buf << " handed out twice";
  }
  EXPECT_EQ(taken.size(), 130u);
  EXPECT_EQ(region.free_buffers(), 0u);
  for (u32 b : taken) EXPECT_TRUE(view.return_buffer(b));
  EXPECT_EQ(region.free_buffers(), 130u);
}

// 65 buffers: word 1 holds buffer 64 and 63 bits past the pool.
TEST(FreeBitmap, StrayBitsPastAMultiWordPoolAreNeverHandedOutOrCounted) {
  TestRegion region({8, EXO_MODE_MPMC, 64, 65});
  exo::RingView view = region.view();
  ASSERT_EQ(region.info().free_words, 2u);
  std::set<u32> taken;
  u32 buf = ~0u;
  for (u32 i = 0; i < 65; ++i) {
    ASSERT_TRUE(view.take_buffer(&buf)) << "take " << i;
    EXPECT_TRUE(taken.insert(buf).second) << "buffer " << buf << " handed out twice";
  }
  EXPECT_EQ(*taken.rbegin(), 64u);
  region.free_bits()[1] = ~1ull;  // every bit but buffer 64's: all past the pool
  EXPECT_EQ(region.free_buffers(), 0u);
  EXPECT_FALSE(view.ready(EXO_WAIT_BUFFER));
  for (u64 hint : {0ull, 1ull}) {
    region.header()->free_cons.pos = hint;
    region.free_bits()[1] = ~1ull;
    buf = ~0u;
    EXPECT_FALSE(view.take_buffer(&buf)) << "hint " << hint << ": handed out " << buf;
    EXPECT_EQ(buf, ~0u);
  }
  ASSERT_TRUE(view.return_buffer(64));
  region.free_bits()[1] |= ~1ull;
  EXPECT_EQ(region.free_buffers(), 1u);
  ASSERT_TRUE(view.take_buffer(&buf));
  EXPECT_EQ(buf, 64u);
}

TEST(FreeBitmap, ReturnRefusalsOnAMultiWordPoolChangeNoWord) {
  TestRegion region({8, EXO_MODE_MPMC, 64, 65});
  exo::RingView view = region.view();
  u32 a = ~0u, b = ~0u;
  ASSERT_TRUE(view.take_buffer(&a));
  ASSERT_TRUE(view.take_buffer(&b));
  const u64 before[2] = {region.free_bits()[0], region.free_bits()[1]};
  for (u32 bad : {65u, 127u, 128u, ~0u}) EXPECT_FALSE(view.return_buffer(bad)) << bad;
  for (u32 free_one : {0u, 63u, 64u}) {
    if (free_one == a || free_one == b) continue;
    EXPECT_FALSE(view.return_buffer(free_one)) << "double return of " << free_one;
  }
  EXPECT_EQ(region.free_bits()[0], before[0]);
  EXPECT_EQ(region.free_bits()[1], before[1]);
  EXPECT_EQ(region.free_buffers(), 63u);
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
