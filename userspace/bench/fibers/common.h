// fiberbench: what the C++ fiber benchmark's translation units share (the
// exofiber/fcontext/ucontext/thread side in fiberbench.cpp, boost.fiber in
// boost_fiber.cpp, built with exceptions since boost.fiber throws).
#ifndef FIBERBENCH_COMMON_H
#define FIBERBENCH_COMMON_H

#include <stdint.h>

#include <atomic>
#include <functional>
#include <string>
#include <vector>

namespace fiberbench {

// The run's options (--scenario, --impl, --reps, --iters).
struct Options {
  std::string scenario, impl;
  unsigned reps = 5;
  // Non-zero: one run of exactly this many operations (switches, spawns,
  // rounds), no warm-up and no calibration: the mode the callgrind and
  // cachegrind runs use (tests/bench/test_fibers_bench.py), which take the
  // difference of two counts to cancel what start-up costs.
  uint64_t iters = 0;
};

uint64_t now_ns();
[[noreturn]] void die(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// Spins for |ns| of wall-clock time (the requests' "work").
void busy_ns(uint64_t ns);
double percentile(std::vector<double> v, double q);  // sorts a copy
void pin_thread_to(int cpu);
// The CPUs this process may use (at least one).
const std::vector<int>& allowed_cpus();

// One JSON line in the format every suite prints (report.py load()): the
// median of |per_rep| as value and p50, its 99th percentile as p99.
void emit(const Options& o, const char* metric, const char* unit, const std::vector<double>& per_rep,
          uint64_t ops);

// Calibrates a timed benchmark of unit operations: |run(n)| performs n
// operations and returns the nanoseconds they took. Grows n until a run
// lasts ~10 ms, scales it to |rep_ms|, then runs o.reps reps and prints
// ns_per_op. With o.iters, runs once with n = o.iters.
void timed_ns_per_op(const Options& o, const std::function<double(uint64_t)>& run,
                     double rep_ms = 100);

// --- skynet ----------------------------------------------------------------
constexpr uint64_t kSkynetLeaves = 1000000;
constexpr uint64_t kSkynetSum = 499999500000ull;  // 0 + 1 + ... + 999999

// --- mixed-latency -----------------------------------------------------------
// Short requests (1-10 us of work) every kShortEveryNs, a long task (1-10 ms
// of work, in kSliceNs slices separated by a yield) every kLongEveryNs, for
// kMixedRunNs; latency of a short one from its spawn to its end.
constexpr uint64_t kShortEveryNs = 20'000;    // 50k/s: ~0.28 of a CPU
constexpr uint64_t kLongEveryNs = 8'000'000;  // 125/s of 5.5 ms: ~0.69 of a CPU
constexpr uint64_t kSliceNs = 100'000;
constexpr uint64_t kMixedRunNs = 300'000'000;

// A deterministic stream of work sizes (the same for every impl).
struct Lcg {
  uint64_t s = 0x9e3779b97f4a7c15ull;
  uint32_t next() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(s >> 33);
  }
};

// What one rep of mixed-latency measured (filled by every impl alike).
struct MixedRep {
  std::vector<uint64_t> short_lat_ns;  // per short request (0: not served)
  std::atomic<uint64_t> shorts_done{0}, long_slices_done{0}, longs_done{0};
  std::atomic<uint64_t> long_max_wait_ns{0};
  std::atomic<uint64_t> last_end_ns{0};
  uint64_t start_ns = 0;
  uint64_t shorts = 0, longs = 0, long_slices = 0;  // spawned / expected
  void reset(uint64_t now);
  void note_end(uint64_t t);
  void note_wait(uint64_t w);
};

// The generator's schedule: calls spawn_short(index, work_ns) and
// spawn_long(slices) for every arrival due by now; returns the time of the
// next arrival, or 0 once the run's kMixedRunNs are over.
struct MixedSchedule {
  Lcg rng;
  uint64_t start = 0, next_short = 0, next_long = 0;
  void begin(uint64_t now) { start = next_short = next_long = now; }
  uint64_t due(MixedRep& rep, uint64_t now, const std::function<void(uint64_t, uint32_t)>& spawn_short,
               const std::function<void(uint32_t)>& spawn_long);
};

// Checks a finished rep (every request served, every slice run) and adds
// its figures to the per-rep lists.
struct MixedFigures {
  std::vector<double> p50_us, p99_us, per_s, long_max_wait_ms;
  void add(MixedRep& rep);
  void emit_all(const Options& o) const;
};

// boost.fiber (boost_fiber.cpp). Each returns the process's exit code.
int boost_run(const Options& o);

}  // namespace fiberbench

#endif  // FIBERBENCH_COMMON_H
