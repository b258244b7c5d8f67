// SPDX-License-Identifier: GPL-2.0
// The kernel as a ring peer, through the core's C API (core_api.h):
// exo_core_write/exo_core_read and their errors, wake-up reporting, sleep
// bookkeeping, readiness and statistics. Every case runs in both modes.
//
// Like mq_receive(), a read needs a buffer that holds the ring's largest
// message: kBufSize on these rings (EXO_INLINE_MAX on a ring without a
// pool). A shorter one is -EMSGSIZE before anything is claimed.
#include <errno.h>
#include <string.h>

#include <memory>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "module/core/core_api.h"
#include "module/core/ring/ring_view.h"
#include "tests/core/test_region.h"

namespace exo_test {
namespace {

constexpr u32 kCapacity = 8;
constexpr u32 kBufSize = 256;
constexpr u32 kBufCount = 4;
constexpr unsigned int kData = 1u << EXO_WAIT_DATA;
constexpr unsigned int kSpace = 1u << EXO_WAIT_SPACE;
constexpr unsigned int kBuffer = 1u << EXO_WAIT_BUFFER;
constexpr unsigned int kAllKinds = kData | kSpace | kBuffer;
// What a read buffer holds where the core wrote nothing.
constexpr u8 kUnwritten = 0xa5;

// Distinct bytes per (length, seed), so that messages cannot be confused.
std::vector<u8> pattern(u32 len, u32 seed = 0) {
  std::vector<u8> v(len);
  for (u32 i = 0; i < len; ++i) v[i] = static_cast<u8>(i * 13 + len * 7 + seed * 101 + 1);
  return v;
}

exo_zc_desc desc_of(const exo_slot& slot) {
  exo_zc_desc desc;
  memcpy(&desc, slot.data, sizeof(desc));
  return desc;
}

class RingIo : public testing::TestWithParam<u32> {
 protected:
  RingIo() : ring_({kCapacity, GetParam(), kBufSize, kBufCount}) {}

  long send(const std::vector<u8>& msg, unsigned int* wake = nullptr) {
    return ring_.write(msg.data(), msg.size(), wake);
  }

  // Reads into a buffer of exactly |room| bytes (ASan catches overflows);
  // |got| receives the message. Whatever the result, the read may write
  // no byte of the buffer past the length it returns.
  long receive(u32 room, std::vector<u8>* got = nullptr, unsigned int* wake = nullptr,
               unsigned int* fault = nullptr) {
    std::unique_ptr<u8[]> buf(new u8[room]);
    memset(buf.get(), kUnwritten, room);
    long ret = ring_.read(buf.get(), room, wake, fault);
    u32 written = ret > 0 && ret <= static_cast<long>(room) ? static_cast<u32>(ret) : 0;
    for (u32 i = written; i < room; ++i) {
      if (buf[i] != kUnwritten) {
        ADD_FAILURE() << "read returned " << ret << " but wrote byte " << i << " of " << room;
        break;
      }
    }
    if (got) got->assign(buf.get(), buf.get() + written);
    return ret;
  }

  // The whole region, to show that a call changed nothing in it.
  std::vector<u8> snapshot() const {
    return std::vector<u8>(ring_.bytes(), ring_.bytes() + ring_.size());
  }

  void expect_round_trip(u32 len, u32 room = kBufSize, u32 seed = 0) {
    std::vector<u8> msg = pattern(len, seed), got;
    ASSERT_EQ(send(msg), static_cast<long>(len));
    ASSERT_EQ(receive(room, &got), static_cast<long>(len));
    EXPECT_EQ(got, msg);
  }

  void announce(unsigned int which) {
    exo_core_announce_sleep(ring_.base(), &ring_.info(), which);
  }
  void announce_all() {
    for (unsigned int which = 0; which < EXO_WAIT_NR; ++which) announce(which);
  }
  int ready(unsigned int which, unsigned int* fault = nullptr) {
    unsigned int ignored;
    return exo_core_ready(ring_.base(), &ring_.info(), which, fault ? fault : &ignored);
  }

  // The slot of the last message written, to corrupt it before the read.
  exo_slot& last_written_slot() { return ring_.slot_at(ring_.header()->prod.pos - 1); }

  exo_ring_header* header() { return ring_.header(); }

