// SPDX-License-Identifier: LGPL-2.1 OR GPL-2.0
// The C API (exofiber.h) over the C++ runtime.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <new>

#include "userspace/fibers/io.h"
#include "userspace/fibers/scheduler.h"
#include "userspace/fibers/sync.h"
#include "userspace/include/exofiber/exofiber.h"
#include "userspace/lib/error.h"

using exo::fiber::Channel;
using exo::fiber::CondVar;
using exo::fiber::Fiber;
using exo::fiber::Mutex;
using exo::fiber::Policy;
using exo::fiber::Scheduler;
using exo::fiber::SchedulerOptions;
using exo::lib::fail;

// The C handles are the C++ objects under opaque names.
struct exo_fiber_mutex : Mutex {};
struct exo_fiber_cond : CondVar {};

namespace {
Scheduler* cxx(exo_fiber_sched* s) { return reinterpret_cast<Scheduler*>(s); }
exo_fiber_sched* c(Scheduler* s) { return reinterpret_cast<exo_fiber_sched*>(s); }
Channel* cxx(exo_fiber_chan* ch) { return reinterpret_cast<Channel*>(ch); }
}  // namespace

extern "C" {

int exo_fiber_sched_create(const struct exo_fiber_sched_params* params, exo_fiber_sched** out) {
  if (!out) return fail(-EINVAL, "exo_fiber_sched_create: out is NULL");
  SchedulerOptions o;
  if (params) {
    if (params->policy > EXO_FIBER_FIFO)
      return fail(-EINVAL, "exo_fiber_sched_create: policy %u is neither PREDICTIVE (0) nor "
                  "FIFO (1)", params->policy);
    o.workers = params->workers;
    o.pin = !params->no_pin;
    o.queues.policy = params->policy == EXO_FIBER_FIFO ? Policy::kFifo : Policy::kPredictive;
    if (params->stack_size) o.stack_size = params->stack_size;
    if (params->hot_window_ns) {
      o.queues.hot_window_ns = params->hot_window_ns;
      o.queues.normal_window_ns = 20 * params->hot_window_ns;
    }
    if (params->aging_bound_ns) o.queues.aging_bound_ns = params->aging_bound_ns;
    if (params->steal_any_after_ns) o.steal_any_after_ns = params->steal_any_after_ns;
    o.steal_cold_only = params->steal_cold_only;
  }
  Scheduler* s;
  int err = Scheduler::create(o, &s);
  if (err) return err;
  *out = c(s);
  return 0;
}

void exo_fiber_sched_destroy(exo_fiber_sched* sched) {
  if (!sched) return;
  if (exo_fiber_sched_current() == sched) {
    // It would wait for the calling fiber to finish: for ever.
    fprintf(stderr, "exo_fiber_sched_destroy: called from one of its own fibers\n");
    abort();
  }
  cxx(sched)->destroy();
}

void exo_fiber_sched_get_stats(exo_fiber_sched* sched, struct exo_fiber_stats* stats) {
  cxx(sched)->get_stats(stats);
}

exo_fiber_sched* exo_fiber_sched_current(void) {
  Fiber* f = exo::fiber::current_fiber();
  return f ? c(f->sched) : nullptr;
}

int exo_fiber_spawn(exo_fiber_sched* sched, void (*fn)(void*), void* arg, size_t stack_size,
                    exo_fiber** out) {
  if (!sched) return fail(-EINVAL, "exo_fiber_spawn: sched is NULL");
  Fiber* f;
  int err = cxx(sched)->spawn(fn, arg, stack_size, out ? &f : nullptr);
  if (!err && out) *out = reinterpret_cast<exo_fiber*>(f);
  return err;
}

int exo_fiber_join(exo_fiber* fiber) {
  if (!fiber) return fail(-EINVAL, "exo_fiber_join: fiber is NULL");
  Fiber* f = reinterpret_cast<Fiber*>(fiber);
  if (f == exo::fiber::current_fiber())
    return fail(-EDEADLK, "exo_fiber_join: a fiber cannot join itself");
  exo::fiber::join(f);
  return 0;
}

int exo_fiber_in_fiber(void) { return exo::fiber::current_fiber() != nullptr; }

int exo_fiber_yield(void) {
  exo::fiber::yield();
  return 0;
}

int exo_fiber_sleep_ns(uint64_t ns) {
  exo::fiber::sleep_for(ns);
  return 0;
}

int exo_fiber_wait_fd(int fd, uint32_t events, int64_t timeout_ns) {
  return exo::fiber::wait_fd(fd, events, timeout_ns);
}

int exo_fiber_recv(exo_ring* ring, struct exo_msg* msg, unsigned int flags) {
  return exo::fiber::ring_recv(ring, msg, flags);
}

int exo_fiber_send(exo_ring* ring, const void* data, size_t len, unsigned int flags) {
  return exo::fiber::ring_send(ring, data, len, flags);
}

int exo_fiber_mutex_create(exo_fiber_mutex** out) {
  *out = new (std::nothrow) exo_fiber_mutex();
  return *out ? 0 : fail(-ENOMEM, "exo_fiber_mutex_create: no memory");
}
void exo_fiber_mutex_destroy(exo_fiber_mutex* m) { delete m; }
void exo_fiber_mutex_lock(exo_fiber_mutex* m) { m->lock(); }
int exo_fiber_mutex_trylock(exo_fiber_mutex* m) { return m->try_lock(); }
void exo_fiber_mutex_unlock(exo_fiber_mutex* m) { m->unlock(); }

int exo_fiber_cond_create(exo_fiber_cond** out) {
  *out = new (std::nothrow) exo_fiber_cond();
  return *out ? 0 : fail(-ENOMEM, "exo_fiber_cond_create: no memory");
}
void exo_fiber_cond_destroy(exo_fiber_cond* c) { delete c; }
void exo_fiber_cond_wait(exo_fiber_cond* c, exo_fiber_mutex* m) { c->wait(*m); }
void exo_fiber_cond_signal(exo_fiber_cond* c) { c->notify_one(); }
void exo_fiber_cond_broadcast(exo_fiber_cond* c) { c->notify_all(); }

int exo_fiber_chan_create(size_t elem_size, size_t capacity, exo_fiber_chan** out) {
  Channel* ch;
  int err = Channel::create(elem_size, capacity, &ch);
  if (!err) *out = reinterpret_cast<exo_fiber_chan*>(ch);
  return err;
}
void exo_fiber_chan_destroy(exo_fiber_chan* ch) {
  if (ch) cxx(ch)->destroy();
}
int exo_fiber_chan_send(exo_fiber_chan* ch, const void* item) { return cxx(ch)->send(item); }
int exo_fiber_chan_recv(exo_fiber_chan* ch, void* item) { return cxx(ch)->recv(item); }
void exo_fiber_chan_close(exo_fiber_chan* ch) { cxx(ch)->close(); }

}  // extern "C"
