// SPDX-License-Identifier: GPL-2.0
// Concurrent producers and consumers on an in-memory ring: through SeqRing
// directly (as the user library drives it) and through the kernel peer's
// exo_core_write/exo_core_read. Every message carries its producer and
// index and bytes derived from them, so that loss, duplication, corruption
// and reordering all show. These are the tests ThreadSanitizer checks.
#include <errno.h>
#include <string.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "module/core/ring/seq_ring.h"
#include "tests/core/test_region.h"

namespace exo_test {
namespace {

using Clock = std::chrono::steady_clock;

// A lost message would leave consumers waiting: give up well before the
// test runner's timeout, and fail.
constexpr auto kDeadline = std::chrono::seconds(20);

constexpr u32 kHeader = 8;  // producer and index, then derived bytes

u8 derived_byte(u32 producer, u32 index, u32 i) {
  return static_cast<u8>((producer * 131 + index * 7 + i * 29) ^ (index >> 8));
}

void encode(u32 producer, u32 index, u8* buf, u32 len) {
  memcpy(buf, &producer, 4);
  memcpy(buf + 4, &index, 4);
  for (u32 i = kHeader; i < len; ++i) buf[i] = derived_byte(producer, index, i);
}

// Checks what consumers receive: each message intact, exactly once, and in
// each consumer's view in the order its producer sent it (FIFO).
class Stream {
 public:
  Stream(u32 producers, u32 per_producer, std::function<u32(u32, u32)> size_of)
      : producers_(producers), per_producer_(per_producer), size_of_(std::move(size_of)),
        seen_(producers * per_producer), deadline_(Clock::now() + kDeadline) {}

  u32 producers() const { return producers_; }
  u32 per_producer() const { return per_producer_; }
  u32 size_of(u32 producer, u32 index) const { return size_of_(producer, index); }

  bool done() const { return received_.load() == u64{producers_} * per_producer_; }
  bool expired() const { return Clock::now() > deadline_; }
  bool should_stop() const { return done() || expired(); }

  // |last| is the consumer's own: the last index seen from each producer.
  void record(const u8* data, u32 len, std::vector<s64>* last) {
    u32 producer, index;
    if (len < kHeader) return note_bad();
    memcpy(&producer, data, 4);
    memcpy(&index, data + 4, 4);
    if (producer >= producers_ || index >= per_producer_ || len != size_of(producer, index))
      return note_bad();
    for (u32 i = kHeader; i < len; ++i)
      if (data[i] != derived_byte(producer, index, i)) return note_bad();
    if (static_cast<s64>(index) <= (*last)[producer]) ++out_of_order_;
    (*last)[producer] = index;
    seen_[u64{producer} * per_producer_ + index].fetch_add(1);
    received_.fetch_add(1);
  }

  // Runs the threads: send(producer, index, count) sends up to |count|
  // messages from |index| on and returns how many; receive(last) receives
  // what it can and returns how many.
  void run(u32 consumers, const std::function<u32(u32, u32, u32)>& send,
           const std::function<u32(std::vector<s64>*)>& receive) {
    std::vector<std::thread> threads;
    for (u32 p = 0; p < producers_; ++p) {
      threads.emplace_back([this, p, &send] {
        for (u32 index = 0; index < per_producer_ && !expired();) {
          // Batches of 1..4 so claims start at every offset.
          u32 sent = send(p, index, std::min(1 + index % 4, per_producer_ - index));
          index += sent;
          if (sent == 0) std::this_thread::yield();
        }
      });
    }
    for (u32 c = 0; c < consumers; ++c) {
      threads.emplace_back([this, &receive] {
        std::vector<s64> last(producers_, -1);
        while (!should_stop())
          if (receive(&last) == 0) std::this_thread::yield();
      });
    }
    for (std::thread& t : threads) t.join();
  }

  void expect_each_message_once_in_order() const {
    EXPECT_FALSE(expired()) << "deadline passed with " << received_.load() << " messages received";
    EXPECT_EQ(bad_.load(), 0u) << "corrupt messages";
    EXPECT_EQ(out_of_order_.load(), 0u) << "messages out of their producer's order";
    u64 missing = 0, duplicated = 0;
    for (const std::atomic<u32>& n : seen_) {
      missing += n.load() == 0;
      duplicated += n.load() > 1;
    }
    EXPECT_EQ(missing, 0u);
    EXPECT_EQ(duplicated, 0u);
  }

 private:
  void note_bad() { bad_.fetch_add(1); }

