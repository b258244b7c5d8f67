// SPDX-License-Identifier: GPL-2.0
// libFuzzer target: the kernel peer's C API on a small ring with a pool,
// driven by a sequence of operations read from the input (writes, reads,
// readiness and sleep bookkeeping, scribbles on the shared region, resets).
// CheckedRing checks every result: exactly against its model while nothing
// scribbled, against the always-true rules otherwise; ASan checks that the
// core stays inside the region and the caller's buffers. See README.md.
#include <stdio.h>
#include <stdlib.h>

#include <fuzzer/FuzzedDataProvider.h>

#include "tests/core/checked_ring.h"

namespace {

using exo_test::CheckedRing;
using exo_test::RingParams;

enum Op { kWrite, kRead, kReady, kAnnounce, kNoteWake, kPending, kScribbleField,
          kScribbleBytes, kReset, kOps };

// Ring shape from the first bytes: capacity 2..16, 0..5 buffers of 64..256
// bytes (one free-bitmap word with bits past the pool to scribble on) or
// 63..66 buffers (a bitmap of one or two words around the word edge).
RingParams ring_params(FuzzedDataProvider& in) {
  RingParams p;
  p.mode = in.ConsumeBool() ? EXO_MODE_MPMC : EXO_MODE_SPSC;
  p.capacity = 2u << in.ConsumeIntegralInRange(0, 3);
  p.buf_count = in.ConsumeIntegralInRange<u32>(0, 9);
  if (p.buf_count > 5) p.buf_count += 63 - 6;  // 6..9 -> 63..66
  p.buf_size = p.buf_count ? 64 * in.ConsumeIntegralInRange<u32>(1, 4) : 0;
  return p;
}

// Positions 0 or close below a multiple of 2^32, where sequences wrap.
u64 start_position(FuzzedDataProvider& in) {
  u64 lap = in.ConsumeIntegralInRange<u64>(0, 3);
  return (lap << 32) - in.ConsumeIntegralInRange<u64>(0, lap ? 40 : 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  RingParams params = ring_params(in);
  CheckedRing ring(params);
  // Message lengths span both sides of the inline limit and of buf_size.
  const u32 max_len = params.buf_size + EXO_INLINE_MAX + 2;
  // A read buffer must hold the ring's largest message: half the reads are
  // short of it (by 1 up to all of it), half hold it (exactly, or up to 64
  // bytes more).
  const u32 largest = ring.largest_message();

  while (in.remaining_bytes() > 0 && !ring.failed()) {
    switch (in.ConsumeIntegralInRange<int>(0, kOps - 1)) {
      case kWrite: {
        u32 len = in.ConsumeIntegralInRange<u32>(0, max_len);
        ring.write(len, in.ConsumeIntegral<u8>() < 16);
        break;
      }
      case kRead: {
        u32 len = in.ConsumeBool() ? in.ConsumeIntegralInRange<u32>(0, largest - 1)
                                   : largest + in.ConsumeIntegralInRange<u32>(0, 64);
        ring.read(len, in.ConsumeIntegral<u8>() < 16);
        break;
      }
      case kReady: ring.ready(in.ConsumeIntegralInRange<u32>(0, EXO_WAIT_NR)); break;
      case kAnnounce: ring.announce(in.ConsumeIntegralInRange<u32>(0, EXO_WAIT_NR)); break;
      case kNoteWake: ring.note_wake(in.ConsumeIntegralInRange<u32>(0, EXO_WAIT_NR)); break;
      case kPending: ring.pending_wakeups(in.ConsumeIntegral<u8>()); break;
      case kScribbleField: {
        auto field = static_cast<CheckedRing::Field>(
            in.ConsumeIntegralInRange<int>(0, CheckedRing::kFields - 1));
        u32 index = in.ConsumeIntegral<u8>();
        bool nudge = in.ConsumeBool();
        ring.scribble_field(field, index, in.ConsumeIntegral<u64>(), nudge);
        break;
      }
      case kScribbleBytes: {
        u64 offset = in.ConsumeIntegral<u32>();
        std::vector<u8> bytes = in.ConsumeBytes<u8>(in.ConsumeIntegralInRange(1, 8));
        ring.scribble_bytes(offset, bytes.data(), static_cast<u32>(bytes.size()));
        break;
      }
      case kReset: {
        u64 msg_pos = start_position(in);
        ring.reset(msg_pos, start_position(in));
        break;
      }
    }
  }
  if (ring.failed()) {
    fprintf(stderr, "ring_fuzz: %s\n", ring.failure().c_str());
    abort();
  }
  return 0;
}
