// SPDX-License-Identifier: GPL-2.0
// Level 3 of the cache: slabs of pages from the page allocator, each with
// its own free list, kept on partial, full and empty lists under one lock.
// Empty slabs go back to the page allocator (one is kept, so that a pair
// of operations at a slab boundary does not churn pages).
#ifndef EXO_CORE_SLAB_SLAB_LAYER_H
#define EXO_CORE_SLAB_SLAB_LAYER_H

#include "module/core/platform.h"
#include "module/core/slab/geometry.h"
#include "module/core/types.h"

namespace exo::slab {

// The header at the start of every slab.
struct Slab {
  Slab* next;
  Slab* prev;
  const void* owner;  // the SlabLayer: frees to the wrong cache show here
  void* free;         // first free object
  u32 inuse;
  u32 magic;          // kSlabMagic while the slab is alive
};

class SlabList {
 public:
  void insert(Slab* s);
  void remove(Slab* s);
  Slab* head() const { return head_; }
  u64 count() const { return count_; }

 private:
  Slab* head_ = nullptr;
  u64 count_ = 0;
};

struct SlabCounters {
  u64 allocs, frees;
  u64 slabs, slabs_empty, pages;
  u64 pages_allocated, pages_freed;
  u64 inuse;
};

class SlabLayer {
 public:
  static constexpr u32 kSlabMagic = 0x51ab51ab;

  // |account|: pages are charged to the allocating task's memory cgroup.
  int init(const Geometry& g, void (*ctor)(void*), bool account);
  // Frees every page, live objects or not; returns how many were live.
  u64 destroy();

  // Up to |n| objects into |out|; fewer only when pages ran out.
  u32 alloc(void** out, u32 n, bool may_sleep);
  // Returns the pages of the slabs this emptied past kKeepEmpty.
  u64 free(void* const* objs, u32 n);
  // Returns up to |max_slabs| empty slabs to the page allocator; pages freed.
  u64 release_empty(u64 max_slabs = ~0ull);

  // The slab an object of this layer lives in, found by alignment.
  Slab* slab_of(const void* obj) const {
    return reinterpret_cast<Slab*>(reinterpret_cast<uptr>(obj) & ~(geometry_.slab_bytes() - 1));
  }
  // Whether |obj| is the start of an object in a live slab of this layer.
  // Reads the slab header: only for pointers some cache handed out.
  bool owns(const void* obj) const;
  u8* object(Slab* s, u32 index) const {
    return reinterpret_cast<u8*>(s) + geometry_.first + index * geometry_.stride;
  }

  const Geometry& geometry() const { return geometry_; }
  SlabCounters counters();
  // Debug mode sets this to see new slabs' objects (poison, red zones).
  void set_slab_init_hook(void (*hook)(void* ctx, u8* obj), void* ctx) {
    init_hook_ = hook;
    init_ctx_ = ctx;
  }

 private:
  static constexpr u32 kKeepEmpty = 1;

  Slab* make_slab(bool may_sleep);
  void free_slab(Slab* s);
  void free_chain(Slab* chain);  // linked by next, outside the lock
  // Takes an empty slab off its list for freeing (caller holds the lock).
  void unlist_for_release(Slab* s, Slab** chain);
  void*& next_of(void* obj) const {
    return *reinterpret_cast<void**>(static_cast<u8*>(obj) + geometry_.free_next);
  }
  // Moves |s| to the list its use count says (caller holds the lock).
  void relist(Slab* s, SlabList* from);
  SlabList* list_of(Slab* s);

  Geometry geometry_;
  void (*ctor_)(void*) = nullptr;
  bool account_ = false;
  void (*init_hook_)(void*, u8*) = nullptr;
  void* init_ctx_ = nullptr;
  exo_lock* lock_ = nullptr;
  SlabList partial_, full_, empty_;
  SlabCounters counters_{};
};

}  // namespace exo::slab

#endif  // EXO_CORE_SLAB_SLAB_LAYER_H
