// SPDX-License-Identifier: LGPL-2.1 OR GPL-2.0
#include "userspace/fibers/scheduler.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <new>

#include "module/core/slab/slab_api.h"
#include "userspace/fibers/clock.h"
#include "userspace/fibers/futex.h"
#include "userspace/lib/error.h"

namespace exo::fiber {

using exo::lib::fail;

namespace {

__thread Worker* tls_worker;

// How long an idle worker sleeps at most while another worker is busy.
constexpr int64_t kBusyRecheckNs = 10'000'000;

// A new fiber's first frame (called by exo_fiber_trampoline).
[[noreturn]] void fiber_entry(void* arg) {
  auto* f = static_cast<Fiber*>(arg);
  f->ctx.on_first_entry();
  current_worker()->finish_switch();  // what the context we came from left
  f->fn(f->arg);
  f->sched->finish(f);
  current_worker()->leave(f, Worker::Then::kExit);
  abort();  // an exited fiber is never resumed
}

}  // namespace

// Defined out of line and not inlined (see scheduler.h).
__attribute__((noinline)) Worker* current_worker() {
  Worker* w;
  // The asm makes the TLS read opaque to CSE across fiber switches.
  asm volatile("" ::: "memory");
  w = tls_worker;
  return w;
}

Fiber* current_fiber() {
  Worker* w = current_worker();
  return w ? w->current() : nullptr;
}


// --- the worker --------------------------------------------------------------

int Worker::start(bool pin) {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) return fail(-errno, "exofiber: epoll_create1");
  evfd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (evfd_ < 0) return fail(-errno, "exofiber: eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // the wake-up eventfd
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, evfd_, &ev)) return fail(-errno, "exofiber: epoll_ctl");
  if (pin) {
    cpu_set_t online;
    if (sched_getaffinity(0, sizeof(online), &online) == 0 && CPU_COUNT(&online) > 0) {
      // Worker k on the k-th CPU the process may use.
      int seen = 0;
      for (int c = 0; c < CPU_SETSIZE; ++c) {
        if (!CPU_ISSET(c, &online)) continue;
        if (seen++ == id_ % CPU_COUNT(&online)) {
          cpu_ = c;
          break;
        }
      }
    }
  }
  int err = pthread_create(&thread_, nullptr, thread_main, this);
  if (err) return fail(-err, "exofiber: pthread_create for worker %d", id_);
  started_ = true;
  return 0;
}

void Worker::join_thread() {
  if (started_) pthread_join(thread_, nullptr);
  started_ = false;
  if (epfd_ >= 0) close(epfd_);
  if (evfd_ >= 0) close(evfd_);
  epfd_ = evfd_ = -1;
  free(timers_);
  timers_ = nullptr;
}

void* Worker::thread_main(void* self) {
  auto* w = static_cast<Worker*>(self);
  if (w->cpu_ >= 0) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(w->cpu_, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);  // best effort
  }
  tls_worker = w;
  w->home_.init_thread();
  w->loop();
  tls_worker = nullptr;
  return nullptr;
}

void Worker::loop() {
  for (;;) {
    finish_switch();
    uint64_t now = Scheduler::now();
    now_ = now;
    Fiber* f = next_to_run(now);
    if (!f) f = steal(now);
    if (f) {
      start_running(f, now);
      home_.switch_to(f->ctx);
      continue;
    }
    if (sched_->stopping()) break;
    idle(now);
  }
}

void Worker::start_running(Fiber* f, uint64_t now) {
  if (f->last_worker >= 0 && f->last_worker != id_)
    stats_.migrations.inc();
  stats_.switches.inc();
  f->resumed_ns = now;
  current_ = f;
  idle_since_ = 0;
  busy_since_.store(now ? now : 1, std::memory_order_relaxed);
}

void Worker::stop_running(Fiber* f, uint64_t now) {
  if (sched_->policy() == Policy::kPredictive) {
    uint64_t run = now - f->resumed_ns;
    if (f->predictor.has_history()) {
      stats_.predictions.inc();
      if (f->predictor.record(run)) stats_.within_20pct.inc();
    } else {
      (void)f->predictor.record(run);
    }
    sched_->record_class_run(f->fn, run);
  }
  f->last_ran_ns = now;
  f->last_worker = id_;
  current_ = nullptr;
  busy_since_.store(0, std::memory_order_relaxed);
}

