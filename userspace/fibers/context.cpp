// SPDX-License-Identifier: LGPL-2.1 OR GPL-2.0
#include "userspace/fibers/context.h"

#include <string.h>

namespace exo::fiber {

// The frame exo_fiber_switch pops, lowest address first.
struct InitialFrame {
  uint32_t mxcsr;
  uint16_t fpu_cw;
  uint16_t pad;
  uint64_t r15, r14, r13, r12, rbx, rbp;
  void* ret;  // the trampoline
  uint64_t align;  // ret pops to here: rsp is then 16-byte aligned
};
static_assert(sizeof(InitialFrame) == 72, "exo_fiber_switch pops 8 + 6*8 bytes, then ret");

void Context::init(void* base, size_t size, void (*entry)(void*), void* arg) {
  uintptr_t top = (reinterpret_cast<uintptr_t>(base) + size) & ~uintptr_t{15};
  // The trampoline runs with rsp = &frame->align (just past the popped
  // return address), which must be 16-byte aligned: align sits at top - 16.
  auto* frame = reinterpret_cast<InitialFrame*>(top - 16 - offsetof(InitialFrame, align));
  memset(frame, 0, sizeof(*frame));
  frame->mxcsr = kDefaultMxcsr;
  frame->fpu_cw = kDefaultFpuCw;
  frame->r12 = reinterpret_cast<uint64_t>(entry);
  frame->r13 = reinterpret_cast<uint64_t>(arg);
  frame->ret = exo_fiber_trampoline;
  sp_ = frame;
#ifdef EXOFIBER_ASAN
  stack_base_ = base;
  stack_size_ = size;
  fake_stack_ = nullptr;
#endif
#ifdef EXOFIBER_TSAN
  tsan_fiber_ = __tsan_create_fiber(0);
  owns_tsan_fiber_ = true;
#endif
}

void Context::init_thread() {
  sp_ = nullptr;
#ifdef EXOFIBER_ASAN
  // Learnt from the first switch back (after_switch reports the old stack).
  stack_base_ = nullptr;
  stack_size_ = 0;
#endif
#ifdef EXOFIBER_TSAN
  tsan_fiber_ = __tsan_get_current_fiber();
  owns_tsan_fiber_ = false;
#endif
}

void Context::destroy() {
#ifdef EXOFIBER_TSAN
  if (owns_tsan_fiber_) __tsan_destroy_fiber(tsan_fiber_);
  tsan_fiber_ = nullptr;
  owns_tsan_fiber_ = false;
#endif
}

#if defined(EXOFIBER_ASAN) || defined(EXOFIBER_TSAN)
// Which context is being left, so that after_switch (running in the new
// context) can record the old one's stack bounds for ASan.
static thread_local Context* leaving;

void Context::before_switch([[maybe_unused]] Context& to, [[maybe_unused]] bool exiting) {
  leaving = this;
#ifdef EXOFIBER_ASAN
  // A null save slot tells ASan the fake stack of an exiting context dies.
  __sanitizer_start_switch_fiber(exiting ? nullptr : &fake_stack_, to.stack_base_,
                                 to.stack_size_);
#endif
#ifdef EXOFIBER_TSAN
  __tsan_switch_to_fiber(to.tsan_fiber_, 0);
#endif
}

void Context::after_switch() {
#ifdef EXOFIBER_ASAN
  const void* old_base;
  size_t old_size;
  // The context we came from may have been a thread's: learn its stack.
  Context* from = leaving;
  __sanitizer_finish_switch_fiber(fake_stack_, &old_base, &old_size);
  if (from && !from->stack_base_) {
    from->stack_base_ = old_base;
    from->stack_size_ = old_size;
  }
#endif
}
#endif

}  // namespace exo::fiber
