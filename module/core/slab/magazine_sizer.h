// SPDX-License-Identifier: GPL-2.0
// The adaptive magazine size. Bigger magazines mean fewer trips to the
// depot (less lock traffic), smaller ones less memory parked in CPUs.
// Once per tick it sees what the CPU layer did:
//   - grow (x2) when more than 1/kMissShare of the operations missed the CPU layer
//     (seed: hit-rate tuning) or when the depot lock was contended more
//     than kContendedToGrow times (Bonwick: contention counting);
//   - shrink (/2) after kIdleTicksToShrink ticks without operations, or at
//     once under memory pressure.
// Steady load never shrinks it (only idleness and pressure do), and a
// change is followed by a tick without growth (the next window must be
// measured at the new size): it cannot flap between two sizes.
#ifndef EXO_CORE_SLAB_MAGAZINE_SIZER_H
#define EXO_CORE_SLAB_MAGAZINE_SIZER_H

#include "module/core/slab/slab_api.h"
#include "module/core/types.h"

namespace exo::slab {

class MagazineSizer {
 public:
  static constexpr u32 kMin = 8;
  static constexpr u32 kInitial = 16;  // the seed's refill batch
  static constexpr u32 kMax = 256;
  static constexpr u64 kMinOpsToJudge = 256;
  // A miss costs a depot trade (a lock, two atomics, cold magazine lines):
  // one in 64 operations keeps that well under a cycle per operation.
  static constexpr u64 kMissShare = 64;
  static constexpr u64 kContendedToGrow = 16;
  static constexpr u32 kIdleTicksToShrink = 2;

  void init() { size_ = kInitial; }
  // Read by any CPU when it makes a magazine.
  u32 size() const;

  // One tick, with what the CPU layer did since the previous one.
  void tick(u64 ops, u64 misses, u64 contended);
  void pressure();

  u64 ticks() const { return tick_; }
  // The last events, oldest first; returns how many.
  u32 trace(exo_slab_resize_event* out) const;
  // Every event since init (a count), the last in |out| when there is one.
  u32 last(exo_slab_resize_event* out) const;

 private:
  void resize(u32 to, u32 reason, u64 ops, u64 misses, u64 contended);

  u32 size_ = kInitial;
  u32 idle_ticks_ = 0;
  bool cooling_ = false;
  u64 tick_ = 0;
  exo_slab_resize_event events_[EXO_SLAB_TRACE_LEN] = {};
  u32 events_total_ = 0;
};

}  // namespace exo::slab

#endif  // EXO_CORE_SLAB_MAGAZINE_SIZER_H
