// SPDX-License-Identifier: GPL-2.0
// libFuzzer target: the NIC core's descriptor rings (module/core/nic/)
// against a hostile simulated 8254x (tests/core/nic/sim_e1000.h). The input
// scripts both sides: the driver posts RX buffers and TX frames, takes back
// frames and completions, stops and restarts; the device delivers frames
// with forged lengths, statuses and errors, writes back descriptors it was
// never given or ahead of the oldest, jumps its head registers, scribbles
// whole descriptors. A shadow of what the driver posted checks every
// answer: a slot is always below count and is the oldest one posted, a
// frame is 14..buf_len bytes, no more is reaped than was posted, the
// in-flight accounting matches, and every buffer comes back exactly once
// (the rest by take_oldest at the end). ASan checks that the core stays in
// the descriptor memory and that a frame's bytes are inside its buffer.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <deque>
#include <memory>
#include <vector>

#include "tests/core/nic/sim_e1000.h"

namespace {

using exo_test::SimE1000;

[[noreturn]] void fail(const char* what, unsigned a, unsigned b) {
  fprintf(stderr, "nic_fuzz: %s (%u, %u)\n", what, a, b);
  abort();
}

// The input read front to back, a byte at a time (zeros once it runs out):
// an operation and its arguments sit side by side, so the fuzzer's
// mutations of one byte change one step.
class Reader {
 public:
  Reader(const u8* data, usize size) : p_(data), end_(data + size) {}
  bool more() const { return p_ < end_; }
  u8 byte() { return p_ < end_ ? *p_++ : 0; }
  u16 u16le() {
    u32 lo = byte();
    return static_cast<u16>(lo | static_cast<u32>(byte()) << 8);
  }
  u64 u64le() {
    u64 v = 0;
    for (int i = 0; i < 8; ++i) v |= static_cast<u64>(byte()) << (8 * i);
    return v;
  }
  bool flag() { return byte() & 1; }
  // lo..hi (hi - lo < 65536).
  u32 range(u32 lo, u32 hi) {
    u32 span = hi - lo + 1;
    return lo + (span <= 256 ? byte() % span : u16le() % span);
  }

 private:
  const u8* p_;
  const u8* end_;
};

enum Op { kRxPost, kDeliver, kRxNext, kRxWriteback, kRdhJump, kTxPost, kTxProcess,
          kTxWriteback, kTdhJump, kTxReap, kTxHold, kScribble, kRestart, kOps };

// One ring's shadow: the buffers in flight, oldest first, and who owns each buffer.
struct Shadow {
  struct Posted {
    u32 slot, buf;
  };
  std::deque<Posted> posted;
  std::vector<bool> with_device;
  u64 posts = 0, returns = 0;

  void post(u32 slot, u32 buf, u32 count) {
    if (slot >= count) fail("post slot out of range", slot, count);
    if (with_device[buf]) fail("buffer posted twice", buf, slot);
    with_device[buf] = true;
    posted.push_back({slot, buf});
    ++posts;
  }
  // The driver took |slot| back: it must be the oldest posted.
  u32 give_back(u32 slot, u32 count) {
    if (slot >= count) fail("returned slot out of range", slot, count);
    if (posted.empty()) fail("returned a slot never posted", slot, 0);
    Posted p = posted.front();
    if (p.slot != slot) fail("returned a slot out of order", slot, p.slot);
    posted.pop_front();
    if (!with_device[p.buf]) fail("buffer returned twice", p.buf, slot);
    with_device[p.buf] = false;
    ++returns;
    if (returns > posts) fail("more reaped than posted", unsigned(returns), unsigned(posts));
    return p.buf;
  }
};

class Harness {
 public:
  // The memory is allocated once (for the largest ring) and kept across
  // runs; each run gets a device of its own.
  explicit Harness(u32 count) : count_(count) {
    static Memory* mem = new Memory;
    mem_ = mem;
    sim_.allow_dma(mem_->rx_desc.get(), count * 16);
    sim_.allow_dma(mem_->tx_desc.get(), count * 16);
    for (u32 i = 0; i < kBufs; ++i) {
      sim_.allow_dma(mem_->rx_bufs[i].get(), SimE1000::kBufLen);
      sim_.allow_dma(mem_->tx_bufs[i].get(), SimE1000::kBufLen);
    }
    rx_shadow_.with_device.assign(kBufs, false);
    tx_shadow_.with_device.assign(kBufs, false);
    start();
  }

  void step(Reader& in);
  void finish();