void Worker::leave(Fiber* self, Then then, SpinLock* unlock) {
  // The predictive policy times every run; FIFO reads the clock only for
  // timers and to stamp the queue.
  uint64_t now = Scheduler::now();
  then_ = then;
  left_ = self;
  unlock_ = unlock;
  Fiber* next = next_to_run(now);
  if (!next && then == Then::kRequeue) {
    // Nothing else wants this CPU: carry on.
    left_ = nullptr;
    return;
  }
  stop_running(self, now);
  now_ = now;
  if (next) {
    start_running(next, now);
    self->ctx.switch_to(next->ctx, then == Then::kExit);
  } else {
    self->ctx.switch_to(home_, then == Then::kExit);
  }
  // Resumed, maybe on another worker.
  current_worker()->finish_switch();
}

void Worker::finish_switch() {
  Fiber* f = left_;
  if (!f) return;
  left_ = nullptr;
  switch (then_) {
    case Then::kRequeue:
      push(f, false, now_);
      break;
    case Then::kPark:
      if (unlock_) unlock_->unlock();
      if (left_woken_) push(f, false, now_);
      break;
    case Then::kExit:
      sched_->on_exit(f);
      break;
  }
  unlock_ = nullptr;
  left_woken_ = false;
}

void Worker::wake_waiter(Fiber* f) {
  // Still on its stack: queued, another worker could steal and resume it
  // while this one runs on it (sleep_for(0), an fd ready at once).
  if (f == left_ && then_ == Then::kPark)
    left_woken_ = true;
  else
    push(f, false);
}

void Worker::push(Fiber* f, bool woken_here, uint64_t now) {
  const bool predictive = sched_->policy() == Policy::kPredictive;
  const bool mine = current_worker() == this;
  if (predictive && woken_here && mine) {
    // Readied by the fiber running here: it runs next (hot, newest first),
    // from a slot that skips the queues and their lock; the one it
    // displaces is queued. A spawn-then-join or a hand-off through a
    // channel costs no queue operation, and no wake-up: if the fiber
    // running here keeps the CPU, a thief takes it (idle workers re-check
    // within their capped sleep).
    // Thieves only ever empty the slot: an empty one is filled with a
    // plain store; a full one is swapped.
    if (!runnext_.load(std::memory_order_relaxed)) {
      runnext_.store(f, std::memory_order_release);
      return;
    }
    Fiber* displaced = runnext_.exchange(f, std::memory_order_acq_rel);
    if (!displaced) return;
    f = displaced;
  }
  // FIFO keeps no time in its queue (no aging): it skips the clock. Here,
  // the clock of this worker's last switch is recent enough for aging and
  // the hot window (both are in the 100-us to 10-ms range).
  if (predictive) {
    if (!now) now = mine ? now_ : Scheduler::now();
    f->predicted_ns = f->predictor.predicted_ns();
  }
  unsigned backlog;
  QueueKind kind;
  {
    SpinGuard guard(qlock_);
    kind = queues_.push(f, now, woken_here);
    backlog = queues_.size();
  }
  // A sleeping worker is worth waking when what was queued is stealable
  // now, when work waits behind work here, or when this worker is not the
  // pusher (it may be busy for long).
  if (kind != QueueKind::kCold && backlog <= 1 && predictive && mine) return;
  // An RMW orders the queue's update before the read, as the sleeper's
  // own RMW on |sleepers| does before it re-checks the queues (a fence
  // would do, but TSan does not model fences).
  if (sched_->sleepers.fetch_add(0)) sched_->wake_idle_worker(this);
}

Fiber* Worker::next_to_run(uint64_t now) {
  if (ntimers_ && timers_[0]->deadline_ns <= now) fire_timers(now);
  if (io_waiters_ && (++poll_tick_ & 63) == 0) poll_io(0);
  // The run-next slot, but not for ever: every kRunnextStreak-th pick
  // goes to the queues, whose aging bound then holds (two fibers handing
  // off to each other would otherwise keep the rest waiting).
  if (runnext_streak_ < kRunnextStreak && runnext_.load(std::memory_order_relaxed)) {
    if (Fiber* f = runnext_.exchange(nullptr, std::memory_order_acquire)) {
      ++runnext_streak_;
      return f;
    }
  }
  runnext_streak_ = 0;
  bool aged;
  RunNode* n;
  {
    SpinGuard guard(qlock_);
    n = queues_.pop(now, &aged);
  }
  if (n && aged) stats_.aged.inc();
  if (!n) n = runnext_.exchange(nullptr, std::memory_order_acquire);
  if (!n && io_waiters_) {
    // The queues are empty: the fds are next.
    poll_io(0);
    SpinGuard guard(qlock_);
    n = queues_.pop(now, &aged);
  }
  return static_cast<Fiber*>(n);
}

