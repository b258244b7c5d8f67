// SPDX-License-Identifier: LGPL-2.1 OR GPL-2.0
#include "userspace/fibers/stack_pool.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

namespace exo::fiber {

namespace {
constexpr size_t kPage = 4096;
}

StackPool::~StackPool() {
  FreeStack* s = cached_;
  while (s) {
    FreeStack* next = s->next;
    unmap(Stack{s, s->size});
    s = next;
  }
}

size_t StackPool::usable_size(size_t size) {
  if (size < kMinSize || size > kMaxSize) return 0;
  return (size + kPage - 1) & ~(kPage - 1);
}

void StackPool::reuse([[maybe_unused]] const Stack& stack) {
#if defined(__SANITIZE_ADDRESS__)
  // The frames of the fiber that last ran here were left poisoned.
  __asan_unpoison_memory_region(stack.base, stack.size);
#endif
}

int StackPool::alloc(size_t size, Stack* out, Local* local) {
  size_t usable = usable_size(size);
  if (!usable) return -EINVAL;
  if (local && local->count && local->stacks[local->count - 1].size == usable) {
    *out = local->stacks[--local->count];
    reuse(*out);
    return 0;
  }
  {
    SpinGuard guard(lock_);
    // Most programs use one or two sizes: the list is short to walk.
    for (FreeStack** link = &cached_; *link; link = &(*link)->next) {
      FreeStack* s = *link;
      if (s->size != usable) continue;
      *link = s->next;
      --cached_count_;
      *out = Stack{s, usable};
      reuse(*out);
      return 0;
    }
  }
  void* map = mmap(nullptr, usable + kPage, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (map == MAP_FAILED) return -ENOMEM;
  if (mprotect(map, kPage, PROT_NONE)) {
    munmap(map, usable + kPage);
    return -ENOMEM;
  }
  mapped_.fetch_add(1, std::memory_order_relaxed);
  *out = Stack{static_cast<char*>(map) + kPage, usable};
  return 0;
}

void StackPool::free(const Stack& stack, Local* local) {
  if (local && local->count < Local::kMax) {
    local->stacks[local->count++] = stack;
    return;
  }
  {
    SpinGuard guard(lock_);
    if (cached_count_ < kMaxCached) {
      // The top of the stack is the last to be written again; the link
      // goes at the bottom, which a fiber touches only when nearly full.
      auto* s = static_cast<FreeStack*>(stack.base);
      s->next = cached_;
      s->size = stack.size;
      cached_ = s;
      ++cached_count_;
      return;
    }
  }
  unmap(stack);
}

void StackPool::drain(Local* local) {
  while (local->count) free(local->stacks[--local->count]);
}

void StackPool::unmap(const Stack& stack) {
  munmap(static_cast<char*>(stack.base) - kPage, stack.size + kPage);
  mapped_.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace exo::fiber
