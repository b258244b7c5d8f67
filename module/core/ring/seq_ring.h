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
// and claim loops are bounded. A claim and a readiness check classify the
// ring the same way (RingState): ready, blocked (empty or full: wait for
// the peer) or corrupt (a state no honest party can produce, such as a
// cell sequence ahead of its position that a fresh read of the position
// does not explain). Callers must not wait on a corrupt ring: waiting for
// a state that cannot change is how a kernel loop becomes endless.
#ifndef EXO_CORE_SEQ_RING_H
#define EXO_CORE_SEQ_RING_H

#include "module/core/atomic.h"
#include "module/core/types.h"
#include "uapi/exofusion.h"

namespace exo {

// What a party of one side can do with the ring now.
enum class RingState : u8 {
  kReady,    // a claim can succeed
  kBlocked,  // empty (consumer) or full (producer): the peer must move first
  kCorrupt,  // shared state no honest party can produce
};

template <typename Cell>
class SeqRing {
 public:
  SeqRing() = default;
  SeqRing(Cell* cells, u32 capacity, exo_ring_side* prod, exo_ring_side* cons, bool multi)
      : cells_(cells), mask_(capacity - 1), prod_(prod), cons_(cons), multi_(multi) {}

  u32 capacity() const { return mask_ + 1; }
  Cell& at(u64 pos) const { return cells_[pos & mask_]; }

  // How a claim may lay out its run: kMayWrap, or kContiguous, which ends
  // a run at the end of the cell array (the caller then walks it with a
  // pointer; the next claim starts at the array's beginning).
  enum class Run : u8 { kMayWrap, kContiguous };

  // Claims up to |max| consecutive free cells; returns how many. On 0,
  // |state| (optional) says why: kBlocked (full) or kCorrupt.
  u32 claim_produce(u32 max, u64* first, RingState* state = nullptr, Run run = Run::kMayWrap) {
    RingState st;
    u32 n = multi_ ? claim_multi(prod_, max, 0, first, &st, run)
                   : claim_single_produce(max, first, &st, run);
    if (state) *state = st;
    return n;
  }
  void publish(u64 pos) const { store_release(&at(pos).seq, static_cast<u32>(pos + 1)); }
  // Publishes a claimed run in order (a consumer relies on the order, see
  // claim_single_consume). The cells and mask are read once: the stores
  // could alias them otherwise.
  void publish_run(u64 first, u32 n) const {
    Cell* cell = &at(first);
    Cell* const end = cells_ + capacity();
    u32 seq = static_cast<u32>(first + 1);
    for (u32 left = n; left; --left, ++seq) {
      store_release(&cell->seq, seq);
      if (++cell == end) cell = cells_;
    }
  }

  // Claims up to |max| consecutive published cells; returns how many. On
  // 0, |state| (optional) says why: kBlocked (empty) or kCorrupt. Each
  // claimed cell must be released before the next claim.
  u32 claim_consume(u32 max, u64* first, RingState* state = nullptr, Run run = Run::kMayWrap) {
    RingState st;
    u32 n = multi_ ? claim_multi(cons_, max, 1, first, &st, run)
                   : claim_single_consume(max, first, &st, run);
    if (state) *state = st;
    return n;
  }
  void release(u64 pos) const {
    if (multi_)
      store_release(&at(pos).seq, static_cast<u32>(pos + capacity()));
    else
      store_release(&cons_->pos, pos + 1);
  }
  // Releases a claimed run: one store of the position (SPSC), or each
  // cell's sequence (MPMC: other consumers may own cells in between).
  void release_run(u64 first, u32 n) const {
    if (!multi_) {
      if (n) release(first + n - 1);
      return;
    }
    for (u32 i = 0; i < n; ++i) release(first + i);
  }

