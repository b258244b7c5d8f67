// SPDX-License-Identifier: GPL-2.0
#include "module/core/slab/debug_checks.h"

#include "module/core/atomic.h"
#include "module/core/platform.h"

namespace exo::slab {

void DebugChecks::init(const char* name, SlabLayer* slabs, bool poison) {
  name_ = name;
  slabs_ = slabs;
  poison_ = poison;
}

DebugTag& DebugChecks::tag(void* obj) const {
  return *reinterpret_cast<DebugTag*>(static_cast<u8*>(obj) + slabs_->geometry().tag);
}

void DebugChecks::on_new_object(void* self, u8* obj) {
  DebugChecks* d = static_cast<DebugChecks*>(self);
  const Geometry& g = d->slabs_->geometry();
  __builtin_memset(obj + g.size, kRedZone, g.tag - g.size);
  store_relaxed(&d->tag(obj).state, kTagFree);
  d->poison(obj);
}

void DebugChecks::poison(u8* obj) const {
  if (!poison_) return;
  u32 size = slabs_->geometry().size;
  __builtin_memset(obj, kPoison, size - 1);
  obj[size - 1] = kPoisonEnd;
}

bool DebugChecks::poison_intact(const u8* obj) const {
  if (!poison_) return true;
  u32 size = slabs_->geometry().size;
  for (u32 i = 0; i + 1 < size; ++i)
    if (obj[i] != kPoison) return false;
  return obj[size - 1] == kPoisonEnd;
}

bool DebugChecks::red_zone_intact(const u8* obj) const {
  const Geometry& g = slabs_->geometry();
  for (u32 i = g.size; i < g.tag; ++i)
    if (obj[i] != kRedZone) return false;
  return true;
}

void DebugChecks::report(const char* what, const void* obj) {
  fetch_add(&reports_, 1ull);
  exo_plat_report("exofusion-slab: cache %s: %s (object %p)\n", name_, what, obj);
}

bool DebugChecks::check_free(void* obj) {
  if (!obj) return false;
  if (!slabs_->owns(obj)) {
    report("free of an object this cache does not own", obj);
    return false;
  }
  // One compare-and-swap: of two racing frees of one object, one loses.
  DebugTag& t = tag(obj);
  if (!compare_exchange(&t.state, kTagAllocated, kTagFree)) {
    report(load_relaxed(&t.state) == kTagFree ? "double free"
                                              : "free of an object whose tag is overwritten",
           obj);
    return false;
  }
  u8* bytes = static_cast<u8*>(obj);
  if (!red_zone_intact(bytes)) {
    report("red zone overwritten: a write past the end of the object", obj);
    // Freed all the same, with the red zone restored, so it is reported once.
    const Geometry& g = slabs_->geometry();
    __builtin_memset(bytes + g.size, kRedZone, g.tag - g.size);
  }
  poison(bytes);
  return true;
}

void DebugChecks::check_alloc(void* obj) {
  u8* bytes = static_cast<u8*>(obj);
  if (!poison_intact(bytes)) report("poison overwritten: a write after free", obj);
  if (!red_zone_intact(bytes)) report("red zone of a free object overwritten", obj);
  store_relaxed(&tag(obj).state, kTagAllocated);
}

u64 DebugChecks::reports() const { return load_relaxed(&reports_); }

}  // namespace exo::slab
