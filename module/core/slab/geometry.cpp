// SPDX-License-Identifier: GPL-2.0
#include "module/core/slab/geometry.h"

#include "module/core/errno.h"
#include "module/core/slab/slab_api.h"
#include "module/core/slab/slab_layer.h"

namespace exo::slab {
namespace {

constexpr u32 align_up(u32 v, u32 a) { return (v + a - 1) & ~(a - 1); }
constexpr bool power_of_two(u32 v) { return v && !(v & (v - 1)); }

}  // namespace

int plan_geometry(u32 size, u32 align, bool debug, bool ctor, Geometry* out, const char** why) {
  if (size < EXO_SLAB_MIN_SIZE || size > EXO_SLAB_MAX_SIZE) {
    *why = "size: must be 8..4096 bytes";
    return -kEINVAL;
  }
  if (align == 0) align = 8;
  if (!power_of_two(align) || align < 8 || align > EXO_SLAB_MAX_ALIGN) {
    *why = "align: must be 0 or a power of two from 8 to 4096";
    return -kEINVAL;
  }
  Geometry g{};
  g.size = size;
  g.align = align;
  g.debug = debug;
  if (debug) {
    // object | red zone (to the next word, plus kRedZone) | DebugTag
    g.tag = align_up(size, 8) + kRedZone;
    g.free_next = g.tag + static_cast<u32>(__builtin_offsetof(DebugTag, free_next));
    g.stride = align_up(g.tag + sizeof(DebugTag), align);
  } else if (ctor) {
    // object | free-list link: the constructed state survives a free
    g.free_next = align_up(size, 8);
    g.stride = align_up(g.free_next + sizeof(void*), align);
  } else {
    g.free_next = 0;  // a free object holds the free-list link itself
    g.stride = align_up(size, align);
  }
  g.first = align_up(sizeof(Slab), align);
  // The smallest slab with enough objects that wastes at most 1/8 of it.
  for (g.order = 0;; ++g.order) {
    u32 bytes = kPageSize << g.order;
    g.per_slab = bytes > g.first ? (bytes - g.first) / g.stride : 0;
    u32 waste = bytes - g.per_slab * g.stride;
    if (g.order == kMaxOrder || (g.per_slab >= kMinObjectsPerSlab && waste * 8 <= bytes)) break;
  }
  if (g.per_slab == 0) {
    *why = "align: with this size, no object fits a slab";
    return -kEINVAL;
  }
  *out = g;
  return 0;
}

}  // namespace exo::slab
