// fiberbench: impl boost-fiber (Boost 1.74 from Debian). Compiled with
// exceptions (boost.fiber reports errors by throwing). One-thread scenarios
// use boost.fiber's default round_robin scheduler on the calling thread;
// skynet-1M and mixed-latency run work_stealing on two pinned threads (the
// calling one and one more), as exofiber's two workers. Stacks:
// fixedsize_stack of 16 KiB (malloc'ed, so thread-safe under stealing;
// 64 KiB and more would be mmap'ed by glibc on every spawn).
#include <boost/fiber/all.hpp>
#include <boost/fiber/algo/work_stealing.hpp>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "userspace/bench/fibers/common.h"

namespace fiberbench {
namespace {

namespace bf = boost::fibers;
constexpr size_t kStack = 16 * 1024;

bf::fixedsize_stack stack_alloc() { return bf::fixedsize_stack(kStack); }

// --- switch: two fibers of one thread yielding to each other --------------------------

double switch_boost(uint64_t n) {
  uint64_t count = 0;
  bf::fiber other(std::allocator_arg, stack_alloc(), [&] {
    for (uint64_t i = 0; i < n / 2; i++) {
      ++count;
      boost::this_fiber::yield();
    }
  });
  const uint64_t t0 = now_ns();
  for (uint64_t i = 0; i < n / 2; i++) boost::this_fiber::yield();
  const uint64_t t = now_ns() - t0;
  other.join();
  if (count != n / 2) die("switch boost-fiber: the other fiber ran %llu times, not %llu",
                          (unsigned long long)count, (unsigned long long)(n / 2));
  return double(t);
}

// --- spawn-join ----------------------------------------------------------------------

double spawn_join_boost(uint64_t n) {
  uint64_t ran = 0;
  const uint64_t t0 = now_ns();
  for (uint64_t i = 0; i < n; i++) {
    bf::fiber f(std::allocator_arg, stack_alloc(), [&ran] { ++ran; });
    f.join();
  }
  const uint64_t t = now_ns() - t0;
  if (ran != n) die("spawn-join boost-fiber: %llu of %llu fibers ran", (unsigned long long)ran,
                    (unsigned long long)n);
  return double(t);
}

// --- a work_stealing pool: this thread and workers-1 more, pinned --------------------

class Pool {
 public:
  explicit Pool(unsigned workers) {
    const std::vector<int>& cpus = allowed_cpus();
    for (unsigned i = 1; i < workers; i++)
      threads_.emplace_back([this, workers, cpu = cpus[i % cpus.size()]] {
        pin_thread_to(cpu);
        bf::use_scheduling_algorithm<bf::algo::work_stealing>(workers);
        std::unique_lock<bf::mutex> lk(mtx_);
        cv_.wait(lk, [this] { return done_; });
      });
    pin_thread_to(cpus[0]);
    bf::use_scheduling_algorithm<bf::algo::work_stealing>(workers);
  }
  ~Pool() {
    {
      std::unique_lock<bf::mutex> lk(mtx_);
      done_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }

 private:
  std::vector<std::thread> threads_;
  bf::mutex mtx_;
  bf::condition_variable_any cv_;
  bool done_ = false;
};

// --- skynet --------------------------------------------------------------------------

void skynet(uint64_t num, uint64_t size, uint64_t* out) {
  if (size == 1) {
    *out = num;
    return;
  }
  uint64_t sums[10];
  bf::fiber kids[10];
  const uint64_t sub = size / 10;
  for (int i = 0; i < 10; i++)
    kids[i] = bf::fiber(std::allocator_arg, stack_alloc(), skynet, num + uint64_t(i) * sub, sub, &sums[i]);
  uint64_t sum = 0;
  for (int i = 0; i < 10; i++) {
    kids[i].join();
    sum += sums[i];
  }
  *out = sum;
}

int skynet_boost(const Options& o) {
  Pool pool(2);
  std::vector<double> per_rep;
  const unsigned reps = o.iters ? 1 : o.reps;
  for (unsigned i = 0; i <= reps; i++) {  // rep 0: warm-up
    uint64_t sum = 0;
    const uint64_t t0 = now_ns();
    bf::fiber(std::allocator_arg, stack_alloc(), skynet, 0, kSkynetLeaves, &sum).join();
    const double ms = double(now_ns() - t0) / 1e6;
    if (sum != kSkynetSum) die("skynet boost-fiber: sum %llu, not %llu", (unsigned long long)sum,
                               (unsigned long long)kSkynetSum);
    if (i) per_rep.push_back(ms);
  }
  emit(o, "ms", "ms", per_rep, kSkynetLeaves);
  return 0;
}

// --- mixed-latency -------------------------------------------------------------------

int mixed_boost(const Options& o) {
  Pool pool(2);
  MixedFigures fig;
  const unsigned reps = o.iters ? 1 : o.reps;
  for (unsigned r = 0; r <= reps; r++) {  // rep 0: warm-up
    auto rep = std::make_unique<MixedRep>();
    MixedRep* m = rep.get();
    m->reset(now_ns());
    MixedSchedule sched;
    sched.begin(now_ns());
    m->start_ns = sched.start;
    for (;;) {
      const uint64_t now = now_ns();
      const uint64_t next = sched.due(
          *m, now,
          [m](uint64_t index, uint32_t work) {
            const uint64_t spawned = now_ns();
            bf::fiber(std::allocator_arg, stack_alloc(), [m, index, work, spawned] {
              busy_ns(work);
              const uint64_t end = now_ns();
              m->short_lat_ns[index] = std::max<uint64_t>(1, end - spawned);
              m->note_end(end);
              m->shorts_done.fetch_add(1, std::memory_order_relaxed);
            }).detach();
          },
          [m](uint32_t slices) {
            const uint64_t spawned = now_ns();
            bf::fiber(std::allocator_arg, stack_alloc(), [m, slices, spawned] {
              m->note_wait(now_ns() - spawned);
              for (uint32_t i = 0; i < slices; i++) {
                busy_ns(kSliceNs);
                m->long_slices_done.fetch_add(1, std::memory_order_relaxed);
                if (i + 1 == slices) break;
                const uint64_t t0 = now_ns();
                boost::this_fiber::yield();
                m->note_wait(now_ns() - t0);
              }
              m->note_end(now_ns());
              m->longs_done.fetch_add(1, std::memory_order_relaxed);
            }).detach();
          });
      if (!next) break;
      const uint64_t t = now_ns();
      if (next > t) boost::this_fiber::sleep_for(std::chrono::nanoseconds(next - t));
    }
    const uint64_t deadline = now_ns() + 30'000'000'000ull;
    while (m->shorts_done < m->shorts || m->longs_done < m->longs) {
      if (now_ns() > deadline) break;  // MixedFigures::add reports what is missing
      boost::this_fiber::sleep_for(std::chrono::microseconds(200));
    }
    if (r) fig.add(*m);
  }
  fig.emit_all(o);
  return 0;
}

}  // namespace

int boost_run(const Options& o) {
  if (o.scenario == "switch") {
    pin_thread_to(allowed_cpus()[0]);
    timed_ns_per_op(o, switch_boost);
    return 0;
  }
  if (o.scenario == "spawn-join") {
    pin_thread_to(allowed_cpus()[0]);
    timed_ns_per_op(o, spawn_join_boost);
    return 0;
  }
  if (o.scenario == "skynet-1M") return skynet_boost(o);
  if (o.scenario == "mixed-latency") return mixed_boost(o);
  die("boost-fiber does not run scenario %s", o.scenario.c_str());
}

}  // namespace fiberbench
