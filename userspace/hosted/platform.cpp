// SPDX-License-Identifier: GPL-2.0
// The hosted (user-space) implementation of module/core/platform.h, for the
// core's unit tests, sanitizer runs and fuzzing. "User" pointers below the
// first page fault, as they would in the kernel, so tests reach the
// -EFAULT paths.
#include "module/core/platform.h"

#include <string.h>

namespace {

constexpr unsigned long kFirstValidAddress = 4096;

bool faults(const void* user) { return reinterpret_cast<unsigned long>(user) < kFirstValidAddress; }

}  // namespace

extern "C" unsigned long exo_plat_copy_to_user(void* to_user, const void* from, unsigned long n) {
  if (faults(to_user)) return n;
  memcpy(to_user, from, n);
  return 0;
}

extern "C" unsigned long exo_plat_copy_from_user(void* to, const void* from_user, unsigned long n) {
  if (faults(from_user)) return n;
  memcpy(to, from_user, n);
  return 0;
}
