// SPDX-License-Identifier: GPL-2.0
// ring_stress: streams messages between processes through one ring and
// checks every one: content, per-producer order, and exactly-once delivery
// (a bitmap in shared memory). Bursty senders make receivers fall asleep
// over and over, so a lost wake-up shows up as a hang, caught by alarm().
//
//   ring_stress [--backend memfd|device] [--mode spsc|mpmc] [--send inline|batch|zerocopy|mixed|slots]
//               [--producers P] [--consumers C] [--msgs N] [--bursty] [--nonblock]
//               [--capacity N] [--share fork|name|scm] [--timeout S] [--name NAME] [--threads]
//
// With --threads the parties are threads of one process, each with its own
// handle on the ring, so that ThreadSanitizer sees their accesses.
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <string>

#include "userspace/include/exofusion/exofusion.h"

namespace {

struct Options {
  exo_backend backend = EXO_BACKEND_MEMFD;
  uint32_t mode = EXO_MODE_SPSC;
  std::string send = "inline";
  std::string share = "fork";
  std::string name = "stress";
  unsigned producers = 1;
  unsigned consumers = 1;
  uint64_t msgs = 100000;
  uint32_t capacity = 256;
  unsigned timeout_s = 120;
  bool bursty = false;
  bool nonblock = false;
  bool threads = false;
};

constexpr uint32_t kZcSize = 4096;
constexpr uint32_t kZcCount = 64;
constexpr unsigned kBatch = 16;

[[noreturn]] void die(const char* what, int err) {
  fprintf(stderr, "ring_stress: %s: %s\n", what, err < 0 ? exo_last_error() : strerror(err));
  exit(1);
}

[[noreturn]] void usage(const char* bad) {
  fprintf(stderr, "ring_stress: bad argument '%s' (see the header of ring_stress.cpp)\n", bad);
  exit(2);
}

uint64_t parse_u64(const char* s) {
  char* end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *s == '\0' || *s == '-' || *end) usage(s);
  return v;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage(argv[i]);
      return argv[++i];
    };
    if (a == "--backend") {
      std::string v = value();
      o.backend = v == "device" ? EXO_BACKEND_DEVICE : v == "memfd" ? EXO_BACKEND_MEMFD : (usage(v.c_str()), o.backend);
    } else if (a == "--mode") {
      std::string v = value();
      o.mode = v == "mpmc" ? EXO_MODE_MPMC : v == "spsc" ? EXO_MODE_SPSC : (usage(v.c_str()), 0u);
    } else if (a == "--send") o.send = value();
    else if (a == "--share") o.share = value();
    else if (a == "--name") o.name = value();
    else if (a == "--producers") o.producers = parse_u64(value());
    else if (a == "--consumers") o.consumers = parse_u64(value());
    else if (a == "--msgs") o.msgs = parse_u64(value());
    else if (a == "--capacity") o.capacity = parse_u64(value());
    else if (a == "--timeout") o.timeout_s = parse_u64(value());
    else if (a == "--bursty") o.bursty = true;
    else if (a == "--nonblock") o.nonblock = true;
    else if (a == "--threads") o.threads = true;
    else usage(argv[i]);
  }
  if (o.send != "inline" && o.send != "batch" && o.send != "zerocopy" && o.send != "mixed" &&
      o.send != "slots")
    usage(o.send.c_str());
  if (o.share != "fork" && o.share != "name" && o.share != "scm") usage(o.share.c_str());
  if (o.share == "name" && o.backend != EXO_BACKEND_DEVICE) usage("--share name needs --backend device");
  if (o.producers == 0 || o.consumers == 0 || o.msgs == 0) usage("zero producers, consumers or msgs");
  if (o.mode == EXO_MODE_SPSC && (o.producers > 1 || o.consumers > 1)) usage("spsc with several parties");
  if (o.threads && o.share != "fork") usage("--threads shares the ring within the process");
  return o;
}

// What every message carries, at its start: who sent it, its number.
struct Header {
  uint32_t producer;
  uint32_t length;
  uint64_t seq;
};

