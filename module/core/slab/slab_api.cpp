// SPDX-License-Identifier: GPL-2.0
// slab_api.h over exo::slab::Cache.
#include "module/core/slab/slab_api.h"

#include "module/core/slab/cache.h"

using exo::slab::Cache;

namespace {
Cache* cache_of(exo_slab_cache* c) { return reinterpret_cast<Cache*>(c); }
}  // namespace

extern "C" {

int exo_slab_create(const exo_slab_cache_params* params, exo_slab_cache** out, const char** why) {
  Cache* cache;
  int err = Cache::create(*params, &cache, why);
  if (!err) *out = reinterpret_cast<exo_slab_cache*>(cache);
  return err;
}

unsigned long exo_slab_destroy(exo_slab_cache* cache) { return cache_of(cache)->destroy(); }

void* exo_slab_alloc(exo_slab_cache* cache, unsigned int flags) {
  return cache_of(cache)->alloc(flags);
}

void exo_slab_free(exo_slab_cache* cache, void* obj) { cache_of(cache)->free(obj); }

unsigned int exo_slab_alloc_bulk(exo_slab_cache* cache, unsigned int flags, unsigned int n,
                                 void** objs) {
  return cache_of(cache)->alloc_bulk(flags, n, objs);
}

void exo_slab_free_bulk(exo_slab_cache* cache, unsigned int n, void** objs) {
  cache_of(cache)->free_bulk(n, objs);
}

void exo_slab_drain_local(exo_slab_cache* cache) { cache_of(cache)->drain_local(); }

void exo_slab_drain_cpu(exo_slab_cache* cache, unsigned int cpu) {
  cache_of(cache)->drain_cpu(cpu);
}

unsigned long exo_slab_shrink(exo_slab_cache* cache, int pressure) {
  return cache_of(cache)->shrink(pressure);
}

unsigned long exo_slab_reclaim(exo_slab_cache* cache, unsigned long nr_objects, int pressure,
                               unsigned long* pages) {
  unsigned long long p;
  unsigned long freed = cache_of(cache)->reclaim(nr_objects, pressure, &p);
  *pages = p;
  return freed;
}

unsigned long exo_slab_reclaimable(exo_slab_cache* cache) {
  return cache_of(cache)->reclaimable();
}

void exo_slab_tick(exo_slab_cache* cache) { cache_of(cache)->tick(); }

void exo_slab_get_stats(exo_slab_cache* cache, struct exo_slab_stats* out) { cache_of(cache)->stats(out); }

unsigned int exo_slab_resizes(const exo_slab_cache* cache, struct exo_slab_resize_event* last) {
  return reinterpret_cast<const Cache*>(cache)->resizes(last);
}

const char* exo_slab_name(const exo_slab_cache* cache) {
  return reinterpret_cast<const Cache*>(cache)->name();
}

}  // extern "C"
