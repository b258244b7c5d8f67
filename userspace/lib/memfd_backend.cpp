// SPDX-License-Identifier: LGPL-2.1 OR GPL-2.0
// memfd rings sleep on a shared futex (the waiter line's wake_seq). The
// sleeper's membarrier(GLOBAL_EXPEDITED) is the heavy half of the
// asymmetric barrier that lets wakers check need_wakeup with a plain load.
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <new>

#include "userspace/lib/backend.h"

namespace exo::lib {
namespace {

long membarrier(int cmd) { return syscall(__NR_membarrier, cmd, 0, 0); }

long futex(u32* word, int op, u32 val, const timespec* timeout) {
  return syscall(SYS_futex, word, op, val, timeout, nullptr, 0);
}

timespec to_timespec(s64 ns) {
  return timespec{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
}

class MemfdBackend final : public Backend {
 public:
  int sleep(RingView& view, u32 which, s64 timeout_ns, const DeferredWake*) override {
    exo_ring_waiter& waiter = view.waiter(which);
    u32 seq = load_acquire(&waiter.wake_seq);
    store_relaxed(&waiter.need_wakeup, 1u);
    // Registered at attach (register_memfd_process), so this cannot fail
    // for want of registration.
    if (membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) != 0) return -errno;
    // Ready, or corrupted: the caller's claim tells which (never wait on corruption).
    if (view.state(which) != RingState::kBlocked) return 0;
    fetch_add(&waiter.sleeps, 1ull);
    timespec ts = to_timespec(timeout_ns);
    long rc = futex(&waiter.wake_seq, FUTEX_WAIT, seq, timeout_ns < 0 ? nullptr : &ts);
    if (rc == 0 || errno == EAGAIN) return 0;
    return errno == ETIMEDOUT ? -ETIMEDOUT : -EINTR;
  }

  void wake(RingView& view, u32 which) override {
    exo_ring_waiter& waiter = view.waiter(which);
    store_relaxed(&waiter.need_wakeup, 0u);
    fetch_add(&waiter.wake_seq, 1u);
    fetch_add(&waiter.wakes, 1ull);
    futex(&waiter.wake_seq, FUTEX_WAKE, INT_MAX, nullptr);
  }
};

int register_once() {
  return membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED) == 0 ? 0 : -errno;
}

int registration_result = 1;  // 1: not yet tried

void register_in_child() { registration_result = register_once(); }

}  // namespace

Backend* new_memfd_backend() { return new (std::nothrow) MemfdBackend(); }

// Wakers must be registered: membarrier only interrupts registered
// processes. A forked child is a new process; it registers again.
int register_memfd_process() {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, [] {
    registration_result = register_once();
    pthread_atfork(nullptr, nullptr, register_in_child);
  });
  return registration_result;
}

}  // namespace exo::lib
