// SPDX-License-Identifier: GPL-2.0
// EXO_WAKE_ON_WAIT: a send's wake-up put off until the sender's next wait,
// where it rides on that wait's system call (EXO_RING_IOC_WAKE_WAIT). What
// must hold is that no wake-up is ever lost: request/reply streams complete
// with every message checked, and a deferred wake-up is issued by whatever
// call comes next (a wait, a send, a non-blocking receive, a flush, a
// close). Device instances run in the VM suite; memfd rings wake at once and
// must behave the same. Each peer runs in a forked child with a deadline
// (child.h), so that a lost wake-up fails the test instead of hanging it.
#include <errno.h>
#include <gtest/gtest.h>
#include <time.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "tests/lib/child.h"
#include "userspace/include/exofusion/exofusion.h"

namespace {

using exo_lib_test::Child;
using exo_lib_test::describe;
using exo_lib_test::have_module;
using exo_lib_test::kHung;

constexpr uint32_t kCapacity = 8;
constexpr int kDeadlineSeconds = 20;

std::string text(const exo_msg& m) { return std::string(static_cast<const char*>(m.data), m.len); }

// A blocking receive of exactly |want|: 0, a negative errno, or -EPROTO.
int recv_expecting(exo_ring* ring, const std::string& want) {
  exo_msg m;
  int rc = exo_recv(ring, &m, 0);
  if (rc) return rc;
  return text(m) == want ? 0 : -EPROTO;
}

class DeferredWake : public testing::TestWithParam<exo_backend> {
 protected:
  void SetUp() override {
    if (device() && !have_module())
      GTEST_SKIP() << "no /dev/exofusion/control (the VM suite runs this)";
    ASSERT_NO_FATAL_FAILURE(create(&to_pong_, "fwd"));
    ASSERT_NO_FATAL_FAILURE(create(&to_ping_, "back"));
  }
  void TearDown() override {
    for (auto& [ring, name] : rings_) {
      if (ring) exo_ring_close(ring);
      if (device()) exo_ring_destroy(name.c_str());
    }
  }

  bool device() const { return GetParam() == EXO_BACKEND_DEVICE; }

  void create(exo_ring** ring, const char* tag) {
    static int next_id = 0;
    std::string name = "dw-" + std::to_string(getpid()) + "-" + tag + std::to_string(next_id++);
    exo_ring_params params{};
    params.name = name.c_str();
    params.capacity = kCapacity;
    params.mode = EXO_MODE_SPSC;
    if (device()) exo_ring_destroy(name.c_str());  // a leftover of an aborted run
    ASSERT_EQ(exo_ring_create(&params, GetParam(), ring), 0) << exo_last_error();
    rings_.emplace_back(*ring, name);
  }
  // |ring| was closed by the test: teardown only destroys its node.
  void closed(exo_ring* ring) {
    for (auto& entry : rings_)
      if (entry.first == ring) entry.first = nullptr;
  }

  // Whether a receiver of |ring| went to sleep within the deadline.
  bool receiver_sleeps(exo_ring* ring) {
    for (int i = 0; i < kDeadlineSeconds * 1000; ++i) {
      exo_ring_stats st;
      if (exo_ring_get_stats(ring, &st) == 0 && st.sleeps > 0) return true;
      struct timespec ms = {0, 1000000};
      nanosleep(&ms, nullptr);
    }
    return false;
  }

