// SPDX-License-Identifier: LGPL-2.1 OR GPL-2.0
#include "userspace/fibers/sync.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <new>

#include "userspace/fibers/futex.h"
#include "userspace/fibers/scheduler.h"
#include "userspace/lib/error.h"

namespace exo::fiber {

void join(Fiber* f) {
  Fiber* self = current_fiber();
  f->lock.lock();
  if (f->done.load(std::memory_order_acquire)) {
    f->lock.unlock();
  } else if (self) {
    f->joiner = self;
    park_unlocking(f->lock);  // finish() readies us after |done|
  } else {
    f->thread_joiner = true;
    f->lock.unlock();
    while (!f->done.load(std::memory_order_acquire)) futex(&f->done, FUTEX_WAIT_PRIVATE, 0);
  }
  f->sched->release(f);
}

void yield() {
  Worker* w = current_worker();
  if (!w || !w->current()) {
    sched_yield();
    return;
  }
  w->leave(w->current(), Worker::Then::kRequeue);
}

void sleep_for(uint64_t ns) {
  Worker* w = current_worker();
  Fiber* self = w ? w->current() : nullptr;
  uint64_t now = Scheduler::now();
  uint64_t deadline = ns > UINT64_MAX - now ? UINT64_MAX : now + ns;  // saturated
  if (!self || w->add_timer(self, deadline)) {
    // Not a fiber (or no memory for the timer): the thread sleeps.
    timespec ts = to_timespec(ns);
    while (nanosleep(&ts, &ts) && errno == EINTR) {
    }
    return;
  }
  park();
}

// --- mutex -------------------------------------------------------------------

void Mutex::lock() {
  lock_.lock();
  if (!locked_) {
    locked_ = true;
    lock_.unlock();
    return;
  }
  Waiter me;
  me.fiber = current_fiber();
  (tail_ ? tail_->next : head_) = &me;
  tail_ = &me;
  if (me.fiber) {
    park_unlocking(lock_);
    return;  // unlock() handed the mutex to us
  }
  lock_.unlock();
  while (!me.granted.load(std::memory_order_acquire)) futex(&me.granted, FUTEX_WAIT_PRIVATE, 0);
}

bool Mutex::try_lock() {
  SpinGuard guard(lock_);
  if (locked_) return false;
  locked_ = true;
  return true;
}

void Mutex::unlock() {
  Waiter* next;
  {
    SpinGuard guard(lock_);
    next = head_;
    if (next) {
      head_ = next->next;
      if (!head_) tail_ = nullptr;
    }
    // Handed over, not released: a newcomer cannot overtake the waiter.
    if (!next) locked_ = false;
  }
  if (!next) return;
  if (Fiber* f = next->fiber) {
    ready(f);  // |next| lives on f's stack: not touched after this
    return;
  }
  next->granted.store(1, std::memory_order_release);
  // The waiter may have seen |granted| and returned already: a wake on its
  // old stack address is at worst a spurious wake-up for another waiter.
  futex(&next->granted, FUTEX_WAKE_PRIVATE, 1);
}

// --- condition variable --------------------------------------------------------

void CondVar::wait(Mutex& m) {
  Fiber* self = current_fiber();
  if (!self) {
    thread_waiters_.fetch_add(1);
    uint32_t seq = seq_.load(std::memory_order_acquire);
    m.unlock();
    futex(&seq_, FUTEX_WAIT_PRIVATE, seq);
    thread_waiters_.fetch_sub(1);
    m.lock();
    return;
  }
  lock_.lock();
  waiters_.push(self);
  m.unlock();
  park_unlocking(lock_);
  m.lock();
}

void CondVar::notify_one() {
  Fiber* f;
  {
    SpinGuard guard(lock_);
    f = waiters_.pop();
  }
  seq_.fetch_add(1);
  if (thread_waiters_.load()) futex(&seq_, FUTEX_WAKE_PRIVATE, 1);
  if (f) ready(f);
}

void CondVar::notify_all() {
  WaitList all;
  {
    SpinGuard guard(lock_);
    while (Fiber* f = waiters_.pop()) all.push(f);
  }
  seq_.fetch_add(1, std::memory_order_release);
  futex(&seq_, FUTEX_WAKE_PRIVATE, INT_MAX);
  while (Fiber* f = all.pop()) ready(f);
}

// --- channel -------------------------------------------------------------------

int Channel::create(size_t elem_size, size_t capacity, Channel** out) {
  if (!elem_size || elem_size > 65536)
    return exo::lib::fail(-EINVAL, "exo_fiber_chan_create: elem_size %zu is not in [1, 65536]",
                          elem_size);
  if (!capacity || capacity > (1u << 24))
    return exo::lib::fail(-EINVAL, "exo_fiber_chan_create: capacity %zu is not in [1, 2^24]",
                          capacity);
  auto* ch = new (std::nothrow) Channel();
  if (!ch) return exo::lib::fail(-ENOMEM, "exo_fiber_chan_create: no memory");
  ch->items_ = static_cast<unsigned char*>(calloc(capacity, elem_size));
  if (!ch->items_) {
    delete ch;
    return exo::lib::fail(-ENOMEM, "exo_fiber_chan_create: no memory for %zu items", capacity);
  }
  ch->elem_size_ = elem_size;
  ch->capacity_ = capacity;
  *out = ch;
  return 0;
}

void Channel::destroy() {
  free(items_);
  delete this;
}

int Channel::send(const void* item) {
  mutex_.lock();
  while (!closed_ && count_ == capacity_) not_full_.wait(mutex_);
  if (closed_) {
    mutex_.unlock();
    return -EPIPE;
  }
  memcpy(items_ + ((head_ + count_) % capacity_) * elem_size_, item, elem_size_);
  ++count_;
  mutex_.unlock();
  not_empty_.notify_one();
  return 0;
}

int Channel::recv(void* item) {
  mutex_.lock();
  while (!closed_ && count_ == 0) not_empty_.wait(mutex_);
  if (count_ == 0) {
    mutex_.unlock();
    return -EPIPE;
  }
  memcpy(item, items_ + head_ * elem_size_, elem_size_);
  head_ = (head_ + 1) % capacity_;
  --count_;
  mutex_.unlock();
  not_full_.notify_one();
  return 0;
}

void Channel::close() {
  mutex_.lock();
  closed_ = true;
  mutex_.unlock();
  not_empty_.notify_all();
  not_full_.notify_all();
}

}  // namespace exo::fiber
