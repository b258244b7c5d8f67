// SPDX-License-Identifier: GPL-2.0
// Turning creation parameters into a ring layout, and laying a fresh ring
// out in zeroed memory.
#ifndef EXO_CORE_RING_LAYOUT_H
#define EXO_CORE_RING_LAYOUT_H

#include "module/core/types.h"
#include "uapi/exofusion.h"

namespace exo {

// Upper bound of one ring's region: the per-user memory limit usually
// bites first; this keeps the offset arithmetic far from overflow.
constexpr u64 kMaxRegionSize = 1ull << 30;

// Checks a ring name: 1..EXO_NAME_MAX-1 characters of [A-Za-z0-9._-],
// NUL-terminated within |size| bytes, not ".", ".." or "control".
int check_name(const char* name, usize size, const char** why);

// Validates |req| and computes the layout. Returns 0 or a negative errno
// with |why| naming the offending parameter.
int plan_ring(const exo_create_req& req, exo_ring_info* info, const char** why);

// Writes the header and the initial cell sequences into |region|, which
// must be zeroed and info.region_size bytes long.
void init_ring(void* region, const exo_ring_info& info);

}  // namespace exo

#endif  // EXO_CORE_RING_LAYOUT_H
