// SPDX-License-Identifier: GPL-2.0
// Placement new: the core constructs objects in memory the platform gave
// (explicit allocation failure, no throwing operator new). The kernel
// build has no <new>; the hosted build takes libstdc++'s.
#ifndef EXO_CORE_NEW_H
#define EXO_CORE_NEW_H

#if __has_include(<new>)
#include <new>
#else
#include "module/core/types.h"
inline void* operator new(usize, void* where) noexcept { return where; }
inline void operator delete(void*, void*) noexcept {}
#endif

#endif  // EXO_CORE_NEW_H