Fiber* Worker::steal_from(RunQueues::StealLevel level, uint64_t now, uint64_t waited_ns,
                          QueueKind* from) {
  SpinGuard guard(qlock_);
  return static_cast<Fiber*>(queues_.steal(level, now, waited_ns, from));
}

RunQueues::StealLevel Worker::steal_level(uint64_t now, uint64_t* waited_ns) const {
  using Level = RunQueues::StealLevel;
  const SchedulerOptions& o = sched_->options();
  // Warm work that waited this long behind a busy worker goes too.
  *waited_ns = o.steal_cold_only ? UINT64_MAX : o.steal_any_after_ns;
  if (o.steal_cold_only || !idle_since_ || now < idle_since_) return Level::kColdOnly;
  uint64_t idle = now - idle_since_;
  if (idle >= 2 * o.steal_any_after_ns) return Level::kAny;
  if (idle >= o.steal_any_after_ns) return Level::kNormalToo;
  return Level::kColdOnly;
}

Fiber* Worker::steal_runnext(uint64_t now, uint64_t waited_ns) {
  if (!can_steal_runnext(now, waited_ns)) return nullptr;
  Fiber* f = runnext_.load(std::memory_order_acquire);
  // Another thief, or the owner, may take it first.
  if (f && runnext_.compare_exchange_strong(f, nullptr, std::memory_order_acquire)) return f;
  return nullptr;
}

bool Worker::can_steal_runnext(uint64_t now, uint64_t waited_ns) const {
  uint64_t since = busy_since_.load(std::memory_order_relaxed);
  return since && now > since && now - since >= waited_ns &&
         runnext_.load(std::memory_order_relaxed) != nullptr;
}

Fiber* Worker::steal(uint64_t now) {
  unsigned n = sched_->workers();
  if (n < 2) return nullptr;
  uint64_t waited;
  RunQueues::StealLevel level = steal_level(now, &waited);
  unsigned start = static_cast<unsigned>(now >> 10) % n;  // spreads thieves
  for (unsigned i = 0; i < n; ++i) {
    Worker* victim = sched_->worker((start + i) % n);
    if (victim == this) continue;
    Fiber* f = nullptr;
    QueueKind from = QueueKind::kNone;
    if (victim->has_stealable(level, now, waited)) f = victim->steal_from(level, now, waited, &from);
    if (!f) f = victim->steal_runnext(now, waited);
    if (!f) continue;
    bool cold = from == QueueKind::kCold;
    (cold ? stats_.steals_cold : stats_.steals_other).inc();
    return f;
  }
  return nullptr;
}

bool Worker::stealable_work(uint64_t now, bool* soon) const {
  uint64_t waited;
  RunQueues::StealLevel level = steal_level(now, &waited);
  *soon = false;
  for (unsigned i = 0; i < sched_->workers(); ++i) {
    Worker* v = sched_->worker(i);
    if (v == this) continue;
    if (v->has_stealable(level, now, waited) || v->can_steal_runnext(now, waited)) return true;
    // Warm work behind a busy worker becomes stealable once it has waited.
    if (waited != UINT64_MAX && (v->has_stealable(RunQueues::StealLevel::kAny, now, 0) ||
                                 v->runnext_.load(std::memory_order_relaxed)))
      *soon = true;
  }
  return false;
}

bool Worker::wake() {
  uint32_t s = sleep_state_.exchange(kAwake);
  if (s == kSleepFutex) {
    futex(&sleep_state_, FUTEX_WAKE_PRIVATE, 1, nullptr);
  } else if (s == kSleepEpoll) {
    uint64_t one = 1;
    ssize_t rc = write(evfd_, &one, sizeof(one));
    (void)rc;  // EAGAIN: the counter is already non-zero, a wake-up is pending
  }
  return s != kAwake;
}

