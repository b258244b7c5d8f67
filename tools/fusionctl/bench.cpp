// SPDX-License-Identifier: GPL-2.0
// bench: this process sends, a forked child receives and checks every
// message; the rate is taken from the moment the child is ready to the
// moment it has the last message.
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "tools/fusionctl/cli.h"
#include "tools/fusionctl/commands.h"

namespace fusionctl {
namespace {

// Waits are cut into slices this long, so that a peer that died ends the
// run with an error instead of leaving the other side asleep forever.
constexpr int64_t kWaitSliceNs = 100 * 1000 * 1000;
// The consumer is declared stuck when the ring stays drained this long
// while it still waits for messages: some were lost.
constexpr int kDrainedPolls = 3;
constexpr int kDrainedPollMs = 1000;
// The memfd ring: room for bursts, and buffers for zero-copy sizes.
constexpr uint32_t kMemfdCapacity = 1024;
constexpr uint32_t kMemfdBuffers = 64;
constexpr uint32_t kMaxBatch = 65536;
// The consumer stops at this many wrong messages, each reported.
constexpr uint64_t kMaxWrong = 5;

struct BenchOptions {
  const char* name;  // the device ring; nullptr for --memfd
  uint64_t msgs;
  uint32_t batch;
  uint32_t size;
  bool zerocopy() const { return size > EXO_INLINE_MAX; }
};

int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// Message number seq: seq at the head, ~seq at the tail (when there is
// room for both) and a fixed pattern between, so that a lost, repeated,
// reordered or torn message shows.
class Payload {
 public:
  explicit Payload(uint32_t size) : pattern_(size) {
    for (uint32_t i = 0; i < size; ++i) pattern_[i] = static_cast<uint8_t>(i * 13 + 7);
  }

  void fill(void* dst, uint64_t seq) const {
    memcpy(dst, pattern_.data(), pattern_.size());
    stamp(dst, seq);
  }

  // Only the parts that change, over a buffer that holds the pattern.
  void stamp(void* dst, uint64_t seq) const {
    uint8_t* p = static_cast<uint8_t*>(dst);
    memcpy(p, &seq, sizeof(seq));
    uint64_t tail = ~seq;
    if (has_tail()) memcpy(p + pattern_.size() - sizeof(tail), &tail, sizeof(tail));
  }

  bool matches(const void* data, size_t len, uint64_t seq) const {
    const uint8_t* p = static_cast<const uint8_t*>(data);
    if (len != pattern_.size() || head(p) != seq) return false;
    size_t end = pattern_.size() - (has_tail() ? 8 : 0);
    if (memcmp(p + 8, pattern_.data() + 8, end - 8) != 0) return false;
    uint64_t tail = ~seq;
    return !has_tail() || memcmp(p + end, &tail, sizeof(tail)) == 0;
  }

  static uint64_t head(const void* data) {
    uint64_t seq;
    memcpy(&seq, data, sizeof(seq));
    return seq;
  }

  uint32_t size() const { return static_cast<uint32_t>(pattern_.size()); }

 private:
  bool has_tail() const { return pattern_.size() >= 16; }
  std::vector<uint8_t> pattern_;
};

// The other process of the run. The consumer watches its parent; the
// producer watches the result pipe, which the consumer only writes (or
// closes, by dying) when it is done.
struct Peer {
  pid_t parent = 0;
  int result_fd = -1;