  TestRegion ring_;
};

// --- round trips --------------------------------------------------------------

// Each read returns its message's own length and bytes, and writes nothing
// past them into the max-size buffer (see receive()).
TEST_P(RingIo, InlineMessagesOfEverySizeRoundTripIntoMaxSizeBuffersWithTheirOwnLength) {
  for (u32 len = 0; len <= EXO_INLINE_MAX; ++len) {
    SCOPED_TRACE(testing::Message() << "len " << len);
    ASSERT_NO_FATAL_FAILURE(expect_round_trip(len, kBufSize, len));
  }
}

TEST_P(RingIo, ZeroCopyMessagesRoundTripIntoMaxSizeBuffersAndReturnTheirBuffer) {
  for (u32 len : {EXO_INLINE_MAX + 1u, 100u, kBufSize - 1, kBufSize}) {
    SCOPED_TRACE(testing::Message() << "len " << len);
    ASSERT_NO_FATAL_FAILURE(expect_round_trip(len, kBufSize, len));
    EXPECT_EQ(ring_.free_buffers(), kBufCount);
  }
}

TEST_P(RingIo, MessagesFitLargerReadBuffers) {
  ASSERT_NO_FATAL_FAILURE(expect_round_trip(5, kBufSize * 4));
  ASSERT_NO_FATAL_FAILURE(expect_round_trip(100, kBufSize * 4));
}

TEST_P(RingIo, InlineWriteFillsOneSlotAndPublishesIt) {
  std::vector<u8> msg = pattern(5);
  ASSERT_EQ(send(msg), 5);
  const exo_slot& slot = ring_.slot_at(0);
  EXPECT_EQ(slot.seq, 1u);
  EXPECT_EQ(slot.type, EXO_MSG_INLINE);
  EXPECT_EQ(slot.flags, 0);
  EXPECT_EQ(slot.len, 5);
  EXPECT_EQ(memcmp(slot.data, msg.data(), 5), 0);
  EXPECT_EQ(header()->prod.pos, 1u);
}

TEST_P(RingIo, ZeroCopyWriteFillsTakenBufferAndPublishesItsDescriptor) {
  std::vector<u8> msg = pattern(100);
  ASSERT_EQ(send(msg), 100);
  const exo_slot& slot = ring_.slot_at(0);
  EXPECT_EQ(slot.seq, 1u);
  EXPECT_EQ(slot.type, EXO_MSG_ZEROCOPY);
  EXPECT_EQ(slot.len, sizeof(exo_zc_desc));
  exo_zc_desc desc = desc_of(slot);
  ASSERT_LT(desc.buf, kBufCount);
  EXPECT_EQ(desc.offset, 0u);
  EXPECT_EQ(desc.len, 100u);
  EXPECT_EQ(desc.reserved, 0u);
  EXPECT_EQ(memcmp(ring_.view().buffer(desc.buf), msg.data(), 100), 0);
  EXPECT_EQ(ring_.free_buffers(), kBufCount - 1);
}

TEST_P(RingIo, MixedMessagesArriveInFifoOrder) {
  // A full ring: 8 messages, 4 of them zero-copy (the whole pool).
  const u32 kLens[kCapacity] = {10, 200, 0, 57, 56, 256, 1, 64};
  for (u32 i = 0; i < kCapacity; ++i) ASSERT_EQ(send(pattern(kLens[i], i)), kLens[i]);
  for (u32 i = 0; i < kCapacity; ++i) {
    std::vector<u8> got;
    ASSERT_EQ(receive(kBufSize, &got), kLens[i]);
    EXPECT_EQ(got, pattern(kLens[i], i)) << "message " << i;
  }
  EXPECT_EQ(receive(kBufSize), -EAGAIN);
}

// Positions are 64-bit, slot sequences 32-bit.
TEST_P(RingIo, RoundTripsAcrossThe32BitSequenceWrap) {
  ring_.rebase((1ull << 32) - 5, (1ull << 32) - 2);
  for (u32 i = 0; i < 4 * kCapacity; ++i) {
    SCOPED_TRACE(testing::Message() << "message " << i);
    ASSERT_NO_FATAL_FAILURE(expect_round_trip(i % 2 ? 40 : 150, kBufSize, i));
  }
  EXPECT_GT(header()->prod.pos, 1ull << 32);
  EXPECT_EQ(ring_.free_buffers(), kBufCount);
}

// --- -EMSGSIZE ------------------------------------------------------------------

TEST_P(RingIo, WriteLargerThanBufSizeIsMsgsizeAndTakesNoBuffer) {
  // The core must reject these lengths before reading the source: ASan
  // would report a read past the 257-byte message.
  std::vector<u8> msg = pattern(kBufSize + 1);
  for (unsigned long len : {kBufSize + 1ul, 1ul << 20, ~0ul}) {
    EXPECT_EQ(ring_.write(msg.data(), len), -EMSGSIZE) << len;
  }
  EXPECT_EQ(ring_.queued_messages(), 0u);
  EXPECT_EQ(ring_.free_buffers(), kBufCount);
}

// A buffer shorter than kBufSize is refused even when the message queued
// would fit it: the reader cannot look before it claims. Nothing in the
// region changes, nobody is woken, and the message waits for a retry.
TEST_P(RingIo, ReadBufferShorterThanLargestMessageIsMsgsizeAndKeepsInlineMessageForRetry) {
  std::vector<u8> msg = pattern(20), got;
  ASSERT_EQ(send(msg), 20);
  announce_all();
  const std::vector<u8> before = snapshot();
  for (u32 room : {0u, 19u, 20u, u32{EXO_INLINE_MAX}, kBufSize - 1}) {
    SCOPED_TRACE(testing::Message() << "room " << room);
    unsigned int wake = ~0u;
    EXPECT_EQ(receive(room, nullptr, &wake), -EMSGSIZE);
    EXPECT_EQ(wake, 0u);
  }
  EXPECT_EQ(snapshot(), before) << "a refused read claims and writes nothing";
  unsigned int wake = 0;
  ASSERT_EQ(receive(kBufSize, &got, &wake), 20);
  EXPECT_EQ(got, msg);
  EXPECT_EQ(wake, kSpace);
}

TEST_P(RingIo, ReadBufferShorterThanLargestMessageIsMsgsizeAndKeepsZeroCopyMessageForRetry) {
  std::vector<u8> msg = pattern(200), got;
  ASSERT_EQ(send(msg), 200);
  announce_all();
  const std::vector<u8> before = snapshot();
  for (u32 room : {0u, 199u, 200u, kBufSize - 1}) {
    SCOPED_TRACE(testing::Message() << "room " << room);
    unsigned int wake = ~0u;
    EXPECT_EQ(receive(room, nullptr, &wake), -EMSGSIZE);
    EXPECT_EQ(wake, 0u);
  }
  EXPECT_EQ(snapshot(), before) << "a refused read claims and writes nothing";
  EXPECT_EQ(ring_.free_buffers(), kBufCount - 1) << "the buffer stays with the message";
  unsigned int wake = 0;
  ASSERT_EQ(receive(kBufSize, &got, &wake), 200);
  EXPECT_EQ(got, msg);
  EXPECT_EQ(wake, kSpace | kBuffer);
  EXPECT_EQ(ring_.free_buffers(), kBufCount);
}

TEST_P(RingIo, ZeroLengthMessageNeedsAMaxSizeBufferToo) {
  ASSERT_EQ(send({}), 0);
  EXPECT_EQ(receive(0), -EMSGSIZE);
  EXPECT_EQ(receive(kBufSize - 1), -EMSGSIZE);
  EXPECT_EQ(ring_.queued_messages(), 1u);
  EXPECT_EQ(receive(kBufSize), 0);
  EXPECT_EQ(ring_.queued_messages(), 0u);
}

// The size check comes first: a short buffer is -EMSGSIZE on an empty ring
// (not -EAGAIN), and before the buffer is touched (not -EFAULT).
TEST_P(RingIo, ShortReadBufferIsMsgsizeBeforeEmptinessOrFaults) {
  announce_all();
  const std::vector<u8> empty = snapshot();
  unsigned int wake = ~0u;
  EXPECT_EQ(receive(kBufSize - 1, nullptr, &wake), -EMSGSIZE);
  EXPECT_EQ(wake, 0u);
  EXPECT_EQ(snapshot(), empty);
  ASSERT_EQ(send(pattern(100)), 100);
  const std::vector<u8> queued = snapshot();
  EXPECT_EQ(ring_.read(kFaultingPointer, kBufSize - 1), -EMSGSIZE);
  EXPECT_EQ(snapshot(), queued);
  EXPECT_EQ(ring_.queued_messages(), 1u);
  ASSERT_EQ(receive(kBufSize), 100);
  EXPECT_EQ(receive(kBufSize), -EAGAIN);
}

// Not even a malformed slot is looked at: the refusal claims nothing, so
// the slot is still there for a reader with a large enough buffer.
TEST_P(RingIo, ShortReadBufferIsMsgsizeWithoutClaimingAMalformedSlot) {
  ASSERT_EQ(send(pattern(5)), 5);
  last_written_slot().type = 0x80;
  const std::vector<u8> before = snapshot();
  EXPECT_EQ(receive(kBufSize - 1), -EMSGSIZE);
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(receive(kBufSize), -EBADMSG);
  EXPECT_EQ(ring_.queued_messages(), 0u);
}

// What the kernel saw wrong (the ring_error tracepoint's reason): an SPSC
// producer compares the two positions, every other party a cell's sequence.
TEST_P(RingIo, CorruptStateNamesWhatWasWrong) {
  const bool spsc = GetParam() == EXO_MODE_SPSC;
  unsigned int fault = ~0u;
  EXPECT_EQ(ready(EXO_WAIT_SPACE, &fault), 1);
  EXPECT_EQ(fault, EXO_FAULT_NONE);

  // A consumer position ahead of the producer's.
  header()->cons.pos = header()->prod.pos + 1;
  ASSERT_EQ(ready(EXO_WAIT_SPACE, &fault), spsc ? -EBADMSG : 1);
  EXPECT_EQ(fault, spsc ? EXO_FAULT_POSITIONS : EXO_FAULT_NONE);
  // A producer more than a lap ahead of the consumer: a write sees it too.
  ring_.reset();
  header()->prod.pos = kCapacity + 1;
  if (spsc) {
    ASSERT_EQ(ready(EXO_WAIT_SPACE, &fault), -EBADMSG);
    EXPECT_EQ(fault, EXO_FAULT_POSITIONS);
    fault = ~0u;
    EXPECT_EQ(ring_.write(pattern(4).data(), 4, nullptr, &fault), -EBADMSG);
    EXPECT_EQ(fault, EXO_FAULT_POSITIONS);
  }

  // The next message's cell holds a sequence no honest party writes.
  ring_.reset();
  header()->prod.pos = 1;
  ring_.slot_at(0).seq = 0x5eed;
  ASSERT_EQ(ready(EXO_WAIT_DATA, &fault), -EBADMSG);
  EXPECT_EQ(fault, EXO_FAULT_SEQUENCE);
  fault = ~0u;
  EXPECT_EQ(receive(kBufSize, nullptr, nullptr, &fault), -EBADMSG);
  EXPECT_EQ(fault, EXO_FAULT_SEQUENCE);
}

TEST(RingIoWithoutPool, WriteBeyondInlineMaxIsMsgsize) {
  TestRegion ring({kCapacity, EXO_MODE_SPSC});
  std::vector<u8> msg = pattern(EXO_INLINE_MAX + 1);
  EXPECT_EQ(ring.write(msg.data(), msg.size()), -EMSGSIZE);
  EXPECT_EQ(ring.write(msg.data(), EXO_INLINE_MAX), EXO_INLINE_MAX);
}

// Without a pool the largest message is EXO_INLINE_MAX bytes: what a read
// buffer must hold, and all it must hold.
TEST(RingIoWithoutPool, ReadBufferMustHoldExactlyTheInlineMax) {
  for (u32 mode : {EXO_MODE_SPSC, EXO_MODE_MPMC}) {
    SCOPED_TRACE(mode == EXO_MODE_MPMC ? "MPMC" : "SPSC");
    TestRegion ring({kCapacity, mode});
    std::vector<u8> msg = pattern(3);
    ASSERT_EQ(ring.write(msg.data(), msg.size()), 3);
    std::vector<u8> before(ring.bytes(), ring.bytes() + ring.size());
    std::unique_ptr<u8[]> short_buf(new u8[EXO_INLINE_MAX - 1]);
    EXPECT_EQ(ring.read(short_buf.get(), EXO_INLINE_MAX - 1), -EMSGSIZE);
    EXPECT_EQ(memcmp(before.data(), ring.bytes(), before.size()), 0);
    std::unique_ptr<u8[]> buf(new u8[EXO_INLINE_MAX]);
    ASSERT_EQ(ring.read(buf.get(), EXO_INLINE_MAX), 3);
    EXPECT_EQ(memcmp(buf.get(), msg.data(), 3), 0);
  }
}

// --- -EAGAIN --------------------------------------------------------------------

TEST_P(RingIo, ReadOfEmptyRingIsAgain) {
  announce_all();
  unsigned int wake = ~0u;
  EXPECT_EQ(receive(kBufSize, nullptr, &wake), -EAGAIN);
  EXPECT_EQ(wake, 0u);
  EXPECT_EQ(header()->cons.pos, 0u);
}

TEST_P(RingIo, WriteToFullRingIsAgainUntilAMessageIsRead) {
  for (u32 i = 0; i < kCapacity; ++i) ASSERT_EQ(send(pattern(8, i)), 8);
  announce_all();
  unsigned int wake = ~0u;
  EXPECT_EQ(send(pattern(8), &wake), -EAGAIN);
  EXPECT_EQ(wake, 0u);
  EXPECT_EQ(header()->prod.pos, kCapacity);
  ASSERT_EQ(receive(kBufSize), 8);
  EXPECT_EQ(send(pattern(8)), 8);
}

TEST_P(RingIo, ZeroCopyWriteToFullRingIsAgainWithoutTakingBuffer) {
  for (u32 i = 0; i < kCapacity; ++i) ASSERT_EQ(send(pattern(8, i)), 8);
  EXPECT_EQ(send(pattern(100)), -EAGAIN);
  EXPECT_EQ(ring_.free_buffers(), kBufCount);
}

TEST_P(RingIo, ZeroCopyWriteWithEveryBufferInUseIsAgainButInlineStillWorks) {
  for (u32 i = 0; i < kBufCount; ++i) ASSERT_EQ(send(pattern(100, i)), 100);
  EXPECT_EQ(send(pattern(100)), -EAGAIN);
  EXPECT_EQ(ring_.queued_messages(), kBufCount);
  EXPECT_EQ(send(pattern(8)), 8);
  ASSERT_EQ(receive(kBufSize), 100);
  EXPECT_EQ(send(pattern(100)), 100);
}

// --- -EFAULT --------------------------------------------------------------------

TEST_P(RingIo, WriteFromFaultingPointerIsEfaultAndPublishesNothing) {
  for (unsigned long len : {1ul, 56ul, 57ul, 256ul}) {
    SCOPED_TRACE(testing::Message() << "len " << len);
    EXPECT_EQ(ring_.write(kFaultingPointer, len), -EFAULT);
    EXPECT_EQ(header()->prod.pos, 0u);
    EXPECT_EQ(ring_.free_buffers(), kBufCount) << "a zero-copy write returns its buffer";
    EXPECT_EQ(ready(EXO_WAIT_DATA), 0);
  }
  ASSERT_NO_FATAL_FAILURE(expect_round_trip(57));
}

TEST_P(RingIo, ZeroCopyWriteFaultWakesBufferSleepersForTheReturnedBuffer) {
  announce_all();
  unsigned int wake = ~0u;
  EXPECT_EQ(ring_.write(kFaultingPointer, 100, &wake), -EFAULT);
  EXPECT_EQ(wake, kBuffer);
}

// A faulting buffer gets -EFAULT with the message still queued (it is
// copied out before it is claimed), and the next good read gets it: the
// kernel's read() once took the message first and lost it.
TEST_P(RingIo, InlineReadIntoFaultingPointerIsEfaultAndKeepsTheMessage) {
  ASSERT_EQ(send(pattern(3)), 3);
  announce_all();
  unsigned int wake = ~0u;
  EXPECT_EQ(ring_.read(kFaultingPointer, kBufSize, &wake), -EFAULT);
  EXPECT_EQ(wake, 0u) << "nothing was freed";
  EXPECT_EQ(ring_.queued_messages(), 1u);
  EXPECT_EQ(ready(EXO_WAIT_DATA), 1);
  std::vector<u8> got;
  ASSERT_EQ(receive(kBufSize, &got), 3);
  EXPECT_EQ(got, pattern(3));
}

// Exactly -EFAULT, a negative long: this path once returned 4294967282,
// -EFAULT gone through a u32 ternary, which a caller takes for a byte count.
TEST_P(RingIo, ZeroCopyReadIntoFaultingPointerIsNegativeEfaultAndKeepsMessageAndBuffer) {
  for (u32 len : {EXO_INLINE_MAX + 1u, 200u, kBufSize}) {
    SCOPED_TRACE(testing::Message() << "len " << len);
    ring_.reset();
    ASSERT_EQ(send(pattern(len)), static_cast<long>(len));
    announce_all();
    unsigned int wake = ~0u;
    long ret = ring_.read(kFaultingPointer, kBufSize, &wake);
    EXPECT_EQ(ret, -EFAULT);
    EXPECT_LT(ret, 0);
    EXPECT_EQ(wake, 0u);
    EXPECT_EQ(ring_.queued_messages(), 1u);
    EXPECT_EQ(ring_.free_buffers(), kBufCount - 1) << "the message keeps its buffer";
    std::vector<u8> got;
    ASSERT_EQ(receive(kBufSize, &got), static_cast<long>(len));
    EXPECT_EQ(got, pattern(len));
    EXPECT_EQ(ring_.free_buffers(), kBufCount);
  }
}

// --- -EBADMSG: slots user space corrupted ------------------------------------

// Writes "bad" then "good" messages, lets |corrupt| scribble on the first
// one's slot, and expects a read into a buffer of exactly the ring's largest
// message to report -EBADMSG (whatever length the slot claims: the buffer
// size was checked before the claim), free the slot (and the buffer the
// slot names, when it is one of the pool's: |buffer_back|), write nothing
// into the caller's buffer and leave the ring usable.
class RingIoCorruptSlot : public RingIo {
 protected:
  template <typename Corrupt>
  void expect_bad_message_then_next(u32 bad_len, unsigned int fault, Corrupt corrupt,
                                    bool buffer_back = false) {
    ring_.reset();
    ASSERT_EQ(send(pattern(bad_len)), bad_len);
    corrupt(last_written_slot());
    std::vector<u8> good = pattern(9, 1), got;
    ASSERT_EQ(send(good), 9);
    announce_all();
    unsigned int wake = ~0u, what = EXO_FAULT_NONE;
    EXPECT_EQ(receive(kBufSize, nullptr, &wake, &what), -EBADMSG);
    EXPECT_EQ(what, fault) << "the ring_error tracepoint's reason";
    EXPECT_EQ(wake, kSpace | (buffer_back ? kBuffer : 0u)) << "the slot is freed";
    EXPECT_EQ(ring_.queued_messages(), 1u);
    ASSERT_EQ(receive(kBufSize, &got), 9);
    EXPECT_EQ(got, good);
  }
};

TEST_P(RingIoCorruptSlot, UnknownTypeIsBadMessage) {
  for (u8 type : {0, 3, 0x80, 0xff}) {
    SCOPED_TRACE(testing::Message() << "type " << int{type});
    expect_bad_message_then_next(5, EXO_FAULT_SLOT_TYPE, [&](exo_slot& s) { s.type = type; });
  }
}

TEST_P(RingIoCorruptSlot, InlineLengthAbove56IsBadMessage) {
  for (u16 len : {u16{EXO_INLINE_MAX + 1}, u16{64}, u16{0xffff}}) {
    SCOPED_TRACE(testing::Message() << "len " << len);
    expect_bad_message_then_next(5, EXO_FAULT_INLINE_LEN, [&](exo_slot& s) { s.len = len; });
  }
}

TEST_P(RingIoCorruptSlot, ZeroCopyDescriptorOutsidePoolIsBadMessage) {
  struct {
    u32 buf, offset, len;
  } const kBad[] = {
      {kBufCount, 0, 100}, {~0u, 0, 100},         {0, 0xffffffff, 1},     {0, 0xffffffff, 0},
      {0, 200, 100},       {0, kBufSize + 1, 0},  {0, 0, kBufSize + 1},   {kBufCount - 1, 0, ~0u},
      {kBufCount, 0, kBufSize + 1},
  };
  for (const auto& bad : kBad) {
    SCOPED_TRACE(testing::Message() << "desc buf " << bad.buf << " offset " << bad.offset
                                    << " len " << bad.len);
    // A fresh ring's first zero-copy write takes buffer 0. The kernel can
    // only give back the buffer the descriptor names: naming buffer 0 frees
    // it; naming another (already free) buffer is a refused double return,
    // and buffer 0 stays lost to the scribbler, as it would on a real ring.
    bool names_the_real_buffer = bad.buf == 0;
    expect_bad_message_then_next(
        100, EXO_FAULT_ZC_DESC,
        [&](exo_slot& s) {
          ASSERT_EQ(desc_of(s).buf, 0u);
          exo_zc_desc desc = {bad.buf, bad.offset, bad.len, 0};
          memcpy(s.data, &desc, sizeof(desc));
        },
        /*buffer_back=*/names_the_real_buffer);
    EXPECT_EQ(ring_.free_buffers(), names_the_real_buffer ? kBufCount : kBufCount - 1);
  }
}

// --- free buffers while a user taker holds one --------------------------------

// Regression: with a ring of free indices, a buffer returned after a
// stalled user taker was lapped needed the taker's claimed cell and was
// lost (ring {8, SPSC, 256, 4}: the user held one buffer across many
// write(100)/read(256) pairs, then returned it, and only 3 were free). With
// the bitmap, nothing is lost and the held buffer is never handed out.
TEST_P(RingIo, ManyWriteReadPairsWhileAUserHoldsABufferLoseNone) {
  exo::RingView user = ring_.view();
  u32 held = ~0u;
  ASSERT_TRUE(user.take_buffer(&held));
  ASSERT_LT(held, kBufCount);
  for (u32 round = 0; round < 1000; ++round) {
    std::vector<u8> msg = pattern(100, round), got;
    ASSERT_EQ(send(msg), 100) << "round " << round;
    ASSERT_NE(desc_of(ring_.slot_at(header()->prod.pos - 1)).buf, held)
        << "round " << round << ": the user's buffer was handed out";
    EXPECT_EQ(ring_.free_buffers(), kBufCount - 2) << "round " << round;
    announce_all();
    unsigned int wake = 0;
    ASSERT_EQ(receive(kBufSize, &got, &wake), 100) << "round " << round;
    ASSERT_EQ(got, msg) << "round " << round;
    ASSERT_EQ(wake, kSpace | kBuffer) << "round " << round << ": the buffer went back";
    ASSERT_EQ(ring_.free_buffers(), kBufCount - 1) << "round " << round;
  }
  ASSERT_TRUE(user.return_buffer(held));
  EXPECT_EQ(ring_.free_buffers(), kBufCount);
  EXPECT_EQ(ring_.free_bits()[0], (1ull << kBufCount) - 1);
}

// --- wake-up reporting ----------------------------------------------------------

TEST_P(RingIo, NoWakeKindsWithoutAnnouncedSleepers) {
  for (u32 len : {8u, 100u}) {
    unsigned int wake = ~0u;
    ASSERT_EQ(send(pattern(len), &wake), len);
    EXPECT_EQ(wake, 0u);
    wake = ~0u;
    ASSERT_EQ(receive(kBufSize, nullptr, &wake), len);
    EXPECT_EQ(wake, 0u);
  }
}

TEST_P(RingIo, WriteWakesOnlyDataSleepers) {
  announce_all();
  for (u32 len : {8u, 100u}) {
    unsigned int wake = 0;
    ASSERT_EQ(send(pattern(len), &wake), len);
    EXPECT_EQ(wake, kData) << "len " << len;
  }
}

TEST_P(RingIo, ReadWakesSpaceSleepersAndBufferSleepersForZeroCopy) {
  ASSERT_EQ(send(pattern(8)), 8);
  ASSERT_EQ(send(pattern(100)), 100);
  announce_all();
  unsigned int wake = 0;
  ASSERT_EQ(receive(kBufSize, nullptr, &wake), 8);
  EXPECT_EQ(wake, kSpace);
  ASSERT_EQ(receive(kBufSize, nullptr, &wake), 100);
  EXPECT_EQ(wake, kSpace | kBuffer);
}

TEST_P(RingIo, WakeReportsOnlyKindsStillAnnounced) {
  announce(EXO_WAIT_DATA);
  exo_core_note_wake(ring_.base(), &ring_.info(), EXO_WAIT_DATA);
  unsigned int wake = ~0u;
  ASSERT_EQ(send(pattern(8), &wake), 8);
  EXPECT_EQ(wake, 0u);
}

TEST_P(RingIo, FailedCallsWakeNobody) {
  announce_all();
  unsigned int wake = ~0u;
  EXPECT_EQ(ring_.write(kFaultingPointer, 8, &wake), -EFAULT);
  EXPECT_EQ(wake, 0u);
  EXPECT_EQ(send(pattern(kBufSize + 1), &wake), -EMSGSIZE);
  EXPECT_EQ(wake, 0u);
}

// --- sleep bookkeeping ----------------------------------------------------------

TEST_P(RingIo, AnnounceSleepSetsNeedWakeupOfThatKindOnly) {
  for (unsigned int which = 0; which < EXO_WAIT_NR; ++which) {
    ring_.reset();
    announce(which);
    for (unsigned int k = 0; k < EXO_WAIT_NR; ++k)
      EXPECT_EQ(header()->waiters[k].need_wakeup, k == which ? 1u : 0u) << which << "/" << k;
  }
}

TEST_P(RingIo, NoteWakeClearsNeedWakeupAndBumpsWakeSeq) {
  announce(EXO_WAIT_SPACE);
  exo_core_note_wake(ring_.base(), &ring_.info(), EXO_WAIT_SPACE);
  EXPECT_EQ(header()->waiters[EXO_WAIT_SPACE].need_wakeup, 0u);
  EXPECT_EQ(header()->waiters[EXO_WAIT_SPACE].wake_seq, 1u);
  // wake_seq is a futex word: it wraps.
  header()->waiters[EXO_WAIT_SPACE].wake_seq = ~0u;
  exo_core_note_wake(ring_.base(), &ring_.info(), EXO_WAIT_SPACE);
  EXPECT_EQ(header()->waiters[EXO_WAIT_SPACE].wake_seq, 0u);
  EXPECT_EQ(header()->waiters[EXO_WAIT_DATA].wake_seq, 0u);
}

TEST_P(RingIo, PendingWakeupsReportsAnnouncedKindsAmongThoseAsked) {
  announce(EXO_WAIT_DATA);
  announce(EXO_WAIT_BUFFER);
  auto pending = [&](unsigned int kinds) {
    return exo_core_pending_wakeups(ring_.base(), &ring_.info(), kinds);
  };
  EXPECT_EQ(pending(kAllKinds), kData | kBuffer);
  EXPECT_EQ(pending(kData), kData);
  EXPECT_EQ(pending(kSpace), 0u);
  EXPECT_EQ(pending(0), 0u);
  EXPECT_EQ(pending(~kAllKinds), 0u) << "bits of no kind";
}

TEST_P(RingIo, UnknownKindsAreIgnoredWithoutWritingTheRegion) {
  std::vector<u8> before(ring_.bytes(), ring_.bytes() + ring_.size());
  for (unsigned int which : {u32{EXO_WAIT_NR}, 31u, ~0u}) {
    announce(which);
    exo_core_note_wake(ring_.base(), &ring_.info(), which);
    EXPECT_EQ(ready(which), 0) << which;
  }
  EXPECT_EQ(memcmp(before.data(), ring_.bytes(), before.size()), 0);
}

// --- readiness ------------------------------------------------------------------

TEST_P(RingIo, ReadyReportsEachKind) {
  EXPECT_EQ(ready(EXO_WAIT_DATA), 0);
  EXPECT_EQ(ready(EXO_WAIT_SPACE), 1);
  EXPECT_EQ(ready(EXO_WAIT_BUFFER), 1);
  for (u32 i = 0; i < kBufCount; ++i) ASSERT_EQ(send(pattern(100, i)), 100);
  EXPECT_EQ(ready(EXO_WAIT_DATA), 1);
  EXPECT_EQ(ready(EXO_WAIT_BUFFER), 0);
  for (u32 i = kBufCount; i < kCapacity; ++i) ASSERT_EQ(send(pattern(8, i)), 8);
  EXPECT_EQ(ready(EXO_WAIT_SPACE), 0);
}

// --- statistics -----------------------------------------------------------------

TEST_P(RingIo, StatsReportPositionsAndSumsOfSharedCounters) {
  for (u32 i = 0; i < 3; ++i) ASSERT_EQ(send(pattern(8, i)), 8);
  ASSERT_EQ(receive(kBufSize), 8);
  exo_ring_header* h = header();
  h->prod.stalls = 5, h->cons.stalls = 7;
  h->prod.batches = 2, h->cons.batches = 3;
  for (u32 w = 0; w < EXO_WAIT_NR; ++w) h->waiters[w].sleeps = 1 + w, h->waiters[w].wakes = 4 + w;

  exo_ring_stats stats;
  memset(&stats, 0xab, sizeof(stats));
  exo_core_stats(ring_.base(), &ring_.info(), &stats);
  EXPECT_EQ(stats.messages, 3u);
  EXPECT_EQ(stats.received, 1u);
  EXPECT_EQ(stats.batches, 5u);
  EXPECT_EQ(stats.full_events, 5u);
  EXPECT_EQ(stats.empty_events, 7u);
  EXPECT_EQ(stats.sleeps, 1u + 2 + 3);
  EXPECT_EQ(stats.wakeups, 4u + 5 + 6);
  // The shim's own fields are zeroed, not left as they were.
  EXPECT_EQ(stats.kernel_errors, 0u);
  EXPECT_EQ(stats.open_count, 0u);
  EXPECT_EQ(stats.owner_uid, 0u);
}

TEST_P(RingIo, StatsTakeLayoutFromTrustedInfoNotSharedHeader) {
  // User space may scribble on its copy of the info line.
  memset(&header()->info, 0xff, sizeof(header()->info));
  exo_ring_stats stats;
  exo_core_stats(ring_.base(), &ring_.info(), &stats);
  EXPECT_EQ(stats.region_size, ring_.info().region_size);
  EXPECT_EQ(stats.capacity, kCapacity);
  EXPECT_EQ(stats.mode, GetParam());
  EXPECT_EQ(stats.buf_size, kBufSize);
  EXPECT_EQ(stats.buf_count, kBufCount);
}

TEST_P(RingIo, StatsCountMessagesPast32Bits) {
  ring_.rebase((1ull << 32) + 5, 0);
  ASSERT_EQ(send(pattern(8)), 8);
  exo_ring_stats stats;
  exo_core_stats(ring_.base(), &ring_.info(), &stats);
  EXPECT_EQ(stats.messages, (1ull << 32) + 6);
  EXPECT_EQ(stats.received, (1ull << 32) + 5);
}

auto mode_name = [](const testing::TestParamInfo<u32>& p) {
  return p.param == EXO_MODE_MPMC ? "Mpmc" : "Spsc";
};
INSTANTIATE_TEST_SUITE_P(Modes, RingIo, testing::Values(EXO_MODE_SPSC, EXO_MODE_MPMC), mode_name);
INSTANTIATE_TEST_SUITE_P(Modes, RingIoCorruptSlot, testing::Values(EXO_MODE_SPSC, EXO_MODE_MPMC),
                         mode_name);

}  // namespace
}  // namespace exo_test
