// SPDX-License-Identifier: LGPL-2.1 OR GPL-2.0
// The scheduler's clock: nanoseconds from the time-stamp counter where it
// is invariant (constant rate, runs in every C-state), else CLOCK_MONOTONIC.
// Every switch of the predictive policy reads it twice (a run's start and
// end); clock_gettime costs ~22 ns here, rdtsc ~8, and run lengths, the hot
// window and the aging bound need microseconds, not a wall clock.
#ifndef EXOFIBER_CLOCK_H
#define EXOFIBER_CLOCK_H

#include <stdint.h>
#include <x86intrin.h>

#include <atomic>

namespace exo::fiber {

class Clock {
 public:
  // Calibrates once per process (about 2 ms the first time); later calls
  // return at once. Thread-safe.
  static void init();
  static uint64_t now_ns() {
    // Acquire: a thread that sees the flag sees the calibration (a plain
    // load on x86).
    if (!use_tsc_.load(std::memory_order_acquire)) return monotonic_ns();
    uint64_t ticks = __rdtsc() - tsc_base_;
    return ns_base_ + static_cast<uint64_t>((static_cast<unsigned __int128>(ticks) * mult_) >> kShift);
  }
  static uint64_t monotonic_ns();

 private:
  static constexpr unsigned kShift = 32;
  static std::atomic<bool> use_tsc_;
  // ns = ns_base_ + (ticks - tsc_base_) * mult_ >> kShift; written once,
  // before use_tsc_ is set.
  static uint64_t tsc_base_, ns_base_, mult_;
};

}  // namespace exo::fiber

#endif  // EXOFIBER_CLOCK_H