  bool alive() const {
    if (parent) return getppid() == parent;
    pollfd p = {result_fd, POLLIN, 0};
    return poll(&p, 1, 0) == 0;
  }
};

// Runs |attempt|, a library call made with EXO_NONBLOCK, until it stops
// failing with -EAGAIN, waiting for |which| in between; -EPIPE if the
// peer went away meanwhile.
template <typename Attempt>
int retry(exo_ring* ring, unsigned which, const Peer& peer, Attempt attempt) {
  for (;;) {
    int rc = attempt();
    if (rc != -EAGAIN) return rc;
    int err = exo_ring_wait(ring, which, kWaitSliceNs);
    if (err == -ETIMEDOUT && !peer.alive()) return -EPIPE;
    if (err && err != -ETIMEDOUT && err != -EINTR) return err;
  }
}

bool read_full(int fd, void* buf, size_t len) {
  char* p = static_cast<char*>(buf);
  while (len) {
    ssize_t n = read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= n;
  }
  return true;
}

bool write_full(int fd, const void* buf, size_t len) {
  const char* p = static_cast<const char*>(buf);
  while (len) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= n;
  }
  return true;
}

// --- the producer (this process) ---
// Returns 0 or a negative errno: -EPIPE if the consumer went away.

int produce_inline(exo_ring* ring, const BenchOptions& o, const Peer& peer) {
  Payload payload(o.size);
  std::vector<uint8_t> data(static_cast<size_t>(o.batch) * o.size);
  std::vector<iovec> iov(o.batch);
  for (uint32_t i = 0; i < o.batch; ++i) {
    iov[i] = {&data[static_cast<size_t>(i) * o.size], o.size};
    payload.fill(iov[i].iov_base, 0);
  }
  for (uint64_t seq = 0; seq < o.msgs;) {
    uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(o.batch, o.msgs - seq));
    for (uint32_t i = 0; i < n; ++i) payload.stamp(iov[i].iov_base, seq + i);
    if (o.batch == 1) {
      int err = retry(ring, EXO_WAIT_SPACE, peer,
                      [&] { return exo_send(ring, iov[0].iov_base, o.size, EXO_NONBLOCK); });
      if (err) return err;
    } else {
      // A batch may go out in parts when the ring has less room.
      for (uint32_t done = 0; done < n;) {
        int sent = retry(ring, EXO_WAIT_SPACE, peer,
                         [&] { return exo_send_batch(ring, &iov[done], n - done, EXO_NONBLOCK); });
        if (sent < 0) return sent;
        done += sent;
      }
    }
    seq += n;
  }
  return 0;
}

// One message at a time: the library has no zero-copy batch.
int produce_zerocopy(exo_ring* ring, const BenchOptions& o, const Peer& peer) {
  Payload payload(o.size);
  for (uint64_t seq = 0; seq < o.msgs; ++seq) {
    uint32_t buf;
    void* data;
    int err = retry(ring, EXO_WAIT_BUFFER, peer,
                    [&] { return exo_zc_reserve(ring, &buf, &data, EXO_NONBLOCK); });
    if (err) return err;
    payload.fill(data, seq);
    err = retry(ring, EXO_WAIT_SPACE, peer,
                [&] { return exo_zc_send(ring, buf, 0, o.size, EXO_NONBLOCK); });
    if (err) return err;
  }
  return 0;
}

// --- the consumer (the child) ---

// Checks one message; on a wrong one, says what came and follows the
// sequence from there, so that one lost message counts once.
void check(const exo_msg& msg, const Payload& payload, uint32_t type, uint64_t* expected,
           uint64_t* wrong) {
  if (msg.type == type && payload.matches(msg.data, msg.len, *expected)) {
    ++*expected;
    return;
  }
  uint64_t got = msg.len >= 8 ? Payload::head(msg.data) : *expected;
  fail("bench: expected message %llu (%s, %u bytes); got type %u, %u bytes, sequence %llu%s",
       static_cast<unsigned long long>(*expected), type == EXO_MSG_INLINE ? "inline" : "zero-copy",
       payload.size(), msg.type, msg.len, static_cast<unsigned long long>(got),
       got == *expected ? ", corrupt content" : "");
  ++*wrong;
  *expected = got + 1;
}

int consume(exo_ring* ring, const BenchOptions& o, const Peer& peer, int64_t* end_ns) {
  Payload payload(o.size);
  uint32_t type = o.zerocopy() ? EXO_MSG_ZEROCOPY : EXO_MSG_INLINE;
  std::vector<exo_msg> msgs(o.batch);
  uint64_t expected = 0;
  uint64_t wrong = 0;
  for (uint64_t received = 0; received < o.msgs;) {
    uint32_t want = static_cast<uint32_t>(std::min<uint64_t>(o.batch, o.msgs - received));
    int n = retry(ring, EXO_WAIT_DATA, peer, [&] {
      if (o.batch > 1) return exo_recv_batch(ring, msgs.data(), want, EXO_NONBLOCK);
      int err = exo_recv(ring, &msgs[0], EXO_NONBLOCK);
      return err ? err : 1;
    });
    if (n == -EPIPE) return fail("bench: the sender exited before sending every message");
    if (n < 0) return fail_lib(n, "bench: receive");
    for (int i = 0; i < n; ++i) {
      check(msgs[i], payload, type, &expected, &wrong);
      int err = msgs[i].type == EXO_MSG_ZEROCOPY ? exo_zc_release(ring, msgs[i].buf) : 0;
      if (err) return fail_lib(err, "bench: release buffer %u", msgs[i].buf);
    }
    received += n;
    if (wrong >= kMaxWrong)
      return fail("bench: stopped after %llu wrong messages",
                  static_cast<unsigned long long>(wrong));
  }
  *end_ns = now_ns();
  if (wrong)
    return fail("bench: %llu of %llu messages were wrong", static_cast<unsigned long long>(wrong),
                static_cast<unsigned long long>(o.msgs));
  return kExitOk;
}

