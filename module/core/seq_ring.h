// SPDX-License-Identifier: GPL-2.0
// The ring protocol: Vyukov's bounded queue over cells that start with a
// 32-bit sequence word, living in memory shared with untrusted parties.
//
// Cell i starts with seq == i. The owner of producer position p waits for
// seq == p, fills the cell and publishes seq = p + 1; the owner of consumer
// position p waits for seq == p + 1, reads and releases with
// seq = p + capacity. A side's position is taken with a plain store when
// that side has one party (SPSC: no read-modify-write on the hot path) and
// with compare-and-swap when it has many (MPMC).
//
// Nothing here trusts the shared memory: positions are masked before use
// and claim loops are bounded, so a corrupted ring yields "nothing ready",
// never an out-of-bounds access or an endless loop.
#ifndef EXO_CORE_SEQ_RING_H
#define EXO_CORE_SEQ_RING_H

#include "module/core/atomic.h"
#include "module/core/types.h"
#include "uapi/exofusion.h"

namespace exo {

template <typename Cell>
class SeqRing {
 public:
  SeqRing() = default;
  SeqRing(Cell* cells, u32 capacity, exo_ring_side* prod, exo_ring_side* cons, bool multi)
      : cells_(cells), mask_(capacity - 1), prod_(prod), cons_(cons), multi_(multi) {}

  u32 capacity() const { return mask_ + 1; }
  Cell& at(u64 pos) const { return cells_[pos & mask_]; }

  // Claims up to |max| consecutive free cells; returns how many (0: full).
  u32 claim_produce(u32 max, u64* first) { return claim(prod_, max, 0, first); }
  void publish(u64 pos) const { store_release(&at(pos).seq, static_cast<u32>(pos + 1)); }

  // Claims up to |max| consecutive published cells; returns how many (0: empty).
  u32 claim_consume(u32 max, u64* first) { return claim(cons_, max, 1, first); }
  void release(u64 pos) const { store_release(&at(pos).seq, static_cast<u32>(pos + mask_ + 1)); }

  // Whether a claim could succeed now. Errs towards "yes" when the state
  // moved under us: callers re-check by claiming.
  bool can_produce() const { return ready(prod_, 0); }
  bool can_consume() const { return ready(cons_, 1); }

  // Position of the consumer's next cell, for peeking before a claim.
  u64 consumer_pos() const { return load_relaxed(&cons_->pos); }
  bool published(u64 pos) const { return seq_diff(load_acquire(&at(pos).seq), pos + 1) == 0; }

  exo_ring_side* producer_side() const { return prod_; }
  exo_ring_side* consumer_side() const { return cons_; }

 private:
  // A bound on compare-and-swap retries: each failure means another party
  // made progress, but a hostile one could keep flipping the word forever.
  static constexpr u32 kMaxRetries = 4096;

  // Cells of |side| are claimable at position p when seq == p + |offset|.
  u32 claim(exo_ring_side* side, u32 max, u32 offset, u64* first) {
    u64 pos = load_relaxed(&side->pos);
    for (u32 retry = 0; retry < kMaxRetries; ++retry) {
      u32 n = 0;
      s32 diff = 0;
      while (n < max) {
        diff = seq_diff(load_acquire(&at(pos + n).seq), pos + n + offset);
        if (diff != 0) break;
        ++n;
      }
      if (n == 0 && (diff < 0 || !multi_)) return 0;
      if (n > 0 && !multi_) {
        store_relaxed(&side->pos, pos + n);
        *first = pos;
        return n;
      }
      if (n > 0 && compare_exchange(&side->pos, pos, pos + n)) {
        *first = pos;
        return n;
      }
      pos = load_relaxed(&side->pos);
      cpu_relax();
    }
    return 0;
  }

  bool ready(const exo_ring_side* side, u32 offset) const {
    u64 pos = load_relaxed(&side->pos);
    return seq_diff(load_acquire(&at(pos).seq), pos + offset) >= 0;
  }

  Cell* cells_ = nullptr;
  u32 mask_ = 0;
  exo_ring_side* prod_ = nullptr;
  exo_ring_side* cons_ = nullptr;
  bool multi_ = false;
};

}  // namespace exo

#endif  // EXO_CORE_SEQ_RING_H