uint8_t pattern_byte(const Header& h, size_t i) {
  return static_cast<uint8_t>(h.seq * 31 + h.producer * 7 + i);
}

size_t message_length(const Options& o, const Header& h, bool zerocopy) {
  if (zerocopy) return sizeof(Header) + (h.seq * 131) % (kZcSize - sizeof(Header) + 1);
  (void)o;
  return sizeof(Header) + (h.seq % (EXO_INLINE_MAX - sizeof(Header) + 1));
}

void fill_message(uint8_t* out, Header h) {
  memcpy(out, &h, sizeof(h));
  for (size_t i = sizeof(h); i < h.length; ++i) out[i] = pattern_byte(h, i);
}

// Shared between all processes: one bit per (producer, seq), and counters.
struct Shared {
  uint64_t received;
  uint64_t duplicates;
  uint64_t corrupt;
  uint64_t bits[];
};

Shared* map_shared(const Options& o) {
  size_t words = (o.msgs + 63) / 64 + o.producers;
  void* p = mmap(nullptr, sizeof(Shared) + words * 8, PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) die("mmap", errno);
  return static_cast<Shared*>(p);
}

uint64_t first_seq(const Options& o, unsigned producer) { return o.msgs * producer / o.producers; }

void check_message(const Options& o, Shared* shared, const uint8_t* data, size_t len,
                   uint64_t* last_seq) {
  Header h;
  bool ok = len >= sizeof(h);
  if (ok) memcpy(&h, data, sizeof(h));
  ok = ok && h.length == len && h.producer < o.producers && h.seq < o.msgs;
  for (size_t i = sizeof(h); ok && i < len; ++i) ok = data[i] == pattern_byte(h, i);
  // Each producer's messages reach any one consumer in order.
  ok = ok && (last_seq[h.producer] == UINT64_MAX || h.seq > last_seq[h.producer]);
  if (!ok) {
    __atomic_fetch_add(&shared->corrupt, 1, __ATOMIC_RELAXED);
    fprintf(stderr, "ring_stress: corrupt or out-of-order message (len %zu)\n", len);
    return;
  }
  last_seq[h.producer] = h.seq;
  uint64_t bit = 1ull << (h.seq % 64);
  if (__atomic_fetch_or(&shared->bits[h.seq / 64], bit, __ATOMIC_RELAXED) & bit)
    __atomic_fetch_add(&shared->duplicates, 1, __ATOMIC_RELAXED);
}

void pause_between_bursts(unsigned* rng) {
  *rng = *rng * 1103515245 + 12345;
  // Gaps of 1 to 3 ms outlast the receivers' adaptive spinning, even under
  // emulation, and with several producers often overlap: receivers must sleep.
  if ((*rng >> 16) % 4 == 0) usleep(1000 + (*rng >> 8) % 2000);
}

bool use_zerocopy(const Options& o, uint64_t seq) {
  return o.send == "zerocopy" || (o.send == "mixed" && seq % 3 == 0);
}

void send_one(exo_ring* ring, const Options& o, Header h) {
  unsigned flags = o.nonblock ? EXO_NONBLOCK : 0;
  int err;
  if (use_zerocopy(o, h.seq)) {
    h.length = message_length(o, h, true);
    uint32_t buf;
    void* data;
    while ((err = exo_zc_reserve(ring, &buf, &data, flags)) == -EAGAIN) sched_yield();
    if (err) die("exo_zc_reserve", err);
    fill_message(static_cast<uint8_t*>(data), h);
    while ((err = exo_zc_send(ring, buf, 0, h.length, flags)) == -EAGAIN) sched_yield();
    if (err) die("exo_zc_send", err);
    return;
  }
  uint8_t msg[EXO_INLINE_MAX];
  h.length = message_length(o, h, false);
  fill_message(msg, h);
  while ((err = exo_send(ring, msg, h.length, flags)) == -EAGAIN) sched_yield();
  if (err) die("exo_send", err);
}

