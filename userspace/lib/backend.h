// SPDX-License-Identifier: LGPL-2.1 OR GPL-2.0
// How a ring sleeps and wakes: the only part that differs between a
// device ring (module ioctls) and a memfd ring (futexes + membarrier).
#ifndef EXOFUSION_LIB_BACKEND_H
#define EXOFUSION_LIB_BACKEND_H

#include "module/core/ring/ring_view.h"

namespace exo::lib {

// A device ring's wake-up that a sender put off until its next wait
// (EXO_WAKE_ON_WAIT): the ring's fd and the kind to wake.
struct DeferredWake {
  int fd;
  u32 which;
};

class Backend {
 public:
  virtual ~Backend() = default;
  // Sleeps until a waiter of kind |which| may progress or |timeout_ns|
  // passes (< 0: never). Announces the sleeper and orders that against
  // the wakers' plain loads. Returns 0, -ETIMEDOUT or -EINTR. |first|, if
  // given (device rings only), is woken before, in the same system call.
  virtual int sleep(RingView& view, u32 which, s64 timeout_ns, const DeferredWake* first) = 0;
  // Wakes the sleepers of kind |which|; called only when need_wakeup is set.
  virtual void wake(RingView& view, u32 which) = 0;
};

// |fd| stays owned by the caller.
Backend* new_device_backend(int fd);
Backend* new_memfd_backend();
// Registers this process for membarrier(2) global expedited barriers; 0 or -errno.
int register_memfd_process();

}  // namespace exo::lib

#endif  // EXOFUSION_LIB_BACKEND_H
