// SPDX-License-Identifier: GPL-2.0
// The context switch: callee-saved registers, MXCSR and the x87 control
// word survive it in both directions (checked from assembly), a new
// context starts with the ABI's defaults and an aligned stack, and the
// unwinder stops at a fiber's first frame.
#include <execinfo.h>
#include <gtest/gtest.h>
#include <stdint.h>
#include <sys/mman.h>

#include "userspace/fibers/context.h"

extern "C" void exo_test_switch_probe(void** save_sp, void* load_sp, uint64_t* out,
                                      uint64_t mxcsr_cw, uint64_t pattern);

namespace {

using exo::fiber::Context;

constexpr uint64_t kMainPattern = 0x1111'0000'0000'0000;
constexpr uint64_t kFiberPattern = 0x2222'0000'0000'0000;
// Distinct rounding modes and precisions, every exception still masked.
constexpr uint32_t kMainMxcsr = 0x3f80, kFiberMxcsr = 0x5f80;
constexpr uint16_t kMainCw = 0x027f, kFiberCw = 0x0c7f;
constexpr int kRounds = 4;

uint64_t controls(uint32_t mxcsr, uint16_t cw) { return mxcsr | uint64_t{cw} << 32; }

struct Stack {
  explicit Stack(size_t size) : size(size) {
    base = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  }
  ~Stack() { munmap(base, size); }
  void* base;
  size_t size;
};

// The probe switches without the sanitizers' fiber hooks: run it only
// where there are none (the other tests check the hooked path).
bool sanitized() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return true;
#else
  return false;
#endif
}

struct Probe {
  Context main_ctx, fiber_ctx;
  uint64_t fiber_out[kRounds][8] = {};
  uint32_t first_mxcsr = 0;
  uint16_t first_cw = 0;
  uintptr_t first_rsp = 0;
};

void probe_fiber(void* arg) {
  auto* p = static_cast<Probe*>(arg);
  uint32_t mxcsr;
  uint16_t cw;
  asm volatile("stmxcsr %0; fnstcw %1" : "=m"(mxcsr), "=m"(cw));
  p->first_mxcsr = mxcsr;
  p->first_cw = cw;
  p->first_rsp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  for (int i = 0; i < kRounds; ++i)
    exo_test_switch_probe(p->fiber_ctx.saved_sp(), *p->main_ctx.saved_sp(), p->fiber_out[i],
                          controls(kFiberMxcsr, kFiberCw), kFiberPattern + 16 * i);
  for (;;) exo_fiber_switch(p->fiber_ctx.saved_sp(), *p->main_ctx.saved_sp());
}

TEST(FiberSwitch, CalleeSavedRegistersAndFpControlsSurviveBothWays) {
  if (sanitized()) GTEST_SKIP() << "the probe bypasses the sanitizers' fiber hooks";
  Stack stack(64 * 1024);
  Probe p;
  p.main_ctx.init_thread();
  p.fiber_ctx.init(stack.base, stack.size, probe_fiber, &p);
  for (int i = 0; i <= kRounds; ++i) {
    uint64_t out[8];
    exo_test_switch_probe(p.main_ctx.saved_sp(), *p.fiber_ctx.saved_sp(), out,
                          controls(kMainMxcsr, kMainCw), kMainPattern + 16 * i);
    for (int r = 0; r < 6; ++r)
      EXPECT_EQ(out[r], kMainPattern + 16 * i + r + 1) << "main round " << i << " reg " << r;
    EXPECT_EQ(out[6], kMainMxcsr) << "main's MXCSR after round " << i;
    EXPECT_EQ(out[7], kMainCw) << "main's x87 control word after round " << i;
  }
  for (int i = 0; i < kRounds; ++i) {
    for (int r = 0; r < 6; ++r)
      EXPECT_EQ(p.fiber_out[i][r], kFiberPattern + 16 * i + r + 1)
          << "fiber round " << i << " reg " << r;
    EXPECT_EQ(p.fiber_out[i][6], kFiberMxcsr) << "fiber's MXCSR after round " << i;
    EXPECT_EQ(p.fiber_out[i][7], kFiberCw) << "fiber's x87 control word after round " << i;
  }
  // Main ran with odd controls when it first switched: the fiber must not
  // inherit them.
  EXPECT_EQ(p.first_mxcsr, exo::fiber::kDefaultMxcsr);
  EXPECT_EQ(p.first_cw, exo::fiber::kDefaultFpuCw);
  // After the entry's push of rbp, the frame address is 16-byte aligned
  // exactly when the entry was called with a correctly aligned stack.
  EXPECT_EQ(p.first_rsp % 16, 0u);
  p.fiber_ctx.destroy();
}

struct Traced {
  Context main_ctx, fiber_ctx;
  int depth = 0;
  bool saw_trampoline = false;
};

void traced_fiber(void* arg) {
  auto* t = static_cast<Traced*>(arg);
  t->fiber_ctx.on_first_entry();
  void* frames[64];
  t->depth = backtrace(frames, 64);
  for (int i = 0; i < t->depth; ++i) {
    auto pc = reinterpret_cast<uintptr_t>(frames[i]);
    if (pc >= reinterpret_cast<uintptr_t>(exo_fiber_trampoline) &&
        pc <= reinterpret_cast<uintptr_t>(exo_fiber_trampoline_end))
      t->saw_trampoline = true;
  }
  t->fiber_ctx.switch_to(t->main_ctx, true);
}

TEST(FiberSwitch, BacktraceStopsAtTheTrampoline) {
  Stack stack(64 * 1024);
  Traced t;
  t.main_ctx.init_thread();
  t.fiber_ctx.init(stack.base, stack.size, traced_fiber, &t);
  t.main_ctx.switch_to(t.fiber_ctx);
  // backtrace(), traced_fiber, the trampoline: a walk past the trampoline
  // would read the zeroed frame above it, or crash.
  EXPECT_TRUE(t.saw_trampoline);
  EXPECT_GE(t.depth, 2);
  EXPECT_LE(t.depth, 4);
  t.fiber_ctx.destroy();
}

}  // namespace