void send_batch(exo_ring* ring, const Options& o, unsigned producer, uint64_t seq, unsigned n) {
  uint8_t msgs[kBatch][EXO_INLINE_MAX];
  iovec iov[kBatch];
  for (unsigned i = 0; i < n; ++i) {
    Header h = {producer, 0, seq + i};
    h.length = message_length(o, h, false);
    fill_message(msgs[i], h);
    iov[i] = {msgs[i], h.length};
  }
  unsigned done = 0;
  while (done < n) {
    int sent = exo_send_batch(ring, iov + done, n - done, o.nonblock ? EXO_NONBLOCK : 0);
    if (sent == -EAGAIN) {
      sched_yield();
      continue;
    }
    if (sent < 0) die("exo_send_batch", sent);
    done += sent;
  }
}

// Up to |n| messages built in place in reserved slots, one commit; returns
// how many the ring had room for.
unsigned send_slots(exo_ring* ring, const Options& o, unsigned producer, uint64_t seq, unsigned n) {
  exo_slots run;
  int got;
  while ((got = exo_reserve(ring, n, o.nonblock ? EXO_NONBLOCK : 0, &run)) == -EAGAIN) sched_yield();
  if (got < 0) die("exo_reserve", got);
  for (int i = 0; i < got; ++i) {
    Header h = {producer, 0, seq + i};
    h.length = message_length(o, h, false);
    fill_message(exo_slots_at(&run, i)->data, h);
    exo_slots_set(&run, i, static_cast<uint16_t>(h.length), 0);
  }
  int err = exo_commit(ring, &run);
  if (err) die("exo_commit", err);
  return static_cast<unsigned>(got);
}

void run_producer(exo_ring* ring, const Options& o, unsigned producer) {
  uint64_t end = first_seq(o, producer + 1);
  unsigned rng = producer + 1;
  for (uint64_t seq = first_seq(o, producer); seq < end;) {
    if (o.send == "batch") {
      unsigned n = end - seq < kBatch ? end - seq : kBatch;
      send_batch(ring, o, producer, seq, n);
      seq += n;
    } else if (o.send == "slots") {
      // Runs of 1 to kBatch, so that they end anywhere in the ring.
      rng = rng * 1103515245 + 12345;
      unsigned n = 1 + (rng >> 16) % kBatch;
      if (n > end - seq) n = static_cast<unsigned>(end - seq);
      seq += send_slots(ring, o, producer, seq, n);
    } else {
      send_one(ring, o, Header{producer, 0, seq++});
    }
    if (o.bursty && seq % 7 == 0) pause_between_bursts(&rng);
  }
}

// One borrowed run, read in place and given back; returns the messages in it.
uint64_t receive_borrowed(exo_ring* ring, const Options& o, Shared* shared, uint64_t* last_seq) {
  exo_slots run;
  int n = exo_recv_borrow(ring, kBatch, o.nonblock ? EXO_NONBLOCK : 0, &run);
  if (n == -EAGAIN || n == -ETIMEDOUT) return 0;
  if (n < 0) die("exo_recv_borrow", n);
  uint64_t got = 0;
  for (int i = 0; i < n; ++i) {
    // The inline fast path on even slots, the checked call on odd ones.
    exo_msg m;
    uint32_t len = 0;
    const void* data = i % 2 ? nullptr : exo_slots_inline(&run, i, &len);
    if (!data) {
      int err = exo_slots_msg(ring, &run, i, &m);
      if (err) die("exo_slots_msg", err);
      data = m.data;
      len = m.len;
    }
    if (len == 0) continue;  // release_consumers(): a wake-up, no message
    check_message(o, shared, static_cast<const uint8_t*>(data), len, last_seq);
    ++got;
  }
  int err = exo_recv_release(ring, &run);
  if (err) die("exo_recv_release", err);
  __atomic_fetch_add(&shared->received, got, __ATOMIC_RELAXED);
  return got;
}

