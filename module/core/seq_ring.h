// SPDX-License-Identifier: GPL-2.0
// The ring protocol: Vyukov's bounded queue over cells that start with a
// 32-bit sequence word, living in memory shared with untrusted parties.
//
// Cell i starts with seq == i. The owner of producer position p fills the
// cell and publishes seq = p + 1; the owner of consumer position p waits for
// seq == p + 1 and reads. How cells come back differs by mode:
//  - MPMC (Vyukov): positions are taken with compare-and-swap; a consumer
//    releases with seq = p + capacity, and a producer waits for seq == p.
//  - SPSC: positions are plain stores (no read-modify-write on the hot
//    path). The consumer releases by advancing its own position, on its own
//    cache line; the producer checks room against a cached copy of that
//    position and reloads it only when the ring looks full. The consumer
//    thus never writes a cell: no cache-line upgrade stalls its next stores
//    (x86 commits stores in order), and a message costs one line transfer.
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
  u32 claim_produce(u32 max, u64* first) {
    return multi_ ? claim_multi(prod_, max, 0, first) : claim_single_produce(max, first);
  }
  void publish(u64 pos) const { store_release(&at(pos).seq, static_cast<u32>(pos + 1)); }

  // Claims up to |max| consecutive published cells; returns how many (0:
  // empty). Each claimed cell must be released before the next claim.
  u32 claim_consume(u32 max, u64* first) {
    return multi_ ? claim_multi(cons_, max, 1, first) : claim_single_consume(max, first);
  }
  void release(u64 pos) const {
    if (multi_)
      store_release(&at(pos).seq, static_cast<u32>(pos + capacity()));
    else
      store_release(&cons_->pos, pos + 1);
  }

  // Whether a claim could succeed now. Errs towards "yes" when the state
  // moved under us: callers re-check by claiming.
  bool can_produce() const {
    if (multi_) return ready(prod_, 0);
    return free_cells(load_relaxed(&prod_->pos), load_acquire(&cons_->pos)) > 0;
  }
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

  // SPSC: free cells for a producer at |pos| with the consumer at |cons|;
  // none when the two are inconsistent (a corrupted ring).
  u32 free_cells(u64 pos, u64 cons) const {
    u64 used = pos - cons;
    return used > capacity() ? 0 : static_cast<u32>(capacity() - used);
  }

  u32 claim_single_produce(u32 max, u64* first) {
    u64 pos = load_relaxed(&prod_->pos);
    u32 n = free_cells(pos, cached_cons_);
    if (n < max) {
      cached_cons_ = load_acquire(&cons_->pos);
      n = free_cells(pos, cached_cons_);
    }
    if (n > max) n = max;
    if (n == 0) return 0;
    store_relaxed(&prod_->pos, pos + n);
    *first = pos;
    return n;
  }

  u32 claim_single_consume(u32 max, u64* first) {
    u64 pos = load_relaxed(&cons_->pos);
    u32 n = 0;
    while (n < max && seq_diff(load_acquire(&at(pos + n).seq), pos + n + 1) == 0) ++n;
    *first = pos;
    return n;
  }

  // MPMC: cells of |side| are claimable at position p when seq == p + |offset|.
  u32 claim_multi(exo_ring_side* side, u32 max, u32 offset, u64* first) {
    u64 pos = load_relaxed(&side->pos);
    for (u32 retry = 0; retry < kMaxRetries; ++retry) {
      u32 n = 0;
      s32 diff = 0;
      while (n < max) {
        diff = seq_diff(load_acquire(&at(pos + n).seq), pos + n + offset);
        if (diff != 0) break;
        ++n;
      }
      if (n == 0 && diff < 0) return 0;
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
  u64 cached_cons_ = 0;  // SPSC producer's last look at cons_->pos
  bool multi_ = false;
};

}  // namespace exo

#endif  // EXO_CORE_SEQ_RING_H
