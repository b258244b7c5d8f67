// SPDX-License-Identifier: GPL-2.0
// A ring region for the core's hosted tests and fuzzer: planned and laid
// out by the core itself, in memory of exactly region_size bytes so that
// AddressSanitizer reports any access past its end. No GoogleTest here:
// the fuzzer shares it.
#ifndef EXO_TESTS_CORE_TEST_REGION_H
#define EXO_TESTS_CORE_TEST_REGION_H

#include "module/core/core_api.h"
#include "module/core/ring/ring_view.h"
#include "module/core/types.h"
#include "uapi/exofusion.h"

namespace exo_test {

// The hosted platform (userspace/hosted/platform.cpp) faults on "user"
// pointers below 4096, as the kernel's copy_{to,from}_user would.
inline void* const kFaultingPointer = reinterpret_cast<void*>(0x10);

struct RingParams {
  u32 capacity = 8;
  u32 mode = EXO_MODE_SPSC;
  u32 buf_size = 0;  // 0: no zero-copy pool
  u32 buf_count = 0;
};

// A creation request that plan_ring() accepts for |params|.
exo_create_req make_request(const RingParams& params, const char* name = "ring");

class TestRegion {
 public:
  // Aborts if the core rejects |params|: tests pass only valid ones.
  explicit TestRegion(const RingParams& params);
  ~TestRegion();
  TestRegion(const TestRegion&) = delete;
  TestRegion& operator=(const TestRegion&) = delete;

  // Zeroes the region and lays it out anew, as a fresh ring.
  void reset();
  // Makes the ring look as if it had been used up to message position
  // |msg_pos| with the free-buffer search starting at word |free_pos|:
  // empty, every buffer free,
  // every cell's sequence consistent. Reaches the 32-bit sequence wrap
  // without running 2^32 messages.
  void rebase(u64 msg_pos, u64 free_pos);

  void* base() const { return base_; }
  u8* bytes() const { return static_cast<u8*>(base_); }
  u64 size() const { return info_.region_size; }
  // The trusted copy of the layout, as the kernel keeps it: never the one
  // in shared memory.
  const exo_ring_info& info() const { return info_; }
  exo_ring_header* header() const { return static_cast<exo_ring_header*>(base_); }
  exo_slot* slots() const { return reinterpret_cast<exo_slot*>(bytes() + info_.slots_offset); }
  u64* free_bits() const { return reinterpret_cast<u64*>(bytes() + info_.free_offset); }
  exo_slot& slot_at(u64 pos) const { return slots()[pos & (info_.capacity - 1)]; }
  exo::RingView view() const { return exo::RingView(base_, info_); }

  // The core's C API on this region; |wake| may be omitted.
  // |fault| gets what was wrong on -EBADMSG (enum exo_core_fault).
  long write(const void* buf, unsigned long len, unsigned int* wake = nullptr,
             unsigned int* fault = nullptr);
  long read(void* buf, unsigned long len, unsigned int* wake = nullptr,
            unsigned int* fault = nullptr);

  // Buffers currently free, from the bitmap.
  u64 free_buffers() const { return view().free_buffer_count(); }
  // Messages currently in the ring, from its positions.
  u64 queued_messages() const { return header()->prod.pos - header()->cons.pos; }

 private:
  exo_ring_info info_{};
  void* base_ = nullptr;
};

}  // namespace exo_test

#endif  // EXO_TESTS_CORE_TEST_REGION_H