// Receives until every message is in; returns how many this consumer took.
uint64_t run_consumer(exo_ring* ring, const Options& o, Shared* shared) {
  uint64_t last_seq[64];
  for (auto& s : last_seq) s = UINT64_MAX;
  exo_msg msgs[kBatch];
  uint64_t mine = 0;
  unsigned flags = o.nonblock ? EXO_NONBLOCK : 0;
  while (__atomic_load_n(&shared->received, __ATOMIC_RELAXED) < o.msgs) {
    if (o.send == "slots") {
      mine += receive_borrowed(ring, o, shared, last_seq);
      continue;
    }
    int n = o.send == "batch" ? exo_recv_batch(ring, msgs, kBatch, flags)
                              : exo_recv(ring, &msgs[0], flags);
    if (n == -EAGAIN || n == -ETIMEDOUT) continue;
    if (n < 0) die("exo_recv", n);
    n = o.send == "batch" ? n : 1;
    int got = 0;
    for (int i = 0; i < n; ++i) {
      if (msgs[i].len == 0) continue;  // release_consumers(): a wake-up, no message
      check_message(o, shared, static_cast<const uint8_t*>(msgs[i].data), msgs[i].len, last_seq);
      if (msgs[i].type == EXO_MSG_ZEROCOPY) {
        int err = exo_zc_release(ring, msgs[i].buf);
        if (err) die("exo_zc_release", err);
      }
      ++got;
    }
    mine += got;
    __atomic_fetch_add(&shared->received, got, __ATOMIC_RELAXED);
  }
  return mine;
}

// Wakes the other consumers, which may sleep on an empty ring once all
// messages are in: a few empty inline messages they recognise and drop.
void release_consumers(exo_ring* ring, const Options& o) {
  for (unsigned i = 1; i < o.consumers; ++i) exo_send(ring, "", 0, EXO_NONBLOCK);
}

// One byte carrying one fd in an SCM_RIGHTS control message.
struct FdMessage {
  char control[CMSG_SPACE(sizeof(int))] = {};
  char byte = 0;
  iovec iov = {&byte, 1};
  msghdr msg = {};

  FdMessage() {
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
  }
  FdMessage(const FdMessage&) = delete;
};

void send_fd(int sock, int fd) {
  FdMessage m;
  cmsghdr* c = CMSG_FIRSTHDR(&m.msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  if (sendmsg(sock, &m.msg, 0) != 1) die("sendmsg SCM_RIGHTS", errno);
}

int receive_fd(int sock) {
  FdMessage m;
  if (recvmsg(sock, &m.msg, 0) != 1) die("recvmsg SCM_RIGHTS", errno);
  int fd;
  memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&m.msg)), sizeof(int));
  return fd;
}

// The child's own handle on the ring, obtained the way --share says.
exo_ring* child_ring(const Options& o, exo_ring* parent, int sock) {
  exo_ring* ring = parent;
  int err = 0;
  if (o.share == "name") err = exo_ring_open(o.name.c_str(), &ring);
  if (o.share == "scm") {
    int fd = receive_fd(sock);
    err = exo_ring_attach_fd(fd, &ring);
    close(fd);
  }
  if (err) die("child attach", err);
  return ring;
}

struct Party {
  const Options* options;
  Shared* shared;
  int ring_fd;
  unsigned index;
};

void* run_thread(void* arg) {
  const Party& p = *static_cast<Party*>(arg);
  exo_ring* ring;
  int err = exo_ring_attach_fd(p.ring_fd, &ring);
  if (err) die("exo_ring_attach_fd", err);
  if (p.index < p.options->producers) run_producer(ring, *p.options, p.index);
  else run_consumer(ring, *p.options, p.shared);
  exo_ring_close(ring);
  return nullptr;
}

// The parties as threads; returns how many failed to start or join.
int run_threads(const Options& o, Shared* shared, exo_ring* ring) {
  unsigned parties = o.producers + o.consumers;
  pthread_t tids[64];
  Party party[64];
  if (parties > 64) usage("more than 64 threads");
  for (unsigned i = 0; i < parties; ++i) {
    party[i] = Party{&o, shared, exo_ring_fd(ring), i};
    if (pthread_create(&tids[i], nullptr, run_thread, &party[i])) die("pthread_create", errno);
  }
  // Producers end first; then consumers still asleep need a wake-up each.
  for (unsigned i = 0; i < o.producers; ++i) pthread_join(tids[i], nullptr);
  while (__atomic_load_n(&shared->received, __ATOMIC_RELAXED) < o.msgs) usleep(1000);
  release_consumers(ring, o);
  for (unsigned i = o.producers; i < parties; ++i) pthread_join(tids[i], nullptr);
  return 0;
}