  exo_ring* to_pong_ = nullptr;
  exo_ring* to_ping_ = nullptr;
  std::vector<std::pair<exo_ring*, std::string>> rings_;  // closed and destroyed at teardown
};

// Request, then the wait for its reply, on both sides: each wait carries
// the wake-up of the send before it. Pong's last reply is followed by no
// wait: exo_flush_wakeups() issues it.
TEST_P(DeferredWake, PingPongWithWakeOnWaitLosesNoWakeUp) {
  constexpr int kRounds = 3000;
  Child pong(
      [&] {
        for (int i = 0; i < kRounds; ++i) {
          int rc = recv_expecting(to_pong_, "ping" + std::to_string(i));
          if (rc) return rc;
          std::string reply = "pong" + std::to_string(i);
          rc = exo_send(to_ping_, reply.data(), reply.size(), EXO_WAKE_ON_WAIT);
          if (rc) return rc;
        }
        exo_flush_wakeups();
        return 0;
      },
      kDeadlineSeconds);
  Child ping(
      [&] {
        for (int i = 0; i < kRounds; ++i) {
          std::string req = "ping" + std::to_string(i);
          int rc = exo_send(to_pong_, req.data(), req.size(), EXO_WAKE_ON_WAIT);
          if (rc) return rc;
          rc = recv_expecting(to_ping_, "pong" + std::to_string(i));
          if (rc) return rc;
        }
        return 0;
      },
      kDeadlineSeconds);
  int ping_rc = kHung, pong_rc = kHung;
  ASSERT_TRUE(ping.done(kDeadlineSeconds * 1000, &ping_rc)) << "ping: a wake-up was lost";
  ASSERT_TRUE(pong.done(kDeadlineSeconds * 1000, &pong_rc)) << "pong: a wake-up was lost";
  EXPECT_EQ(ping_rc, 0) << describe(ping_rc);
  EXPECT_EQ(pong_rc, 0) << describe(pong_rc);
}

// What the sender does after a send with EXO_WAKE_ON_WAIT, instead of
// waiting on the ring it sent to.
struct NextCall {
  const char* name;
  std::function<void(exo_ring* sent_to, exo_ring* other)> run;
};

std::vector<NextCall> next_calls() {
  return {
      {"Flush", [](exo_ring*, exo_ring*) { exo_flush_wakeups(); }},
      {"SendOnAnotherRing",
       [](exo_ring*, exo_ring* other) { EXPECT_EQ(exo_send(other, "x", 1, 0), 0); }},
      {"NonblockingRecvOnAnotherRing",
       [](exo_ring*, exo_ring* other) {
         exo_msg m;
         EXPECT_EQ(exo_recv(other, &m, EXO_NONBLOCK), -EAGAIN);
       }},
      {"TimedWaitOnAnotherRing",
       [](exo_ring*, exo_ring* other) {
         EXPECT_EQ(exo_ring_wait(other, EXO_WAIT_DATA, 1000000), -ETIMEDOUT);
       }},
      {"WaitForRoomOnTheSameRing",
       [](exo_ring* sent_to, exo_ring*) {
         EXPECT_EQ(exo_ring_wait(sent_to, EXO_WAIT_SPACE, -1), 0);
       }},
      {"CloseOfTheRing", [](exo_ring* sent_to, exo_ring*) { exo_ring_close(sent_to); }},
  };
}

// A receiver already asleep gets the message whatever the sender's next
// call is: the deferred wake-up is issued by it, never lost.
TEST_P(DeferredWake, NextCallOfTheSenderIssuesTheDeferredWakeUp) {
  for (const NextCall& next : next_calls()) {
    SCOPED_TRACE(next.name);
    exo_ring* sent_to = nullptr;
    ASSERT_NO_FATAL_FAILURE(create(&sent_to, "next"));
    Child receiver([&] { return recv_expecting(sent_to, "m"); }, kDeadlineSeconds);
    ASSERT_TRUE(receiver_sleeps(sent_to)) << "the receiver never slept";
    ASSERT_EQ(exo_send(sent_to, "m", 1, EXO_WAKE_ON_WAIT), 0) << exo_last_error();
    next.run(sent_to, to_ping_);
    if (std::string(next.name) == "CloseOfTheRing") closed(sent_to);
    int rc = kHung;
    ASSERT_TRUE(receiver.done(kDeadlineSeconds * 1000, &rc)) << "the wake-up was lost";
    EXPECT_EQ(rc, 0) << describe(rc);
    exo_msg m;
    while (exo_recv(to_ping_, &m, EXO_NONBLOCK) == 0) {
    }
  }
}

std::string backend_name(const testing::TestParamInfo<exo_backend>& info) {
  return info.param == EXO_BACKEND_DEVICE ? "Device" : "Memfd";
}

INSTANTIATE_TEST_SUITE_P(Memfd, DeferredWake, testing::Values(EXO_BACKEND_MEMFD), backend_name);
// The module's rings: the VM suite runs these (--gtest_filter='Device/*').
INSTANTIATE_TEST_SUITE_P(Device, DeferredWake, testing::Values(EXO_BACKEND_DEVICE),
                         backend_name);

}  // namespace