void Worker::idle(uint64_t now) {
  const SchedulerOptions& o = sched_->options();
  if (!idle_since_) idle_since_ = now;
  // Spin while the steal level is still rising: work that appears in the
  // meantime is taken without a sleep and a wake-up.
  if (now - idle_since_ < 2 * o.steal_any_after_ns && sched_->workers() > 1) {
    for (int i = 0; i < 64; ++i) cpu_relax();
    return;
  }
  int64_t timeout_ns = -1;
  if (ntimers_)
    timeout_ns = timers_[0]->deadline_ns > now
                     ? static_cast<int64_t>(timers_[0]->deadline_ns - now) : 0;
  if (timeout_ns == 0) return;
  sched_->sleepers.fetch_add(1);
  sleep_state_.store(io_waiters_ ? kSleepEpoll : kSleepFutex);
  // Recheck after announcing the sleep (pushers that may need a thief read
  // |sleepers| after an RMW), at the level this thief would steal at:
  // work it may not take must not keep it spinning.
  bool soon = false;
  bool work = runnable() != 0 || runnext_.load(std::memory_order_relaxed) ||
              stealable_work(now, &soon);
  // Capped sleeps: warm work elsewhere becomes stealable after a wait, and
  // a busy worker's run-next fiber or a push that raced with this sleep
  // (run-next pushes wake no one) is found within 10 ms.
  int64_t cap = soon ? static_cast<int64_t>(o.steal_any_after_ns)
                     : sched_->any_busy_worker(this) ? kBusyRecheckNs : -1;
  if (cap >= 0 && (timeout_ns < 0 || timeout_ns > cap)) timeout_ns = cap;
  if (!work && !sched_->stopping()) {
    stats_.sleeps.inc();
    if (io_waiters_) {
      int64_t ms = timeout_ns < 0 ? -1 : (timeout_ns + 999'999) / 1'000'000;
      poll_io(ms > INT_MAX ? INT_MAX : static_cast<int>(ms));
    } else {
      timespec ts = to_timespec(timeout_ns < 0 ? 0 : static_cast<uint64_t>(timeout_ns));
      futex(&sleep_state_, FUTEX_WAIT_PRIVATE, kSleepFutex, timeout_ns < 0 ? nullptr : &ts);
    }
  }
  sleep_state_.store(kAwake, std::memory_order_relaxed);
  sched_->sleepers.fetch_sub(1);
}

// --- timers and fds ----------------------------------------------------------

void Worker::heap_swap(unsigned a, unsigned b) {
  Fiber* t = timers_[a];
  timers_[a] = timers_[b];
  timers_[b] = t;
  timers_[a]->timer_index = static_cast<int32_t>(a);
  timers_[b]->timer_index = static_cast<int32_t>(b);
}

void Worker::heap_up(unsigned i) {
  while (i && timers_[(i - 1) / 2]->deadline_ns > timers_[i]->deadline_ns) {
    heap_swap(i, (i - 1) / 2);
    i = (i - 1) / 2;
  }
}

void Worker::heap_down(unsigned i) {
  for (;;) {
    unsigned l = 2 * i + 1, r = l + 1, m = i;
    if (l < ntimers_ && timers_[l]->deadline_ns < timers_[m]->deadline_ns) m = l;
    if (r < ntimers_ && timers_[r]->deadline_ns < timers_[m]->deadline_ns) m = r;
    if (m == i) return;
    heap_swap(i, m);
    i = m;
  }
}

int Worker::add_timer(Fiber* f, uint64_t deadline_ns) {
  if (ntimers_ == timers_cap_) {
    unsigned cap = timers_cap_ ? 2 * timers_cap_ : 64;
    void* grown = realloc(timers_, cap * sizeof(*timers_));
    if (!grown) return fail(-ENOMEM, "exofiber: no memory for the timer heap");
    timers_ = static_cast<Fiber**>(grown);
    timers_cap_ = cap;
  }
  f->deadline_ns = deadline_ns;
  f->timer_index = static_cast<int32_t>(ntimers_);
  timers_[ntimers_++] = f;
  heap_up(ntimers_ - 1);
  return 0;
}

void Worker::remove_timer(Fiber* f) {
  unsigned i = static_cast<unsigned>(f->timer_index);
  f->timer_index = -1;
  if (i != --ntimers_) {
    timers_[i] = timers_[ntimers_];
    timers_[i]->timer_index = static_cast<int32_t>(i);
    heap_down(i);
    heap_up(i);
  }
}

void Worker::fire_timers(uint64_t now) {
  while (ntimers_ && timers_[0]->deadline_ns <= now) {
    Fiber* f = timers_[0];
    remove_timer(f);
    if (f->io_fd >= 0) {
      drop_fd_wait(f);
      f->wait_result = -ETIMEDOUT;
    }
    wake_waiter(f);
  }
}

int Worker::add_fd_wait(Fiber* f, int fd, uint32_t events) {
  epoll_event ev{};
  ev.events = events | EPOLLONESHOT;
  ev.data.ptr = f;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev)) {
    int err = -errno;
    if (err == -EEXIST)
      return fail(-EBUSY, "exofiber_wait_fd: another fiber of this worker waits on fd %d", fd);
    return fail(err, "exofiber_wait_fd: epoll refuses fd %d", fd);
  }
  f->io_fd = fd;
  f->wait_result = 0;
  ++io_waiters_;
  return 0;
}

