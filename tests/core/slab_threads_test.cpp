// SPDX-License-Identifier: GPL-2.0
// The slab cache under concurrency (the test ThreadSanitizer checks):
// worker threads allocate, write, hand objects to each other through a
// queue and free what others allocated, singly and in bulk, while another
// thread ticks, shrinks and reads the stats. Every object carries a token
// of its allocation in all its bytes, so an object handed out twice or
// changed while held shows. At the end every object is freed, the cache
// destroys with no leak and every page is back.
#include <stdlib.h>

#include <atomic>
#include <deque>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "module/core/slab/slab_api.h"
#include "tests/core/slab_model.h"
#include "userspace/hosted/hosted.h"

namespace exo_test {
namespace {

constexpr int kWorkers = 4;
constexpr int kOpsPerWorker = 6000;
constexpr size_t kMaxHeld = 64;  // per worker, beyond which it frees

struct Held {
  void* obj;
  u64 token;
};

// Objects in flight between workers.
class Handoff {
 public:
  void push(Held h) {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(h);
  }
  bool pop(Held* h) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (queue_.empty()) return false;
    *h = queue_.front();
    queue_.pop_front();
    return true;
  }

 private:
  std::mutex mutex_;
  std::deque<Held> queue_;
};

struct Params {
  u32 size;
  u32 flags;
};

void PrintTo(const Params& p, std::ostream* os) {
  *os << p.size << "B" << (p.flags & EXO_SLAB_DEBUG ? " debug" : "");
}

class SlabThreads : public testing::TestWithParam<Params> {
 protected:
  void SetUp() override {
    pages_ = exo_hosted_pages_in_use();
    reports_ = exo_hosted_reports(nullptr, 0);
    exo_slab_cache_params params = {"threads", GetParam().size, 0, GetParam().flags, nullptr};
    const char* why = "";
    ASSERT_EQ(exo_slab_create(&params, &cache_, &why), 0) << why;
  }

  // Checks |h|'s token is intact, then frees it (or gathers it for a bulk).
  void release(const Held& h, std::vector<void*>* bulk) {
    if (slab_mismatch(h.obj, size(), h.token) >= 0) corrupt_.fetch_add(1);
    if (bulk)
      bulk->push_back(h.obj);
    else
      exo_slab_free(cache_, h.obj);
  }

  void worker(int id) {
    std::mt19937 rng(1000 + id);
    std::vector<Held> mine;
    std::vector<void*> batch;
    u64 seq = 0;
    auto token = [&] { return (u64(id) << 40) | ++seq; };
    auto take = [&](void* obj) {
      if (!obj) {
        failed_allocs_.fetch_add(1);
        return;
      }
      Held h{obj, token()};
      slab_fill(obj, size(), h.token);
      if (rng() % 2)
        mine.push_back(h);
      else
        handoff_.push(h);
    };
    for (int op = 0; op < kOpsPerWorker; ++op) {
      u32 r = rng() % 100;
      if (r < 40) {
        take(exo_slab_alloc(cache_, 0));
      } else if (r < 50) {
        u32 n = 1 + rng() % 24;
        batch.assign(n, nullptr);
        if (exo_slab_alloc_bulk(cache_, 0, n, batch.data()) != n) failed_allocs_.fetch_add(1);
        for (void* obj : batch) take(obj);
      } else if (r < 80) {
        // Someone else's object if there is one, else one of ours.
        Held h;
        if (handoff_.pop(&h)) {
          release(h, nullptr);
        } else if (!mine.empty()) {
          release(mine.back(), nullptr);
          mine.pop_back();
        }
      } else if (r < 92) {
        batch.clear();
        Held h;
        for (u32 n = rng() % 24; n && handoff_.pop(&h); --n) release(h, &batch);
        exo_slab_free_bulk(cache_, batch.size(), batch.data());
      } else if (r < 97) {
        while (mine.size() > kMaxHeld / 2) {
          release(mine.back(), nullptr);
          mine.pop_back();
        }
      } else {
        exo_slab_drain_local(cache_);
      }
      while (mine.size() > kMaxHeld) {
        release(mine.front(), nullptr);
        mine.erase(mine.begin());
      }
    }
    for (const Held& h : mine) release(h, nullptr);
  }

