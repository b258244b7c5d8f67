// SPDX-License-Identifier: LGPL-2.1 OR GPL-2.0
// Fiber stacks: mmap'ed, with a PROT_NONE guard page below each, so that an
// overflow dies with SIGSEGV on the guard instead of writing into another
// fiber's stack. Freed stacks are kept for reuse (mmap and munmap cost two
// system calls and page faults on every spawn otherwise), up to a bound.
//
// Each stack is two mappings (guard and stack): vm.max_map_count (65,530 by
// default) bounds the stacks alive at once to about 32,000.
#ifndef EXOFIBER_STACK_POOL_H
#define EXOFIBER_STACK_POOL_H

#include <stddef.h>

#include "userspace/fibers/annotations.h"
#include "userspace/fibers/spinlock.h"

namespace exo::fiber {

struct Stack {
  void* base = nullptr;  // lowest usable address (the guard page is below)
  size_t size = 0;       // usable bytes, a multiple of the page size
};

class StackPool {
 public:
  static constexpr size_t kMinSize = 8 * 1024;
  static constexpr size_t kMaxSize = 64ul << 20;
  static constexpr unsigned kMaxCached = 4096;

  StackPool() = default;
  ~StackPool();
  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;

  // The usable size a request of |size| bytes gets (page-rounded), or 0 if
  // |size| is outside [kMinSize, kMaxSize].
  static size_t usable_size(size_t size);
  // A few stacks one thread (a worker) keeps for itself, taken and given
  // without the pool's lock; only its owner touches it.
  struct Local {
    static constexpr unsigned kMax = 32;
    Stack stacks[kMax];
    unsigned count = 0;
  };

  // 0, or -EINVAL (a size usable_size() refuses) or -ENOMEM. |local|, if
  // non-null, is the calling thread's own cache, tried first.
  [[nodiscard]] int alloc(size_t size, Stack* out, Local* local = nullptr) EXO_EXCLUDES(lock_);
  void free(const Stack& stack, Local* local = nullptr) EXO_EXCLUDES(lock_);
  // Gives a local cache's stacks back to the pool (its owner is going).
  void drain(Local* local) EXO_EXCLUDES(lock_);
  // Stacks mapped now (in use or cached).
  unsigned long mapped() const { return mapped_.load(std::memory_order_relaxed); }

 private:
  // A cached stack's own first bytes link it to the next of its size.
  struct FreeStack {
    FreeStack* next;
    size_t size;
  };
  void unmap(const Stack& stack);
  static void reuse(const Stack& stack);

  SpinLock lock_;
  FreeStack* cached_ EXO_GUARDED_BY(lock_) = nullptr;
  unsigned cached_count_ EXO_GUARDED_BY(lock_) = 0;
  std::atomic<unsigned long> mapped_{0};
};

}  // namespace exo::fiber

#endif  // EXOFIBER_STACK_POOL_H
