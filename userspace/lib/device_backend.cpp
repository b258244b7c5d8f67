// SPDX-License-Identifier: LGPL-2.1 OR GPL-2.0
// Device rings sleep in EXO_RING_IOC_WAIT: the module announces the
// sleeper, issues the cross-CPU barrier and re-checks the ring itself.
#include <errno.h>
#include <sys/ioctl.h>

#include <new>

#include "userspace/lib/backend.h"

namespace exo::lib {
namespace {

class DeviceBackend final : public Backend {
 public:
  explicit DeviceBackend(int fd) : fd_(fd) {}

  int sleep(RingView&, u32 which, s64 timeout_ns, const DeferredWake* first) override {
    exo_wait_req req = {which, 0, timeout_ns};
    if (first) {
      exo_wake_wait_req both = {req, first->fd, first->which};
      if (ioctl(fd_, EXO_RING_IOC_WAKE_WAIT, &both) == 0) return 0;
      if (errno != ENOTTY) return -errno;
      ioctl(first->fd, EXO_RING_IOC_WAKE, first->which);  // a module older than the call
    }
    return ioctl(fd_, EXO_RING_IOC_WAIT, &req) == 0 ? 0 : -errno;
  }

  void wake(RingView&, u32 which) override { ioctl(fd_, EXO_RING_IOC_WAKE, which); }

 private:
  int fd_;
};

}  // namespace

Backend* new_device_backend(int fd) { return new (std::nothrow) DeviceBackend(fd); }

}  // namespace exo::lib