  // Ticks, shrinks (with pressure now and then) and reads the stats while
  // the workers run.
  void admin() {
    for (u64 i = 0; !done_.load(); ++i) {
      exo_slab_tick(cache_);
      exo_slab_shrink(cache_, i % 8 == 7);
      exo_slab_reclaimable(cache_);
      exo_slab_stats s;
      exo_slab_get_stats(cache_, &s);
      if (s.objects_in_use != s.slab_allocs - s.slab_frees) bad_stats_.fetch_add(1);
      ++admin_rounds_;
      std::this_thread::yield();
    }
  }

  void run_round() {
    done_ = false;
    std::thread admin_thread([this] { admin(); });
    std::vector<std::thread> workers;
    for (int id = 0; id < kWorkers; ++id) workers.emplace_back([this, id] { worker(id); });
    for (std::thread& t : workers) t.join();
    done_ = true;
    admin_thread.join();
  }

  u32 size() const { return GetParam().size; }

  exo_slab_cache* cache_ = nullptr;
  Handoff handoff_;
  std::atomic<u64> corrupt_{0}, failed_allocs_{0}, bad_stats_{0};
  std::atomic<bool> done_{false};
  u64 admin_rounds_ = 0;
  unsigned long pages_ = 0, reports_ = 0;
};

TEST_P(SlabThreads, ObjectsCrossThreadsWhileTheCacheTicksAndShrinks) {
  // Two rounds: the second round's threads take over CPUs (and the
  // magazines in them) that the first round's threads left.
  run_round();
  run_round();
  // What is still in flight goes back from here.
  Held h;
  while (handoff_.pop(&h)) release(h, nullptr);

  EXPECT_EQ(corrupt_.load(), 0u) << "objects changed while held";
  EXPECT_EQ(failed_allocs_.load(), 0u);
  EXPECT_EQ(bad_stats_.load(), 0u);
  EXPECT_GT(admin_rounds_, 0u);
  exo_slab_stats s;
  exo_slab_get_stats(cache_, &s);
  EXPECT_GT(s.cpu_free_hits + s.cpu_free_misses, u64{kWorkers} * kOpsPerWorker / 2);
  EXPECT_GT(s.ticks, 0u);
  EXPECT_EQ(s.debug_reports, 0u);

  // Every CPU drained (the threads are gone), then shrunk: nothing left.
  for (unsigned int cpu = 0; cpu < EXO_HOSTED_CPUS; ++cpu) exo_slab_drain_cpu(cache_, cpu);
  exo_slab_shrink(cache_, 0);
  exo_slab_get_stats(cache_, &s);
  EXPECT_EQ(s.objects_in_use, 0u);
  EXPECT_EQ(s.pages, 0u);
  EXPECT_EQ(exo_slab_destroy(cache_), 0u);
  EXPECT_EQ(exo_hosted_pages_in_use(), pages_);
  EXPECT_EQ(exo_hosted_reports(nullptr, 0), reports_);
}

// Destroy alone finds the magazines the threads left in their CPUs.
TEST_P(SlabThreads, DestroyAfterThreadsExitReturnsEveryPage) {
  run_round();
  Held h;
  while (handoff_.pop(&h)) release(h, nullptr);
  EXPECT_EQ(corrupt_.load(), 0u);
  EXPECT_EQ(exo_slab_destroy(cache_), 0u);
  EXPECT_EQ(exo_hosted_pages_in_use(), pages_);
  EXPECT_EQ(exo_hosted_reports(nullptr, 0), reports_);
}

INSTANTIATE_TEST_SUITE_P(Slab, SlabThreads,
                         testing::Values(Params{48, 0}, Params{200, EXO_SLAB_DEBUG}));

}  // namespace
}  // namespace exo_test
