// SPDX-License-Identifier: LGPL-2.1 OR GPL-2.0
#ifndef EXOFIBER_IO_H
#define EXOFIBER_IO_H

#include <stddef.h>
#include <stdint.h>

#include "userspace/include/exofusion/exofusion.h"

namespace exo::fiber {

// See exo_fiber_wait_fd, exo_fiber_recv and exo_fiber_send (exofiber.h).
[[nodiscard]] int wait_fd(int fd, uint32_t events, int64_t timeout_ns);
[[nodiscard]] int ring_recv(exo_ring* ring, exo_msg* msg, unsigned flags);
[[nodiscard]] int ring_send(exo_ring* ring, const void* data, size_t len, unsigned flags);

}  // namespace exo::fiber

#endif  // EXOFIBER_IO_H
