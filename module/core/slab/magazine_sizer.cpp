// SPDX-License-Identifier: GPL-2.0
#include "module/core/slab/magazine_sizer.h"

#include "module/core/atomic.h"

namespace exo::slab {

u32 MagazineSizer::size() const { return load_relaxed(&size_); }

void MagazineSizer::tick(u64 ops, u64 misses, u64 contended) {
  ++tick_;
  idle_ticks_ = ops ? 0 : idle_ticks_ + 1;
  if (cooling_) {
    cooling_ = false;
    return;
  }
  u32 size = size_;
  if (size < kMax && contended > kContendedToGrow)
    resize(size * 2, EXO_SLAB_GROW_CONTENTION, ops, misses, contended);
  else if (size < kMax && ops >= kMinOpsToJudge && misses * kMissShare > ops)
    resize(size * 2, EXO_SLAB_GROW_MISSES, ops, misses, contended);
  else if (size > kMin && idle_ticks_ >= kIdleTicksToShrink)
    resize(size / 2, EXO_SLAB_SHRINK_IDLE, ops, misses, contended);
}

void MagazineSizer::pressure() {
  if (size_ > kMin) resize(size_ / 2, EXO_SLAB_SHRINK_PRESSURE, 0, 0, 0);
}

void MagazineSizer::resize(u32 to, u32 reason, u64 ops, u64 misses, u64 contended) {
  exo_slab_resize_event& e = events_[events_total_ % EXO_SLAB_TRACE_LEN];
  e = {tick_, size_, to, reason, ops, misses, contended};
  ++events_total_;
  store_relaxed(&size_, to);
  idle_ticks_ = 0;
  cooling_ = true;
}

u32 MagazineSizer::trace(exo_slab_resize_event* out) const {
  u32 n = events_total_ < EXO_SLAB_TRACE_LEN ? events_total_ : EXO_SLAB_TRACE_LEN;
  u32 start = events_total_ - n;
  for (u32 i = 0; i < n; ++i) out[i] = events_[(start + i) % EXO_SLAB_TRACE_LEN];
  return n;
}

u32 MagazineSizer::last(exo_slab_resize_event* out) const {
  if (out && events_total_) *out = events_[(events_total_ - 1) % EXO_SLAB_TRACE_LEN];
  return events_total_;
}

}  // namespace exo::slab