  const u32 producers_;
  const u32 per_producer_;
  const std::function<u32(u32, u32)> size_of_;
  std::vector<std::atomic<u32>> seen_;
  const Clock::time_point deadline_;
  std::atomic<u64> received_{0};
  std::atomic<u64> bad_{0};
  std::atomic<u64> out_of_order_{0};
};

// --- SeqRing directly, with batch claims ---------------------------------------

// Messages of 8..56 bytes, inline in the slots.
u32 inline_size(u32 producer, u32 index) { return kHeader + (producer + index) % 49; }

void stream_through_seq_ring(u32 mode, u32 capacity, u32 producers, u32 consumers,
                             u32 per_producer) {
  TestRegion region({capacity, mode});
  exo::RingView view = region.view();
  exo::SeqRing<exo_slot>& ring = view.messages();
  Stream stream(producers, per_producer, inline_size);
  // An honest ring under contention is never called corrupt: stale
  // positions and lost races are told apart from scribbles.
  std::atomic<u64> corrupt{0};
  auto count_corrupt = [&](exo::RingState state) {
    if (state == exo::RingState::kCorrupt) corrupt.fetch_add(1, std::memory_order_relaxed);
  };
  stream.run(
      consumers,
      [&](u32 producer, u32 index, u32 count) {
        u64 first = 0;
        exo::RingState state;
        u32 got = ring.claim_produce(count, &first, &state);
        count_corrupt(state);
        count_corrupt(ring.produce_state());
        for (u32 i = 0; i < got; ++i) {
          exo_slot& slot = ring.at(first + i);
          slot.len = static_cast<u16>(inline_size(producer, index + i));
          encode(producer, index + i, slot.data, slot.len);
          ring.publish(first + i);
        }
        return got;
      },
      [&](std::vector<s64>* last) {
        u64 first = 0;
        exo::RingState state;
        u32 got = ring.claim_consume(4, &first, &state);
        count_corrupt(state);
        count_corrupt(ring.consume_state());
        for (u32 i = 0; i < got; ++i) {
          const exo_slot& slot = ring.at(first + i);
          stream.record(slot.data, slot.len, last);
          ring.release(first + i);
        }
        return got;
      });
  stream.expect_each_message_once_in_order();
  EXPECT_EQ(corrupt.load(), 0u);
  EXPECT_EQ(region.header()->prod.pos, u64{producers} * per_producer);
  EXPECT_EQ(region.queued_messages(), 0u);
}

TEST(SeqRingThreads, SpscStreamArrivesIntactAndInOrder) {
  stream_through_seq_ring(EXO_MODE_SPSC, 16, 1, 1, 100000);
}

TEST(SeqRingThreads, MpmcFourProducersFourConsumersDeliverEachMessageExactlyOnce) {
  stream_through_seq_ring(EXO_MODE_MPMC, 16, 4, 4, 25000);
}

// A small ring keeps every party contending for the same few cells.
TEST(SeqRingThreads, MpmcOnTwoSlotRingDeliversEachMessageExactlyOnce) {
  stream_through_seq_ring(EXO_MODE_MPMC, 2, 3, 3, 10000);
}

// --- The kernel peer's C API ---------------------------------------------------

constexpr u32 kBufSize = 256;
// A small ring and a small pool (one bitmap word) keep every party
// contending for the same slots and free bits.
constexpr u32 kApiCapacity = 4;
constexpr u32 kBufCount = 4;

// Inline and zero-copy messages, both edges of each.
u32 mixed_size(u32 producer, u32 index) {
  static const u32 kSizes[] = {kHeader, EXO_INLINE_MAX, EXO_INLINE_MAX + 1, 200, kBufSize};
  return kSizes[(producer + index) % 5];
}

void stream_through_core_api(u32 mode, u32 producers, u32 consumers, u32 per_producer) {
  TestRegion region({kApiCapacity, mode, kBufSize, kBufCount});
  Stream stream(producers, per_producer, mixed_size);
  std::atomic<u64> errors{0};
  stream.run(
      consumers,
      [&](u32 producer, u32 index, u32) {
        u8 msg[kBufSize];
        u32 len = mixed_size(producer, index);
        encode(producer, index, msg, len);
        long ret = region.write(msg, len);
        if (ret == -EAGAIN) return 0u;
        if (ret != len) errors.fetch_add(1);
        return 1u;
      },
      [&](std::vector<s64>* last) {
        // Exactly the ring's largest message, the least a read accepts.
        u8 msg[kBufSize];
        long ret = region.read(msg, sizeof(msg));
        if (ret == -EAGAIN) return 0u;
        if (ret < 0) {
          errors.fetch_add(1);
          return 0u;
        }
        stream.record(msg, static_cast<u32>(ret), last);
        return 1u;
      });
  EXPECT_EQ(errors.load(), 0u) << "unexpected errors from exo_core_write/exo_core_read";
  stream.expect_each_message_once_in_order();
  EXPECT_EQ(region.free_buffers(), kBufCount) << "every zero-copy buffer is free again";
  EXPECT_EQ(region.free_bits()[0], (1ull << kBufCount) - 1) << "exactly the pool's bits set";
}

TEST(CoreApiThreads, SpscWriterAndReaderStreamArrivesIntactAndInOrder) {
  stream_through_core_api(EXO_MODE_SPSC, 1, 1, 50000);
}

TEST(CoreApiThreads, MpmcFourWritersFourReadersDeliverEachMessageExactlyOnce) {
  stream_through_core_api(EXO_MODE_MPMC, 4, 4, 10000);
}

// --- The free-buffer bitmap -------------------------------------------------

// Several threads take and return buffers for many rounds while one holder
// takes up to half the pool and sits on it for long stretches (the party
// that stalled mid-take and lost a buffer with a ring of free indices).
// Ownership is tracked per buffer: a buffer handed out while someone holds
// it, or a return refused, is an error; at the end every buffer is free
// and exactly the pool's bits are set.
void hammer_free_bitmap(u32 buf_count) {
  TestRegion region({8, EXO_MODE_MPMC, EXO_BUF_MIN_SIZE, buf_count});
  constexpr int kFree = -1;
  std::vector<std::atomic<int>> owner(buf_count);
  for (auto& o : owner) o.store(kFree);
  std::atomic<u64> errors{0};
  std::atomic<u32> hammers_running{0};
  std::atomic<bool> holder_holds{false};  // the hammers start once it does
  const auto deadline = Clock::now() + kDeadline;
  constexpr u32 kHammers = 3;
  constexpr u32 kRounds = 20000;

  auto take = [&](exo::RingView& view, int me, std::vector<u32>* held) {
    u32 buf = ~0u;
    if (!view.take_buffer(&buf)) return false;
    if (buf >= buf_count || owner[buf].exchange(me) != kFree) errors.fetch_add(1);
    held->push_back(buf);
    return true;
  };
  auto give_back = [&](exo::RingView& view, int me, std::vector<u32>* held) {
    for (u32 buf : *held) {
      if (buf < buf_count && owner[buf].exchange(kFree) != me) errors.fetch_add(1);
      if (!view.return_buffer(buf)) errors.fetch_add(1);
    }
    held->clear();
  };

  std::vector<u64> takes(kHammers + 1, 0);
  std::vector<std::thread> threads;
  hammers_running.store(kHammers);
  for (u32 t = 0; t < kHammers; ++t) {
    threads.emplace_back([&, t] {
      exo::RingView view = region.view();
      std::vector<u32> held;
      while (!holder_holds.load() && Clock::now() < deadline) std::this_thread::yield();
      // Past kRounds only while this thread has not taken yet (starved by
      // the others on a loaded machine): every thread must have contended.
      for (u32 round = 0; (round < kRounds || takes[t] == 0) && Clock::now() < deadline;
           ++round) {
        u32 want = 1 + (round + t) % 3;
        for (u32 i = 0; i < want; ++i) takes[t] += take(view, static_cast<int>(t), &held);
        give_back(view, static_cast<int>(t), &held);
      }
      hammers_running.fetch_sub(1);
    });
  }
  threads.emplace_back([&] {
    exo::RingView view = region.view();
    std::vector<u32> held;
    const int me = kHammers;
    while (hammers_running.load() != 0) {
      while (held.size() < (buf_count + 1) / 2 && take(view, me, &held)) ++takes[kHammers];
      if (!held.empty()) holder_holds.store(true);
      // A long stretch: the hammers go through many rounds meanwhile.
      for (int i = 0; i < 200 && hammers_running.load() != 0; ++i) std::this_thread::yield();
      give_back(view, me, &held);
    }
  });
  for (auto& th : threads) th.join();

  ASSERT_LT(Clock::now(), deadline) << "gave up: hammers did not finish";
  ASSERT_TRUE(holder_holds.load());
  EXPECT_EQ(errors.load(), 0u) << "a buffer was handed out twice or a return was refused";
  for (u32 t = 0; t <= kHammers; ++t) EXPECT_GT(takes[t], 0u) << "thread " << t << " never took";
  EXPECT_EQ(region.view().free_buffer_count(), buf_count) << "a buffer was lost";
  for (u32 bit = 0; bit < region.info().free_words * 64; ++bit)
    EXPECT_EQ(region.free_bits()[bit / 64] >> (bit % 64) & 1, bit < buf_count ? 1u : 0u)
        << "bit " << bit;
}

TEST(FreeBitmapThreads, NoBufferLostOrSharedWhileAHolderSitsOnHalfOfAFourBufferPool) {
  hammer_free_bitmap(4);
}

TEST(FreeBitmapThreads, NoBufferLostOrSharedWhileAHolderSitsOnHalfOfATwoWordPool) {
  hammer_free_bitmap(65);
}

}  // namespace
}  // namespace exo_test
