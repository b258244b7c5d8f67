// SPDX-License-Identifier: GPL-2.0
// The slab cache: per-CPU magazines (level 1) in front of a depot of
// magazines (level 2) in front of slabs of pages (level 3).
//
// Level 1 is two magazines per CPU, loaded and previous (Bonwick): the
// common alloc pops from loaded and the common free pushes onto it, with
// the CPU pinned and no lock or atomic. When loaded runs dry or fills, the
// CPU swaps it with previous, and only when both are dry (full) does it
// trade with the depot. A dry depot refills a magazine from the slabs in
// one lock hold (a batch, the seed's level-3 refill).
#ifndef EXO_CORE_SLAB_CACHE_H
#define EXO_CORE_SLAB_CACHE_H

#include "module/core/atomic.h"
#include "module/core/slab/debug_checks.h"
#include "module/core/slab/depot.h"
#include "module/core/slab/magazine.h"
#include "module/core/slab/magazine_sizer.h"
#include "module/core/slab/slab_api.h"
#include "module/core/slab/lock.h"
#include "module/core/slab/slab_layer.h"

namespace exo::slab {

// Per-CPU counters: written by their CPU only, read racily by stats().
inline void bump(u64* counter, u64 by = 1) {
  store_relaxed(counter, load_relaxed(counter) + by);
}

// One CPU's magazines and counters, on a cache line of its own. Touched
// only by its CPU while pinned, except by drain_cpu() when it is idle;
// the counters are read racily by stats().
struct alignas(64) CpuCache {
  Magazine* loaded;
  Magazine* previous;
  u64 alloc_hits, free_hits, alloc_misses, free_misses;
};

class Cache {
 public:
  static int create(const exo_slab_cache_params& params, Cache** out, const char** why);
  u64 destroy();

  // The common cases inline: one magazine pop or push, CPU pinned.
  void* alloc(u32 flags) {
    if (__builtin_expect(!debug_, 1)) {
      CpuPin pin;
      if (void* obj = pop_loaded(cpus_[pin.cpu()])) return obj;
    }
    return alloc_slow(flags);
  }
  void free(void* obj) {
    if (__builtin_expect(!debug_ && obj != nullptr, 1)) {
      CpuPin pin;
      if (push_loaded(cpus_[pin.cpu()], obj)) return;
    }
    free_slow(obj);
  }
  u32 alloc_bulk(u32 flags, u32 n, void** objs);
  void free_bulk(u32 n, void** objs);

  void drain_local();
  void drain_cpu(u32 cpu);
  u64 shrink(bool pressure);
  u64 reclaim(u64 nr_objects, bool pressure, u64* pages);
  u64 reclaimable();
  void tick();
  void stats(struct exo_slab_stats* out);
  const char* name() const { return name_; }
  // Magazine-size changes since create, the last in |last| (if any).
  u32 resizes(exo_slab_resize_event* last) const { return sizer_.last(last); }

 private:
  Cache() = default;
  int init(const exo_slab_cache_params& params, const Geometry& g);

  // The loaded magazine alone: nullptr / false when it is dry / full.
  static void* pop_loaded(CpuCache& cc) {
    Magazine* m = cc.loaded;
    if (__builtin_expect(m->rounds == 0, 0)) return nullptr;
    bump(&cc.alloc_hits);
    return m->objs[--m->rounds];
  }
  static bool push_loaded(CpuCache& cc, void* obj) {
    Magazine* m = cc.loaded;
    if (__builtin_expect(m->rounds == m->capacity, 0)) return false;
    bump(&cc.free_hits);
    m->objs[m->rounds++] = obj;
    return true;
  }
  // Everything but the inline cases, with the debug checks.
  void* alloc_slow(u32 flags);
  void free_slow(void* obj);
  // Without the debug checks.
  void* take(u32 flags);
  void put(void* obj);
  void put_bulk(u32 n, void** objs);
  Magazine* new_magazine(bool may_sleep);
  // Made before the magazine size last changed.
  bool stale(const Magazine* m) const;
  // |empty|, or one of the current size in its place when memory allows.
  Magazine* refit(Magazine* empty, bool may_sleep);
  // Returns a magazine's objects to the slabs, then the magazine itself;
  // returns the pages that freed.
  u64 release(Magazine* chain);
  // Makes |cc|'s loaded magazine non-empty / non-full; false if it cannot.
  bool restock(CpuCache& cc);
  bool make_room(CpuCache& cc);
  void* alloc_refill(u32 flags);
  void park(Magazine* m);  // to the depot, unless it is no magazine
  struct CpuCounters {
    u64 alloc_hits, free_hits, alloc_misses, free_misses;
  };
  CpuCounters cpu_counters();  // sums over CPUs

  // Hot: read by every operation.
  CpuCache* cpus_ = nullptr;
  bool debug_ = false;

  u32 nr_cpus_ = 0;
  void* cpus_raw_ = nullptr;  // the allocation cpus_ is aligned within
  SlabLayer slabs_;
  Depot depot_;
  MagazineSizer sizer_;
  DebugChecks checks_;
  exo_lock* admin_lock_ = nullptr;  // tick, shrink, stats: one at a time
  u64 last_ops_ = 0, last_misses_ = 0, last_contended_ = 0;
  u64 magazines_allocated_ = 0;
  char name_[EXO_SLAB_NAME_MAX] = {};
};

}  // namespace exo::slab

#endif  // EXO_CORE_SLAB_CACHE_H
