// SPDX-License-Identifier: GPL-2.0
// libexofusion's ring calls through the public C API (exofusion.h), on
// memfd and device rings in both modes: the copying calls and their fast
// paths, the slots-in-place calls (runs that never wrap, forged runs) and
// zero copy, each also against a hostile peer that maps the ring itself and
// scribbles on slots and positions. Device instances (Device/...) need the
// module: they skip elsewhere and run in the VM suite (tests/vm/test_lib_vm.py).
// Blocking calls on a corrupted ring run in a forked child with a deadline,
// so that a call that waits for ever fails its test instead of hanging the
// suite.
#include <errno.h>
#include <gtest/gtest.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "tests/lib/child.h"
#include "userspace/include/exofusion/exofusion.h"

namespace {

using exo_lib_test::Child;
using exo_lib_test::describe;
using exo_lib_test::guarded;
using exo_lib_test::have_module;
using exo_lib_test::kDied;
using exo_lib_test::kHung;

constexpr uint32_t kCapacity = 8;
constexpr uint32_t kMask = kCapacity - 1;

std::string text(const exo_msg& m) { return std::string(static_cast<const char*>(m.data), m.len); }

// A payload of |len| bytes that differ by position and by |seed|.
std::string pattern(size_t len, int seed) {
  std::string s(len, '\0');
  for (size_t i = 0; i < len; ++i) s[i] = static_cast<char>(seed * 31 + i * 7 + 1);
  return s;
}

using Param = std::tuple<exo_backend, uint32_t>;
struct Call;        // a library call as the corruption tests run it
struct Corruption;  // a peer's scribble on the shared state

// One ring of kCapacity slots per test, and a hostile peer's view of it:
// the ring's fd mapped a second time (peer_ and the helpers below).
class RingApi : public testing::TestWithParam<Param> {
 protected:
  void SetUp() override {
    if (device() && !have_module())
      GTEST_SKIP() << "no /dev/exofusion/control (the VM suite runs this)";
    ASSERT_NO_FATAL_FAILURE(create());
  }
  void TearDown() override { close_ring(); }

  bool device() const { return std::get<0>(GetParam()) == EXO_BACKEND_DEVICE; }
  bool spsc() const { return std::get<1>(GetParam()) == EXO_MODE_SPSC; }

  // A fresh ring in place of the test's; a pool of |buf_count| zero-copy
  // buffers of |buf_size| bytes if asked.
  void create(uint32_t buf_size = 0, uint32_t buf_count = 0) {
    close_ring();
    static int next_id = 0;
    name_ = "lib-" + std::to_string(getpid()) + "-" + std::to_string(next_id++);
    exo_ring_params params{};
    params.name = name_.c_str();
    params.capacity = kCapacity;
    params.mode = std::get<1>(GetParam());
    params.buf_size = buf_size;
    params.buf_count = buf_count;
    if (device()) exo_ring_destroy(name_.c_str());  // a leftover of an aborted run
    ASSERT_EQ(exo_ring_create(&params, std::get<0>(GetParam()), &ring_), 0) << exo_last_error();
    ASSERT_EQ(exo_ring_is_device(ring_) != 0, device());
    const exo_ring_info* info = exo_ring_get_info(ring_);
    map_len_ = info->region_size;
    map_ = mmap(nullptr, map_len_, PROT_READ | PROT_WRITE, MAP_SHARED, exo_ring_fd(ring_), 0);
    ASSERT_NE(map_, MAP_FAILED) << strerror(errno);
    peer_ = static_cast<exo_ring_header*>(map_);
    peer_slots_ = reinterpret_cast<exo_slot*>(static_cast<char*>(map_) + info->slots_offset);
  }

  void close_ring() {
    if (map_ != MAP_FAILED) munmap(map_, map_len_);
    map_ = MAP_FAILED;
    if (ring_) exo_ring_close(ring_);
    ring_ = nullptr;
    if (device() && !name_.empty()) {
      EXPECT_EQ(exo_ring_destroy(name_.c_str()), 0) << exo_last_error();
    }
    name_.clear();
  }

