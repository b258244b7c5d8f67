// SPDX-License-Identifier: GPL-2.0
// Operations on a ring through the core's C API (the kernel as a ring
// peer), each result checked at two levels:
//
//  - always, whatever shared memory holds: byte counts within bounds (a
//    read never returns more than the ring's largest message, nor writes
//    past what it returns), errnos from the documented set, -EFAULT only
//    for a faulting buffer, -EMSGSIZE on a write exactly when the message
//    can never fit, -EMSGSIZE on a read exactly when the buffer is shorter
//    than the ring's largest message (and then nothing in the region
//    changes and nobody is woken), wake kinds among EXO_WAIT_*, the shared
//    info line never written;
//  - while the ring is clean (nothing scribbled on it since it was laid
//    out): exactly the result, bytes, wake kinds and positions that a model
//    of the ring predicts.
//
// Scribbling is how tests play a hostile user space. Shared by the
// corruption property test and the fuzzer, so no GoogleTest here: the first
// violation is kept in failure().
#ifndef EXO_TESTS_CORE_CHECKED_RING_H
#define EXO_TESTS_CORE_CHECKED_RING_H

#include <deque>
#include <string>
#include <vector>

#include "tests/core/test_region.h"

namespace exo_test {

class CheckedRing {
 public:
  enum Outcome { kOk, kEAGAIN, kEMSGSIZE, kEFAULT, kEBADMSG, kOutcomes };

  // Shared fields a scribble can target; |index| picks the side, slot, free
  // bitmap word or waiter (modulo their number). Scribbles that only move
  // the free-buffer search hint (free_cons.pos) or touch the reserved side
  // keep the ring clean: any value there must leave the core exact.
  enum Field {
    kSidePos,       // prod, cons, reserved_side, free_cons .pos
    kSlotSeq,
    kSlotType,
    kSlotLen,
    kZcDescBuf,     // the exo_zc_desc a zero-copy slot carries
    kZcDescOffset,
    kZcDescLen,
    kFreeBits,      // a word of the free-buffer bitmap
    kFreeHint,      // free_cons.pos, where take_buffer's search starts
    kNeedWakeup,
    kFields
  };

  explicit CheckedRing(const RingParams& params);

  // Sends |len| bytes, from an exact-size buffer or a faulting pointer.
  void write(u32 len, bool fault);
  // Receives into an exact-size buffer of |len| bytes or a faulting pointer.
  void read(u32 len, bool fault);
  // What a read buffer must hold: the ring's largest message, the inline
  // limit or the pool's buffer size (like mq_receive()'s mq_msgsize).
  u32 largest_message() const;
  void ready(u32 which);
  void announce(u32 which);
  void note_wake(u32 which);
  void pending_wakeups(u32 kinds);

  // Overwrites |n| bytes at |offset| (modulo the region size, clipped to it).
  void scribble_bytes(u64 offset, const u8* bytes, u32 n);
  // Sets |field| to |value| (truncated to its width), or adds the small
  // signed delta (s8)|value| when |nudge|: near-miss values reach deeper.
  void scribble_field(Field field, u32 index, u64 value, bool nudge);

  // A fresh, clean ring, rebased to the given positions (see TestRegion).
  void reset(u64 msg_pos = 0, u64 free_pos = 0);

  bool clean() const { return clean_; }
  bool failed() const { return !failure_.empty(); }
  const std::string& failure() const { return failure_; }
  u64 reads(Outcome o) const { return reads_[o]; }
  u64 writes(Outcome o) const { return writes_[o]; }
  TestRegion& region() { return region_; }

 private:
  struct Message {
    u64 id;  // its bytes are a function of the id: see fill()
    u32 len;
    bool zerocopy;
    u32 buf;  // the zero-copy buffer it holds
  };

  void fail(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
  void check_info_line_untouched(const exo_ring_info& before, const char* op);
  void check_positions_match_model(const char* op);
  bool model_free(u32 buf) const { return model_free_bits_[buf / 64] >> (buf % 64) & 1; }
  void set_model_free(u32 buf, bool free);
  u32 model_free_count() const;
  unsigned int announced(unsigned int kinds) const;
  static Outcome outcome_of(long ret);

  TestRegion region_;
  RingParams params_;
  // The model, meaningful only while clean_.
  std::deque<Message> queue_;
  // The free-buffer bitmap as it must be in the region, word for word (bits
  // past the pool clear): the model's set of free buffers.
  std::vector<u64> model_free_bits_;
  bool need_wakeup_[EXO_WAIT_NR] = {};
  bool clean_ = true;

  u64 next_id_ = 0;
  u64 ops_ = 0;
  u64 reads_[kOutcomes] = {};
  u64 writes_[kOutcomes] = {};
  std::string failure_;
};

}  // namespace exo_test

#endif  // EXO_TESTS_CORE_CHECKED_RING_H