// The parties as processes; returns how many exited badly.
int run_processes(const Options& o, Shared* shared, exo_ring* ring) {
  int socks[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, socks)) die("socketpair", errno);
  unsigned parties = o.producers + o.consumers;
  for (unsigned i = 0; i < parties; ++i) {
    pid_t pid = fork();
    if (pid < 0) die("fork", errno);
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // a timed-out run leaves no party behind
      exo_ring* mine = child_ring(o, ring, socks[1]);
      if (i < o.producers) run_producer(mine, o, i);
      else run_consumer(mine, o, shared);
      _exit(0);
    }
    if (o.share == "scm") send_fd(socks[0], exo_ring_fd(ring));
  }
  int failures = 0;
  bool consumers_released = false;
  for (unsigned i = 0; i < parties; ++i) {
    int status;
    pid_t pid = wait(&status);
    if (pid < 0) die("wait", errno);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      ++failures;
      fprintf(stderr, "ring_stress: child %d failed (%s %d)\n", pid,
              WIFSIGNALED(status) ? "signal" : "exit",
              WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    }
    if (!consumers_released && __atomic_load_n(&shared->received, __ATOMIC_RELAXED) >= o.msgs) {
      release_consumers(ring, o);
      consumers_released = true;
    }
  }
  close(socks[0]);
  close(socks[1]);
  return failures;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  alarm(o.timeout_s);  // a lost wake-up hangs: SIGALRM ends the run
  Shared* shared = map_shared(o);
  exo_ring_params params = {o.name.c_str(), o.capacity, o.mode, 0, 0, 0600};
  if (o.send == "zerocopy" || o.send == "mixed") {
    params.buf_size = kZcSize;
    params.buf_count = kZcCount;
  }
  if (o.backend == EXO_BACKEND_DEVICE) exo_ring_destroy(o.name.c_str());  // stale from a killed run
  exo_ring* ring;
  int err = exo_ring_create(&params, o.backend, &ring);
  if (err) die("exo_ring_create", err);

  timespec start, stop;
  clock_gettime(CLOCK_MONOTONIC, &start);
  int failures = o.threads ? run_threads(o, shared, ring) : run_processes(o, shared, ring);
  clock_gettime(CLOCK_MONOTONIC, &stop);
  double secs = (stop.tv_sec - start.tv_sec) + (stop.tv_nsec - start.tv_nsec) / 1e9;

  uint64_t missing = 0;
  for (uint64_t seq = 0; seq < o.msgs; ++seq)
    missing += !(shared->bits[seq / 64] >> (seq % 64) & 1);
  exo_ring_stats st;
  exo_ring_get_stats(ring, &st);
  printf("ring_stress: %s %s %s P=%u C=%u msgs=%llu missing=%llu duplicates=%llu corrupt=%llu "
         "sleeps=%llu wakeups=%llu full=%llu empty=%llu %.0f msgs/s\n",
         o.backend == EXO_BACKEND_DEVICE ? "device" : "memfd",
         o.mode == EXO_MODE_MPMC ? "mpmc" : "spsc", o.send.c_str(), o.producers, o.consumers,
         (unsigned long long)o.msgs, (unsigned long long)missing,
         (unsigned long long)shared->duplicates, (unsigned long long)shared->corrupt,
         (unsigned long long)st.sleeps, (unsigned long long)st.wakeups,
         (unsigned long long)st.full_events, (unsigned long long)st.empty_events, o.msgs / secs);
  exo_ring_close(ring);
  if (o.backend == EXO_BACKEND_DEVICE) exo_ring_destroy(o.name.c_str());
  bool ok = failures == 0 && missing == 0 && shared->duplicates == 0 && shared->corrupt == 0;
  return ok ? 0 : 1;
}