// The child's whole life: a device ring is opened by name, as an
// unrelated process would; a memfd ring is the inherited handle. It says
// 'ready' through the pipe, then on success when it had the last message.
int consumer_main(exo_ring* inherited, const BenchOptions& o, pid_t parent, int result_fd) {
  exo_ring* ring = inherited;
  if (o.name) {
    exo_ring_close(inherited);
    ring = open_ring("bench", o.name);
    if (!ring) return kExitFailure;
  }
  char ready = 'R';
  if (!write_full(result_fd, &ready, 1)) return kExitFailure;
  Peer peer;
  peer.parent = parent;
  int64_t end_ns = 0;
  int status = consume(ring, o, peer, &end_ns);
  if (status == kExitOk && !write_full(result_fd, &end_ns, sizeof(end_ns))) status = kExitFailure;
  return status;
}

// --- the run ---

// After the last send the consumer ends once it has drained the ring: 0
// with its end time, -EPIPE if it ended without one (its exit status will
// say why). If the ring stays drained while it still waits, messages were
// lost: a failure rather than a hang.
int collect(exo_ring* ring, int result_fd, int64_t* end_ns) {
  for (int drained = 0; drained < kDrainedPolls;) {
    pollfd p = {result_fd, POLLIN, 0};
    int n = poll(&p, 1, kDrainedPollMs);
    if (n < 0 && errno != EINTR) return fail("bench: poll: %s", strerror(errno));
    if (n > 0) return read_full(result_fd, end_ns, sizeof(*end_ns)) ? 0 : -EPIPE;
    exo_ring_stats st;
    if (exo_ring_get_stats(ring, &st) == 0 && st.received == st.messages)
      ++drained;
    else
      drained = 0;
  }
  return fail("bench: messages were lost: the consumer waits on with the ring drained");
}

// The consumer ended early. It reported why, unless something killed it.
int consumer_failed(int wstatus) {
  if (WIFSIGNALED(wstatus))
    return fail("bench: the consumer was killed by signal %d (%s)", WTERMSIG(wstatus),
                strsignal(WTERMSIG(wstatus)));
  if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == kExitFailure) return kExitFailure;
  return fail("bench: the consumer exited early (status %d)", WEXITSTATUS(wstatus));
}

void print_report(exo_ring* ring, const BenchOptions& o, int64_t elapsed_ns,
                  const exo_ring_stats& before) {
  const exo_ring_info* info = exo_ring_get_info(ring);
  exo_ring_stats after{};
  exo_ring_get_stats(ring, &after);
  double seconds = static_cast<double>(elapsed_ns) / 1e9;
  printf("%s ring %s (%s, capacity %u): %llu msgs of %u B, %s, batch %u\n",
         exo_ring_is_device(ring) ? "device" : "memfd", o.name ? o.name : "(anonymous)",
         info->mode == EXO_MODE_MPMC ? "mpmc" : "spsc", info->capacity,
         static_cast<unsigned long long>(o.msgs), o.size, o.zerocopy() ? "zero-copy" : "inline",
         o.batch);
  printf("  every message arrived once, in order, intact\n");
  printf("  %.0f msgs/s, %.1f ns/msg (%.3f s)\n", static_cast<double>(o.msgs) / seconds,
         static_cast<double>(elapsed_ns) / static_cast<double>(o.msgs), seconds);
  printf("  stalls: %llu sender (ring full), %llu receiver (ring empty); sleeps: %llu\n",
         static_cast<unsigned long long>(after.full_events - before.full_events),
         static_cast<unsigned long long>(after.empty_events - before.empty_events),
         static_cast<unsigned long long>(after.sleeps - before.sleeps));
}

