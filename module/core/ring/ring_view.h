// SPDX-License-Identifier: GPL-2.0
// A ring region seen through a trusted description of its layout: the
// kernel's own copy of exo_ring_info, or one user space validated when it
// mapped the ring. Shared by the kernel-side peer and the user library, so
// both speak the protocol through the same code.
#ifndef EXO_CORE_RING_VIEW_H
#define EXO_CORE_RING_VIEW_H

#include "module/core/ring/seq_ring.h"
#include "module/core/types.h"
#include "uapi/exofusion.h"

namespace exo {

class RingView {
 public:
  RingView() = default;
  // |info| must outlive the view (the kernel's ring record, the library's
  // handle): a view is built per call in the kernel, so it copies nothing.
  RingView(void* region, const exo_ring_info& info);

  exo_ring_header* header() const { return header_; }
  const exo_ring_info& info() const { return *info_; }
  SeqRing<exo_slot>& messages() { return messages_; }
  bool has_pool() const { return info_->buf_count != 0; }
  exo_ring_waiter& waiter(u32 which) const { return header_->waiters[which]; }

  u8* buffer(u32 buf) const { return pool_ + static_cast<u64>(buf) * info_->buf_size; }

  // Where a zero-copy descriptor's bytes are, or nullptr when the
  // descriptor (read from shared memory) points outside the pool.
  u8* zc_payload(const exo_zc_desc& desc) const;

  // Whether a waiter of kind |which| (EXO_WAIT_*) can make progress now
  // (kReady), must wait (kBlocked; also for kinds that do not exist), or
  // faces a corrupted ring and must not wait (kCorrupt).
  // Inline: blocked callers ask it on every turn of their active wait.
  RingState state(u32 which) {
    switch (which) {
      case EXO_WAIT_DATA:
        return messages_.consume_state();
      case EXO_WAIT_SPACE:
        return messages_.produce_state();
      case EXO_WAIT_BUFFER:
        return free_buffer_count() != 0 ? RingState::kReady : RingState::kBlocked;
      default:
        return RingState::kBlocked;
    }
  }
  bool ready(u32 which) { return state(which) == RingState::kReady; }

  // Takes a free zero-copy buffer; false when none is free. The bitmap is
  // shared: bits past the pool are ignored and searches are bounded.
  bool take_buffer(u32* buf);
  // Marks a buffer free; false if it was free already (returned twice).
  bool return_buffer(u32 buf);
  // Free buffers now (a snapshot, for statistics and tests).
  u32 free_buffer_count() const;

 private:
  exo_ring_header* header_ = nullptr;
  const exo_ring_info* info_ = nullptr;
  SeqRing<exo_slot> messages_;
  u64* free_bits_ = nullptr;
  u8* pool_ = nullptr;
};

// Checks a ring description against the rules of exo_ring_plan() and the
// size of the mapping it came with. Returns 0 or -EINVAL, with |why| set.
int validate_info(const exo_ring_info& info, u64 mapped_size, const char** why);

}  // namespace exo

#endif  // EXO_CORE_RING_VIEW_H