void Worker::drop_fd_wait(Fiber* f) {
  epoll_ctl(epfd_, EPOLL_CTL_DEL, f->io_fd, nullptr);
  f->io_fd = -1;
  --io_waiters_;
}

void Worker::poll_io(int timeout_ms) {
  epoll_event events[64];
  stats_.io_polls.inc();
  int n = epoll_wait(epfd_, events, 64, timeout_ms);
  for (int i = 0; i < n; ++i) {
    auto* f = static_cast<Fiber*>(events[i].data.ptr);
    if (!f) {  // the wake-up eventfd
      uint64_t count;
      ssize_t rc = read(evfd_, &count, sizeof(count));
      (void)rc;
      continue;
    }
    if (f->io_fd < 0) continue;  // timed out in this same round
    drop_fd_wait(f);
    if (f->timer_index >= 0) remove_timer(f);
    f->wait_result = static_cast<int>(events[i].events);
    wake_waiter(f);
  }
}

// --- the scheduler -----------------------------------------------------------

int Scheduler::create(const SchedulerOptions& options, Scheduler** out) {
  SchedulerOptions o = options;
  if (!o.workers) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    o.workers = n <= 0 ? 1 : n > kMaxWorkers ? kMaxWorkers : static_cast<unsigned>(n);
  }
  if (o.workers > kMaxWorkers)
    return fail(-EINVAL, "exo_fiber_sched_create: workers %u is more than %u", o.workers,
                kMaxWorkers);
  if (!StackPool::usable_size(o.stack_size))
    return fail(-EINVAL, "exo_fiber_sched_create: stack_size %zu is outside [%zu, %zu]",
                o.stack_size, StackPool::kMinSize, StackPool::kMaxSize);
  if (!o.queues.hot_window_ns || !o.queues.aging_bound_ns || !o.steal_any_after_ns)
    return fail(-EINVAL, "exo_fiber_sched_create: a window or bound of 0 ns");
  if (o.queues.normal_window_ns < o.queues.hot_window_ns)
    o.queues.normal_window_ns = 20 * o.queues.hot_window_ns;

  Clock::init();
  auto* s = new (std::nothrow) Scheduler();
  if (!s) return fail(-ENOMEM, "exo_fiber_sched_create: no memory");
  s->options_ = o;
  exo_slab_cache_params params{};
  params.name = "exofiber";
  params.size = sizeof(Fiber);
  params.align = alignof(Fiber) > 8 ? alignof(Fiber) : 8;
  const char* why = nullptr;
  int err = exo_slab_create(&params, &s->fibers_, &why);
  if (err) {
    delete s;
    return fail(err, "exo_fiber_sched_create: the fiber slab cache: %s", why ? why : "");
  }
  for (unsigned i = 0; i < o.workers; ++i) {
    s->workers_[i] = new (std::nothrow) Worker(s, static_cast<int32_t>(i), o.queues);
    if (!s->workers_[i]) {
      err = fail(-ENOMEM, "exo_fiber_sched_create: no memory for worker %u", i);
      break;
    }
    s->nworkers_ = i + 1;
  }
  // Every worker exists before any runs (thieves scan them all).
  for (unsigned i = 0; !err && i < s->nworkers_; ++i) err = s->workers_[i]->start(o.pin);
  if (err) {
    s->destroy();
    return err;
  }
  *out = s;
  return 0;
}