  // --- the peer's hands on the shared region ---
  exo_slot& peer_slot(uint64_t pos) { return peer_slots_[pos & kMask]; }
  uint64_t load(const __u64* word) { return __atomic_load_n(word, __ATOMIC_ACQUIRE); }
  void store(__u64* word, uint64_t v) { __atomic_store_n(word, v, __ATOMIC_RELEASE); }
  void store_seq(uint64_t pos, uint64_t seq) {
    __atomic_store_n(&peer_slot(pos).seq, static_cast<uint32_t>(seq), __ATOMIC_RELEASE);
  }
  void scribble(uint64_t pos, uint8_t type, uint16_t len) {
    __atomic_store_n(&peer_slot(pos).type, type, __ATOMIC_RELAXED);
    __atomic_store_n(&peer_slot(pos).len, len, __ATOMIC_RELAXED);
  }
  // Wakes the ring's waiters of |which| as an honest peer would after
  // moving: the futex word of a memfd ring, the module's wake of a device.
  void peer_wake(uint32_t which) {
    if (device()) {
      ASSERT_EQ(ioctl(exo_ring_fd(ring_), EXO_RING_IOC_WAKE, which), 0) << strerror(errno);
      return;
    }
    exo_ring_waiter& w = peer_->waiters[which];
    __atomic_store_n(&w.need_wakeup, 0u, __ATOMIC_RELAXED);
    __atomic_fetch_add(&w.wake_seq, 1u, __ATOMIC_RELEASE);
    syscall(SYS_futex, &w.wake_seq, FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
  }
  // Everything a refused call must leave as it was: both positions, and
  // each slot's sequence and type, flags and len.
  std::vector<uint64_t> shared_state() {
    std::vector<uint64_t> s = {load(&peer_->prod.pos), load(&peer_->cons.pos)};
    for (uint32_t i = 0; i < kCapacity; ++i) {
      const exo_slot& slot = peer_slots_[i];
      s.push_back(__atomic_load_n(&slot.seq, __ATOMIC_ACQUIRE));
      s.push_back(slot.type | slot.flags << 8 | uint64_t{slot.len} << 16);
    }
    return s;
  }

  // Puts back the positions and sequences of a shared_state().
  void restore(const std::vector<uint64_t>& state) {
    store(&peer_->prod.pos, state[0]);
    store(&peer_->cons.pos, state[1]);
    for (uint32_t i = 0; i < kCapacity; ++i) store_seq(i, state[2 + 2 * i]);
  }

  // --- the library's side ---
  void send(const std::string& s) {
    ASSERT_EQ(exo_send(ring_, s.data(), s.size(), EXO_NONBLOCK), 0) << exo_last_error();
  }
  void expect_recv(const std::string& s) {
    exo_msg m;
    ASSERT_EQ(exo_recv(ring_, &m, EXO_NONBLOCK), 0) << exo_last_error();
    EXPECT_EQ(m.type, uint32_t{EXO_MSG_INLINE});
    EXPECT_EQ(text(m), s);
  }
  // Sends and receives |n| messages: both positions move to n.
  void advance(uint32_t n) {
    for (uint32_t i = 0; i < n; ++i) {
      ASSERT_NO_FATAL_FAILURE(send("adv" + std::to_string(i)));
      ASSERT_NO_FATAL_FAILURE(expect_recv("adv" + std::to_string(i)));
    }
  }
  // Reserves up to |max| slots and sets slot i to the message tag + i.
  int reserve_filled(uint32_t max, const std::string& tag, exo_slots* run) {
    int n = exo_reserve(ring_, max, EXO_NONBLOCK, run);
    for (int i = 0; i < n; ++i) {
      std::string s = tag + std::to_string(i);
      memcpy(exo_slots_at(run, i)->data, s.data(), s.size());
      exo_slots_set(run, i, static_cast<uint16_t>(s.size()), 0);
    }
    return n;
  }
  // Slot i of a borrowed run, read in place: its inline text.
  std::string inline_text(const exo_slots& run, uint32_t i) {
    uint32_t len = 0;
    const void* data = exo_slots_inline(&run, i, &len);
    if (!data) return "<not inline>";
    return std::string(static_cast<const char*>(data), len);
  }

  void corrupt_and_call(const Corruption& c, const std::vector<Call>& calls,
                        std::vector<uint64_t>* honest);

  exo_ring* ring_ = nullptr;
  std::string name_;
  void* map_ = MAP_FAILED;
  size_t map_len_ = 0;
  exo_ring_header* peer_ = nullptr;
  exo_slot* peer_slots_ = nullptr;
};

// Runs as a caller could forge them from one the ring lent (at ring
// position |run.first|, not at the array's start).
std::vector<std::pair<std::string, exo_slots>> forgeries(const exo_slots& run) {
  std::vector<std::pair<std::string, exo_slots>> out;
  auto add = [&](const char* what, const std::function<void(exo_slots&)>& change) {
    exo_slots forged = run;
    change(forged);
    out.emplace_back(what, forged);
  };
  const uint32_t to_end = kCapacity - static_cast<uint32_t>(run.first & kMask);
  add("count 0", [](exo_slots& r) { r.count = 0; });
  add("count past the array end", [&](exo_slots& r) { r.count = to_end + 1; });
  add("count past the capacity", [](exo_slots& r) { r.count = kCapacity + 1; });
  add("count UINT32_MAX", [](exo_slots& r) { r.count = UINT32_MAX; });
  add("slots of the next position", [](exo_slots& r) { r.slots += 1; });
  add("slots of the previous position", [](exo_slots& r) { r.slots -= 1; });
  add("slots null", [](exo_slots& r) { r.slots = nullptr; });
  add("first one further", [](exo_slots& r) { r.first += 1; });
  add("first one back", [](exo_slots& r) { r.first -= 1; });
  add("first one further, count 1", [](exo_slots& r) {
    r.first += 1;
    r.count = 1;
  });
  return out;
}

// --- copying calls and their fast paths ------------------------------------------

TEST_P(RingApi, SendAndRecvRoundTripLengthsUpToInlineMaxExactly) {
  const size_t lens[] = {0, 1, 55, 56};
  // One at a time (the ring empty at each send), then all queued.
  for (size_t len : lens) {
    SCOPED_TRACE(len);
    std::string s = pattern(len, static_cast<int>(len));
    ASSERT_EQ(exo_send(ring_, s.data(), len, 0), 0) << exo_last_error();
    exo_msg m;
    memset(&m, 0xa5, sizeof(m));
    ASSERT_EQ(exo_recv(ring_, &m, 0), 0) << exo_last_error();
    EXPECT_EQ(m.type, uint32_t{EXO_MSG_INLINE});
    EXPECT_EQ(m.len, len);
    EXPECT_EQ(m.flags, 0u);
    EXPECT_EQ(m.buf, 0u);
    EXPECT_EQ(m.data, m.inline_data) << "a copying receive points at its own copy";
    EXPECT_EQ(text(m), s);
  }
  for (size_t len : lens) {
    std::string s = pattern(len, static_cast<int>(len) + 1);
    ASSERT_EQ(exo_send(ring_, s.data(), len, EXO_NONBLOCK), 0) << exo_last_error();
  }
  for (size_t len : lens) {
    SCOPED_TRACE(len);
    exo_msg m;
    ASSERT_EQ(exo_recv(ring_, &m, EXO_NONBLOCK), 0) << exo_last_error();
    EXPECT_EQ(m.len, len);
    EXPECT_EQ(text(m), pattern(len, static_cast<int>(len) + 1));
  }
  exo_msg m;
  EXPECT_EQ(exo_recv(ring_, &m, EXO_NONBLOCK), -EAGAIN);
}

TEST_P(RingApi, SendOfOneByteOverInlineMaxIsEmsgsizeAndSaysSo) {
  std::string big(EXO_INLINE_MAX + 1, 'x');
  EXPECT_EQ(exo_send(ring_, big.data(), big.size(), 0), -EMSGSIZE);
  EXPECT_NE(strstr(exo_last_error(), "57"), nullptr) << exo_last_error();
  EXPECT_EQ(exo_send(ring_, big.data(), big.size(), EXO_NONBLOCK), -EMSGSIZE);
  EXPECT_EQ(exo_send(ring_, big.data(), SIZE_MAX, EXO_NONBLOCK), -EMSGSIZE);
  // In a batch too, where nothing of the batch is sent.
  iovec v[2] = {{big.data(), 3}, {big.data(), big.size()}};
  EXPECT_EQ(exo_send_batch(ring_, v, 2, EXO_NONBLOCK), -EMSGSIZE);
  EXPECT_NE(strstr(exo_last_error(), "57"), nullptr) << exo_last_error();
  // A full ring fails the same way (the size is checked before the room).
  for (uint32_t i = 0; i < kCapacity; ++i) ASSERT_NO_FATAL_FAILURE(send("f" + std::to_string(i)));
  EXPECT_EQ(exo_send(ring_, big.data(), big.size(), EXO_NONBLOCK), -EMSGSIZE);
  for (uint32_t i = 0; i < kCapacity; ++i)
    ASSERT_NO_FATAL_FAILURE(expect_recv("f" + std::to_string(i)));
  EXPECT_EQ(load(&peer_->prod.pos), kCapacity) << "a refused message took a slot";
}

TEST_P(RingApi, NonblockingSendsOnAFullRingAreEagainAfterCapacityMessages) {
  for (uint32_t i = 0; i < kCapacity; ++i) ASSERT_NO_FATAL_FAILURE(send("m" + std::to_string(i)));
  EXPECT_EQ(exo_send(ring_, "x", 1, EXO_NONBLOCK), -EAGAIN);
  EXPECT_EQ(exo_send(ring_, "x", 1, EXO_NONBLOCK), -EAGAIN);
  exo_slots run{};
  EXPECT_EQ(exo_reserve(ring_, 1, EXO_NONBLOCK, &run), -EAGAIN);
  iovec v = {const_cast<char*>("x"), 1};
  EXPECT_EQ(exo_send_batch(ring_, &v, 1, EXO_NONBLOCK), -EAGAIN);
  // One out, one in; the order holds across the wrap.
  ASSERT_NO_FATAL_FAILURE(expect_recv("m0"));
  ASSERT_NO_FATAL_FAILURE(send("m8"));
  EXPECT_EQ(exo_send(ring_, "x", 1, EXO_NONBLOCK), -EAGAIN);
  for (uint32_t i = 1; i <= kCapacity; ++i)
    ASSERT_NO_FATAL_FAILURE(expect_recv("m" + std::to_string(i)));
  exo_ring_stats st;
  ASSERT_EQ(exo_ring_get_stats(ring_, &st), 0) << exo_last_error();
  EXPECT_GE(st.full_events, 1u);
  EXPECT_EQ(st.messages, kCapacity + 1);
}

TEST_P(RingApi, NonblockingReceivesOnAnEmptyRingAreEagain) {
  exo_msg m[kCapacity];
  exo_slots run{};
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(exo_recv(ring_, &m[0], EXO_NONBLOCK), -EAGAIN);
    EXPECT_EQ(exo_recv_batch(ring_, m, kCapacity, EXO_NONBLOCK), -EAGAIN);
    EXPECT_EQ(exo_recv_borrow(ring_, 1, EXO_NONBLOCK, &run), -EAGAIN);
    EXPECT_EQ(exo_recv_borrow(ring_, kCapacity, EXO_NONBLOCK, &run), -EAGAIN);
    ASSERT_NO_FATAL_FAILURE(advance(3));  // the same once the positions moved
  }
  exo_ring_stats st;
  ASSERT_EQ(exo_ring_get_stats(ring_, &st), 0) << exo_last_error();
  EXPECT_GE(st.empty_events, 1u);
}

TEST_P(RingApi, RecvBatchWithMaxPastCapacityReturnsAtMostCapacity) {
  advance(5);  // the batches below wrap around the array's end
  std::vector<std::string> texts;
  std::vector<iovec> v;
  for (uint32_t i = 0; i < 3 * kCapacity; ++i) texts.push_back("b" + std::to_string(i));
  for (std::string& t : texts) v.push_back({&t[0], t.size()});
  EXPECT_EQ(exo_send_batch(ring_, v.data(), 3 * kCapacity, EXO_NONBLOCK),
            static_cast<int>(kCapacity));
  std::vector<exo_msg> m(3 * kCapacity);
  ASSERT_EQ(exo_recv_batch(ring_, m.data(), 3 * kCapacity, EXO_NONBLOCK),
            static_cast<int>(kCapacity)) << exo_last_error();
  for (uint32_t i = 0; i < kCapacity; ++i) {
    EXPECT_EQ(text(m[i]), texts[i]);
    EXPECT_EQ(m[i].flags, 0u) << "the batch's end was not sent";
  }
  // Blocking, with fewer messages than max: what is there.
  ASSERT_EQ(exo_send_batch(ring_, v.data(), 3, 0), 3) << exo_last_error();
  ASSERT_EQ(exo_recv_batch(ring_, m.data(), 3 * kCapacity, 0), 3) << exo_last_error();
  EXPECT_EQ(text(m[2]), "b2");
  EXPECT_EQ(m[2].flags, uint32_t{EXO_SLOT_F_BATCH_END});
  EXPECT_EQ(m[1].flags, 0u);
}

// --- slots in place ---------------------------------------------------------------

TEST_P(RingApi, SlotsInPlaceRoundTripKeepsLenAndFlags) {
  exo_slots run{};
  ASSERT_EQ(exo_reserve(ring_, 3, EXO_NONBLOCK, &run), 3) << exo_last_error();
  EXPECT_EQ(run.first, 0u);
  EXPECT_EQ(run.count, 3u);
  std::string full = pattern(EXO_INLINE_MAX, 9);
  memcpy(exo_slots_at(&run, 1)->data, "one", 3);
  memcpy(exo_slots_at(&run, 2)->data, full.data(), full.size());
  exo_slots_set(&run, 0, 0, 0);
  exo_slots_set(&run, 1, 3, 0);
  exo_slots_set(&run, 2, EXO_INLINE_MAX, EXO_SLOT_F_BATCH_END);
  exo_slots in{};
  EXPECT_EQ(exo_recv_borrow(ring_, kCapacity, EXO_NONBLOCK, &in), -EAGAIN) << "before the commit";
  ASSERT_EQ(exo_commit(ring_, &run), 0) << exo_last_error();
  ASSERT_EQ(exo_recv_borrow(ring_, kCapacity, EXO_NONBLOCK, &in), 3) << exo_last_error();
  EXPECT_EQ(exo_slots_at(&in, 0), exo_slots_at(&run, 0)) << "lent where they were written";
  EXPECT_EQ(inline_text(in, 0), "");
  EXPECT_EQ(inline_text(in, 1), "one");
  EXPECT_EQ(inline_text(in, 2), full);
  exo_msg m;
  ASSERT_EQ(exo_slots_msg(ring_, &in, 2, &m), 0) << exo_last_error();
  EXPECT_EQ(m.type, uint32_t{EXO_MSG_INLINE});
  EXPECT_EQ(m.flags, uint32_t{EXO_SLOT_F_BATCH_END});
  EXPECT_EQ(m.data, exo_slots_at(&in, 2)->data) << "in place, not copied";
  EXPECT_EQ(text(m), full);
  ASSERT_EQ(exo_recv_release(ring_, &in), 0) << exo_last_error();
  EXPECT_EQ(exo_recv(ring_, &m, EXO_NONBLOCK), -EAGAIN);
}

TEST_P(RingApi, BorrowedSlotsAreFreeForTheProducerOnlyAfterRelease) {
  for (uint32_t i = 0; i < kCapacity; ++i) ASSERT_NO_FATAL_FAILURE(send("m" + std::to_string(i)));
  exo_slots in{}, out{};
  ASSERT_EQ(exo_recv_borrow(ring_, kCapacity, EXO_NONBLOCK, &in), static_cast<int>(kCapacity));
  EXPECT_EQ(exo_reserve(ring_, 1, EXO_NONBLOCK, &out), -EAGAIN);
  EXPECT_EQ(exo_send(ring_, "x", 1, EXO_NONBLOCK), -EAGAIN);
  EXPECT_EQ(inline_text(in, kCapacity - 1), "m7");
  ASSERT_EQ(exo_recv_release(ring_, &in), 0) << exo_last_error();
  ASSERT_EQ(exo_reserve(ring_, kCapacity, EXO_NONBLOCK, &out), static_cast<int>(kCapacity));
  EXPECT_EQ(exo_slots_at(&out, 0), exo_slots_at(&in, 0));
}

// The bug this catches: a run that wraps around the array's end, walked as
// run->slots + i, reads and writes past the array.
TEST_P(RingApi, RunsStopAtTheArrayEndAndTheNextStartsAtItsBeginning) {
  ASSERT_NO_FATAL_FAILURE(advance(kCapacity - 2));
  exo_slots tail{}, head{};
  ASSERT_EQ(reserve_filled(kCapacity, "t", &tail), 2) << exo_last_error();
  EXPECT_EQ(tail.first, kCapacity - 2);
  EXPECT_EQ(tail.count, 2u);
  ASSERT_EQ(exo_commit(ring_, &tail), 0) << exo_last_error();
  ASSERT_EQ(reserve_filled(kCapacity, "h", &head), static_cast<int>(kCapacity - 2))
      << exo_last_error();
  EXPECT_EQ(head.first, kCapacity);
  // The tail's slots are the array's last two, the head's its first ones:
  // the peer's mapping finds them there.
  EXPECT_EQ(exo_slots_at(&tail, 0), exo_slots_at(&head, 0) + (kCapacity - 2));
  EXPECT_EQ(exo_slots_at(&tail, 1), exo_slots_at(&head, 0) + (kCapacity - 1));
  EXPECT_EQ(memcmp(peer_slots_[kCapacity - 2].data, "t0", 2), 0);
  EXPECT_EQ(memcmp(peer_slots_[kCapacity - 1].data, "t1", 2), 0);
  EXPECT_EQ(memcmp(peer_slots_[0].data, "h0", 2), 0);
  EXPECT_EQ(memcmp(peer_slots_[kCapacity - 3].data, "h5", 2), 0);
  ASSERT_EQ(exo_commit(ring_, &head), 0) << exo_last_error();
  exo_slots in{};
  ASSERT_EQ(exo_recv_borrow(ring_, kCapacity, EXO_NONBLOCK, &in), 2) << exo_last_error();
  EXPECT_EQ(in.first, kCapacity - 2);
  EXPECT_EQ(exo_slots_at(&in, 0), exo_slots_at(&tail, 0));
  EXPECT_EQ(inline_text(in, 0), "t0");
  EXPECT_EQ(inline_text(in, 1), "t1");
  ASSERT_EQ(exo_recv_release(ring_, &in), 0) << exo_last_error();
  ASSERT_EQ(exo_recv_borrow(ring_, kCapacity, EXO_NONBLOCK, &in), static_cast<int>(kCapacity - 2))
      << exo_last_error();
  EXPECT_EQ(in.first, kCapacity);
  EXPECT_EQ(exo_slots_at(&in, 0), exo_slots_at(&head, 0));
  for (uint32_t i = 0; i < kCapacity - 2; ++i)
    EXPECT_EQ(inline_text(in, i), "h" + std::to_string(i));
  ASSERT_EQ(exo_recv_release(ring_, &in), 0) << exo_last_error();
  exo_msg m;
  EXPECT_EQ(exo_recv(ring_, &m, EXO_NONBLOCK), -EAGAIN);
  EXPECT_EQ(load(&peer_->cons.pos), 2 * kCapacity - 2);
}

TEST_P(RingApi, ReserveAndBorrowRefuseMaxZeroOrPastCapacity) {
  exo_slots run{};
  for (unsigned int max : {0u, kCapacity + 1, UINT_MAX}) {
    SCOPED_TRACE(max);
    EXPECT_EQ(exo_reserve(ring_, max, EXO_NONBLOCK, &run), -EINVAL);
    EXPECT_NE(strstr(exo_last_error(), "max"), nullptr) << exo_last_error();
    EXPECT_EQ(exo_recv_borrow(ring_, max, EXO_NONBLOCK, &run), -EINVAL);
    // Blocking: refused, not a wait for a run no ring can lend.
    int rc = guarded([&] { return exo_reserve(ring_, max, 0, &run); });
    EXPECT_EQ(rc, -EINVAL) << "blocking exo_reserve: " << describe(rc);
    rc = guarded([&] { return exo_recv_borrow(ring_, max, 0, &run); });
    EXPECT_EQ(rc, -EINVAL) << "blocking exo_recv_borrow: " << describe(rc);
  }
  EXPECT_EQ(load(&peer_->prod.pos), 0u);
  ASSERT_EQ(reserve_filled(kCapacity, "r", &run), static_cast<int>(kCapacity));
  ASSERT_EQ(exo_commit(ring_, &run), 0) << exo_last_error();
  ASSERT_EQ(exo_recv_borrow(ring_, kCapacity, EXO_NONBLOCK, &run), static_cast<int>(kCapacity));
  ASSERT_EQ(exo_recv_release(ring_, &run), 0) << exo_last_error();
}

// The bug this catches: publishing or releasing a run the ring did not lend
// (a sequence store past the array, or a position moved by a stranger's
// count).
TEST_P(RingApi, CommitOfAForgedRunIsEinvalAndChangesNothing) {
  ASSERT_NO_FATAL_FAILURE(advance(kCapacity - 2));
  exo_slots run{};
  ASSERT_EQ(reserve_filled(kCapacity, "c", &run), 2) << exo_last_error();
  const std::vector<uint64_t> before = shared_state();
  for (const auto& [what, forged] : forgeries(run)) {
    EXPECT_EQ(exo_commit(ring_, &forged), -EINVAL) << what;
    EXPECT_EQ(shared_state(), before) << what;
  }
  exo_msg m;
  EXPECT_EQ(exo_recv(ring_, &m, EXO_NONBLOCK), -EAGAIN) << "nothing was published";
  ASSERT_EQ(exo_commit(ring_, &run), 0) << exo_last_error();
  ASSERT_NO_FATAL_FAILURE(expect_recv("c0"));
  ASSERT_NO_FATAL_FAILURE(expect_recv("c1"));
  ASSERT_NO_FATAL_FAILURE(advance(kCapacity));
}

TEST_P(RingApi, ReleaseOfAForgedRunIsEinvalAndChangesNothing) {
  ASSERT_NO_FATAL_FAILURE(advance(kCapacity - 2));
  ASSERT_NO_FATAL_FAILURE(send("r0"));
  ASSERT_NO_FATAL_FAILURE(send("r1"));
  ASSERT_NO_FATAL_FAILURE(send("r2"));
  exo_slots run{};
  ASSERT_EQ(exo_recv_borrow(ring_, kCapacity, EXO_NONBLOCK, &run), 2) << exo_last_error();
  const std::vector<uint64_t> before = shared_state();
  for (const auto& [what, forged] : forgeries(run)) {
    EXPECT_EQ(exo_recv_release(ring_, &forged), -EINVAL) << what;
    EXPECT_EQ(shared_state(), before) << what;
  }
  ASSERT_EQ(exo_recv_release(ring_, &run), 0) << exo_last_error();
  EXPECT_EQ(load(&peer_->cons.pos), kCapacity);
  ASSERT_NO_FATAL_FAILURE(expect_recv("r2"));
  ASSERT_NO_FATAL_FAILURE(advance(kCapacity));
}

TEST_P(RingApi, SlotsMsgOfAForgedRunIsEinval) {
  ASSERT_NO_FATAL_FAILURE(advance(kCapacity - 2));
  ASSERT_NO_FATAL_FAILURE(send("s0"));
  ASSERT_NO_FATAL_FAILURE(send("s1"));
  exo_slots run{};
  ASSERT_EQ(exo_recv_borrow(ring_, kCapacity, EXO_NONBLOCK, &run), 2) << exo_last_error();
  exo_msg m;
  for (const auto& [what, forged] : forgeries(run))
    EXPECT_EQ(exo_slots_msg(ring_, &forged, 0, &m), -EINVAL) << what;
  ASSERT_EQ(exo_slots_msg(ring_, &run, 1, &m), 0) << exo_last_error();
  EXPECT_EQ(text(m), "s1");
  ASSERT_EQ(exo_recv_release(ring_, &run), 0) << exo_last_error();
}

TEST_P(RingApi, SlotsMsgPastTheRunIsEinval) {
  ASSERT_NO_FATAL_FAILURE(send("p0"));
  ASSERT_NO_FATAL_FAILURE(send("p1"));
  exo_slots run{};
  ASSERT_EQ(exo_recv_borrow(ring_, kCapacity, EXO_NONBLOCK, &run), 2) << exo_last_error();
  exo_msg m;
  for (uint32_t i : {2u, 3u, kCapacity, UINT32_MAX}) {
    EXPECT_EQ(exo_slots_msg(ring_, &run, i, &m), -EINVAL) << i;
    EXPECT_NE(strstr(exo_last_error(), "slot"), nullptr) << exo_last_error();
  }
  ASSERT_EQ(exo_slots_msg(ring_, &run, 1, &m), 0) << exo_last_error();
  EXPECT_EQ(text(m), "p1");
  ASSERT_EQ(exo_recv_release(ring_, &run), 0) << exo_last_error();
}

// The bug this catches: a run shifted by whole laps still has its slots
// pointer right (the same cell), and committing or releasing it stores
// sequences or a consumer position of another lap: a corrupted ring, made
// by a call that should have refused a run the ring did not lend.
TEST_P(RingApi, CommitOrReleaseOfARunShiftedByALapIsEinvalNotACorruptedRing) {
  ASSERT_NO_FATAL_FAILURE(advance(2));
  exo_slots run{};
  ASSERT_EQ(reserve_filled(2, "l", &run), 2) << exo_last_error();
  std::vector<uint64_t> before = shared_state();
  for (uint64_t shift : {uint64_t{kCapacity}, uint64_t{0} - kCapacity, uint64_t{4} * kCapacity}) {
    exo_slots forged = run;
    forged.first += shift;
    EXPECT_EQ(exo_commit(ring_, &forged), -EINVAL) << "first shifted by " << int64_t(shift);
    EXPECT_EQ(shared_state(), before) << "first shifted by " << int64_t(shift);
    restore(before);  // each shift on its own
  }
  ASSERT_EQ(exo_commit(ring_, &run), 0) << exo_last_error();
  exo_slots in{};
  ASSERT_EQ(exo_recv_borrow(ring_, kCapacity, EXO_NONBLOCK, &in), 2) << exo_last_error();
  before = shared_state();
  for (uint64_t shift : {uint64_t{kCapacity}, uint64_t{0} - kCapacity}) {
    exo_slots forged = in;
    forged.first += shift;
    EXPECT_EQ(exo_recv_release(ring_, &forged), -EINVAL) << "first shifted by " << int64_t(shift);
    EXPECT_EQ(shared_state(), before) << "first shifted by " << int64_t(shift);
    restore(before);
  }
  ASSERT_EQ(exo_recv_release(ring_, &in), 0) << exo_last_error();
  ASSERT_NO_FATAL_FAILURE(advance(kCapacity));
}

// The same gap in the form a caller falls into: a run given back twice (a
// stale copy kept by mistake). An MPMC commit repeated after its slots
// were consumed marks them published again: producers find those slots
// taken for ever (the ring shrinks; a blocking sender hangs).
TEST_P(RingApi, CommitOfARunTwiceIsEinvalNotALostSlot) {
  exo_slots run{};
  ASSERT_EQ(reserve_filled(2, "d", &run), 2) << exo_last_error();
  ASSERT_EQ(exo_commit(ring_, &run), 0) << exo_last_error();
  ASSERT_NO_FATAL_FAILURE(expect_recv("d0"));
  ASSERT_NO_FATAL_FAILURE(expect_recv("d1"));
  EXPECT_EQ(exo_commit(ring_, &run), -EINVAL) << "committed twice";
  int sent = 0;
  while (sent < static_cast<int>(kCapacity) && exo_send(ring_, "x", 1, EXO_NONBLOCK) == 0) ++sent;
  EXPECT_EQ(sent, static_cast<int>(kCapacity)) << "slots lost: " << exo_last_error();
}

// And released twice: an SPSC consumer's position moves back, and a
// message is delivered again.
TEST_P(RingApi, ReleaseOfARunTwiceIsEinvalNotADuplicate) {
  ASSERT_NO_FATAL_FAILURE(send("d0"));
  ASSERT_NO_FATAL_FAILURE(send("d1"));
  exo_slots in{};
  ASSERT_EQ(exo_recv_borrow(ring_, kCapacity, EXO_NONBLOCK, &in), 2) << exo_last_error();
  ASSERT_EQ(exo_recv_release(ring_, &in), 0) << exo_last_error();
  ASSERT_NO_FATAL_FAILURE(send("once"));
  ASSERT_NO_FATAL_FAILURE(expect_recv("once"));
  EXPECT_EQ(exo_recv_release(ring_, &in), -EINVAL) << "released twice";
  exo_msg m;
  int rc = exo_recv(ring_, &m, EXO_NONBLOCK);
  EXPECT_EQ(rc, -EAGAIN) << "received again: " << (rc == 0 ? text(m) : describe(rc));
}

// --- malformed slots ---------------------------------------------------------------

struct Malformed {
  const char* what;
  uint8_t type;
  uint16_t len;
};

constexpr Malformed kMalformed[] = {
    {"type 7", 7, 3},
    {"type 0", 0, 3},
    {"len 200", EXO_MSG_INLINE, 200},
    {"len 57", EXO_MSG_INLINE, EXO_INLINE_MAX + 1},
    {"len 0xffff", EXO_MSG_INLINE, 0xffff},
    {"zero copy on a ring without a pool", EXO_MSG_ZEROCOPY, 16},
};

// The bug this catches: a receive that trusts a published slot's type or
// len (a copy of len bytes past the slot, a zero-copy range read from it).
TEST_P(RingApi, MalformedPublishedSlotIsEbadmsgToEveryReaderAndTheRingGoesOn) {
  for (const Malformed& bad : kMalformed) {
    SCOPED_TRACE(bad.what);
    ASSERT_NO_FATAL_FAILURE(create());
    // Borrowed in place: positions 0..2, the middle one scribbled.
    ASSERT_NO_FATAL_FAILURE(send("a"));
    ASSERT_NO_FATAL_FAILURE(send("bad"));
    ASSERT_NO_FATAL_FAILURE(send("c"));
    scribble(1, bad.type, bad.len);
    exo_slots run{};
    ASSERT_EQ(exo_recv_borrow(ring_, kCapacity, EXO_NONBLOCK, &run), 3) << exo_last_error();
    uint32_t len = 12345;
    EXPECT_EQ(inline_text(run, 0), "a");
    EXPECT_EQ(exo_slots_inline(&run, 1, &len), nullptr);
    EXPECT_EQ(len, 12345u) << "len set for a malformed slot";
    exo_msg m;
    EXPECT_EQ(exo_slots_msg(ring_, &run, 1, &m), -EBADMSG);
    EXPECT_NE(strstr(exo_last_error(), "malformed"), nullptr) << exo_last_error();
    ASSERT_EQ(exo_slots_msg(ring_, &run, 2, &m), 0) << exo_last_error();
    EXPECT_EQ(text(m), "c");
    ASSERT_EQ(exo_recv_release(ring_, &run), 0) << exo_last_error();
    // Copied out, one at a time: positions 3..5.
    ASSERT_NO_FATAL_FAILURE(send("d"));
    ASSERT_NO_FATAL_FAILURE(send("bad"));
    ASSERT_NO_FATAL_FAILURE(send("e"));
    scribble(4, bad.type, bad.len);
    ASSERT_NO_FATAL_FAILURE(expect_recv("d"));
    EXPECT_EQ(exo_recv(ring_, &m, EXO_NONBLOCK), -EBADMSG);
    EXPECT_NE(strstr(exo_last_error(), "malformed"), nullptr) << exo_last_error();
    ASSERT_NO_FATAL_FAILURE(expect_recv("e"));
    // And blocking (the slot is there: no wait, but the same check).
    ASSERT_NO_FATAL_FAILURE(send("bad"));
    scribble(6, bad.type, bad.len);
    EXPECT_EQ(exo_recv(ring_, &m, 0), -EBADMSG);
    // In a batch, which wraps here: positions 7..9.
    ASSERT_NO_FATAL_FAILURE(send("x"));
    ASSERT_NO_FATAL_FAILURE(send("bad"));
    ASSERT_NO_FATAL_FAILURE(send("y"));
    scribble(8, bad.type, bad.len);
    exo_msg batch[kCapacity];
    EXPECT_EQ(exo_recv_batch(ring_, batch, kCapacity, EXO_NONBLOCK), -EBADMSG);
    EXPECT_EQ(text(batch[0]), "x");
    while (exo_recv(ring_, &m, EXO_NONBLOCK) == 0) {
    }
    ASSERT_NO_FATAL_FAILURE(send("z"));
    ASSERT_NO_FATAL_FAILURE(expect_recv("z"));
    ASSERT_NO_FATAL_FAILURE(advance(kCapacity));
  }
}

// The bug this catches: an SPSC consumer lends a run on the strength of
// its last slot's sequence (the one producer publishes in order); a
// producer that breaks the order gets its unpublished slots lent, and they
// must read as malformed, not crash the reader. MPMC checks every slot.
TEST_P(RingApi, OutOfOrderPublicationLendsMalformedSlotsNotACrash) {
  exo_slots run{};
  ASSERT_EQ(exo_reserve(ring_, 4, EXO_NONBLOCK, &run), 4) << exo_last_error();
  memcpy(exo_slots_at(&run, 0)->data, "p0", 2);
  exo_slots_set(&run, 0, 2, 0);
  exo_slots_at(&run, 1)->type = 0xee;
  exo_slots_at(&run, 1)->len = 3;
  exo_slots_at(&run, 2)->type = EXO_MSG_INLINE;
  exo_slots_at(&run, 2)->len = 0xffff;
  memcpy(exo_slots_at(&run, 3)->data, "p3", 2);
  exo_slots_set(&run, 3, 2, 0);
  store_seq(run.first, run.first + 1);
  store_seq(run.first + 3, run.first + 4);
  exo_slots in{};
  int n = exo_recv_borrow(ring_, 4, EXO_NONBLOCK, &in);
  if (spsc()) {
    ASSERT_TRUE(n == 1 || n == 4) << describe(n);
  } else {
    ASSERT_EQ(n, 1) << "MPMC lends the published prefix only: " << describe(n);
  }
  EXPECT_EQ(inline_text(in, 0), "p0");
  exo_msg m;
  for (int i = 1; i < n; ++i) {
    if (i == 3) {
      EXPECT_EQ(inline_text(in, 3), "p3");
      continue;
    }
    uint32_t len;
    EXPECT_EQ(exo_slots_inline(&in, i, &len), nullptr) << i;
    EXPECT_EQ(exo_slots_msg(ring_, &in, i, &m), -EBADMSG) << i;
  }
  ASSERT_EQ(exo_recv_release(ring_, &in), 0) << exo_last_error();
  // The producer puts its slots right and publishes the two it had not
  // (slot 3 it published by hand). If the consumer took them already (SPSC
  // lent all 4), they are no longer the producer's to commit.
  memcpy(exo_slots_at(&run, 1)->data, "p1", 2);
  exo_slots_set(&run, 1, 2, 0);
  memcpy(exo_slots_at(&run, 2)->data, "p2", 2);
  exo_slots_set(&run, 2, 2, 0);
  exo_slots rest = {exo_slots_at(&run, 1), run.first + 1, 2, 0};
  if (n == 4) {
    ASSERT_EQ(exo_commit(ring_, &rest), -EINVAL) << "a run the consumer passed was committed";
  } else {
    ASSERT_EQ(exo_commit(ring_, &rest), 0) << exo_last_error();
  }
  ASSERT_NO_FATAL_FAILURE(send("after"));
  if (n == 1) {
    ASSERT_NO_FATAL_FAILURE(expect_recv("p1"));
    ASSERT_NO_FATAL_FAILURE(expect_recv("p2"));
    ASSERT_NO_FATAL_FAILURE(expect_recv("p3"));
  }
  ASSERT_NO_FATAL_FAILURE(expect_recv("after"));
  EXPECT_EQ(exo_recv(ring_, &m, EXO_NONBLOCK), -EAGAIN);
}

// --- corrupted positions and sequences --------------------------------------------

// A call as a test runs it, NONBLOCK or blocking.
struct Call {
  const char* what;
  std::function<int(exo_ring*, unsigned int)> run;
};

std::vector<Call> receive_calls() {
  return {
      {"exo_recv", [](exo_ring* r, unsigned int f) {
         exo_msg m;
         return exo_recv(r, &m, f);
       }},
      {"exo_recv_borrow 1", [](exo_ring* r, unsigned int f) {
         exo_slots run;
         return exo_recv_borrow(r, 1, f, &run);
       }},
      {"exo_recv_borrow capacity", [](exo_ring* r, unsigned int f) {
         exo_slots run;
         return exo_recv_borrow(r, kCapacity, f, &run);
       }},
      {"exo_recv_batch", [](exo_ring* r, unsigned int f) {
         exo_msg m[kCapacity];
         return exo_recv_batch(r, m, kCapacity, f);
       }},
  };
}

std::vector<Call> send_calls() {
  return {
      {"exo_send 1 byte", [](exo_ring* r, unsigned int f) { return exo_send(r, "x", 1, f); }},
      {"exo_send 56 bytes", [](exo_ring* r, unsigned int f) {
         std::string s = pattern(EXO_INLINE_MAX, 3);
         return exo_send(r, s.data(), s.size(), f);
       }},
      {"exo_reserve 1", [](exo_ring* r, unsigned int f) {
         exo_slots run;
         return exo_reserve(r, 1, f, &run);
       }},
      {"exo_reserve capacity", [](exo_ring* r, unsigned int f) {
         exo_slots run;
         return exo_reserve(r, kCapacity, f, &run);
       }},
      {"exo_send_batch", [](exo_ring* r, unsigned int f) {
         iovec v[3] = {{const_cast<char*>("a"), 1}, {const_cast<char*>("b"), 1},
                       {const_cast<char*>("c"), 1}};
         return exo_send_batch(r, v, 3, f);
       }},
  };
}

struct Corruption {
  const char* what;
  // Applied by the peer to a ring holding two messages at positions 0, 1.
  std::function<void(exo_ring_header*, exo_slot*)> apply;
};

std::vector<Corruption> consumer_corruptions() {
  return {
      {"cons.pos far ahead of prod.pos", [](exo_ring_header* h, exo_slot*) {
         __atomic_store_n(&h->cons.pos, h->prod.pos + 1000, __ATOMIC_RELEASE);
       }},
      {"cons.pos more than a lap behind", [](exo_ring_header* h, exo_slot*) {
         __atomic_store_n(&h->cons.pos, h->cons.pos - 100, __ATOMIC_RELEASE);
       }},
      {"next slot's sequence ahead of its position", [](exo_ring_header* h, exo_slot* s) {
         __atomic_store_n(&s[h->cons.pos & kMask].seq, static_cast<uint32_t>(h->cons.pos + 3),
                          __ATOMIC_RELEASE);
       }},
      {"next slot's sequence more than a lap behind", [](exo_ring_header* h, exo_slot* s) {
         __atomic_store_n(&s[h->cons.pos & kMask].seq,
                          static_cast<uint32_t>(h->cons.pos - kCapacity), __ATOMIC_RELEASE);
       }},
  };
}

std::vector<Corruption> producer_corruptions() {
  return {
      {"prod.pos far more than a lap ahead of cons.pos", [](exo_ring_header* h, exo_slot*) {
         __atomic_store_n(&h->prod.pos, h->cons.pos + 100, __ATOMIC_RELEASE);
       }},
      {"prod.pos behind cons.pos", [](exo_ring_header* h, exo_slot*) {
         __atomic_store_n(&h->prod.pos, h->cons.pos - 1, __ATOMIC_RELEASE);
       }},
  };
}

// A fresh ring holding m0 and m1 (its honest shared state in |honest|),
// corrupted by |c|: each call, non-blocking and blocking (in a guarded
// child), must give EBADMSG and say the ring is corrupted.
void RingApi::corrupt_and_call(const Corruption& c, const std::vector<Call>& calls,
                               std::vector<uint64_t>* honest) {
  ASSERT_NO_FATAL_FAILURE(create());
  ASSERT_NO_FATAL_FAILURE(send("m0"));
  ASSERT_NO_FATAL_FAILURE(send("m1"));
  *honest = shared_state();
  c.apply(peer_, peer_slots_);
  for (const Call& call : calls) {
    SCOPED_TRACE(call.what);
    EXPECT_EQ(call.run(ring_, EXO_NONBLOCK), -EBADMSG);
    EXPECT_NE(strstr(exo_last_error(), "corrupted"), nullptr) << exo_last_error();
    int rc = guarded([&] { return call.run(ring_, 0); });
    EXPECT_EQ(rc, -EBADMSG) << "blocking: " << describe(rc);
  }
}

// The bug this catches: a claim that takes a corrupted ring for an empty or
// full one: EAGAIN, or a blocking call that waits for ever for a state no
// party will produce.
TEST_P(RingApi, CorruptedConsumerSideIsEbadmsgForEveryReceiveBlockingOrNot) {
  for (const Corruption& c : consumer_corruptions()) {
    SCOPED_TRACE(c.what);
    std::vector<uint64_t> honest;
    ASSERT_NO_FATAL_FAILURE(corrupt_and_call(c, receive_calls(), &honest));
    // Put right, the ring works again.
    store(&peer_->cons.pos, honest[1]);
    store_seq(0, 1);
    ASSERT_NO_FATAL_FAILURE(expect_recv("m0"));
    ASSERT_NO_FATAL_FAILURE(expect_recv("m1"));
  }
}

TEST_P(RingApi, CorruptedProducerPositionIsEbadmsgForEverySendBlockingOrNot) {
  for (const Corruption& c : producer_corruptions()) {
    SCOPED_TRACE(c.what);
    std::vector<uint64_t> honest;
    ASSERT_NO_FATAL_FAILURE(corrupt_and_call(c, send_calls(), &honest));
    store(&peer_->prod.pos, honest[0]);
    ASSERT_NO_FATAL_FAILURE(send("m2"));
    ASSERT_NO_FATAL_FAILURE(expect_recv("m0"));
    ASSERT_NO_FATAL_FAILURE(expect_recv("m1"));
    ASSERT_NO_FATAL_FAILURE(expect_recv("m2"));
  }
}

// SPSC's producer checks room against its cached copy of the consumer's
// position: that room was real, but once it is used the producer must see
// a consumer position ahead of its own as corruption, not as room. An
// MPMC producer reads sequences only: to it the ring is full.
TEST_P(RingApi, ProducerTakesAConsumerAheadOfItForCorruptionOnceItsCachedRoomIsUsed) {
  store(&peer_->cons.pos, 1000);
  int sent = 0;
  while (sent <= static_cast<int>(kCapacity) && exo_send(ring_, "x", 1, EXO_NONBLOCK) == 0) ++sent;
  EXPECT_LE(sent, static_cast<int>(kCapacity));
  if (!spsc()) {
    EXPECT_EQ(sent, static_cast<int>(kCapacity));
    EXPECT_EQ(exo_send(ring_, "x", 1, EXO_NONBLOCK), -EAGAIN);
    return;
  }
  EXPECT_EQ(exo_send(ring_, "x", 1, EXO_NONBLOCK), -EBADMSG);
  for (const Call& call : send_calls()) {
    SCOPED_TRACE(call.what);
    EXPECT_EQ(call.run(ring_, EXO_NONBLOCK), -EBADMSG);
    int rc = guarded([&] { return call.run(ring_, 0); });
    EXPECT_EQ(rc, -EBADMSG) << "blocking: " << describe(rc);
  }
}

// The guard itself: an honest empty ring makes a blocking receive wait,
// and the guard reports that as kHung instead of waiting with it.
TEST_P(RingApi, BlockingRecvOnAnEmptyRingWaitsUntilTheGuardKillsIt) {
  int rc = guarded(
      [&] {
        exo_msg m;
        return exo_recv(ring_, &m, 0);
      },
      1);
  EXPECT_EQ(rc, kHung) << describe(rc);
  ASSERT_NO_FATAL_FAILURE(advance(2));  // the killed child took nothing
}

// A receiver asleep on an empty ring, or a sender on a full one: the peer
// corrupts the ring and wakes it as a producer (consumer) would. The woken
// call must report the corruption, not go back to sleep.
TEST_P(RingApi, SleeperWokenOnACorruptedRingReturnsEbadmsg) {
  for (uint32_t which : {uint32_t{EXO_WAIT_DATA}, uint32_t{EXO_WAIT_SPACE}}) {
    SCOPED_TRACE(which == EXO_WAIT_DATA ? "receiver" : "sender");
    ASSERT_NO_FATAL_FAILURE(create());
    for (uint32_t i = 0; which == EXO_WAIT_SPACE && i < kCapacity; ++i)
      ASSERT_NO_FATAL_FAILURE(send("full"));
    Child child(
        [&] {
          exo_msg m;
          return which == EXO_WAIT_DATA ? exo_recv(ring_, &m, 0) : exo_send(ring_, "x", 1, 0);
        },
        20);
    int rc = kHung;
    ASSERT_FALSE(child.done(100, &rc)) << "returned without waiting: " << describe(rc);
    if (which == EXO_WAIT_DATA)
      store(&peer_->cons.pos, load(&peer_->prod.pos) + 1000);
    else
      store(&peer_->prod.pos, load(&peer_->cons.pos) + 100);
    // Woken again and again: the first wake may come before it sleeps.
    for (int i = 0; i < 500 && !child.done(20, &rc); ++i) ASSERT_NO_FATAL_FAILURE(peer_wake(which));
    EXPECT_EQ(rc, -EBADMSG) << describe(rc);
  }
}

// --- zero copy ---------------------------------------------------------------------

TEST_P(RingApi, ZeroCopyNeedsAPool) {
  uint32_t buf = 0;
  void* data = nullptr;
  EXPECT_EQ(exo_zc_reserve(ring_, &buf, &data, EXO_NONBLOCK), -EOPNOTSUPP);
  EXPECT_EQ(exo_zc_send(ring_, 0, 0, 1, EXO_NONBLOCK), -EINVAL);
  EXPECT_EQ(exo_zc_release(ring_, 0), -EINVAL);
}

TEST_P(RingApi, ZeroCopyMessagePointsAtItsBufferAndTheBufferComesBack) {
  ASSERT_NO_FATAL_FAILURE(create(4096, 4));
  uint32_t buf = 0;
  void* data = nullptr;
  ASSERT_EQ(exo_zc_reserve(ring_, &buf, &data, EXO_NONBLOCK), 0) << exo_last_error();
  ASSERT_LT(buf, 4u);
  const std::string payload = pattern(1000, 5);
  memcpy(static_cast<char*>(data) + 96, payload.data(), payload.size());
  ASSERT_EQ(exo_zc_send(ring_, buf, 96, static_cast<uint32_t>(payload.size()), EXO_NONBLOCK), 0)
      << exo_last_error();
  exo_msg m;
  ASSERT_EQ(exo_recv(ring_, &m, EXO_NONBLOCK), 0) << exo_last_error();
  EXPECT_EQ(m.type, uint32_t{EXO_MSG_ZEROCOPY});
  EXPECT_EQ(m.buf, buf);
  EXPECT_EQ(m.len, payload.size());
  EXPECT_EQ(m.data, static_cast<char*>(data) + 96) << "in the pool, not copied";
  EXPECT_EQ(text(m), payload);
  ASSERT_EQ(exo_zc_release(ring_, buf), 0) << exo_last_error();
  EXPECT_EQ(exo_zc_release(ring_, buf), -EINVAL) << "released twice";
  EXPECT_EQ(exo_zc_release(ring_, 4), -EINVAL) << "outside the pool";
  // Ranges outside the pool are refused at the send.
  EXPECT_EQ(exo_zc_send(ring_, 4, 0, 1, EXO_NONBLOCK), -EINVAL);
  EXPECT_EQ(exo_zc_send(ring_, 0, 4096, 1, EXO_NONBLOCK), -EINVAL);
  EXPECT_EQ(exo_zc_send(ring_, 0, 1, UINT32_MAX, EXO_NONBLOCK), -EINVAL);
  // Four buffers, then none until one comes back.
  uint32_t bufs[4];
  for (uint32_t& b : bufs) ASSERT_EQ(exo_zc_reserve(ring_, &b, &data, EXO_NONBLOCK), 0);
  EXPECT_EQ(exo_zc_reserve(ring_, &buf, &data, EXO_NONBLOCK), -EAGAIN);
  ASSERT_EQ(exo_zc_release(ring_, bufs[2]), 0) << exo_last_error();
  ASSERT_EQ(exo_zc_reserve(ring_, &buf, &data, EXO_NONBLOCK), 0) << exo_last_error();
  EXPECT_EQ(buf, bufs[2]);
}

TEST_P(RingApi, BorrowedZeroCopySlotIsNotInlineAndSlotsMsgGivesItsRange) {
  ASSERT_NO_FATAL_FAILURE(create(4096, 4));
  ASSERT_NO_FATAL_FAILURE(send("before"));
  uint32_t buf = 0;
  void* data = nullptr;
  ASSERT_EQ(exo_zc_reserve(ring_, &buf, &data, EXO_NONBLOCK), 0) << exo_last_error();
  memcpy(data, "zero copy", 9);
  ASSERT_EQ(exo_zc_send(ring_, buf, 0, 9, EXO_NONBLOCK), 0) << exo_last_error();
  exo_slots run{};
  ASSERT_EQ(exo_recv_borrow(ring_, kCapacity, EXO_NONBLOCK, &run), 2) << exo_last_error();
  EXPECT_EQ(inline_text(run, 0), "before");
  uint32_t len = 0;
  EXPECT_EQ(exo_slots_inline(&run, 1, &len), nullptr);
  exo_msg m;
  ASSERT_EQ(exo_slots_msg(ring_, &run, 1, &m), 0) << exo_last_error();
  EXPECT_EQ(m.type, uint32_t{EXO_MSG_ZEROCOPY});
  EXPECT_EQ(m.buf, buf);
  EXPECT_EQ(m.data, data);
  EXPECT_EQ(text(m), "zero copy");
  ASSERT_EQ(exo_recv_release(ring_, &run), 0) << exo_last_error();
  ASSERT_EQ(exo_zc_release(ring_, buf), 0) << exo_last_error();
}

// The bug this catches: a zero-copy descriptor taken from the slot as it
// is, pointing the receiver outside the pool.
TEST_P(RingApi, ScribbledZeroCopyDescriptorIsEbadmsg) {
  ASSERT_NO_FATAL_FAILURE(create(4096, 4));
  const exo_zc_desc bad[] = {
      {4, 0, 1, 0},             // buffer past the pool
      {UINT32_MAX, 0, 1, 0},    // far past
      {0, 4000, 200, 0},        // range past the buffer's end
      {0, 1, UINT32_MAX, 0},    // offset + len wraps
      {0, 4097, 0, 0},          // offset past the buffer
  };
  for (const exo_zc_desc& d : bad) {
    SCOPED_TRACE(testing::Message() << "buf " << d.buf << " offset " << d.offset << " len "
                                    << d.len);
    uint32_t buf = 0;
    void* data = nullptr;
    ASSERT_EQ(exo_zc_reserve(ring_, &buf, &data, EXO_NONBLOCK), 0) << exo_last_error();
    // Borrowed in place.
    ASSERT_EQ(exo_zc_send(ring_, buf, 0, 8, EXO_NONBLOCK), 0) << exo_last_error();
    uint64_t pos = load(&peer_->prod.pos) - 1;
    memcpy(peer_slot(pos).data, &d, sizeof(d));
    exo_slots run{};
    ASSERT_EQ(exo_recv_borrow(ring_, 1, EXO_NONBLOCK, &run), 1) << exo_last_error();
    uint32_t len;
    EXPECT_EQ(exo_slots_inline(&run, 0, &len), nullptr);
    exo_msg m;
    EXPECT_EQ(exo_slots_msg(ring_, &run, 0, &m), -EBADMSG);
    ASSERT_EQ(exo_recv_release(ring_, &run), 0) << exo_last_error();
    // Copied out.
    ASSERT_EQ(exo_zc_send(ring_, buf, 0, 8, EXO_NONBLOCK), 0) << exo_last_error();
    memcpy(peer_slot(pos + 1).data, &d, sizeof(d));
    EXPECT_EQ(exo_recv(ring_, &m, EXO_NONBLOCK), -EBADMSG);
    EXPECT_NE(strstr(exo_last_error(), "malformed"), nullptr) << exo_last_error();
    // The sender still holds its buffer: it gives it back, and the ring goes on.
    ASSERT_EQ(exo_zc_release(ring_, buf), 0) << exo_last_error();
    ASSERT_NO_FATAL_FAILURE(send("on"));
    ASSERT_NO_FATAL_FAILURE(expect_recv("on"));
  }
}

std::string param_name(const testing::TestParamInfo<Param>& info) {
  return std::get<1>(info.param) == EXO_MODE_SPSC ? "Spsc" : "Mpmc";
}

INSTANTIATE_TEST_SUITE_P(Memfd, RingApi,
                         testing::Combine(testing::Values(EXO_BACKEND_MEMFD),
                                          testing::Values(EXO_MODE_SPSC, EXO_MODE_MPMC)),
                         param_name);
// The module's rings: the VM suite runs these (--gtest_filter='Device/*').
INSTANTIATE_TEST_SUITE_P(Device, RingApi,
                         testing::Combine(testing::Values(EXO_BACKEND_DEVICE),
                                          testing::Values(EXO_MODE_SPSC, EXO_MODE_MPMC)),
                         param_name);

}  // namespace