 private:
  void start();
  void check(const exo_nic_ring& r, const Shadow& s) const;
  u32 free_buf(const Shadow& s, u32 hint) const;
  void rx_post(u32 n);
  void rx_next(u32 n);
  void tx_post(Reader& in);
  void tx_reap(u32 n);
  void take_all(exo_nic_ring* r, Shadow* s);

  static constexpr u32 kMaxCount = 128;
  static constexpr u32 kBufs = kMaxCount + 8;
  // One allocation per buffer, so ASan sees a frame past its buffer.
  struct Memory {
    Memory() : rx_desc(new u64[2 * kMaxCount]), tx_desc(new u64[2 * kMaxCount]) {
      for (u32 i = 0; i < kBufs; ++i) {
        rx_bufs.emplace_back(new u8[SimE1000::kBufLen]);
        tx_bufs.emplace_back(new u8[SimE1000::kBufLen]);
      }
    }
    std::unique_ptr<u64[]> rx_desc, tx_desc;
    std::vector<std::unique_ptr<u8[]>> rx_bufs, tx_bufs;
  };

  SimE1000 sim_;
  u32 count_;
  Memory* mem_;
  exo_nic_ring rx_{}, tx_{};
  Shadow rx_shadow_, tx_shadow_;
  u32 buf_hint_ = 0;
  volatile u8 sink_ = 0;
};

void Harness::start() {
  if (exo_nic_ring_init(&rx_, mem_->rx_desc.get(), count_, EXO_E1000_RX_BUF_LEN) ||
      exo_nic_ring_init(&tx_, mem_->tx_desc.get(), count_, 0))
    fail("ring init", count_, 0);
  exo_nic_hw_start_rx(sim_.hw(), reinterpret_cast<uptr>(mem_->rx_desc.get()), count_,
                      EXO_NIC_FILTER_PROMISC);
  exo_nic_hw_start_tx(sim_.hw(), reinterpret_cast<uptr>(mem_->tx_desc.get()), count_);
}

void Harness::check(const exo_nic_ring& r, const Shadow& s) const {
  u32 busy = exo_nic_ring_in_flight(&r);
  if (busy != s.posted.size()) fail("in flight differs", busy, unsigned(s.posted.size()));
  if (busy > count_ - 1) fail("more in flight than fit", busy, count_);
  if (exo_nic_ring_space(&r) != count_ - 1 - busy) fail("space", exo_nic_ring_space(&r), busy);
  if (exo_nic_ring_tail(&r) >= count_) fail("tail out of range", exo_nic_ring_tail(&r), count_);
}

u32 Harness::free_buf(const Shadow& s, u32 hint) const {
  for (u32 i = 0; i < s.with_device.size(); ++i) {
    u32 b = (hint + i) % s.with_device.size();
    if (!s.with_device[b]) return b;
  }
  fail("no free buffer", 0, 0);
}

void Harness::rx_post(u32 n) {
  for (u32 i = 0; i < n && exo_nic_ring_space(&rx_) > 0; ++i) {
    u32 b = free_buf(rx_shadow_, buf_hint_++);
    u32 slot = exo_nic_rx_post(&rx_, reinterpret_cast<uptr>(mem_->rx_bufs[b].get()));
    rx_shadow_.post(slot, b, count_);
  }
  sim_.access(true, EXO_E1000_RDT, exo_nic_ring_tail(&rx_));
}

void Harness::rx_next(u32 n) {
  for (u32 i = 0; i < n; ++i) {
    exo_nic_rx_frame f;
    memset(&f, 0xa5, sizeof(f));
    exo_nic_rx_result res = exo_nic_rx_next(&rx_, &f);
    if (res == EXO_NIC_RX_NONE) return;
    if (res != EXO_NIC_RX_FRAME && res != EXO_NIC_RX_DROP) fail("bad result", res, 0);
    u32 b = rx_shadow_.give_back(f.slot, count_);
    if (res == EXO_NIC_RX_FRAME) {
      if (f.len < 14 || f.len > rx_.buf_len) fail("frame length", f.len, rx_.buf_len);
      if (f.flags & ~EXO_NIC_RX_CSUM_OK) fail("frame flags", f.flags, 0);
      // What the shim does with it: read every byte (ASan checks the bounds).
      const u8* p = mem_->rx_bufs[b].get();
      u8 x = 0;
      for (u32 k = 0; k < f.len; ++k) x ^= p[k];
      sink_ = x;
    }
  }
}

void Harness::tx_post(Reader& in) {
  u32 parts = in.range(1, 4);
  if (exo_nic_ring_space(&tx_) < parts) return;
  for (u32 p = 0; p < parts; ++p) {
    u32 b = free_buf(tx_shadow_, buf_hint_++);
    u32 len = in.range(1, SimE1000::kBufLen);
    memset(mem_->tx_bufs[b].get(), static_cast<int>(b), len);
    u32 slot = exo_nic_tx_post(&tx_, reinterpret_cast<uptr>(mem_->tx_bufs[b].get()), len, p + 1 == parts);
    tx_shadow_.post(slot, b, count_);
  }
  sim_.access(true, EXO_E1000_TDT, exo_nic_ring_tail(&tx_));
}

void Harness::tx_reap(u32 n) {
  for (u32 i = 0; i < n; ++i) {
    u32 slot = ~0u;
    int got = exo_nic_tx_reap(&tx_, &slot);
    if (got == 0) return;
    if (got != 1) fail("bad reap result", unsigned(got), 0);
    tx_shadow_.give_back(slot, count_);
  }
}

void Harness::take_all(exo_nic_ring* r, Shadow* s) {
  for (u32 guard = 0; exo_nic_ring_in_flight(r) > 0; ++guard) {
    if (guard > count_) fail("take_oldest never ends", guard, count_);
    s->give_back(exo_nic_ring_take_oldest(r), count_);
  }
  if (exo_nic_ring_take_oldest(r) != count_) fail("take_oldest of nothing", 0, 0);
  for (u32 b = 0; b < s->with_device.size(); ++b)
    if (s->with_device[b]) fail("buffer never returned", b, 0);
  if (s->posts != s->returns) fail("posts and returns", unsigned(s->posts), unsigned(s->returns));
}

void Harness::step(Reader& in) {
  switch ((int)in.range(0, kOps - 1)) {
    case kRxPost: rx_post(in.range(1, count_)); break;
    case kDeliver: {
      u8 frame[5000];
      u32 len = in.range(0, sizeof(frame));
      memset(frame, 0x5a, len);
      SimE1000::RxOptions opt;
      // The written length: true, just past or at the buffer's end, under a
      // header, anything.
      switch ((int)in.range(0, 3)) {
        case 1: opt.length = SimE1000::kBufLen - 2 + in.range(0, 4); break;
        case 2: opt.length = in.range(1, 15); break;
        case 3: opt.length = in.u16le(); break;
        default: break;
      }
      opt.drop_eop = in.byte() < 32;
      if (in.byte() < 32) opt.errors = in.byte();
      opt.status_or = in.byte();
      (void)sim_.deliver(frame, len, opt);
      break;
    }
    case kRxNext: rx_next(in.range(1, 2 * count_)); break;
    case kRxWriteback: {
      u32 slot = in.range(0, count_ - 1);
      u16 len = in.u16le();
      u8 status = in.byte();
      sim_.write_rx_writeback(slot, len, status, in.byte());
      break;
    }
    case kRdhJump: sim_.set_rdh(in.range(0, count_ + 2)); break;
    case kTxPost: tx_post(in); break;
    case kTxProcess: sim_.process_tx(); break;
    case kTxWriteback: {
      u32 slot = in.range(0, count_ - 1);
      sim_.write_tx_status(slot, in.byte());
      break;
    }
    case kTdhJump: sim_.set_tdh(in.range(0, count_ + 2)); break;
    case kTxReap: tx_reap(in.range(1, 2 * count_)); break;
    case kTxHold: sim_.tx_hold = in.flag(); break;
    case kScribble: {
      // The device rewrites a whole descriptor, address included.
      bool rx = in.flag();
      u32 slot = in.range(0, count_ - 1);
      u64* d = (rx ? mem_->rx_desc.get() : mem_->tx_desc.get()) + 2 * slot;
      u64 second = in.u64le();
      if (in.flag()) d[0] = in.u64le();
      __atomic_store_n(&d[1], second, __ATOMIC_RELAXED);
      break;
    }
    case kRestart:
      // Down and up: the device stopped, everything taken back, rings anew.
      exo_nic_hw_stop(sim_.hw());
      take_all(&rx_, &rx_shadow_);
      take_all(&tx_, &tx_shadow_);
      start();
      break;
    default: break;
  }
  check(rx_, rx_shadow_);
  check(tx_, tx_shadow_);
}

void Harness::finish() {
  // A last poll, then down.
  rx_next(2 * count_);
  tx_reap(2 * count_);
  exo_nic_hw_stop(sim_.hw());
  take_all(&rx_, &rx_shadow_);
  take_all(&tx_, &tx_shadow_);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader in(data, size);
  Harness h(in.flag() ? 128 : 64);
  for (u32 ops = 0; in.more() && ops < 4096; ++ops) h.step(in);
  h.finish();
  return 0;
}
