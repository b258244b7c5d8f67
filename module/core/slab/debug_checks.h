// SPDX-License-Identifier: GPL-2.0
// Debug mode: every object carries a red zone and a state tag; free
// objects are poisoned. Frees check the owner, the state (double free) and
// the red zone (overrun); allocations check that the poison is intact
// (a write after free). Each finding is reported once, with the cache's
// name, and the object is left alone (a double free is not freed again).
#ifndef EXO_CORE_SLAB_DEBUG_CHECKS_H
#define EXO_CORE_SLAB_DEBUG_CHECKS_H

#include "module/core/slab/slab_layer.h"
#include "module/core/types.h"

namespace exo::slab {

class DebugChecks {
 public:
  static constexpr u64 kTagFree = 0xf7eef7eef7eef7eeull;
  static constexpr u64 kTagAllocated = 0xa11ca7eda11ca7edull;
  static constexpr u8 kPoison = 0x6b;      // as SLUB's POISON_FREE
  static constexpr u8 kPoisonEnd = 0xa5;   // last byte, as POISON_END
  static constexpr u8 kRedZone = 0xbb;

  void init(const char* name, SlabLayer* slabs, bool poison);

  // For SlabLayer's new-slab hook: a fresh object is free and poisoned.
  static void on_new_object(void* self, u8* obj);

  // False (and a report) when |obj| must not be freed.
  bool check_free(void* obj);
  // Checks a free object about to be handed out and marks it allocated.
  void check_alloc(void* obj);

  u64 reports() const;

 private:
  DebugTag& tag(void* obj) const;
  bool red_zone_intact(const u8* obj) const;
  bool poison_intact(const u8* obj) const;
  void poison(u8* obj) const;
  void report(const char* what, const void* obj);

  const char* name_ = nullptr;
  SlabLayer* slabs_ = nullptr;
  bool poison_ = true;  // not for caches with a constructor: it would undo it
  u64 reports_ = 0;
};

}  // namespace exo::slab

#endif  // EXO_CORE_SLAB_DEBUG_CHECKS_H
