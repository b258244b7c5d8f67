// SPDX-License-Identifier: GPL-2.0
// Where objects sit in a slab: a slab is 2^order pages, aligned to its
// size, that start with a Slab header; objects follow at a fixed stride.
// In debug mode each object is followed by a red zone and a DebugTag.
#ifndef EXO_CORE_SLAB_GEOMETRY_H
#define EXO_CORE_SLAB_GEOMETRY_H

#include "module/core/types.h"

namespace exo::slab {

constexpr u32 kPageSize = 4096;
constexpr u32 kMaxOrder = 3;          // slabs of up to 32 KiB
constexpr u32 kMinObjectsPerSlab = 8;
constexpr u32 kRedZone = 8;           // at least, after each debug object

// Per-object bookkeeping of debug mode, after the red zone.
struct DebugTag {
  u64 state;       // kTagFree or kTagAllocated
  void* free_next;  // the slab's free list (the object itself is poisoned)
};
static_assert(sizeof(DebugTag) == 16, "a debug tag is two words");

struct Geometry {
  u32 size;          // as asked
  u32 align;
  u32 stride;        // bytes from one object to the next
  u32 first;         // offset of object 0 in its slab
  u32 per_slab;
  u32 order;
  u32 free_next;     // offset in a stride of the free-list pointer
  u32 tag;           // offset of the DebugTag (debug mode only)
  bool debug;

  u64 slab_bytes() const { return static_cast<u64>(kPageSize) << order; }
};

// Lays out objects of |size| bytes aligned to |align| (0 means 8). Objects
// of a cache with a constructor (|ctor|) keep their bytes while free, so
// their free-list link goes after them. Returns 0, or -EINVAL with |why|
// naming the parameter.
int plan_geometry(u32 size, u32 align, bool debug, bool ctor, Geometry* out, const char** why);

}  // namespace exo::slab

#endif  // EXO_CORE_SLAB_GEOMETRY_H
