// SPDX-License-Identifier: LGPL-2.1 OR GPL-2.0
// Waits on fds and fusion rings that park the fiber: the fd goes into the
// worker's epoll set, which the worker polls when its queues empty (and
// every 64 picks while they do not).
#include "userspace/fibers/io.h"

#include <errno.h>
#include <poll.h>
#include <sys/epoll.h>

#include "userspace/fibers/scheduler.h"
#include "userspace/fibers/sync.h"
#include "userspace/lib/error.h"

namespace exo::fiber {

int wait_fd(int fd, uint32_t events, int64_t timeout_ns) {
  if (fd < 0) return exo::lib::fail(-EBADF, "exo_fiber_wait_fd: fd %d", fd);
  if (!events || (events & ~(EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLRDHUP)))
    return exo::lib::fail(-EINVAL, "exo_fiber_wait_fd: events 0x%x (EPOLLIN, EPOLLOUT, "
                          "EPOLLPRI, EPOLLRDHUP)", events);
  Worker* w = current_worker();
  Fiber* self = w ? w->current() : nullptr;
  if (!self) {
    // A thread: plain poll(2).
    pollfd p{fd, static_cast<short>(events), 0};
    int ms = timeout_ns < 0 ? -1 : static_cast<int>((timeout_ns + 999'999) / 1'000'000);
    int n = poll(&p, 1, ms);
    if (n < 0) return exo::lib::fail(-errno, "exo_fiber_wait_fd: poll");
    return n ? p.revents : -ETIMEDOUT;
  }
  int err = w->add_fd_wait(self, fd, events);
  if (err) return err;
  if (timeout_ns >= 0) {
    err = w->add_timer(self, Scheduler::now() + static_cast<uint64_t>(timeout_ns));
    if (err) {
      w->cancel_fd_wait(self);
      return err;
    }
  }
  park();
  return self->wait_result;
}

namespace {

// How long a fiber on a memfd ring re-checks between yields before it
// sleeps: a peer that answers within it costs no timer round.
constexpr uint64_t kMemfdSpinNs = 50'000;
constexpr unsigned kMemfdSpinMaxRunnable = 32;

// Parks until |ring| may let |which| progress. Device rings wait in epoll
// on their fd; a memfd ring has no fd to poll (its sleepers use a futex in
// shared memory), so the fiber re-checks it, yielding to the worker's other
// fibers, for 50 us, then after a sleep that doubles from 20 us to 1 ms.
int wait_ring(exo_ring* ring, uint32_t events, uint64_t* spin_until, uint64_t* backoff_ns) {
  if (exo_ring_is_device(ring)) {
    int ev = wait_fd(exo_ring_fd(ring), events, -1);
    if (ev < 0) return ev;
    // An error or hang-up with nothing to move: the caller's next try
    // reports it; if that try still finds nothing, it is not coming.
    return (ev & (EPOLLERR | EPOLLHUP)) ? 1 : 0;
  }
  uint64_t now = Scheduler::now();
  if (!*spin_until) *spin_until = now + kMemfdSpinNs;
  // Among many runnable fibers a yield costs more than the timer round it
  // saves (256 rings: 1.1M against 5.7M messages/s).
  if (now < *spin_until && current_worker()->runnable() < kMemfdSpinMaxRunnable) {
    yield();
    return 0;
  }
  sleep_for(*backoff_ns);
  *backoff_ns = *backoff_ns >= 1'000'000 ? 1'000'000 : 2 * *backoff_ns;
  return 0;
}

}  // namespace

int ring_recv(exo_ring* ring, exo_msg* msg, unsigned flags) {
  if (!current_fiber() || (flags & EXO_NONBLOCK)) return exo_recv(ring, msg, flags);
  uint64_t spin_until = 0, backoff = 20'000;
  for (;;) {
    int rc = exo_recv(ring, msg, flags | EXO_NONBLOCK);
    if (rc != -EAGAIN) return rc;
    int hup = wait_ring(ring, EPOLLIN, &spin_until, &backoff);
    if (hup < 0) return hup;
    if (hup) {
      rc = exo_recv(ring, msg, flags | EXO_NONBLOCK);
      return rc != -EAGAIN ? rc
                           : exo::lib::fail(-EPIPE, "exo_fiber_recv: the ring's fd reports "
                                            "an error or hang-up and holds no message");
    }
  }
}

int ring_send(exo_ring* ring, const void* data, size_t len, unsigned flags) {
  if (!current_fiber() || (flags & EXO_NONBLOCK)) return exo_send(ring, data, len, flags);
  uint64_t spin_until = 0, backoff = 20'000;
  for (;;) {
    int rc = exo_send(ring, data, len, flags | EXO_NONBLOCK);
    if (rc != -EAGAIN) return rc;
    int hup = wait_ring(ring, EPOLLOUT, &spin_until, &backoff);
    if (hup < 0) return hup;
    if (hup) {
      rc = exo_send(ring, data, len, flags | EXO_NONBLOCK);
      return rc != -EAGAIN ? rc
                           : exo::lib::fail(-EPIPE, "exo_fiber_send: the ring's fd reports "
                                            "an error or hang-up and has no free slot");
    }
  }
}

}  // namespace exo::fiber
