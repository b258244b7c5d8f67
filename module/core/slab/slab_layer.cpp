// SPDX-License-Identifier: GPL-2.0
#include "module/core/slab/slab_layer.h"

#include "module/core/errno.h"
#include "module/core/slab/lock.h"

namespace exo::slab {

void SlabList::insert(Slab* s) {
  s->prev = nullptr;
  s->next = head_;
  if (head_) head_->prev = s;
  head_ = s;
  ++count_;
}

void SlabList::remove(Slab* s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    head_ = s->next;
  if (s->next) s->next->prev = s->prev;
  s->next = s->prev = nullptr;
  --count_;
}

int SlabLayer::init(const Geometry& g, void (*ctor)(void*), bool account) {
  geometry_ = g;
  ctor_ = ctor;
  account_ = account;
  lock_ = exo_plat_lock_create(EXO_LOCK_SLABS);
  return lock_ ? 0 : -kENOMEM;
}

u64 SlabLayer::destroy() {
  u64 live = 0;
  SlabList* lists[] = {&partial_, &full_, &empty_};
  for (SlabList* list : lists) {
    while (Slab* s = list->head()) {
      live += s->inuse;
      list->remove(s);
      free_slab(s);
    }
  }
  if (lock_) exo_plat_lock_destroy(lock_);
  lock_ = nullptr;
  return live;
}

Slab* SlabLayer::make_slab(bool may_sleep) {
  void* pages = exo_plat_pages_alloc(geometry_.order, may_sleep, account_);
  if (!pages) return nullptr;
  Slab* s = static_cast<Slab*>(pages);
  s->next = s->prev = nullptr;
  s->owner = this;
  s->inuse = 0;
  s->magic = kSlabMagic;
  // Linked in address order, so a fresh slab hands out ascending objects.
  void* next = nullptr;
  for (u32 i = geometry_.per_slab; i-- > 0;) {
    u8* obj = object(s, i);
    if (ctor_) ctor_(obj);
    if (init_hook_) init_hook_(init_ctx_, obj);
    next_of(obj) = next;
    next = obj;
  }
  s->free = next;
  return s;
}

void SlabLayer::free_slab(Slab* s) {
  s->magic = 0;
  exo_plat_pages_free(s, geometry_.order);
}

void SlabLayer::free_chain(Slab* chain) {
  while (chain) {
    Slab* s = chain;
    chain = s->next;
    free_slab(s);
  }
}

void SlabLayer::unlist_for_release(Slab* s, Slab** chain) {
  empty_.remove(s);
  s->next = *chain;
  *chain = s;
  counters_.pages_freed += 1ull << geometry_.order;
}

SlabList* SlabLayer::list_of(Slab* s) {
  if (s->inuse == 0) return &empty_;
  return s->inuse == geometry_.per_slab ? &full_ : &partial_;
}

void SlabLayer::relist(Slab* s, SlabList* from) {
  SlabList* to = list_of(s);
  if (to == from) return;
  from->remove(s);
  to->insert(s);
}

u32 SlabLayer::alloc(void** out, u32 n, bool may_sleep) {
  u32 got = 0;
  while (got < n) {
    {
      LockGuard guard(lock_);
      while (got < n) {
        SlabList* from = partial_.head() ? &partial_ : &empty_;
        Slab* s = from->head();
        if (!s) break;
        while (got < n && s->free) {
          void* obj = s->free;
          s->free = next_of(obj);
          out[got++] = obj;
          ++s->inuse;
          ++counters_.allocs;
          ++counters_.inuse;
        }
        relist(s, from);
      }
      if (got == n) break;
    }
    // Pages are taken outside the lock: the page allocator may sleep.
    Slab* s = make_slab(may_sleep);
    if (!s) break;
    LockGuard guard(lock_);
    empty_.insert(s);
    counters_.pages_allocated += 1ull << geometry_.order;
  }
  return got;
}

u64 SlabLayer::free(void* const* objs, u32 n) {
  Slab* release = nullptr;  // empty slabs past kKeepEmpty, freed unlocked
  u64 pages = 0;
  {
    LockGuard guard(lock_);
    for (u32 i = 0; i < n; ++i) {
      Slab* s = slab_of(objs[i]);
      SlabList* from = list_of(s);
      next_of(objs[i]) = s->free;
      s->free = objs[i];
      --s->inuse;
      ++counters_.frees;
      --counters_.inuse;
      relist(s, from);
      if (s->inuse == 0 && empty_.count() > kKeepEmpty) {
        unlist_for_release(s, &release);
        pages += 1ull << geometry_.order;
      }
    }
  }
  free_chain(release);
  return pages;
}

u64 SlabLayer::release_empty(u64 max_slabs) {
  Slab* release = nullptr;
  u64 pages = 0;
  {
    LockGuard guard(lock_);
    for (; max_slabs; --max_slabs) {
      Slab* s = empty_.head();
      if (!s) break;
      unlist_for_release(s, &release);
      pages += 1ull << geometry_.order;
    }
  }
  free_chain(release);
  return pages;
}

bool SlabLayer::owns(const void* obj) const {
  const Slab* s = slab_of(obj);
  if (s->magic != kSlabMagic || s->owner != this) return false;
  uptr offset = reinterpret_cast<uptr>(obj) - reinterpret_cast<uptr>(s);
  if (offset < geometry_.first) return false;
  offset -= geometry_.first;
  return offset % geometry_.stride == 0 && offset / geometry_.stride < geometry_.per_slab;
}

SlabCounters SlabLayer::counters() {
  LockGuard guard(lock_);
  SlabCounters c = counters_;
  c.slabs = partial_.count() + full_.count() + empty_.count();
  c.slabs_empty = empty_.count();
  c.pages = c.slabs << geometry_.order;
  return c;
}

}  // namespace exo::slab
