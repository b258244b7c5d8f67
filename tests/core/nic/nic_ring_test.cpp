// SPDX-License-Identifier: GPL-2.0
// The descriptor rings (nic_api.h, module/core/nic/desc_ring.cpp) against
// the simulated device: set-up, accounting, RX and TX with wrap-around over
// several ring sizes, and every hostile write-back form.
#include <string.h>

#include <vector>

#include <gtest/gtest.h>

#include "tests/core/nic/sim_e1000.h"

namespace exo_test {
namespace {

constexpr u8 kBcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

TEST(NicRingInit, RejectsBadShapes) {
  std::vector<u64> mem(2 * 8192, ~0ull);
  exo_nic_ring r{};
  for (u32 count : {0u, 1u, 32u, 63u, 65u, 96u, 100u, 4097u, 8192u, 0x80000000u})
    EXPECT_EQ(exo_nic_ring_init(&r, mem.data(), count, 0), -22) << count;
  for (u32 len : {1u, 1024u, 2047u, 2049u, 4096u})
    EXPECT_EQ(exo_nic_ring_init(&r, mem.data(), 64, len), -22) << len;
  EXPECT_EQ(exo_nic_ring_init(&r, nullptr, 64, 0), -22);
  EXPECT_EQ(mem[0], ~0ull);  // nothing touched
}

TEST(NicRingInit, ZeroesTheDescriptorsAndState) {
  for (u32 count : {64u, 4096u}) {
    std::vector<u64> mem(2 * count + 2, ~0ull);
    exo_nic_ring r;
    memset(&r, 0x5a, sizeof(r));
    ASSERT_EQ(exo_nic_ring_init(&r, mem.data(), count, EXO_E1000_RX_BUF_LEN), 0);
    for (u32 i = 0; i < 2 * count; ++i) ASSERT_EQ(mem[i], 0u) << i;
    EXPECT_EQ(mem[2 * count], ~0ull);  // and nothing past them
    EXPECT_EQ(r.count, count);
    EXPECT_EQ(r.buf_len, 2048u);
    EXPECT_EQ(r.next_to_use, 0u);
    EXPECT_EQ(r.next_to_clean, 0u);
    EXPECT_EQ(r.discarding, 0u);
    EXPECT_EQ(r.errors.bad_length + r.errors.chained + r.errors.rx_errors, 0u);
    EXPECT_EQ(exo_nic_ring_space(&r), count - 1);
  }
}

TEST(NicRingInit, CountForRoundsUpIntoRange) {
  const u32 cases[][2] = {{0, 64},     {1, 64},     {63, 64},     {64, 64},   {65, 128},
                          {100, 128},  {128, 128},  {129, 256},   {256, 256}, {1000, 1024},
                          {2049, 4096}, {4095, 4096}, {4096, 4096}, {4097, 4096},
                          {0xffffffffu, 4096}};
  for (const auto& c : cases) EXPECT_EQ(exo_nic_ring_count_for(c[0]), c[1]) << c[0];
}

TEST(NicRingAccounting, SpaceTailAndFull) {
  NicBed bed(64);
  bed.start();
  EXPECT_EQ(exo_nic_ring_in_flight(&bed.rx), 0u);
  EXPECT_EQ(exo_nic_ring_space(&bed.rx), 63u);
  for (u32 i = 0; i < 63; ++i) {
    EXPECT_EQ(exo_nic_rx_post(&bed.rx, bed.rx_buf(i)), i);
    EXPECT_EQ(exo_nic_ring_in_flight(&bed.rx), i + 1);
    EXPECT_EQ(exo_nic_ring_space(&bed.rx), 62 - i);
    EXPECT_EQ(exo_nic_ring_tail(&bed.rx), i + 1);
  }
  // Full: the last free slot stays free, so the tail never meets the head.
  EXPECT_EQ(exo_nic_ring_space(&bed.rx), 0u);
  EXPECT_EQ(exo_nic_ring_tail(&bed.rx), 63u);
  bed.write_rdt();
  // The device fills all 63, and a 64th finds no buffer.
  auto f = make_frame(kBcast, 60, 0);
  for (u32 i = 0; i < 63; ++i) ASSERT_EQ(bed.sim.deliver(f.data(), 60), SimE1000::kDelivered);
  EXPECT_EQ(bed.sim.deliver(f.data(), 60), SimE1000::kNoBuffer);
  exo_nic_rx_frame fr;
  ASSERT_EQ(exo_nic_rx_next(&bed.rx, &fr), EXO_NIC_RX_FRAME);
  EXPECT_EQ(exo_nic_ring_space(&bed.rx), 1u);
  EXPECT_EQ(exo_nic_ring_in_flight(&bed.rx), 62u);
}

TEST(NicRingAccounting, CountersWrapAt32Bits) {
  NicBed bed(64);
  bed.start();
  bed.rx.next_to_use = bed.rx.next_to_clean = 0xfffffff0u;
  bed.sim.set_rdh(0x30);
  bed.refill_rx();
  EXPECT_EQ(exo_nic_ring_in_flight(&bed.rx), 63u);
  EXPECT_EQ(exo_nic_ring_tail(&bed.rx), (0xfffffff0u + 63) & 63);
  auto f = make_frame(kBcast, 80, 9);
  for (u32 i = 0; i < 40; ++i) {
    ASSERT_EQ(bed.sim.deliver(f.data(), 80), SimE1000::kDelivered);
    exo_nic_rx_frame fr;
    ASSERT_EQ(exo_nic_rx_next(&bed.rx, &fr), EXO_NIC_RX_FRAME);
    EXPECT_EQ(fr.slot, (0x30 + i) & 63);
    EXPECT_EQ(fr.len, 80u);
  }
  EXPECT_EQ(exo_nic_ring_in_flight(&bed.rx), 23u);
}

TEST(NicRingTakeOldest, InOrderThenNone) {
  NicBed bed(64);
  bed.start();
  for (u32 i = 0; i < 5; ++i) exo_nic_rx_post(&bed.rx, bed.rx_buf(i));
  for (u32 i = 0; i < 5; ++i) EXPECT_EQ(exo_nic_ring_take_oldest(&bed.rx), i);
  EXPECT_EQ(exo_nic_ring_in_flight(&bed.rx), 0u);
  EXPECT_EQ(exo_nic_ring_take_oldest(&bed.rx), 64u);  // none: no slot
  EXPECT_EQ(exo_nic_ring_in_flight(&bed.rx), 0u);
}

// --- RX, the happy path -------------------------------------------------------

class NicRx : public testing::TestWithParam<u32> {};

TEST_P(NicRx, FramesArriveInOrderAcrossWrapAround) {
  const u32 count = GetParam();
  NicBed bed(count);
  bed.start();
  bed.refill_rx();
  u32 sent = 0, got = 0;
  const u32 total = 3 * count + 7;
  u32 batch = 1;
  while (got < total) {
    for (u32 i = 0; i < batch && sent < total; ++i) {
      u32 len = 14 + (sent * 37) % (2048 - 14 + 1);
      auto f = make_frame(kBcast, len, sent);
      ASSERT_EQ(bed.sim.deliver(f.data(), len), SimE1000::kDelivered) << sent;
      ++sent;
    }
    exo_nic_rx_frame fr;
    while (exo_nic_rx_next(&bed.rx, &fr) == EXO_NIC_RX_FRAME) {
      u32 len = 14 + (got * 37) % (2048 - 14 + 1);
      ASSERT_EQ(fr.slot, got & (count - 1));
      ASSERT_EQ(fr.len, len);
      ASSERT_EQ(fr.flags, 0u);
      auto want = make_frame(kBcast, len, got);
      ASSERT_EQ(memcmp(bed.rx_data(fr.slot), want.data(), len), 0) << got;
      ++got;
    }
    ASSERT_EQ(got, sent);
    bed.refill_rx();
    batch = batch * 3 % (count - 1) + 1;
  }
  EXPECT_EQ(bed.rx.errors.bad_length + bed.rx.errors.chained + bed.rx.errors.rx_errors, 0u);
  EXPECT_EQ(bed.sim.dma_faults, 0u);
  EXPECT_TRUE(bed.sim.icr() & EXO_E1000_INT_RXT0);
}

INSTANTIATE_TEST_SUITE_P(Sizes, NicRx, testing::Values(64u, 128u, 512u, 4096u));

TEST(NicRxChecksum, FlagOnlyWhenBothCheckedAndGood) {
  struct Case {
    u8 status, errors;
    u32 flags;
  };
  const Case cases[] = {
      {EXO_E1000_RXD_TCPCS | EXO_E1000_RXD_IPCS, 0, EXO_NIC_RX_CSUM_OK},
      {EXO_E1000_RXD_TCPCS | EXO_E1000_RXD_IPCS | EXO_E1000_RXD_IXSM, 0, 0},  // ignore
      {EXO_E1000_RXD_TCPCS, 0, 0},
      {EXO_E1000_RXD_IPCS, 0, 0},
      {EXO_E1000_RXD_TCPCS | EXO_E1000_RXD_IPCS, EXO_E1000_RXE_TCPE, 0},
      {EXO_E1000_RXD_TCPCS | EXO_E1000_RXD_IPCS, EXO_E1000_RXE_IPE, 0},
      {0, 0, 0},
  };
  NicBed bed(64);
  bed.start();
  bed.refill_rx();
  auto f = make_frame(kBcast, 64, 1);
  for (const Case& c : cases) {
    SimE1000::RxOptions opt;
    opt.status_or = c.status;
    opt.errors = c.errors;
    ASSERT_EQ(bed.sim.deliver(f.data(), 64, opt), SimE1000::kDelivered);
    exo_nic_rx_frame fr;
    // A checksum error is the stack's to count: the frame is still given.
    ASSERT_EQ(exo_nic_rx_next(&bed.rx, &fr), EXO_NIC_RX_FRAME);
    EXPECT_EQ(fr.flags, c.flags) << int(c.status) << " " << int(c.errors);
  }
  EXPECT_EQ(bed.rx.errors.rx_errors, 0u);
}

// --- RX, hostile write-backs --------------------------------------------------

class NicRxHostile : public testing::Test {
 protected:
  NicRxHostile() : bed(64) {
    bed.start();
    bed.refill_rx();
  }
  exo_nic_rx_result next() { return exo_nic_rx_next(&bed.rx, &fr); }
  SimE1000::Delivery send(u32 len, const SimE1000::RxOptions& opt = {}) {
    auto f = make_frame(kBcast, len, seed++);
    return bed.sim.deliver(f.data(), len, opt);
  }
  // The next result is a good frame of |len| bytes in |slot|.
  void expect_frame(u32 slot, u32 len) {
    ASSERT_EQ(next(), EXO_NIC_RX_FRAME);
    EXPECT_EQ(fr.slot, slot);
    EXPECT_EQ(fr.len, len);
  }
  void expect_drop(u32 slot) {
    ASSERT_EQ(next(), EXO_NIC_RX_DROP);
    EXPECT_EQ(fr.slot, slot);
  }
  NicBed bed;
  exo_nic_rx_frame fr{};
  u32 seed = 0;
};

TEST_F(NicRxHostile, LengthsOutsideTheBufferOrUnderAHeaderAreDropped) {
  u32 slot = 0;
  for (u32 len : {2049u, 4096u, 0xffffu, 13u, 1u}) {
    SimE1000::RxOptions opt;
    opt.length = len;
    ASSERT_EQ(send(60, opt), SimE1000::kDelivered);
    expect_drop(slot++);
  }
  // Length 0 (the device wrote nothing of a length).
  bed.sim.write_rx_writeback(slot, 0, EXO_E1000_RXD_DD | EXO_E1000_RXD_EOP, 0);
  bed.sim.set_rdh(slot + 1);
  expect_drop(slot++);
  EXPECT_EQ(bed.rx.errors.bad_length, 6u);
  // The edges that are good.
  for (u32 len : {14u, 2048u}) {
    SimE1000::RxOptions opt;
    opt.length = len;
    ASSERT_EQ(send(60, opt), SimE1000::kDelivered);
    expect_frame(slot++, len);
  }
  EXPECT_EQ(next(), EXO_NIC_RX_NONE);
  EXPECT_EQ(bed.rx.errors.bad_length, 6u);
  EXPECT_EQ(bed.rx.errors.rx_errors + bed.rx.errors.chained, 0u);
}

TEST_F(NicRxHostile, FrameErrorsAreDropped) {
  u32 slot = 0;
  for (u32 err : {EXO_E1000_RXE_CE, EXO_E1000_RXE_SE, EXO_E1000_RXE_SEQ, EXO_E1000_RXE_CXE,
                  EXO_E1000_RXE_RXE, 0xffu}) {
    SimE1000::RxOptions opt;
    opt.errors = static_cast<u8>(err);
    ASSERT_EQ(send(100, opt), SimE1000::kDelivered);
    expect_drop(slot++);
  }
  EXPECT_EQ(bed.rx.errors.rx_errors, 6u);
  ASSERT_EQ(send(100), SimE1000::kDelivered);
  expect_frame(slot, 100);
}

TEST_F(NicRxHostile, DdWithoutEopDropsUpToTheNextEop) {
  SimE1000::RxOptions no_eop;
  no_eop.drop_eop = true;
  ASSERT_EQ(send(100, no_eop), SimE1000::kDelivered);
  ASSERT_EQ(send(100, no_eop), SimE1000::kDelivered);
  ASSERT_EQ(send(100), SimE1000::kDelivered);  // the chain's end: dropped too
  ASSERT_EQ(send(200), SimE1000::kDelivered);  // a frame of its own
  expect_drop(0);
  EXPECT_EQ(bed.rx.discarding, 1u);
  expect_drop(1);
  expect_drop(2);
  EXPECT_EQ(bed.rx.discarding, 0u);
  expect_frame(3, 200);
  EXPECT_EQ(bed.rx.errors.chained, 1u);  // one frame
  // A real frame over two buffers (the device chains what does not fit).
  ASSERT_EQ(send(3000), SimE1000::kDelivered);
  ASSERT_EQ(send(60), SimE1000::kDelivered);
  expect_drop(4);
  expect_drop(5);
  expect_frame(6, 60);
  EXPECT_EQ(bed.rx.errors.chained, 2u);
  // Discarding survives a pause: the rest of the chain comes later.
  ASSERT_EQ(send(100, no_eop), SimE1000::kDelivered);
  expect_drop(7);
  EXPECT_EQ(next(), EXO_NIC_RX_NONE);
  SimE1000::RxOptions bad_eop;  // the end of a chain, with a length past the buffer
  bad_eop.length = 0xffff;
  ASSERT_EQ(send(100, bad_eop), SimE1000::kDelivered);
  expect_drop(8);
  EXPECT_EQ(bed.rx.discarding, 0u);
  EXPECT_EQ(bed.rx.errors.bad_length, 0u);  // part of the chained frame
}

TEST_F(NicRxHostile, DdAheadOfTheOldestWaitsItsTurn) {
  // Slot 1 and 5 done before slot 0.
  bed.sim.write_rx_writeback(1, 60, EXO_E1000_RXD_DD | EXO_E1000_RXD_EOP, 0);
  bed.sim.write_rx_writeback(5, 70, EXO_E1000_RXD_DD | EXO_E1000_RXD_EOP, 0);
  EXPECT_EQ(next(), EXO_NIC_RX_NONE);
  EXPECT_EQ(next(), EXO_NIC_RX_NONE);
  EXPECT_EQ(exo_nic_ring_in_flight(&bed.rx), 63u);
  ASSERT_EQ(send(90), SimE1000::kDelivered);  // slot 0
  expect_frame(0, 90);
  expect_frame(1, 60);  // posted, and now the oldest: taken
  EXPECT_EQ(next(), EXO_NIC_RX_NONE);  // slot 2 not done, 5 still waits
}

TEST_F(NicRxHostile, DdOnSlotsNeverPostedIsNeverSeen) {
  // A ring with 3 posted, after a reset of the ring.
  ASSERT_EQ(exo_nic_ring_init(&bed.rx, bed.rx_desc(), 64, 2048), 0);
  for (u32 i = 0; i < 3; ++i) exo_nic_rx_post(&bed.rx, bed.rx_buf(i));
  for (u32 s : {3u, 4u, 20u, 63u})
    bed.sim.write_rx_writeback(s, 60, EXO_E1000_RXD_DD | EXO_E1000_RXD_EOP, 0);
  for (u32 s : {0u, 1u, 2u})
    bed.sim.write_rx_writeback(s, 60, EXO_E1000_RXD_DD | EXO_E1000_RXD_EOP, 0);
  for (u32 s : {0u, 1u, 2u}) expect_frame(s, 60);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(next(), EXO_NIC_RX_NONE);
  EXPECT_EQ(exo_nic_ring_in_flight(&bed.rx), 0u);
  // An empty ring: never a descriptor looked at.
  exo_nic_ring_init(&bed.rx, bed.rx_desc(), 64, 2048);
  bed.sim.write_rx_writeback(0, 60, EXO_E1000_RXD_DD | EXO_E1000_RXD_EOP, 0);
  EXPECT_EQ(next(), EXO_NIC_RX_NONE);
}

TEST_F(NicRxHostile, PostClearsAStaleStatus) {
  ASSERT_EQ(send(60), SimE1000::kDelivered);
  expect_frame(0, 60);
  // The device writes slot 0 again after giving it back (a stale write-back).
  bed.sim.write_rx_writeback(0, 60, EXO_E1000_RXD_DD | EXO_E1000_RXD_EOP, 0);
  // Reposting slot 0 (a full lap later) clears it.
  exo_nic_ring_init(&bed.rx, bed.rx_desc(), 64, 2048);
  bed.sim.write_rx_writeback(0, 60, EXO_E1000_RXD_DD | EXO_E1000_RXD_EOP, 0);
  EXPECT_EQ(exo_nic_rx_post(&bed.rx, bed.rx_buf(0)), 0u);
  EXPECT_EQ(bed.rx_desc()[0].status, 0u);
  EXPECT_EQ(bed.rx_desc()[0].addr, bed.rx_buf(0));
  EXPECT_EQ(next(), EXO_NIC_RX_NONE);
}

TEST_F(NicRxHostile, HeadJumpsChangeNothing) {
  // The head jumps past the posted buffers into slots never posted again:
  // the device writes there (with whatever address they hold), the driver
  // waits for the oldest it gave.
  exo_nic_ring_init(&bed.rx, bed.rx_desc(), 64, 2048);
  for (u32 i = 0; i < 10; ++i) exo_nic_rx_post(&bed.rx, bed.rx_buf(i));
  bed.write_rdt();
  bed.sim.set_rdh(30);
  ASSERT_EQ(send(60), SimE1000::kDelivered);  // into slot 30 (address 0: a DMA fault)
  EXPECT_GT(bed.sim.dma_faults, 0u);
  EXPECT_EQ(next(), EXO_NIC_RX_NONE);
  bed.sim.set_rdh(0);
  ASSERT_EQ(send(60), SimE1000::kDelivered);
  expect_frame(0, 60);
  // Backwards: over a slot already given back.
  bed.sim.set_rdh(0);
  ASSERT_EQ(send(61), SimE1000::kDelivered);
  EXPECT_EQ(next(), EXO_NIC_RX_NONE);  // slot 1 is the oldest, not done
  EXPECT_EQ(exo_nic_ring_in_flight(&bed.rx), 9u);
}

TEST_F(NicRxHostile, NeverLooksPastNextToUse) {
  // Every descriptor DD, including the free one at next_to_use.
  for (u32 s = 0; s < 64; ++s)
    bed.sim.write_rx_writeback(s, 60, EXO_E1000_RXD_DD | EXO_E1000_RXD_EOP, 0);
  for (u32 s = 0; s < 63; ++s) expect_frame(s, 60);
  EXPECT_EQ(next(), EXO_NIC_RX_NONE);
  EXPECT_EQ(exo_nic_ring_in_flight(&bed.rx), 0u);
  EXPECT_EQ(bed.rx.next_to_clean, 63u);
}

// --- TX -----------------------------------------------------------------------

class NicTx : public testing::TestWithParam<u32> {};

TEST_P(NicTx, FramesGoOutAndAreReapedInOrder) {
  const u32 count = GetParam();
  NicBed bed(count);
  bed.start();
  u32 posted = 0, reaped = 0, frames = 0;
  std::vector<std::vector<u8>> want;
  for (u32 round = 0; round < 3 * count / 2; ++round) {
    u32 parts = 1 + round % 3;
    if (exo_nic_ring_space(&bed.tx) < parts) {
      u32 slot;
      while (exo_nic_tx_reap(&bed.tx, &slot)) ASSERT_EQ(slot, reaped++ & (count - 1));
      ASSERT_EQ(reaped, posted);
    }
    std::vector<u8> frame;
    for (u32 p = 0; p < parts; ++p) {
      u32 slot = posted & (count - 1);
      u32 len = 1 + (round * 131 + p * 17) % 1500;
      for (u32 i = 0; i < len; ++i) bed.tx_data(slot)[i] = static_cast<u8>(round + i * 3 + p);
      frame.insert(frame.end(), bed.tx_data(slot), bed.tx_data(slot) + len);
      ASSERT_EQ(exo_nic_tx_post(&bed.tx, bed.tx_buf(slot), len, p + 1 == parts), slot);
      const exo_e1000_tx_desc& d = bed.tx_desc()[slot];
      EXPECT_EQ(d.length, len);
      EXPECT_EQ(d.status, 0u);
      u8 cmd = EXO_E1000_TXD_RS;
      if (p + 1 == parts) cmd |= EXO_E1000_TXD_EOP | EXO_E1000_TXD_IFCS;
      EXPECT_EQ(d.cmd, cmd);
      ++posted;
    }
    want.push_back(frame);
    ++frames;
    bed.write_tdt();
  }
  u32 slot;
  while (exo_nic_tx_reap(&bed.tx, &slot)) ASSERT_EQ(slot, reaped++ & (count - 1));
  EXPECT_EQ(reaped, posted);
  EXPECT_EQ(exo_nic_tx_reap(&bed.tx, &slot), 0);
  ASSERT_EQ(bed.sim.tx_frames.size(), want.size());
  for (u32 i = 0; i < want.size(); ++i) {
    ASSERT_EQ(bed.sim.tx_frames[i].bytes, want[i]) << i;
    EXPECT_TRUE(bed.sim.tx_frames[i].fcs);
  }
  EXPECT_EQ(bed.sim.dma_faults, 0u);
}

INSTANTIATE_TEST_SUITE_P(Sizes, NicTx, testing::Values(64u, 256u, 4096u));

TEST(NicTxReap, OnlyTheOldestDoneAndNothingNeverPosted) {
  NicBed bed(64);
  bed.start();
  bed.sim.tx_hold = true;
  u32 slot = 99;
  bed.sim.write_tx_status(0, EXO_E1000_TXD_STAT_DD);  // nothing posted yet
  EXPECT_EQ(exo_nic_tx_reap(&bed.tx, &slot), 0);
  for (u32 i = 0; i < 4; ++i) exo_nic_tx_post(&bed.tx, bed.tx_buf(i), 60, 1);
  bed.write_tdt();
  EXPECT_EQ(exo_nic_tx_reap(&bed.tx, &slot), 0);  // the device has not sent
  bed.sim.write_tx_status(2, EXO_E1000_TXD_STAT_DD);  // out of order
  bed.sim.write_tx_status(10, EXO_E1000_TXD_STAT_DD);  // never posted
  EXPECT_EQ(exo_nic_tx_reap(&bed.tx, &slot), 0);
  EXPECT_EQ(slot, 99u);
  bed.sim.process_tx();
  for (u32 i = 0; i < 4; ++i) {
    ASSERT_EQ(exo_nic_tx_reap(&bed.tx, &slot), 1);
    EXPECT_EQ(slot, i);
  }
  EXPECT_EQ(exo_nic_tx_reap(&bed.tx, &slot), 0);  // slot 10's DD is never looked at
  EXPECT_EQ(exo_nic_ring_in_flight(&bed.tx), 0u);
}

TEST(NicTxReap, HeadJumpLeavesDescriptorsForTakeOldest) {
  NicBed bed(64);
  bed.start();
  bed.sim.tx_hold = true;
  for (u32 i = 0; i < 6; ++i) exo_nic_tx_post(&bed.tx, bed.tx_buf(i), 100, 1);
  bed.write_tdt();
  bed.sim.set_tdh(3);  // the device skips 0..2
  bed.sim.process_tx();
  EXPECT_EQ(bed.sim.tx_frames.size(), 3u);
  u32 slot;
  EXPECT_EQ(exo_nic_tx_reap(&bed.tx, &slot), 0);  // 0 never done
  // Down: every descriptor taken back once, in order.
  for (u32 i = 0; i < 6; ++i) EXPECT_EQ(exo_nic_ring_take_oldest(&bed.tx), i);
  EXPECT_EQ(exo_nic_ring_in_flight(&bed.tx), 0u);
  EXPECT_EQ(exo_nic_tx_reap(&bed.tx, &slot), 0);
}

TEST(NicTxReap, PostClearsAStaleDd) {
  NicBed bed(64);
  bed.start();
  bed.sim.tx_hold = true;
  bed.sim.write_tx_status(0, EXO_E1000_TXD_STAT_DD);
  exo_nic_tx_post(&bed.tx, bed.tx_buf(0), 100, 1);
  u32 slot;
  EXPECT_EQ(exo_nic_tx_reap(&bed.tx, &slot), 0);
}

}  // namespace
}  // namespace exo_test
