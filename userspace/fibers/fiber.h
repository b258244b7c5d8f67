// SPDX-License-Identifier: LGPL-2.1 OR GPL-2.0
// A fiber's control block (allocated from the project's slab core).
#ifndef EXOFIBER_FIBER_H
#define EXOFIBER_FIBER_H

#include <stdint.h>

#include <atomic>

#include "userspace/fibers/annotations.h"
#include "userspace/fibers/context.h"
#include "userspace/fibers/run_queue.h"
#include "userspace/fibers/spinlock.h"
#include "userspace/fibers/stack_pool.h"

namespace exo::fiber {

class Scheduler;
class Worker;

// RunNode first: the queues hand back RunNode*, a static_cast away.
struct Fiber : RunNode {
  Context ctx;
  RunPredictor predictor;
  void (*fn)(void*) = nullptr;
  void* arg = nullptr;
  Scheduler* sched = nullptr;
  Stack stack;
  uint64_t resumed_ns = 0;

  // Joining: the lock orders the exit against a joiner's arrival.
  SpinLock lock;
  Fiber* joiner EXO_GUARDED_BY(lock) = nullptr;
  bool thread_joiner EXO_GUARDED_BY(lock) = false;  // a thread waits on |done|
  std::atomic<uint32_t> done{0};                    // futex word
  std::atomic<uint32_t> refs{1};  // the runtime's, plus the handle's if joinable

  // A wait list (mutex, condition) holds a fiber by this link.
  Fiber* wait_next = nullptr;

  // Timer and fd waits, touched only by the worker the fiber parked on.
  uint64_t deadline_ns = 0;
  int32_t timer_index = -1;  // in that worker's timer heap, or -1
  int io_fd = -1;            // registered in that worker's epoll, or -1
  int wait_result = 0;       // events, or -ETIMEDOUT
};

}  // namespace exo::fiber

#endif  // EXOFIBER_FIBER_H
