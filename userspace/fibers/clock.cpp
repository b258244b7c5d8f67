// SPDX-License-Identifier: LGPL-2.1 OR GPL-2.0
#include "userspace/fibers/clock.h"

#include <cpuid.h>
#include <pthread.h>
#include <time.h>

namespace exo::fiber {

std::atomic<bool> Clock::use_tsc_{false};
uint64_t Clock::tsc_base_ = 0, Clock::ns_base_ = 0, Clock::mult_ = 0;

uint64_t Clock::monotonic_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(ts.tv_nsec);
}

namespace {

pthread_once_t once = PTHREAD_ONCE_INIT;

bool invariant_tsc() {
  unsigned a, b, c, d;
  if (!__get_cpuid(0x80000000, &a, &b, &c, &d) || a < 0x80000007) return false;
  __get_cpuid(0x80000007, &a, &b, &c, &d);
  return d & (1u << 8);
}

}  // namespace

void Clock::init() {
  pthread_once(&once, [] {
    if (!invariant_tsc()) return;
    // Ticks against CLOCK_MONOTONIC over ~2 ms: 0.1% is plenty for run
    // lengths and bounds of microseconds to milliseconds.
    uint64_t ns0 = monotonic_ns(), t0 = __rdtsc();
    uint64_t ns1;
    do {
      ns1 = monotonic_ns();
    } while (ns1 - ns0 < 2'000'000);
    uint64_t t1 = __rdtsc();
    if (t1 <= t0) return;
    mult_ = static_cast<uint64_t>((static_cast<unsigned __int128>(ns1 - ns0) << kShift) / (t1 - t0));
    tsc_base_ = t1;
    ns_base_ = ns1;
    use_tsc_.store(mult_ != 0, std::memory_order_release);
  });
}

}  // namespace exo::fiber
