// SPDX-License-Identifier: LGPL-2.1 OR GPL-2.0
// Waiting between fibers: join, a mutex, a condition variable, a bounded
// channel. A waiter parks holding its wait list's spinlock, which the next
// context releases once the waiter is off its stack: a waker that takes
// the lock and readies it can never resume a half-saved context.
#ifndef EXOFIBER_SYNC_H
#define EXOFIBER_SYNC_H

#include <stddef.h>
#include <stdint.h>

#include "userspace/fibers/annotations.h"
#include "userspace/fibers/fiber.h"
#include "userspace/fibers/spinlock.h"

namespace exo::fiber {

// FIFO of parked fibers, linked through Fiber::wait_next.
class WaitList {
 public:
  void push(Fiber* f) {
    f->wait_next = nullptr;
    (tail_ ? tail_->wait_next : head_) = f;
    tail_ = f;
  }
  Fiber* pop() {
    Fiber* f = head_;
    if (f) {
      head_ = f->wait_next;
      if (!head_) tail_ = nullptr;
      f->wait_next = nullptr;
    }
    return f;
  }
  bool empty() const { return !head_; }

 private:
  Fiber* head_ = nullptr;
  Fiber* tail_ = nullptr;
};

// Joins |f| (a joinable fiber's handle, once) and releases the handle.
void join(Fiber* f);
// 0; -EPERM outside a fiber is not an error for yield: it sched_yields.
void yield();
void sleep_for(uint64_t ns);

// A mutex handed to its next waiter in arrival order, fibers and threads
// alike (a thread blocks on a futex in its waiter node, on its stack).
class Mutex {
 public:
  void lock() EXO_EXCLUDES(lock_);
  [[nodiscard]] bool try_lock() EXO_EXCLUDES(lock_);
  void unlock() EXO_EXCLUDES(lock_);

 private:
  struct Waiter {
    Fiber* fiber = nullptr;               // or a thread, which waits on |granted|
    std::atomic<uint32_t> granted{0};
    Waiter* next = nullptr;
  };
  SpinLock lock_;
  bool locked_ EXO_GUARDED_BY(lock_) = false;
  Waiter* head_ EXO_GUARDED_BY(lock_) = nullptr;
  Waiter* tail_ EXO_GUARDED_BY(lock_) = nullptr;
};

class CondVar {
 public:
  // |m| held on entry and on return.
  void wait(Mutex& m) EXO_EXCLUDES(lock_);
  void notify_one() EXO_EXCLUDES(lock_);
  void notify_all() EXO_EXCLUDES(lock_);

 private:
  SpinLock lock_;
  WaitList waiters_ EXO_GUARDED_BY(lock_);
  // Threads that are not fibers wait on this futex word instead; a signal
  // wakes one of them too whenever any waits (fiber waiters must not
  // starve a thread: spurious wake-ups are allowed, lost ones are not).
  std::atomic<uint32_t> seq_{0};
  std::atomic<uint32_t> thread_waiters_{0};
  friend class Channel;
};

// A bounded FIFO of fixed-size items, for fibers and threads alike.
class Channel {
 public:
  // 0 and *out, or -EINVAL / -ENOMEM.
  [[nodiscard]] static int create(size_t elem_size, size_t capacity, Channel** out);
  void destroy();
  // 0, or -EPIPE once closed.
  [[nodiscard]] int send(const void* item);
  // 0, or -EPIPE when closed and drained.
  [[nodiscard]] int recv(void* item);
  void close();

 private:
  Channel() = default;
  Mutex mutex_;
  CondVar not_empty_, not_full_;
  unsigned char* items_ = nullptr;
  size_t elem_size_ = 0, capacity_ = 0, head_ = 0, count_ = 0;  // guarded by mutex_
  bool closed_ = false;
};

}  // namespace exo::fiber

#endif  // EXOFIBER_SYNC_H