bool Scheduler::all_finished() const {
  // Finished first, then spawned: both only grow, and a fiber is counted
  // spawned before it can run, so equal sums mean that when the finished
  // ones were read, nothing was left running (and only a fiber, or a
  // thread racing destroy, could spawn another).
  uint64_t finished = 0, spawned = 0;
  for (unsigned i = 0; i < nworkers_; ++i) finished += workers_[i]->stats().finished.get();
  spawned = spawned_outside_.load();
  for (unsigned i = 0; i < nworkers_; ++i) spawned += workers_[i]->stats().spawned.get();
  return finished == spawned;
}

void Scheduler::wait_all_done() {
  // Polled (1 to 16 ms): a shared count of live fibers would cost every
  // spawn and exit a locked instruction for the sake of this one call.
  for (unsigned ms = 1; !all_finished(); ms = ms < 16 ? 2 * ms : 16) {
    timespec ts = to_timespec(ms * 1'000'000ull);
    nanosleep(&ts, nullptr);
  }
}

void Scheduler::destroy() {
  wait_all_done();
  // A thread that readied the last fiber may still be waking its worker.
  while (outside_wakers_.load()) sched_yield();
  stopping_.store(true, std::memory_order_release);
  for (unsigned i = 0; i < nworkers_; ++i) workers_[i]->wake();
  // Every thread stops before any worker goes: a worker still in its loop
  // scans the others for work to steal.
  for (unsigned i = 0; i < nworkers_; ++i) workers_[i]->join_thread();
  for (unsigned i = 0; i < nworkers_; ++i) {
    stacks_.drain(&workers_[i]->stacks_);
    delete workers_[i];
  }
  if (fibers_) {
    unsigned long leaked = exo_slab_destroy(fibers_);
    if (leaked) fprintf(stderr, "exofiber: %lu fiber control blocks leaked\n", leaked);
  }
  delete this;
}

int Scheduler::spawn(void (*fn)(void*), void* arg, size_t stack_size, Fiber** handle) {
  if (!fn) return fail(-EINVAL, "exo_fiber_spawn: fn is NULL");
  if (stopping()) return fail(-EINVAL, "exo_fiber_spawn: the scheduler is being destroyed");
  if (!stack_size) stack_size = options_.stack_size;
  if (!StackPool::usable_size(stack_size))
    return fail(-EINVAL, "exo_fiber_spawn: stack_size %zu is outside [%zu, %zu]", stack_size,
                StackPool::kMinSize, StackPool::kMaxSize);
  void* mem = exo_slab_alloc(fibers_, 0);
  if (!mem) return fail(-ENOMEM, "exo_fiber_spawn: no memory for a fiber");
  auto* f = new (mem) Fiber();
  Worker* w = current_worker();
  if (w && w->scheduler() != this) w = nullptr;
  int err = stacks_.alloc(stack_size, &f->stack, w ? &w->stacks_ : nullptr);
  if (err) {
    f->~Fiber();
    exo_slab_free(fibers_, mem);
    return fail(err, "exo_fiber_spawn: no stack of %zu bytes (%lu stacks mapped)", stack_size,
                stacks_.mapped());
  }
  f->fn = fn;
  f->arg = arg;
  f->sched = this;
  f->refs.store(handle ? 2 : 1, std::memory_order_relaxed);
  if (options_.queues.policy == Policy::kPredictive) f->predictor.seed(class_prediction(fn));
  f->ctx.init(f->stack.base, f->stack.size, fiber_entry, f);
  if (handle) *handle = f;
  if (w) {
    w->stats_.spawned.inc();
    w->push(f, true);
  } else {
    spawned_outside_.fetch_add(1, std::memory_order_relaxed);
    outside_waker_enter();
    w = workers_[next_worker_.fetch_add(1, std::memory_order_relaxed) % nworkers_];
    w->push(f, false);
    w->wake();
    outside_waker_exit();
  }
  return 0;
}

