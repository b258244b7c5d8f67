// SPDX-License-Identifier: GPL-2.0
// Everything at once on four workers, under both policies: spawn/join
// trees whose leaves sleep (also for 0 ns), yield, wait on an fd with and
// without a timeout and take a mutex that threads take too, beside a
// channel fed and drained by fibers and threads. Every count must come out
// exact; the sanitizer builds run it as well.
#include <errno.h>
#include <gtest/gtest.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "tests/fibers/test_sched.h"
#include "userspace/include/exofiber/exofiber.h"

namespace {

#if defined(__SANITIZE_THREAD__)
constexpr int kRounds = 1;
#else
constexpr int kRounds = 4;
#endif
constexpr int kDepth = 5, kFanout = 3;  // 3^5 = 243 leaves a tree
constexpr int kTrees = 4, kItems = 2000, kThreadItems = 300, kThreadLocks = 200;

struct World {
  exo_fiber_sched* s = nullptr;
  exo_fiber_mutex* m = nullptr;
  exo_fiber_chan* ch = nullptr;
  int efd = -1;
  long counter = 0;  // under m
  std::atomic<long> received{0}, bad{0};
};

World* world;

void leaf(long k) {
  if (k % 3 == 0) exo_fiber_sleep_ns(0);
  if (k % 5 == 0) exo_fiber_yield();
  if (k % 7 == 0) {
    // An eventfd is always writable: ready at once, or a zero timeout.
    int r = exo_fiber_wait_fd(world->efd, EPOLLOUT, k % 2 ? 0 : 1000);
    if (r < 0 && r != -ETIMEDOUT && r != -EBUSY) world->bad++;
  }
  exo_fiber_mutex_lock(world->m);
  ++world->counter;
  exo_fiber_mutex_unlock(world->m);
}

void tree(void* arg) {
  long depth = reinterpret_cast<long>(arg);
  if (depth == 0) {
    static std::atomic<long> next_leaf{0};
    leaf(next_leaf.fetch_add(1));
    return;
  }
  exo_fiber* kids[kFanout];
  for (auto& k : kids)
    if (exo_fiber_spawn(world->s, tree, reinterpret_cast<void*>(depth - 1), 0, &k)) world->bad++;
  for (auto* k : kids) exo_fiber_join(k);
}

void consume(void*) {
  long v;
  while (exo_fiber_chan_recv(world->ch, &v) == 0) {
    world->received++;
    if (v % 4 == 0) exo_fiber_yield();
  }
}

void produce(void*) {
  for (long i = 0; i < kItems; ++i)
    if (exo_fiber_chan_send(world->ch, &i)) world->bad++;
}

TEST(FiberStress, TreesChannelsMutexesFdsAndThreadsCountExactly) {
  for (int round = 0; round < 2 * kRounds; ++round) {
    World w;
    world = &w;
    w.s = make_sched(4, round % 2 ? EXO_FIBER_FIFO : EXO_FIBER_PREDICTIVE);
    ASSERT_EQ(exo_fiber_mutex_create(&w.m), 0);
    ASSERT_EQ(exo_fiber_chan_create(sizeof(long), 4, &w.ch), 0);
    w.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    ASSERT_GE(w.efd, 0);
    std::vector<exo_fiber*> consumers(4), producers(4), trees(kTrees);
    for (auto& h : consumers) ASSERT_EQ(exo_fiber_spawn(w.s, consume, nullptr, 0, &h), 0);
    for (auto& h : producers) ASSERT_EQ(exo_fiber_spawn(w.s, produce, nullptr, 0, &h), 0);
    std::vector<std::thread> threads;
    for (int t = 0; t < 2; ++t)
      threads.emplace_back([] {
        for (int i = 0; i < kThreadLocks; ++i) {
          exo_fiber_mutex_lock(world->m);
          ++world->counter;
          exo_fiber_mutex_unlock(world->m);
        }
        for (long i = 0; i < kThreadItems; ++i)
          if (exo_fiber_chan_send(world->ch, &i)) world->bad++;
      });
    std::thread drain([] {
      long v;
      while (exo_fiber_chan_recv(world->ch, &v) == 0) world->received++;
    });
    for (auto& h : trees)
      ASSERT_EQ(exo_fiber_spawn(w.s, tree, reinterpret_cast<void*>(long{kDepth}), 0, &h), 0);
    for (auto* h : trees) ASSERT_EQ(exo_fiber_join(h), 0);
    for (auto* h : producers) ASSERT_EQ(exo_fiber_join(h), 0);
    for (auto& t : threads) t.join();
    exo_fiber_chan_close(w.ch);
    for (auto* h : consumers) ASSERT_EQ(exo_fiber_join(h), 0);
    drain.join();
    exo_fiber_sched_destroy(w.s);
    int leaves = 1;
    for (int d = 0; d < kDepth; ++d) leaves *= kFanout;
    EXPECT_EQ(w.counter, kTrees * leaves + 2 * kThreadLocks) << "round " << round;
    EXPECT_EQ(w.received.load(), 4L * kItems + 2L * kThreadItems) << "round " << round;
    EXPECT_EQ(w.bad.load(), 0) << "round " << round;
    exo_fiber_chan_destroy(w.ch);
    exo_fiber_mutex_destroy(w.m);
    close(w.efd);
  }
}

}  // namespace
