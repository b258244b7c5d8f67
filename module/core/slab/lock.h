// SPDX-License-Identifier: GPL-2.0
// The platform's lock (a spinlock in the kernel), held for a scope.
#ifndef EXO_CORE_SLAB_LOCK_H
#define EXO_CORE_SLAB_LOCK_H

#include "module/core/platform.h"

namespace exo::slab {

class LockGuard {
 public:
  explicit LockGuard(exo_lock* lock) : lock_(lock) { exo_plat_lock(lock_); }
  ~LockGuard() { exo_plat_unlock(lock_); }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

 private:
  exo_lock* lock_;
};

// Owns the caller's CPU's state for a scope: the caller stays on its CPU
// and no interrupt, softirq or other task there runs cache code meanwhile
// (in the kernel a local_lock_irqsave(); see platform.h).
class CpuPin {
 public:
  CpuPin() : cpu_(exo_plat_cpu_enter()) {}
  ~CpuPin() { exo_plat_cpu_exit(); }
  CpuPin(const CpuPin&) = delete;
  CpuPin& operator=(const CpuPin&) = delete;
  unsigned int cpu() const { return cpu_; }

 private:
  unsigned int cpu_;
};

}  // namespace exo::slab

#endif  // EXO_CORE_SLAB_LOCK_H