int run_with_consumer(exo_ring* ring, const BenchOptions& o) {
  exo_ring_stats before{};
  int err = exo_ring_get_stats(ring, &before);
  if (err) return fail_lib(err, "bench");
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return fail("bench: pipe: %s", strerror(errno));
  fflush(stdout);
  fflush(stderr);
  pid_t parent = getpid();
  pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    // _exit: the parent's stdio buffers and atexit work are not ours.
    _exit(consumer_main(ring, o, parent, fds[1]));
  }
  close(fds[1]);
  if (child < 0) {
    close(fds[0]);
    return fail("bench: fork: %s", strerror(errno));
  }

  // 0, -EPIPE when the consumer ended early (its exit status says why), or
  // kExitFailure once reported.
  int outcome = -EPIPE;
  char ready;
  int64_t start = 0, end = 0;
  if (read_full(fds[0], &ready, 1)) {
    Peer peer;
    peer.result_fd = fds[0];
    start = now_ns();
    outcome = o.zerocopy() ? produce_zerocopy(ring, o, peer) : produce_inline(ring, o, peer);
    if (outcome && outcome != -EPIPE) outcome = fail_lib(outcome, "bench: send");
    if (!outcome) outcome = collect(ring, fds[0], &end);
  }
  if (outcome == kExitFailure) kill(child, SIGKILL);
  int wstatus = 0;
  waitpid(child, &wstatus, 0);
  close(fds[0]);
  if (outcome == -EPIPE) return consumer_failed(wstatus);
  if (outcome != 0) return outcome;
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != kExitOk) return consumer_failed(wstatus);
  print_report(ring, o, end - start, before);
  return kExitOk;
}

exo_ring* create_memfd_ring(const BenchOptions& o) {
  exo_ring_params params{};
  params.name = "fusionctl-bench";
  params.capacity = kMemfdCapacity;
  params.mode = EXO_MODE_SPSC;
  if (o.zerocopy()) {
    params.buf_size = (o.size + EXO_CACHELINE - 1) / EXO_CACHELINE * EXO_CACHELINE;
    params.buf_count = kMemfdBuffers;
  }
  exo_ring* ring = nullptr;
  int err = exo_ring_create(&params, EXO_BACKEND_MEMFD, &ring);
  if (err) fail_lib(err, "bench");
  return err ? nullptr : ring;
}

// A named ring must be able to carry the messages and start empty: left
// over messages would fail the content check.
exo_ring* open_device_ring(const BenchOptions& o) {
  exo_ring* ring = open_ring("bench", o.name);
  if (!ring) return nullptr;
  const exo_ring_info* info = exo_ring_get_info(ring);
  exo_ring_stats st{};
  int err = exo_ring_get_stats(ring, &st);
  bool usable = false;
  if (err)
    fail_lib(err, "bench");
  else if (st.messages != st.received)
    fail("bench: ring '%s' has %llu messages not yet received; receive them first", o.name,
         static_cast<unsigned long long>(st.messages - st.received));
  else if (o.zerocopy() && info->buf_size < o.size)
    fail("bench: %u-byte messages need zero-copy buffers that large; ring '%s' has %s", o.size,
         o.name, info->buf_count ? "smaller ones" : "no pool");
  else
    usable = true;
  if (usable) return ring;
  exo_ring_close(ring);
  return nullptr;
}

int run_bench(const Args& args) {
  BenchOptions o;
  bool memfd = args.flag("--memfd");
  if (memfd == (args.operand_count() == 1))
    args.usage_error(memfd ? "--memfd and a ring NAME exclude each other"
                           : "expected a ring NAME or --memfd");
  o.name = memfd ? nullptr : args.operand(0);
  o.msgs = args.number("--msgs", 1000000, 1, UINT64_MAX);
  o.batch = static_cast<uint32_t>(args.number("--batch", 1, 1, kMaxBatch));
  // 8 bytes at least for the sequence number; at most one pool buffer.
  o.size = static_cast<uint32_t>(args.number("--size", EXO_INLINE_MAX, 8, EXO_BUF_MAX_SIZE));

  exo_ring* ring = memfd ? create_memfd_ring(o) : open_device_ring(o);
  if (!ring) return kExitFailure;
  int status = run_with_consumer(ring, o);
  exo_ring_close(ring);
  return status;
}

}  // namespace

const Command kBench = {
    "bench",
    "NAME|--memfd",
    "stream messages to a forked receiver, check them, print the rate",
    "Sends messages from this process to a forked child through ring NAME (which\n"
    "must be empty; the child opens it by name) or, with --memfd, through an\n"
    "anonymous memfd ring that needs no module (the child inherits it). The child\n"
    "checks every message (sequence number and content) and the rate is printed in\n"
    "msgs/s and ns/msg. Messages of more than 56 bytes go zero-copy, one at a time\n"
    "(--batch then batches only the receiving side).",
    {
        {"--memfd", nullptr, "use an anonymous memfd ring instead of a named one"},
        {"--msgs", "N", "messages to send (default 1000000)"},
        {"--batch", "K", "send and receive K messages per call, 1..65536 (default 1)"},
        {"--size", "S", "message size in bytes, 8..4194304 (default 56)"},
    },
    0,
    1,
    run_bench,
};

}  // namespace fusionctl
