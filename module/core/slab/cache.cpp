// SPDX-License-Identifier: GPL-2.0
#include "module/core/slab/cache.h"

#include "module/core/atomic.h"
#include "module/core/errno.h"
#include "module/core/new.h"
#include "module/core/slab/lock.h"

namespace exo::slab {
namespace {

// Stands for "no magazine" in a CPU's slots: capacity 0, so the fast
// paths never write it and the slow paths never trade it.
Magazine no_magazine;

bool real(const Magazine* m) { return m->capacity != 0; }

template <typename T>
void swap(T& a, T& b) {
  T t = a;
  a = b;
  b = t;
}

u32 min(u32 a, u32 b) { return a < b ? a : b; }

// strnlen(): clang has no __builtin_strnlen, and the core has no libc.
usize bounded_strlen(const char* s, usize max) {
  usize n = 0;
  while (n < max && s[n]) ++n;
  return n;
}

}  // namespace

int Cache::create(const exo_slab_cache_params& params, Cache** out, const char** why) {
  if (!params.name || !params.name[0] ||
      bounded_strlen(params.name, EXO_SLAB_NAME_MAX) == EXO_SLAB_NAME_MAX) {
    *why = "name: must be 1..31 characters";
    return -kEINVAL;
  }
  if (params.flags & ~(EXO_SLAB_DEBUG | EXO_SLAB_ACCOUNT)) {
    *why = "flags: unknown bits";
    return -kEINVAL;
  }
  Geometry g;
  int err = plan_geometry(params.size, params.align, params.flags & EXO_SLAB_DEBUG,
                          params.ctor != nullptr, &g, why);
  if (err) return err;

  void* mem = exo_plat_zalloc(sizeof(Cache), true);
  if (!mem) return -kENOMEM;
  Cache* cache = new (mem) Cache();
  err = cache->init(params, g);
  if (err) {
    cache->slabs_.destroy();
    cache->depot_.destroy();
    if (cache->admin_lock_) exo_plat_lock_destroy(cache->admin_lock_);
    exo_plat_free(cache->cpus_raw_);
    cache->~Cache();
    exo_plat_free(mem);
    *why = "out of memory for the cache's bookkeeping";
    return err;
  }
  *out = cache;
  return 0;
}

int Cache::init(const exo_slab_cache_params& params, const Geometry& g) {
  __builtin_memcpy(name_, params.name, __builtin_strlen(params.name) + 1);
  debug_ = g.debug;
  sizer_.init();
  nr_cpus_ = exo_plat_nr_cpus();
  cpus_raw_ = exo_plat_zalloc(nr_cpus_ * sizeof(CpuCache) + alignof(CpuCache), true);
  admin_lock_ = exo_plat_lock_create(EXO_LOCK_ADMIN);
  int err = slabs_.init(g, params.ctor, params.flags & EXO_SLAB_ACCOUNT);
  if (!err) err = depot_.init();
  if (err || !cpus_raw_ || !admin_lock_) return -kENOMEM;

  uptr aligned = (reinterpret_cast<uptr>(cpus_raw_) + alignof(CpuCache) - 1) &
                 ~(uptr{alignof(CpuCache)} - 1);
  cpus_ = reinterpret_cast<CpuCache*>(aligned);
  for (u32 cpu = 0; cpu < nr_cpus_; ++cpu) {
    new (&cpus_[cpu]) CpuCache{&no_magazine, &no_magazine, 0, 0, 0, 0};
  }
  if (debug_) {
    checks_.init(name_, &slabs_, /*poison=*/!params.ctor);
    slabs_.set_slab_init_hook(&DebugChecks::on_new_object, &checks_);
  }
  return 0;
}

u64 Cache::destroy() {
  for (u32 cpu = 0; cpu < nr_cpus_; ++cpu) drain_cpu(cpu);
  release(depot_.take_loaded(~0u));
  release(depot_.take_empty(~0u));
  depot_.destroy();
  u64 leaked = slabs_.destroy();
  if (leaked)
    exo_plat_report("exofusion-slab: cache %s: %llu objects leaked at destroy\n", name_, leaked);
  exo_plat_lock_destroy(admin_lock_);
  exo_plat_free(cpus_raw_);
  this->~Cache();
  exo_plat_free(this);
  return leaked;
}

Magazine* Cache::new_magazine(bool may_sleep) {
  u32 size = sizer_.size();
  Magazine* m = static_cast<Magazine*>(exo_plat_zalloc(Magazine::bytes(size), may_sleep));
  if (!m) return nullptr;
  m->capacity = size;
  fetch_add(&magazines_allocated_, 1ull);
  return m;
}

u64 Cache::release(Magazine* chain) {
  u64 pages = 0;
  while (chain) {
    Magazine* m = chain;
    chain = m->next;
    pages += slabs_.free(m->objs, m->rounds);
    exo_plat_free(m);
  }
  return pages;
}

bool Cache::stale(const Magazine* m) const {
  return real(m) && m->capacity != sizer_.size();
}

Magazine* Cache::refit(Magazine* empty, bool may_sleep) {
  if (!stale(empty)) return empty;
  Magazine* fresh = new_magazine(may_sleep);
  if (!fresh) return empty;  // still a magazine: used at its old size
  exo_plat_free(empty);
  return fresh;
}

void Cache::park(Magazine* m) {
  if (real(m)) depot_.put(m);
}

// --- level 1 -----------------------------------------------------------------

void* Cache::alloc_slow(u32 flags) {
  void* obj = take(flags);
  if (__builtin_expect(debug_, 0) && obj) checks_.check_alloc(obj);
  return obj;
}

void* Cache::take(u32 flags) {
  {
    CpuPin pin;
    CpuCache& cc = cpus_[pin.cpu()];
    if (void* obj = pop_loaded(cc)) return obj;
    // Swapping to a loaded previous magazine stays in the CPU layer: no miss.
    bump(cc.previous->rounds ? &cc.alloc_hits : &cc.alloc_misses);
    if (restock(cc)) {
      Magazine* m = cc.loaded;  // counted above
      return m->objs[--m->rounds];
    }
  }
  return alloc_refill(flags);
}

void Cache::free_slow(void* obj) {
  if (!obj) return;
  if (__builtin_expect(debug_, 0) && !checks_.check_free(obj)) return;
  put(obj);
}

void Cache::put(void* obj) {
  {
    CpuPin pin;
    CpuCache& cc = cpus_[pin.cpu()];
    if (push_loaded(cc, obj)) return;
    // Swapping to a previous magazine with room stays in the CPU layer.
    bump(cc.previous->rounds < cc.previous->capacity ? &cc.free_hits : &cc.free_misses);
    if (make_room(cc)) {
      Magazine* m = cc.loaded;
      m->objs[m->rounds++] = obj;
      return;
    }
  }
  slabs_.free(&obj, 1);
}

// --- level 2: trades with the depot (the CPU is pinned) ------------------------

bool Cache::restock(CpuCache& cc) {
  if (cc.previous->rounds) {
    swap(cc.loaded, cc.previous);
    return true;
  }
  if (stale(cc.previous)) {
    // Empty, so retired rather than traded: the new size takes over.
    exo_plat_free(cc.previous);
    cc.previous = &no_magazine;
  }
  Magazine* got;
  if (depot_.trade_for_loaded(real(cc.previous) ? cc.previous : nullptr, &got) !=
      Depot::Trade::kDone)
    return false;
  cc.previous = cc.loaded;  // the old previous (empty) went to the depot
  cc.loaded = got;
  return true;
}

bool Cache::make_room(CpuCache& cc) {
  if (cc.previous->rounds < cc.previous->capacity) {
    swap(cc.loaded, cc.previous);
    return true;
  }
  Magazine* give = real(cc.previous) ? cc.previous : nullptr;  // full
  Magazine* got = nullptr;
  Depot::Trade trade = depot_.trade_for_empty(give, &got);
  if (trade == Depot::Trade::kNone) {
    // No empty magazine anywhere: make one (we cannot sleep here).
    got = new_magazine(/*may_sleep=*/false);
    if (got && give) depot_.put(give);
  } else if (got) {
    got = refit(got, /*may_sleep=*/false);
  }
  if (got) {
    cc.previous = cc.loaded;
    cc.loaded = got;
    return true;
  }
  // The depot holds enough loaded magazines, or memory is short: the
  // previous magazine's objects go back to their slabs.
  if (!give) return false;
  slabs_.free(give->objs, give->rounds);
  give->rounds = 0;
  swap(cc.loaded, cc.previous);
  return true;
}

// --- level 3: a magazine filled from the slabs in one lock hold -----------------

void* Cache::alloc_refill(u32 flags) {
  bool may_sleep = !(flags & EXO_SLAB_NOWAIT);
  Magazine* m = depot_.take_empty(1);
  m = m ? refit(m, may_sleep) : new_magazine(may_sleep);
  if (!m) {
    void* obj;
    return slabs_.alloc(&obj, 1, may_sleep) ? obj : nullptr;
  }
  m->rounds = slabs_.alloc(m->objs, m->capacity, may_sleep);
  if (!m->rounds) {
    depot_.put(m);
    return nullptr;
  }
  // We may be on another CPU now, whose magazines may have been refilled.
  CpuPin pin;
  CpuCache& cc = cpus_[pin.cpu()];
  if (cc.loaded->rounds == 0) {
    park(cc.loaded);
    cc.loaded = m;
  } else {
    depot_.put(m);
  }
  m = cc.loaded;
  return m->objs[--m->rounds];
}

// --- bulk ------------------------------------------------------------------------

u32 Cache::alloc_bulk(u32 flags, u32 n, void** objs) {
  u32 got = 0;
  {
    CpuPin pin;
    CpuCache& cc = cpus_[pin.cpu()];
    while (got < n) {
      Magazine* m = cc.loaded;
      u32 k = min(m->rounds, n - got);
      if (k) m->rounds -= k;  // no_magazine is every CPU's: never written
      __builtin_memcpy(objs + got, m->objs + m->rounds, k * sizeof(void*));
      got += k;
      if (got == n || !restock(cc)) break;
    }
    bump(&cc.alloc_hits, got);
    if (got < n) bump(&cc.alloc_misses);
  }
  if (got < n) got += slabs_.alloc(objs + got, n - got, !(flags & EXO_SLAB_NOWAIT));
  if (got < n) {
    put_bulk(got, objs);  // all or nothing
    return 0;
  }
  if (__builtin_expect(debug_, 0))
    for (u32 i = 0; i < n; ++i) checks_.check_alloc(objs[i]);
  return n;
}

void Cache::free_bulk(u32 n, void** objs) {
  if (__builtin_expect(debug_, 0)) {
    for (u32 i = 0; i < n; ++i) free(objs[i]);
    return;
  }
  put_bulk(n, objs);
}

void Cache::put_bulk(u32 n, void** objs) {
  u32 done = 0;
  {
    CpuPin pin;
    CpuCache& cc = cpus_[pin.cpu()];
    while (done < n) {
      Magazine* m = cc.loaded;
      u32 k = min(m->capacity - m->rounds, n - done);
      __builtin_memcpy(m->objs + m->rounds, objs + done, k * sizeof(void*));
      if (k) m->rounds += k;  // no_magazine is every CPU's: never written
      done += k;
      if (done == n || !make_room(cc)) break;
    }
    bump(&cc.free_hits, done);
    if (done < n) bump(&cc.free_misses);
  }
  if (done < n) slabs_.free(objs + done, n - done);
}

// --- draining, shrinking, the periodic tick ----------------------------------------

void Cache::drain_local() {
  Magazine *loaded, *previous;
  {
    CpuPin pin;
    CpuCache& cc = cpus_[pin.cpu()];
    loaded = cc.loaded;
    previous = cc.previous;
    cc.loaded = cc.previous = &no_magazine;
  }
  park(loaded);
  park(previous);
}

void Cache::drain_cpu(u32 cpu) {
  CpuCache& cc = cpus_[cpu];
  park(cc.loaded);
  park(cc.previous);
  cc.loaded = cc.previous = &no_magazine;
}

u64 Cache::shrink(bool pressure) {
  LockGuard admin(admin_lock_);
  if (pressure) sizer_.pressure();
  // The pages that emptying the magazines freed count too.
  u64 pages = release(depot_.take_loaded(~0u));
  pages += release(depot_.take_empty(~0u));
  return pages + slabs_.release_empty();
}

// A shrinker's scan: empty slabs first (whole pages, nothing moves), then
// the depot's loaded magazines one at a time, until |nr_objects| objects
// left the cache's caches. The unit is reclaimable()'s: a depot object
// counts once, when it goes back to its slab (whose pages go with it when
// it empties, past the one slab kept); an empty slab counts its capacity.
u64 Cache::reclaim(u64 nr_objects, bool pressure, u64* pages) {
  LockGuard admin(admin_lock_);
  if (pressure) sizer_.pressure();
  const Geometry& g = slabs_.geometry();
  u64 freed = 0;
  *pages = 0;
  if (nr_objects) {
    u64 slabs = (nr_objects + g.per_slab - 1) / g.per_slab;
    u64 p = slabs_.release_empty(slabs);
    *pages += p;
    freed += (p >> g.order) * g.per_slab;
  }
  while (freed < nr_objects) {
    Magazine* m = depot_.take_loaded(1);
    if (!m) break;
    freed += m->rounds;
    *pages += release(m);
  }
  // Empty magazines hold no objects: bookkeeping, freed whenever we scan.
  release(depot_.take_empty(~0u));
  return freed;
}

u64 Cache::reclaimable() {
  SlabCounters s = slabs_.counters();
  return depot_.counters().cached + s.slabs_empty * slabs_.geometry().per_slab;
}

Cache::CpuCounters Cache::cpu_counters() {
  CpuCounters sum = {};
  for (u32 cpu = 0; cpu < nr_cpus_; ++cpu) {
    CpuCache& cc = cpus_[cpu];
    sum.alloc_hits += load_relaxed(&cc.alloc_hits);
    sum.free_hits += load_relaxed(&cc.free_hits);
    sum.alloc_misses += load_relaxed(&cc.alloc_misses);
    sum.free_misses += load_relaxed(&cc.free_misses);
  }
  return sum;
}

void Cache::tick() {
  LockGuard admin(admin_lock_);
  // Bonwick's working set: magazines the depot held all interval long
  // were not needed; their objects go back to the slabs.
  u32 unused_loaded, unused_empty;
  depot_.unused_since_last(&unused_loaded, &unused_empty);
  release(depot_.take_loaded(unused_loaded));
  release(depot_.take_empty(unused_empty));

  CpuCounters cpu = cpu_counters();
  u64 misses = cpu.alloc_misses + cpu.free_misses;
  u64 ops = cpu.alloc_hits + cpu.free_hits + misses;
  u64 contended = depot_.counters().contended;
  sizer_.tick(ops - last_ops_, misses - last_misses_, contended - last_contended_);
  last_ops_ = ops;
  last_misses_ = misses;
  last_contended_ = contended;
}

void Cache::stats(struct exo_slab_stats* out) {
  LockGuard admin(admin_lock_);
  *out = {};
  __builtin_memcpy(out->name, name_, sizeof(name_));
  const Geometry& g = slabs_.geometry();
  out->object_size = g.size;
  out->stride = g.stride;
  out->objects_per_slab = g.per_slab;
  out->slab_order = g.order;
  out->magazine_size = sizer_.size();
  out->debug = debug_;
  CpuCounters cpu = cpu_counters();
  out->cpu_alloc_hits = cpu.alloc_hits;
  out->cpu_free_hits = cpu.free_hits;
  out->cpu_alloc_misses = cpu.alloc_misses;
  out->cpu_free_misses = cpu.free_misses;
  DepotCounters d = depot_.counters();
  out->depot_full_magazines = d.full;
  out->depot_empty_magazines = d.empty;
  out->depot_cached = d.cached;
  out->depot_exchanges = d.exchanges;
  out->depot_contended = d.contended;
  out->magazines_allocated = load_relaxed(&magazines_allocated_);
  SlabCounters s = slabs_.counters();
  out->slab_allocs = s.allocs;
  out->slab_frees = s.frees;
  out->slabs = s.slabs;
  out->slabs_empty = s.slabs_empty;
  out->pages = s.pages;
  out->pages_allocated = s.pages_allocated;
  out->pages_freed = s.pages_freed;
  out->objects_in_use = s.inuse;
  out->debug_reports = checks_.reports();
  out->ticks = sizer_.ticks();
  out->trace_len = sizer_.trace(out->trace);
}

}  // namespace exo::slab