void Scheduler::finish(Fiber* f) {
  Fiber* joiner;
  bool thread_joiner;
  {
    SpinGuard guard(f->lock);
    f->done.store(1, std::memory_order_release);
    joiner = f->joiner;
    thread_joiner = f->thread_joiner;
  }
  // Counted before a joiner can look at the statistics.
  current_worker()->stats_.finished.inc();
  if (thread_joiner) futex(&f->done, FUTEX_WAKE_PRIVATE, INT_MAX, nullptr);
  // Readied before the exit's switch, the joiner is what runs next here.
  // It only drops its reference: the runtime's keeps the control block
  // until on_exit, once the fiber is off its stack.
  if (joiner) ready(joiner);
}

void Scheduler::on_exit(Fiber* f) {
  f->ctx.destroy();
  stacks_.free(f->stack, &current_worker()->stacks_);
  f->stack = Stack{};
  release(f);
}

void Scheduler::release(Fiber* f) {
  // The last reference needs no locked decrement: nobody can take another.
  if (f->refs.load(std::memory_order_acquire) != 1 &&
      f->refs.fetch_sub(1, std::memory_order_acq_rel) != 1)
    return;
  f->~Fiber();
  exo_slab_free(fibers_, f);
}

bool Scheduler::any_busy_worker(const Worker* except) const {
  for (unsigned i = 0; i < nworkers_; ++i)
    if (workers_[i] != except && workers_[i]->busy()) return true;
  return false;
}

void Scheduler::wake_idle_worker(Worker* except) {
  for (unsigned i = 0; i < nworkers_; ++i) {
    Worker* w = workers_[i];
    if (w != except && w->sleeping() && w->wake()) return;
  }
}

uint64_t Scheduler::class_prediction(void (*fn)(void*)) const {
  auto key = reinterpret_cast<uintptr_t>(fn);
  const ClassPrediction& c = classes_[(key >> 4) % kClasses];
  if (c.fn.load(std::memory_order_relaxed) != key) return 0;
  return c.scaled_ns.load(std::memory_order_relaxed) >> 4;
}

void Scheduler::record_class_run(void (*fn)(void*), uint64_t run_ns) {
  auto key = reinterpret_cast<uintptr_t>(fn);
  ClassPrediction& c = classes_[(key >> 4) % kClasses];
  // Racy read-modify-write: a lost update only slows the EMA down.
  if (c.fn.load(std::memory_order_relaxed) != key) {
    c.fn.store(key, std::memory_order_relaxed);
    c.scaled_ns.store(run_ns << 4, std::memory_order_relaxed);
    return;
  }
  auto old = static_cast<int64_t>(c.scaled_ns.load(std::memory_order_relaxed));
  int64_t next = old + ((static_cast<int64_t>(run_ns << 4) - old) >> RunPredictor::kShift);
  c.scaled_ns.store(static_cast<uint64_t>(next), std::memory_order_relaxed);
}

void Scheduler::get_stats(exo_fiber_stats* out) const {
  memset(out, 0, sizeof(*out));
  out->spawned = spawned_outside_.load(std::memory_order_relaxed);
  for (unsigned i = 0; i < nworkers_; ++i) {
    const WorkerStats& s = workers_[i]->stats();
    out->switches += s.switches.get();
    out->steals_cold += s.steals_cold.get();
    out->steals_other += s.steals_other.get();
    out->migrations += s.migrations.get();
    out->aged += s.aged.get();
    out->predictions += s.predictions.get();
    out->predictions_within_20pct += s.within_20pct.get();
    out->sleeps += s.sleeps.get();
    out->io_polls += s.io_polls.get();
    out->spawned += s.spawned.get();
    out->finished += s.finished.get();
  }
  out->stacks_mapped = stacks_.mapped();
}

// --- parking -------------------------------------------------------------------

void park() {
  Worker* w = current_worker();
  w->leave(w->current(), Worker::Then::kPark);
}

void park_unlocking(SpinLock& lock) EXO_NO_TSA {
  Worker* w = current_worker();
  w->leave(w->current(), Worker::Then::kPark, &lock);
}

void ready(Fiber* f) {
  Worker* w = current_worker();
  if (w && w->scheduler() == f->sched) {
    w->push(f, w->current() != nullptr);
    return;
  }
  Scheduler* s = f->sched;
  s->outside_waker_enter();
  w = s->worker(f->last_worker >= 0 ? static_cast<unsigned>(f->last_worker) % s->workers() : 0);
  w->push(f, false);
  w->wake();
  s->outside_waker_exit();
}

}  // namespace exo::fiber