  // SPSC's fast paths for one message, null when they do not apply (MPMC
  // too): the caller's general claim then tells blocked from corrupt.
  // The producer's next cell if the cached consumer position shows room:
  Cell* claim_single_free(u64* pos) {
    if (multi_) return nullptr;
    u64 p = load_relaxed(&prod_->pos);
    if (free_cells(p, cached_cons_) == 0) return nullptr;
    store_relaxed(&prod_->pos, p + 1);
    *pos = p;
    return &at(p);
  }
  // The consumer's next cell if it is published (claimed thereby: SPSC's
  // one consumer moves only at release); else null, and |empty| says
  // whether the cell is one an honest producer has yet to fill (a lap
  // behind at most), so that a non-blocking poll can stop there.
  Cell* claim_single_next(u64* pos, bool* empty) const {
    *empty = false;
    if (multi_) return nullptr;
    u64 p = load_relaxed(&cons_->pos);
    Cell* cell = &at(p);  // once: the acquire below would make it be reloaded
    if (seq_diff(load_acquire(&cell->seq), p + 1) == 0) {
      *pos = p;
      return cell;
    }
    *empty = classify(cons_, 1, &p) == RingState::kBlocked;  // the miss: why
    return nullptr;
  }

  // Whether [first, first + n) is a run a producer claimed and has not
  // published yet (before publish_run), or a consumer claimed and has not
  // released yet (before release_run): a run handed back by a caller is
  // checked, so that a stale, repeated or forged one changes nothing. SPSC
  // compares it with the positions (its own side's is exact); MPMC with
  // each cell's sequence.
  bool producer_owns(u64 first, u32 n) const {
    u64 prod = load_relaxed(&prod_->pos);
    if (n == 0 || prod - first < n || prod - first > capacity()) return false;
    if (!multi_) {
      u64 cons = load_acquire(&cons_->pos);
      return first - cons <= prod - cons && !published(first) && !published(first + n - 1);
    }
    for (u32 i = 0; i < n; ++i)
      if (load_acquire(&at(first + i).seq) != static_cast<u32>(first + i)) return false;
    return true;
  }
  bool consumer_owns(u64 first, u32 n) const {
    if (n == 0 || n > capacity()) return false;
    if (!multi_) return first == load_relaxed(&cons_->pos) && published(first + n - 1);
    u64 cons = load_relaxed(&cons_->pos);
    if (cons - first < n || cons - first > capacity()) return false;
    for (u32 i = 0; i < n; ++i)
      if (!published(first + i)) return false;
    return true;
  }

  // Looks at the consumer's next cell without claiming it: kReady with its
  // position in |pos|, or why not. The kernel reader copies a message out
  // before it claims it (claim_consumed_at()), so that a faulting buffer
  // leaves the message in the ring.
  RingState peek_consume(u64* pos) const { return classify(cons_, 1, pos); }
  // Claims the cell peek_consume() found at |pos|; false if another
  // consumer took it first (MPMC): peek again. SPSC has one consumer, whose
  // position moves only at release.
  bool claim_consumed_at(u64 pos) {
    return multi_ ? compare_exchange(&cons_->pos, pos, pos + 1) : true;
  }

  // What a claim would find now; agrees with the claims (a claim of a
  // ring classified kReady can still find it blocked when another party
  // moved in between: callers re-check by claiming).
  RingState produce_state() const {
    if (multi_) {
      u64 pos = 0;
      return classify(prod_, 0, &pos);
    }
    return single_room(load_relaxed(&prod_->pos), load_acquire(&cons_->pos));
  }
  RingState consume_state() const {
    u64 pos = 0;
    return classify(cons_, 1, &pos);
  }
  bool can_produce() const { return produce_state() == RingState::kReady; }
  bool can_consume() const { return consume_state() == RingState::kReady; }

  // Position of the consumer's next cell, for peeking before a claim.
  u64 consumer_pos() const { return load_relaxed(&cons_->pos); }
  bool published(u64 pos) const { return seq_diff(load_acquire(&at(pos).seq), pos + 1) == 0; }

  exo_ring_side* producer_side() const { return prod_; }
  exo_ring_side* consumer_side() const { return cons_; }

 private:
  // A bound on retries (compare-and-swap failures, positions that moved
  // under us): each means another party made progress, but a hostile one
  // could keep flipping the word forever.
  static constexpr u32 kMaxRetries = 4096;

  // SPSC: free cells for a producer at |pos| with the consumer at |cons|;
  // none when the two are inconsistent (the consumer ahead of the
  // producer, or more than a lap behind: a corrupted ring).
  u32 free_cells(u64 pos, u64 cons) const {
    u64 used = pos - cons;
    return used > capacity() ? 0 : static_cast<u32>(capacity() - used);
  }
  RingState single_room(u64 pos, u64 cons) const {
    if (pos - cons > capacity()) return RingState::kCorrupt;
    return free_cells(pos, cons) ? RingState::kReady : RingState::kBlocked;
  }

