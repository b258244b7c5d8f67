// SPDX-License-Identifier: LGPL-2.1 OR GPL-2.0
// A thin C++ face on libexofiber (as exofusion.hpp is on libexofusion):
// owners for the scheduler and a joinable fiber, spawn of any callable,
// RAII locking and typed channels. Errors stay negative errnos.
#ifndef EXOFIBER_EXOFIBER_HPP
#define EXOFIBER_EXOFIBER_HPP

#include <errno.h>

#include <new>
#include <type_traits>
#include <utility>

#include "userspace/include/exofiber/exofiber.h"

namespace exofiber {

class Fiber {
 public:
  Fiber() = default;
  explicit Fiber(exo_fiber* f) : f_(f) {}
  Fiber(Fiber&& o) noexcept : f_(std::exchange(o.f_, nullptr)) {}
  Fiber& operator=(Fiber&& o) noexcept {
    std::swap(f_, o.f_);
    return *this;
  }
  ~Fiber() { join(); }  // a joinable fiber is always joined
  int join() { return f_ ? exo_fiber_join(std::exchange(f_, nullptr)) : 0; }
  explicit operator bool() const { return f_ != nullptr; }

 private:
  exo_fiber* f_ = nullptr;
};

class Scheduler {
 public:
  Scheduler() = default;
  Scheduler(Scheduler&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  ~Scheduler() { exo_fiber_sched_destroy(s_); }
  static int create(const exo_fiber_sched_params& params, Scheduler* out) {
    return exo_fiber_sched_create(&params, &out->s_);
  }
  // Runs fn() on a new fiber; *out (if given) joins it.
  template <typename F>
  int spawn(F&& fn, Fiber* out = nullptr, size_t stack_size = 0) {
    using Fn = std::decay_t<F>;
    Fn* closure = new (std::nothrow) Fn(std::forward<F>(fn));
    if (!closure) return -ENOMEM;
    exo_fiber* f;
    int err = exo_fiber_spawn(s_, &trampoline<Fn>, closure, stack_size, out ? &f : nullptr);
    if (err) {
      delete closure;
      return err;
    }
    if (out) *out = Fiber(f);
    return 0;
  }
  exo_fiber_stats stats() const {
    exo_fiber_stats st;
    exo_fiber_sched_get_stats(s_, &st);
    return st;
  }
  exo_fiber_sched* get() const { return s_; }

 private:
  template <typename Fn>
  static void trampoline(void* p) {
    Fn* fn = static_cast<Fn*>(p);
    (*fn)();
    delete fn;
  }
  exo_fiber_sched* s_ = nullptr;
};

class Mutex {
 public:
  Mutex() { exo_fiber_mutex_create(&m_); }
  ~Mutex() { exo_fiber_mutex_destroy(m_); }
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;
  explicit operator bool() const { return m_ != nullptr; }  // false: no memory
  void lock() { exo_fiber_mutex_lock(m_); }
  bool try_lock() { return exo_fiber_mutex_trylock(m_); }
  void unlock() { exo_fiber_mutex_unlock(m_); }
  exo_fiber_mutex* get() const { return m_; }

 private:
  exo_fiber_mutex* m_ = nullptr;
};

class CondVar {
 public:
  CondVar() { exo_fiber_cond_create(&c_); }
  ~CondVar() { exo_fiber_cond_destroy(c_); }
  CondVar(const CondVar&) = delete;
  CondVar& operator=(const CondVar&) = delete;
  explicit operator bool() const { return c_ != nullptr; }
  void wait(Mutex& m) { exo_fiber_cond_wait(c_, m.get()); }
  template <typename Pred>
  void wait(Mutex& m, Pred done) {
    while (!done()) wait(m);
  }
  void notify_one() { exo_fiber_cond_signal(c_); }
  void notify_all() { exo_fiber_cond_broadcast(c_); }

 private:
  exo_fiber_cond* c_ = nullptr;
};

// A bounded channel of trivially copyable T.
template <typename T>
class Channel {
  static_assert(std::is_trivially_copyable_v<T>, "items are copied as bytes");

 public:
  explicit Channel(size_t capacity) { exo_fiber_chan_create(sizeof(T), capacity, &ch_); }
  ~Channel() { exo_fiber_chan_destroy(ch_); }
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;
  explicit operator bool() const { return ch_ != nullptr; }
  int send(const T& item) { return exo_fiber_chan_send(ch_, &item); }
  int recv(T* item) { return exo_fiber_chan_recv(ch_, item); }
  void close() { exo_fiber_chan_close(ch_); }

 private:
  exo_fiber_chan* ch_ = nullptr;
};

inline void yield() { exo_fiber_yield(); }
inline void sleep_for_ns(uint64_t ns) { exo_fiber_sleep_ns(ns); }

}  // namespace exofiber

#endif  // EXOFIBER_EXOFIBER_HPP
