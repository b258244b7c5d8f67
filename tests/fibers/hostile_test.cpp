// SPDX-License-Identifier: GPL-2.0
// Fibers against what breaks them: a peer that scribbles on the ring a
// fiber is parked on, signals that interrupt every worker's sleep, a ring
// destroyed under a parked receiver, and device rings (the module's: these
// run in the VM suite, tests/vm/test_fibers_vm.py, and skip elsewhere).
#include <errno.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "tests/fibers/test_sched.h"
#include "userspace/include/exofiber/exofiber.h"

namespace {

struct Parked {
  exo_ring* ring = nullptr;
  std::atomic<int> rc{1};
  std::atomic<bool> entered{false};
  std::string got;
};

void recv_once(void* arg) {
  auto* p = static_cast<Parked*>(arg);
  exo_msg m;
  p->entered = true;
  int rc = exo_fiber_recv(p->ring, &m, 0);
  if (!rc) p->got.assign(static_cast<const char*>(m.data), m.len);
  p->rc = rc;
}

// Waits up to ~10 s for a parked fiber's call to return.
int wait_rc(const Parked& p) {
  for (int i = 0; i < 10'000 && p.rc.load() == 1; ++i) usleep(1000);
  return p.rc.load();
}

// --- a peer scribbles on the shared ring -------------------------------------------

TEST(FiberHostile, AScribbledRingReturnsEbadmsgToTheParkedFiberInsteadOfParkingForEver) {
  exo_ring_params params{};
  params.capacity = 8;
  params.mode = EXO_MODE_SPSC;
  Parked p;
  ASSERT_EQ(exo_ring_create(&params, EXO_BACKEND_MEMFD, &p.ring), 0) << exo_last_error();
  // The peer's view: the shared region, mapped on its own.
  const exo_ring_info* info = exo_ring_get_info(p.ring);
  const size_t len = info->slots_offset + size_t{info->capacity} * sizeof(exo_slot);
  void* map = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED, exo_ring_fd(p.ring), 0);
  ASSERT_NE(map, MAP_FAILED);
  auto* header = static_cast<exo_ring_header*>(map);
  auto* slots = reinterpret_cast<exo_slot*>(static_cast<char*>(map) + info->slots_offset);
  exo_fiber_sched* s = make_sched(1);
  exo_fiber* h;
  ASSERT_EQ(exo_fiber_spawn(s, recv_once, &p, 0, &h), 0);
  while (!p.entered) usleep(100);
  usleep(10'000);
  EXPECT_EQ(p.rc.load(), 1) << "returned from an empty ring";
  // The next slot's sequence a little ahead of what any producer publishes
  // for that position.
  uint64_t pos = __atomic_load_n(&header->cons.pos, __ATOMIC_ACQUIRE);
  __atomic_store_n(&slots[pos & (info->capacity - 1)].seq, static_cast<uint32_t>(pos + 3),
                   __ATOMIC_RELEASE);
  ASSERT_EQ(wait_rc(p), -EBADMSG) << "the parked receiver did not see the corruption";
  ASSERT_EQ(exo_fiber_join(h), 0);
  exo_fiber_sched_destroy(s);
  munmap(map, len);
  exo_ring_close(p.ring);
}

// --- signals interrupt every sleep ---------------------------------------------------

std::atomic<long> signals_taken{0};

void count_signal(int) { signals_taken.fetch_add(1, std::memory_order_relaxed); }

struct Relay {
  exo_fiber_chan* ch = nullptr;
  std::atomic<long> sum{0};
};

void relay_send(void* arg) {
  auto* r = static_cast<Relay*>(arg);
  for (long i = 1; i <= 3000; ++i) {
    if (i % 100 == 0) exo_fiber_sleep_ns(200'000);  // workers go to sleep
    ASSERT_EQ(exo_fiber_chan_send(r->ch, &i), 0);
  }
}

void relay_recv(void* arg) {
  auto* r = static_cast<Relay*>(arg);
  long v;
  for (int i = 0; i < 3000; ++i) {
    ASSERT_EQ(exo_fiber_chan_recv(r->ch, &v), 0);
    r->sum.fetch_add(v);
  }
}

TEST(FiberHostile, SignalsWithoutSaRestartNeitherLoseNorDuplicateWakeups) {
  struct sigaction sa {}, old {};
  sa.sa_handler = count_signal;  // no SA_RESTART: futex and epoll_wait give EINTR
  ASSERT_EQ(sigaction(SIGUSR1, &sa, &old), 0);
  exo_fiber_sched* s = make_sched(2);
  Relay r;
  ASSERT_EQ(exo_fiber_chan_create(sizeof(long), 4, &r.ch), 0);
  std::atomic<bool> stop{false};
  std::thread pest([&] {
    while (!stop) {
      kill(getpid(), SIGUSR1);  // lands on any thread, sleeping workers included
      usleep(50);
    }
  });
  std::vector<exo_fiber*> hs(4);
  for (int i = 0; i < 2; ++i) ASSERT_EQ(exo_fiber_spawn(s, relay_send, &r, 0, &hs[i]), 0);
  for (int i = 2; i < 4; ++i) ASSERT_EQ(exo_fiber_spawn(s, relay_recv, &r, 0, &hs[i]), 0);
  for (auto* h : hs) ASSERT_EQ(exo_fiber_join(h), 0);
  stop = true;
  pest.join();
  EXPECT_EQ(r.sum.load(), 2 * (3000L * 3001 / 2));
  EXPECT_GT(signals_taken.load(), 10);
  exo_fiber_chan_destroy(r.ch);
  exo_fiber_sched_destroy(s);
  sigaction(SIGUSR1, &old, nullptr);
}

// --- device rings (the module) --------------------------------------------------------

bool have_module() { return access("/dev/exofusion/control", F_OK) == 0; }

std::string ring_name(const char* what) { return "fib-" + std::to_string(getpid()) + "-" + what; }

exo_ring* device_ring(const std::string& name) {
  exo_ring_params params{};
  params.name = name.c_str();
  params.capacity = 8;
  params.mode = EXO_MODE_SPSC;
  exo_ring* r = nullptr;
  exo_ring_destroy(name.c_str());  // a leftover of an aborted run
  EXPECT_EQ(exo_ring_create(&params, EXO_BACKEND_DEVICE, &r), 0) << exo_last_error();
  return r;
}

TEST(FiberDeviceRing, RecvParksInTheWorkersEpollWhileItRunsOthers) {
  if (!have_module()) GTEST_SKIP() << "no /dev/exofusion/control (the VM suite runs this)";
  std::string name = ring_name("park");
  Parked p;
  p.ring = device_ring(name);
  ASSERT_NE(p.ring, nullptr);
  exo_fiber_sched* s = make_sched(1);
  std::atomic<long> others{0};
  std::atomic<bool> stop{false};
  struct Other {
    std::atomic<long>* others;
    std::atomic<bool>* stop;
  } o{&others, &stop};
  exo_fiber *receiver, *other;
  ASSERT_EQ(exo_fiber_spawn(s, recv_once, &p, 0, &receiver), 0);
  ASSERT_EQ(exo_fiber_spawn(s, [](void* a) {
              auto* o = static_cast<Other*>(a);
              while (!*o->stop) {
                o->others->fetch_add(1);
                exo_fiber_sleep_ns(1'000'000);
              }
            }, &o, 0, &other), 0);
  usleep(50'000);
  EXPECT_EQ(p.rc.load(), 1);
  EXPECT_GT(others.load(), 5) << "the worker did not run the other fiber";
  ASSERT_EQ(exo_send(p.ring, "through the module", 18, 0), 0);
  EXPECT_EQ(wait_rc(p), 0) << exo_last_error();
  EXPECT_EQ(p.got, "through the module");
  stop = true;
  ASSERT_EQ(exo_fiber_join(receiver), 0);
  ASSERT_EQ(exo_fiber_join(other), 0);
  exo_fiber_stats st;
  exo_fiber_sched_get_stats(s, &st);
  EXPECT_GT(st.io_polls, 0u);
  exo_fiber_sched_destroy(s);
  exo_ring_close(p.ring);
  EXPECT_EQ(exo_ring_destroy(name.c_str()), 0);
}

TEST(FiberDeviceRing, DestroyUnderAParkedReceiverWakesItWithEpipe) {
  if (!have_module()) GTEST_SKIP() << "no /dev/exofusion/control (the VM suite runs this)";
  std::string name = ring_name("destroy");
  Parked p;
  p.ring = device_ring(name);
  ASSERT_NE(p.ring, nullptr);
  exo_fiber_sched* s = make_sched(1);
  exo_fiber* h;
  ASSERT_EQ(exo_fiber_spawn(s, recv_once, &p, 0, &h), 0);
  while (!p.entered) usleep(100);
  usleep(20'000);
  ASSERT_EQ(exo_ring_destroy(name.c_str()), 0);
  EXPECT_EQ(wait_rc(p), -EPIPE) << exo_last_error();
  ASSERT_EQ(exo_fiber_join(h), 0);
  exo_fiber_sched_destroy(s);
  exo_ring_close(p.ring);
}

// Fibers of two processes on one device ring (capacity 8): the sender's
// park on a full ring (EPOLLOUT), the receiver's on an empty one.
TEST(FiberDeviceRing, TwoProcessesWithFibersStreamInOrder) {
  if (!have_module()) GTEST_SKIP() << "no /dev/exofusion/control (the VM suite runs this)";
  std::string name = ring_name("stream");
  exo_ring* ring = device_ring(name);
  ASSERT_NE(ring, nullptr);
  constexpr long kMessages = 20'000;
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    exo_ring* mine;
    if (exo_ring_open(name.c_str(), &mine)) _exit(2);
    exo_fiber_sched* s = make_sched(2);
    struct Send {
      exo_ring* ring;
      int bad;
    } snd{mine, 0};
    exo_fiber* h;
    if (exo_fiber_spawn(s, [](void* a) {
          auto* snd = static_cast<Send*>(a);
          for (long i = 0; i < kMessages; ++i) {
            char buf[32];
            int len = snprintf(buf, sizeof(buf), "m%ld", i);
            if (exo_fiber_send(snd->ring, buf, static_cast<size_t>(len), 0)) snd->bad++;
          }
        }, &snd, 0, &h))
      _exit(3);
    (void)exo_fiber_join(h);
    exo_fiber_sched_destroy(s);
    _exit(snd.bad ? 4 : 0);
  }
  exo_fiber_sched* s = make_sched(2);
  struct Recv {
    exo_ring* ring;
    long bad;
  } rcv{ring, 0};
  exo_fiber* h;
  ASSERT_EQ(exo_fiber_spawn(s, [](void* a) {
              auto* rcv = static_cast<Recv*>(a);
              for (long i = 0; i < kMessages; ++i) {
                exo_msg m;
                char want[32];
                int len = snprintf(want, sizeof(want), "m%ld", i);
                if (exo_fiber_recv(rcv->ring, &m, 0) || m.len != static_cast<uint32_t>(len) ||
                    memcmp(m.data, want, m.len))
                  rcv->bad++;
              }
            }, &rcv, 0, &h), 0);
  ASSERT_EQ(exo_fiber_join(h), 0);
  int status;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_EQ(rcv.bad, 0);
  exo_fiber_sched_destroy(s);
  exo_ring_close(ring);
  EXPECT_EQ(exo_ring_destroy(name.c_str()), 0);
}

}  // namespace