  // |max| bounded to one lap, and for a contiguous run to the cells left
  // before the array wraps at |pos|.
  u32 run_max(u64 pos, u32 max, Run run) const {
    u32 bound = run == Run::kContiguous ? capacity() - static_cast<u32>(pos & mask_) : capacity();
    return max < bound ? max : bound;
  }

  u32 claim_single_produce(u32 max, u64* first, RingState* state, Run run) {
    u64 pos = load_relaxed(&prod_->pos);
    max = run_max(pos, max, run);
    u32 n = free_cells(pos, cached_cons_);
    if (n < max) {
      cached_cons_ = load_acquire(&cons_->pos);
      n = free_cells(pos, cached_cons_);
    }
    if (n > max) n = max;
    if (n == 0) {
      *state = single_room(pos, cached_cons_);
      return 0;
    }
    store_relaxed(&prod_->pos, pos + n);
    *first = pos;
    *state = RingState::kReady;
    return n;
  }

  // The one producer publishes a run in order (publish_run), so when the
  // run's last cell is published every cell before it is: one sequence
  // check for a whole batch. A producer that breaks the order gains
  // nothing: cells are untrusted and checked when read.
  u32 claim_single_consume(u32 max, u64* first, RingState* state, Run run) {
    u64 pos = 0;
    *state = classify(cons_, 1, &pos);
    if (*state != RingState::kReady || max == 0) return 0;
    *first = pos;
    max = run_max(pos, max, run);  // past a lap, cells of this lap again
    if (max > 1 && published(pos + max - 1)) return max;
    u32 n = 1;
    while (n < max && published(pos + n)) ++n;
    return n;
  }

  // MPMC: cells of |side| are claimable at position p when seq == p + |offset|.
  // One budget of retries for the claim and the classifications inside it,
  // so the bound is kMaxRetries loads in all, not kMaxRetries squared.
  u32 claim_multi(exo_ring_side* side, u32 max, u32 offset, u64* first, RingState* state,
                  Run run) {
    u32 budget = kMaxRetries;
    while (budget > 0) {
      u64 pos = 0;
      *state = classify(side, offset, &pos, &budget);
      if (*state != RingState::kReady || max == 0) return 0;
      u32 bound = run_max(pos, max, run);
      u32 n = 1;
      while (n < bound && seq_diff(load_acquire(&at(pos + n).seq), pos + n + offset) == 0) ++n;
      if (compare_exchange(&side->pos, pos, pos + n)) {
        *first = pos;
        return n;
      }
      cpu_relax();
    }
    // Each failed compare-and-swap means another party moved the position:
    // this many in a row is a hostile party flipping it.
    *state = RingState::kCorrupt;
    return 0;
  }

  // The cell at |side|'s position, for a party that waits for its sequence
  // to be position + |offset|. An honest ring has the sequence at most one
  // lap behind (a party of the last lap still at work) and never ahead,
  // except that our position may be stale: another party of the same side
  // claimed the cell (MPMC), and a sequence ahead of pos, read with acquire,
  // makes that claim visible to a second read of the position. A sequence
  // ahead of a position that did not move is corruption (SPSC included:
  // its one consumer is the reader itself).
  RingState classify(const exo_ring_side* side, u32 offset, u64* out) const {
    u32 budget = kMaxRetries;
    return classify(side, offset, out, &budget);
  }
  // The same, taking its re-reads from |budget|.
  RingState classify(const exo_ring_side* side, u32 offset, u64* out, u32* budget) const {
    u64 pos = load_relaxed(&side->pos);
    for (; *budget > 0; --*budget) {
      s32 diff = seq_diff(load_acquire(&at(pos).seq), pos + offset);
      if (diff == 0) {
        *out = pos;
        return RingState::kReady;
      }
      if (diff < 0)
        return -static_cast<s64>(diff) > capacity() ? RingState::kCorrupt : RingState::kBlocked;
      u64 again = load_relaxed(&side->pos);
      if (again == pos) return RingState::kCorrupt;
      pos = again;
      cpu_relax();
    }
    return RingState::kCorrupt;  // the position moves for ever: flipped by a hostile party
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
