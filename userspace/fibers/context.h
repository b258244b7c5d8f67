// SPDX-License-Identifier: LGPL-2.1 OR GPL-2.0
// An execution context: a stack pointer saved by exo_fiber_switch
// (switch_x86_64.S), and what ASan and TSan must be told about the stack
// it runs on when control moves (as boost.context does).
#ifndef EXOFIBER_CONTEXT_H
#define EXOFIBER_CONTEXT_H

#include <stddef.h>
#include <stdint.h>

#if defined(__SANITIZE_ADDRESS__)
#define EXOFIBER_ASAN 1
#include <sanitizer/common_interface_defs.h>
#endif
#if defined(__SANITIZE_THREAD__)
#define EXOFIBER_TSAN 1
#include <sanitizer/tsan_interface.h>
#endif

extern "C" {
void exo_fiber_switch(void** save_sp, void* load_sp);
extern char exo_fiber_trampoline[];
extern char exo_fiber_trampoline_end[];
}

namespace exo::fiber {

// The initial MXCSR (all exceptions masked, round to nearest) and x87
// control word (extended precision, exceptions masked): the ABI's defaults.
constexpr uint32_t kDefaultMxcsr = 0x1f80;
constexpr uint16_t kDefaultFpuCw = 0x037f;

class Context {
 public:
  // A context that will run entry(arg) on the stack [base, base + size)
  // (base the lowest address) when first switched to. entry never returns.
  void init(void* base, size_t size, void (*entry)(void*), void* arg);
  // The calling thread's own context (its stack is the thread's).
  void init_thread();
  // Called once the context is done for good, before its stack is reused.
  void destroy();

  // Suspends this context (the caller's) and resumes |to|. Returns when
  // something switches back. |exiting|: this context never resumes.
  void switch_to(Context& to, bool exiting = false) {
    before_switch(to, exiting);
    exo_fiber_switch(&sp_, to.sp_);
    after_switch();
  }
  // The first thing a new context's entry function calls.
  void on_first_entry() { after_switch(); }
  // The saved stack pointer, for tests that call exo_fiber_switch
  // themselves (with registers they set in assembly).
  void** saved_sp() { return &sp_; }

 private:
#if defined(EXOFIBER_ASAN) || defined(EXOFIBER_TSAN)
  void before_switch(Context& to, bool exiting);
  void after_switch();
#else
  void before_switch(Context&, bool) {}
  void after_switch() {}
#endif

  void* sp_ = nullptr;
#ifdef EXOFIBER_ASAN
  const void* stack_base_ = nullptr;
  size_t stack_size_ = 0;
  void* fake_stack_ = nullptr;
#endif
#ifdef EXOFIBER_TSAN
  void* tsan_fiber_ = nullptr;
  bool owns_tsan_fiber_ = false;
#endif
};

}  // namespace exo::fiber

#endif  // EXOFIBER_CONTEXT_H
