// SPDX-License-Identifier: LGPL-2.1 OR GPL-2.0
// How a blocked party waits before it sleeps: the policy of libexofusion's
// blocking calls and of exobench's blocking peers (userspace/bench/wake.h),
// so that the benchmark compares mechanisms, not policies. Header-only, no
// dependencies: both include it.
//
// The active wait spins with several CPUs (the peer runs elsewhere) and
// yields with one (the peer runs only if we step aside; a peer that yields
// in turn needs no wake-up). Its budget adapts to how long waits last:
//  - a wait that ends during the active phase after t raises it to 2t;
//  - one that ends asleep after t in all raises it to 2t too when t is
//    short (the peer was only slow to wake: a longer active phase would
//    have caught it), and lowers it by an eighth when t is long (the peer
//    was idle).
// Without the second rule two spinning waiters have a second stable regime:
// each one's short spin fails because the other sleeps, so both sleep on
// every message, 100x slower, and a run enters it or not by chance (three
// runs of one build measured pingpong-block at 0.5x, 1.8x and 1.6x futex).
#ifndef EXOFUSION_LIB_ADAPTIVE_WAIT_H
#define EXOFUSION_LIB_ADAPTIVE_WAIT_H

#include <sched.h>
#include <stdint.h>
#include <time.h>

namespace exo::wait {

enum class Mode : uint8_t {
  kSpin,   // pause instructions, the budget in nanoseconds
  kYield,  // sched_yield() calls, the budget in calls
  kSleep,  // no active phase
};

// The monotonic clock, in nanoseconds (tests substitute a fake one).
struct MonotonicClock {
  static uint64_t now_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
  }
};

template <class Clock>
class BasicAdaptiveWait {
 public:
  struct Limits {
    uint64_t start, min, max;
  };
  static constexpr int kPausesPerClockRead = 16;
  static constexpr Limits kSpinLimits = {10000, 1000, 100000};  // 10 us, 1 us .. 100 us
  static constexpr Limits kYieldLimits = {16, 1, 64};

  BasicAdaptiveWait() : BasicAdaptiveWait(Mode::kSpin) {}
  explicit BasicAdaptiveWait(Mode mode)
      : mode_(mode), limits_(limits(mode)), budget_(limits_.start) {}

  Mode mode() const { return mode_; }
  // The active phase's budget: nanoseconds (kSpin) or calls (kYield).
  uint64_t budget() const { return budget_; }
  // Active waits have been failing: a waiter may as well sleep at once.
  bool at_minimum() const { return budget_ <= limits_.min; }

  // Waits actively until ready() or the budget is spent; whether ready.
  // |checked|: the caller just found it false (no check before the first
  // pause or yield then).
  template <class Ready>
  bool wait_actively(Ready&& ready, bool checked = false) {
    if (!checked && ready()) return true;
    if (mode_ == Mode::kSpin) {
      // The first pauses run before the clock is read: most waits that a
      // spin ends, end there, and pay no clock read.
      for (int i = 0; i < kPausesPerClockRead; ++i) {
        pause();
        if (ready()) return true;
      }
      start_ns_ = now_ns();
      for (uint64_t spent = 0; spent < budget_; spent = now_ns() - start_ns_) {
        for (int i = 0; i < kPausesPerClockRead; ++i) {
          pause();
          if (ready()) return grew(2 * (now_ns() - start_ns_));
        }
      }
      return false;
    }
    for (uint32_t tries = 0; mode_ == Mode::kYield && tries < budget_; ++tries) {
      sched_yield();
      if (ready()) return grew(2 * tries + 2);
    }
    return false;
  }

  // The wait that wait_actively() started ended after a sleep. Only a
  // spin's budget is a time; yields are counted, so they read no clock.
  void ended_asleep() {
    uint64_t total = mode_ == Mode::kSpin ? now_ns() - start_ns_ : UINT64_MAX;
    if (total <= limits_.max) {
      grew(2 * total);
      return;
    }
    if (budget_ > limits_.min) budget_ -= (budget_ - limits_.min + 7) / 8;
  }

 private:
  static Limits limits(Mode mode) {
    switch (mode) {
      case Mode::kSpin:
        return kSpinLimits;
      case Mode::kYield:
        return kYieldLimits;
      case Mode::kSleep:
        break;
    }
    return {0, 0, 0};
  }

  bool grew(uint64_t wanted) {
    if (wanted > budget_) budget_ = wanted < limits_.max ? wanted : limits_.max;
    return true;
  }

  static uint64_t now_ns() { return Clock::now_ns(); }

  static void pause() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
  }

  Mode mode_;
  Limits limits_;
  uint64_t budget_;
  uint64_t start_ns_ = 0;
};

using AdaptiveWait = BasicAdaptiveWait<MonotonicClock>;

}  // namespace exo::wait

#endif  // EXOFUSION_LIB_ADAPTIVE_WAIT_H
