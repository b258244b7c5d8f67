// SPDX-License-Identifier: LGPL-2.1 OR GPL-2.0
// A test-and-test-and-set spinlock for the scheduler's short critical
// sections (a run queue push or pop, a wait list). It can be released by a
// context other than the one that took it: a fiber that parks hands its
// wait list's lock to the next context, which drops it once the parked
// fiber is off its stack (Worker::finish_switch).
#ifndef EXOFIBER_SPINLOCK_H
#define EXOFIBER_SPINLOCK_H

#include <atomic>

#include "userspace/fibers/annotations.h"

namespace exo::fiber {

inline void cpu_relax() { __builtin_ia32_pause(); }

class EXO_CAPABILITY("spinlock") SpinLock {
 public:
  void lock() EXO_ACQUIRE() {
    while (locked_.exchange(true, std::memory_order_acquire))
      while (locked_.load(std::memory_order_relaxed)) cpu_relax();
  }
  [[nodiscard]] bool try_lock() EXO_TRY_ACQUIRE(true) {
    return !locked_.load(std::memory_order_relaxed) &&
           !locked_.exchange(true, std::memory_order_acquire);
  }
  void unlock() EXO_RELEASE() { locked_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> locked_{false};
};

class EXO_TSA(scoped_lockable) SpinGuard {
 public:
  explicit SpinGuard(SpinLock& lock) EXO_ACQUIRE(lock) : lock_(lock) { lock_.lock(); }
  ~SpinGuard() EXO_RELEASE() { lock_.unlock(); }
  SpinGuard(const SpinGuard&) = delete;
  SpinGuard& operator=(const SpinGuard&) = delete;

 private:
  SpinLock& lock_;
};

}  // namespace exo::fiber

#endif  // EXOFIBER_SPINLOCK_H
