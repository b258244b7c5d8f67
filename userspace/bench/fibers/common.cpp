// fiberbench: helpers shared by every impl (see common.h).
#include "userspace/bench/fibers/common.h"

#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

namespace fiberbench {

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000 + static_cast<uint64_t>(ts.tv_nsec);
}

void die(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  fputs("fiberbench: ", stderr);
  vfprintf(stderr, fmt, args);
  fputc('\n', stderr);
  va_end(args);
  fflush(stdout);
  _exit(1);
}

void busy_ns(uint64_t ns) {
  const uint64_t end = now_ns() + ns;
  while (now_ns() < end) {
  }
}

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const double rank = q * double(v.size() - 1);
  const size_t lo = size_t(std::floor(rank));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (rank - double(lo));
}

const std::vector<int>& allowed_cpus() {
  static const std::vector<int> cpus = [] {
    std::vector<int> v;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0)
      for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set)) v.push_back(c);
    if (v.empty()) v.push_back(0);
    return v;
  }();
  return cpus;
}

void pin_thread_to(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  const int err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
  if (err) die("pthread_setaffinity_np(CPU %d): %s", cpu, strerror(err));
}

void emit(const Options& o, const char* metric, const char* unit, const std::vector<double>& per_rep,
          uint64_t ops) {
  const double median = percentile(per_rep, 0.5);
  const double p99 = percentile(per_rep, 0.99);
  // Two decimals as the other suites print, four for small figures.
  const int digits = median < 10 ? 4 : 2;
  printf("{\"suite\":\"fibers\",\"scenario\":\"%s\",\"impl\":\"%s\",\"env\":\"host\","
         "\"metric\":\"%s\",\"unit\":\"%s\",\"value\":%.*f,\"p50\":%.*f,\"p99\":%.*f,"
         "\"reps\":%zu,\"ops\":%llu}\n",
         o.scenario.c_str(), o.impl.c_str(), metric, unit, digits, median, digits, median, digits,
         p99, per_rep.size(), (unsigned long long)ops);
  fflush(stdout);
}

void timed_ns_per_op(const Options& o, const std::function<double(uint64_t)>& run, double rep_ms) {
  if (o.iters) {
    const double t = run(o.iters);
    emit(o, "ns_per_op", "ns", {t / double(o.iters)}, o.iters);
    return;
  }
  uint64_t n = 1000;
  for (;;) {
    const double t = run(n);
    if (t >= 10e6) {
      n = std::max<uint64_t>(2, uint64_t(double(n) * rep_ms * 1e6 / t)) & ~uint64_t{1};
      break;
    }
    n *= t * 16 < 10e6 ? 8 : 2;
  }
  run(n);  // warm-up at the final size
  std::vector<double> per_rep;
  for (unsigned i = 0; i < o.reps; i++) per_rep.push_back(run(n) / double(n));
  emit(o, "ns_per_op", "ns", per_rep, n);
}

// --- mixed-latency ---------------------------------------------------------------

void MixedRep::reset(uint64_t now) {
  short_lat_ns.assign(kMixedRunNs / kShortEveryNs + 64, 0);
  shorts_done = long_slices_done = longs_done = 0;
  long_max_wait_ns = 0;
  last_end_ns = 0;
  start_ns = now;
  shorts = longs = long_slices = 0;
}

void MixedRep::note_end(uint64_t t) {
  uint64_t seen = last_end_ns.load(std::memory_order_relaxed);
  while (t > seen && !last_end_ns.compare_exchange_weak(seen, t, std::memory_order_relaxed)) {
  }
}

void MixedRep::note_wait(uint64_t w) {
  uint64_t seen = long_max_wait_ns.load(std::memory_order_relaxed);
  while (w > seen && !long_max_wait_ns.compare_exchange_weak(seen, w, std::memory_order_relaxed)) {
  }
}

uint64_t MixedSchedule::due(MixedRep& rep, uint64_t now,
                            const std::function<void(uint64_t, uint32_t)>& spawn_short,
                            const std::function<void(uint32_t)>& spawn_long) {
  if (now - start >= kMixedRunNs) return 0;
  while (next_short <= now && rep.shorts < rep.short_lat_ns.size()) {
    spawn_short(rep.shorts++, 1000 + rng.next() % 9001);  // 1-10 us
    next_short += kShortEveryNs;
  }
  while (next_long <= now) {
    const uint32_t slices = 10 + rng.next() % 91;  // 1-10 ms of 100-us slices
    rep.longs++;
    rep.long_slices += slices;
    spawn_long(slices);
    next_long += kLongEveryNs;
  }
  return std::min(next_short, next_long);
}

void MixedFigures::add(MixedRep& rep) {
  if (rep.shorts_done != rep.shorts)
    die("mixed-latency: %llu of %llu short requests served", (unsigned long long)rep.shorts_done.load(),
        (unsigned long long)rep.shorts);
  if (rep.longs_done != rep.longs || rep.long_slices_done != rep.long_slices)
    die("mixed-latency: %llu of %llu long tasks finished, %llu of %llu slices run",
        (unsigned long long)rep.longs_done.load(), (unsigned long long)rep.longs,
        (unsigned long long)rep.long_slices_done.load(), (unsigned long long)rep.long_slices);
  if (rep.shorts < kMixedRunNs / kShortEveryNs / 2)
    die("mixed-latency: only %llu short requests offered in the run",
        (unsigned long long)rep.shorts);
  std::vector<double> lat;
  lat.reserve(rep.shorts);
  for (uint64_t i = 0; i < rep.shorts; i++) {
    if (!rep.short_lat_ns[i]) die("mixed-latency: short request %llu has no latency", (unsigned long long)i);
    lat.push_back(double(rep.short_lat_ns[i]) / 1e3);
  }
  p50_us.push_back(percentile(lat, 0.5));
  p99_us.push_back(percentile(lat, 0.99));
  const double secs = double(rep.last_end_ns - rep.start_ns) / 1e9;
  per_s.push_back(double(rep.shorts + rep.longs) / secs);
  long_max_wait_ms.push_back(double(rep.long_max_wait_ns) / 1e6);
}

void MixedFigures::emit_all(const Options& o) const {
  const uint64_t ops = kMixedRunNs / kShortEveryNs;
  emit(o, "short_p50_us", "us", p50_us, ops);
  emit(o, "short_p99_us", "us", p99_us, ops);
  emit(o, "per_s", "1/s", per_s, ops);
  emit(o, "long_max_wait_ms", "ms", long_max_wait_ms, ops);
}

}  // namespace fiberbench
