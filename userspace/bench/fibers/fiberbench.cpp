// fiberbench: libexofiber against boost.context (fcontext), boost.fiber,
// ucontext and threads; Go has its own program (go/main.go) with the same
// command line. See README.md.
//
//   fiberbench --list                        "scenario impl" lines
//   fiberbench --scenario S --impl I [--reps N] [--iters N]
//
// Every scenario checks its own result and exits 1 when it is wrong.
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <boost/context/detail/fcontext.hpp>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "userspace/bench/fibers/common.h"
#include "userspace/fibers/context.h"
#include "userspace/include/exofiber/exofiber.h"
#include "userspace/include/exofusion/exofusion.h"

namespace fiberbench {
namespace {

// --- stacks for the raw context switches -------------------------------------------

struct RawStack {
  static constexpr size_t kSize = 64 * 1024;
  void* base = nullptr;
  RawStack() {
    base = mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) die("mmap: %s", strerror(errno));
  }
  ~RawStack() { munmap(base, kSize); }
  void* top() const { return static_cast<char*>(base) + kSize; }
};

// Switches counted by the side that is switched to (checked against n).
uint64_t g_count;

void check_count(uint64_t want, const char* what) {
  if (g_count != want)
    die("%s: the other side ran %llu times, not %llu", what, (unsigned long long)g_count,
        (unsigned long long)want);
}

// --- switch: exofiber's own context switch --------------------------------------------

exo::fiber::Context g_exo_main, g_exo_other;

[[noreturn]] void exo_other_entry(void*) {
  g_exo_other.on_first_entry();
  for (;;) {
    ++g_count;
    g_exo_other.switch_to(g_exo_main);
  }
}

// n switches: n/2 round trips.
double switch_exofiber(uint64_t n) {
  static RawStack stack;
  g_exo_main.init_thread();
  g_exo_other.init(stack.base, RawStack::kSize, exo_other_entry, nullptr);
  g_count = 0;
  const uint64_t t0 = now_ns();
  for (uint64_t i = 0; i < n / 2; i++) g_exo_main.switch_to(g_exo_other);
  const uint64_t t = now_ns() - t0;
  check_count(n / 2, "switch exofiber");
  return double(t);
}

// --- switch: boost.context's fcontext ---------------------------------------------------

namespace bctx = boost::context::detail;

void fcontext_entry(bctx::transfer_t t) {
  for (;;) {
    ++g_count;
    t = bctx::jump_fcontext(t.fctx, nullptr);
  }
}

double switch_fcontext(uint64_t n) {
  static RawStack stack;
  bctx::fcontext_t ctx = bctx::make_fcontext(stack.top(), RawStack::kSize, fcontext_entry);
  g_count = 0;
  const uint64_t t0 = now_ns();
  for (uint64_t i = 0; i < n / 2; i++) ctx = bctx::jump_fcontext(ctx, nullptr).fctx;
  const uint64_t t = now_ns() - t0;
  check_count(n / 2, "switch fcontext");
  return double(t);
}

// --- switch: ucontext --------------------------------------------------------------------

ucontext_t g_uc_main, g_uc_other;

void ucontext_entry() {
  for (;;) {
    ++g_count;
    swapcontext(&g_uc_other, &g_uc_main);
  }
}

double switch_ucontext(uint64_t n) {
  static RawStack stack;
  if (getcontext(&g_uc_other)) die("getcontext: %s", strerror(errno));
  g_uc_other.uc_stack.ss_sp = stack.base;
  g_uc_other.uc_stack.ss_size = RawStack::kSize;
  g_uc_other.uc_link = nullptr;
  makecontext(&g_uc_other, ucontext_entry, 0);
  g_count = 0;
  const uint64_t t0 = now_ns();
  for (uint64_t i = 0; i < n / 2; i++)
    if (swapcontext(&g_uc_main, &g_uc_other)) die("swapcontext: %s", strerror(errno));
  const uint64_t t = now_ns() - t0;
  check_count(n / 2, "switch ucontext");
  return double(t);
}

// --- switch: two threads on one CPU handing a futex word back and forth -------------------

long futex(std::atomic<uint32_t>* word, int op, uint32_t val) {
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op, val, nullptr, nullptr, 0);
}

double switch_thread_futex(uint64_t n) {
  // turn: 0 the caller's, 1 the other thread's; 2 before the other starts.
  std::atomic<uint32_t> turn{2};
  std::atomic<uint64_t> count{0};
  const int cpu = allowed_cpus()[0];
  pin_thread_to(cpu);
  std::thread other([&] {
    pin_thread_to(cpu);
    turn.store(0);
    futex(&turn, FUTEX_WAKE_PRIVATE, 1);
    for (uint64_t i = 0; i < n / 2; i++) {
      while (turn.load(std::memory_order_acquire) != 1) futex(&turn, FUTEX_WAIT_PRIVATE, 0);
      count.fetch_add(1, std::memory_order_relaxed);
      turn.store(0, std::memory_order_release);
      futex(&turn, FUTEX_WAKE_PRIVATE, 1);
    }
  });
  while (turn.load() == 2) futex(&turn, FUTEX_WAIT_PRIVATE, 2);
  const uint64_t t0 = now_ns();
  for (uint64_t i = 0; i < n / 2; i++) {
    turn.store(1, std::memory_order_release);
    futex(&turn, FUTEX_WAKE_PRIVATE, 1);
    while (turn.load(std::memory_order_acquire) != 0) futex(&turn, FUTEX_WAIT_PRIVATE, 1);
  }
  const uint64_t t = now_ns() - t0;
  other.join();
  g_count = count.load();
  check_count(n / 2, "switch thread-futex");
  return double(t);
}

// --- exofiber through its scheduler ---------------------------------------------------------

exo_fiber_sched* make_sched(unsigned workers, unsigned policy, unsigned steal_cold_only = 0) {
  exo_fiber_sched_params p{};
  p.workers = workers;
  p.policy = policy;
  p.steal_cold_only = steal_cold_only;
  exo_fiber_sched* s;
  const int err = exo_fiber_sched_create(&p, &s);
  if (err) die("exo_fiber_sched_create: %d (%s)", err, exo_last_error());
  return s;
}

exo_fiber* spawn(exo_fiber_sched* s, void (*fn)(void*), void* arg, bool joinable) {
  exo_fiber* f = nullptr;
  const int err = exo_fiber_spawn(s, fn, arg, 0, joinable ? &f : nullptr);
  if (err) die("exo_fiber_spawn: %d (%s)", err, exo_last_error());
  return f;
}

void join(exo_fiber* f) {
  const int err = exo_fiber_join(f);
  if (err) die("exo_fiber_join: %d (%s)", err, exo_last_error());
}

// switch, impl exofiber-yield: two fibers of one worker yielding to each
// other (the scheduler's whole path: queue, clock, prediction).
struct YieldRun {
  uint64_t rounds;
  std::atomic<uint64_t> count{0};
  uint64_t t0 = 0, t1 = 0;
};

void yield_fiber(void* p) {
  auto* r = static_cast<YieldRun*>(p);
  if (!r->t0) r->t0 = now_ns();
  for (uint64_t i = 0; i < r->rounds; i++) {
    r->count.fetch_add(1, std::memory_order_relaxed);
    exo_fiber_yield();
  }
  r->t1 = now_ns();
}

struct YieldDriver {
  exo_fiber_sched* sched;
  YieldRun* run;
};

// Both fibers are queued before either runs (spawned from the main thread,
// the first could yield alone for a while: nothing else to switch to).
void yield_driver(void* p) {
  auto* d = static_cast<YieldDriver*>(p);
  exo_fiber* a = spawn(d->sched, yield_fiber, d->run, true);
  exo_fiber* b = spawn(d->sched, yield_fiber, d->run, true);
  join(a);
  join(b);
}

double switch_exofiber_yield(uint64_t n) {
  exo_fiber_sched* s = make_sched(1, EXO_FIBER_PREDICTIVE);
  YieldRun r;
  r.rounds = n / 2;
  YieldDriver d{s, &r};
  join(spawn(s, yield_driver, &d, true));
  exo_fiber_stats st;
  exo_fiber_sched_get_stats(s, &st);
  exo_fiber_sched_destroy(s);
  if (r.count != n) die("switch exofiber-yield: %llu yields, not %llu", (unsigned long long)r.count.load(),
                        (unsigned long long)n);
  if (st.switches < n) die("switch exofiber-yield: %llu switches for %llu yields (no hand-off?)",
                           (unsigned long long)st.switches, (unsigned long long)n);
  return double(r.t1 - r.t0);
}

// --- spawn-join ---------------------------------------------------------------------------

struct SpawnJoinRun {
  exo_fiber_sched* sched;
  uint64_t n;
  std::atomic<uint64_t> ran{0};
  uint64_t ns = 0;
};

void empty_fiber(void* p) { static_cast<SpawnJoinRun*>(p)->ran.fetch_add(1, std::memory_order_relaxed); }

void spawn_join_driver(void* p) {
  auto* r = static_cast<SpawnJoinRun*>(p);
  const uint64_t t0 = now_ns();
  for (uint64_t i = 0; i < r->n; i++) join(spawn(r->sched, empty_fiber, r, true));
  r->ns = now_ns() - t0;
}

int spawn_join_exofiber(const Options& o, unsigned policy) {
  exo_fiber_sched* s = make_sched(1, policy);
  timed_ns_per_op(o, [&](uint64_t n) {
    SpawnJoinRun r;
    r.sched = s;
    r.n = n;
    join(spawn(s, spawn_join_driver, &r, true));
    if (r.ran != n) die("spawn-join: %llu of %llu fibers ran", (unsigned long long)r.ran.load(),
                        (unsigned long long)n);
    return double(r.ns);
  });
  exo_fiber_sched_destroy(s);
  return 0;
}

// --- skynet ----------------------------------------------------------------------------------

struct SkynetNode {
  exo_fiber_sched* sched;
  uint64_t num, size;
  uint64_t* out;
};

void skynet_fiber(void* p) {
  auto* n = static_cast<SkynetNode*>(p);
  if (n->size == 1) {
    *n->out = n->num;
    return;
  }
  SkynetNode kids[10];
  uint64_t sums[10];
  exo_fiber* h[10];
  const uint64_t size = n->size / 10;
  for (int i = 0; i < 10; i++) {
    kids[i] = {n->sched, n->num + uint64_t(i) * size, size, &sums[i]};
    h[i] = spawn(n->sched, skynet_fiber, &kids[i], true);
  }
  uint64_t sum = 0;
  for (int i = 0; i < 10; i++) {
    join(h[i]);
    sum += sums[i];
  }
  *n->out = sum;
}

int skynet_exofiber(const Options& o, unsigned policy) {
  exo_fiber_sched* s = make_sched(0, policy);
  std::vector<double> per_rep;
  const unsigned reps = o.iters ? 1 : o.reps;
  for (unsigned i = 0; i <= reps; i++) {  // rep 0: warm-up
    uint64_t sum = 0;
    SkynetNode root{s, 0, kSkynetLeaves, &sum};
    const uint64_t t0 = now_ns();
    join(spawn(s, skynet_fiber, &root, true));
    const double ms = double(now_ns() - t0) / 1e6;
    if (sum != kSkynetSum) die("skynet: sum %llu, not %llu", (unsigned long long)sum, (unsigned long long)kSkynetSum);
    if (i) per_rep.push_back(ms);
  }
  exo_fiber_sched_destroy(s);
  emit(o, "ms", "ms", per_rep, kSkynetLeaves);
  return 0;
}

// --- mixed-latency ---------------------------------------------------------------------------

struct ExoMixed {
  exo_fiber_sched* sched;
  MixedRep* rep;
};

struct ShortReq {
  MixedRep* rep;
  uint64_t spawned, index;
  uint32_t work;
};

struct LongTask {
  MixedRep* rep;
  uint64_t spawned;
  uint32_t slices;
};

void short_fiber(void* p) {
  std::unique_ptr<ShortReq> r(static_cast<ShortReq*>(p));
  busy_ns(r->work);
  const uint64_t end = now_ns();
  r->rep->short_lat_ns[r->index] = std::max<uint64_t>(1, end - r->spawned);
  r->rep->note_end(end);
  r->rep->shorts_done.fetch_add(1, std::memory_order_relaxed);
}

void long_fiber(void* p) {
  std::unique_ptr<LongTask> t(static_cast<LongTask*>(p));
  MixedRep* rep = t->rep;
  rep->note_wait(now_ns() - t->spawned);
  for (uint32_t i = 0; i < t->slices; i++) {
    busy_ns(kSliceNs);
    rep->long_slices_done.fetch_add(1, std::memory_order_relaxed);
    if (i + 1 == t->slices) break;
    const uint64_t t0 = now_ns();
    exo_fiber_yield();
    rep->note_wait(now_ns() - t0);
  }
  rep->note_end(now_ns());
  rep->longs_done.fetch_add(1, std::memory_order_relaxed);
}

void mixed_generator(void* p) {
  auto* m = static_cast<ExoMixed*>(p);
  MixedSchedule sched;
  sched.begin(now_ns());
  m->rep->start_ns = sched.start;
  for (;;) {
    const uint64_t now = now_ns();
    const uint64_t next = sched.due(
        *m->rep, now,
        [&](uint64_t index, uint32_t work) {
          spawn(m->sched, short_fiber, new ShortReq{m->rep, now_ns(), index, work}, false);
        },
        [&](uint32_t slices) {
          spawn(m->sched, long_fiber, new LongTask{m->rep, now_ns(), slices}, false);
        });
    if (!next) break;
    const uint64_t t = now_ns();
    if (next > t) exo_fiber_sleep_ns(next - t);
  }
}

int mixed_exofiber(const Options& o, unsigned policy) {
  MixedFigures fig;
  const unsigned reps = o.iters ? 1 : o.reps;
  for (unsigned i = 0; i <= reps; i++) {  // rep 0: warm-up
    exo_fiber_sched* s = make_sched(2, policy);
    MixedRep rep;
    rep.reset(now_ns());
    ExoMixed m{s, &rep};
    join(spawn(s, mixed_generator, &m, true));
    exo_fiber_sched_destroy(s);  // waits for every fiber
    if (i) fig.add(rep);
  }
  fig.emit_all(o);
  return 0;
}

// --- cache-affinity -----------------------------------------------------------------------------

constexpr unsigned kCacheFibers = 32;
constexpr size_t kWorkingSet = 32 * 1024;

struct CacheFiber {
  uint64_t* data;
  uint64_t rounds;
  uint64_t sum = 0;
  Lcg rng;
};

void cache_fiber(void* p) {
  auto* c = static_cast<CacheFiber*>(p);
  for (uint64_t r = 0; r < c->rounds; r++) {
    for (size_t i = 0; i < kWorkingSet / sizeof(uint64_t); i += 8) c->sum += ++c->data[i];
    // A pause (a request's I/O): the queues of the two workers go up and
    // down, and an idle worker has something to steal. The fiber wakes on
    // the worker it slept on (its timer is there).
    exo_fiber_sleep_ns(2'000 + c->rng.next() % 8'000);
  }
}

struct CacheRun {
  exo_fiber_sched* sched;
  std::vector<CacheFiber>* fibers;
};

void cache_driver(void* p) {
  auto* r = static_cast<CacheRun*>(p);
  // Spawned here: every fiber starts hot on this worker; the other worker
  // gets work only by stealing.
  std::vector<exo_fiber*> h;
  for (CacheFiber& c : *r->fibers) h.push_back(spawn(r->sched, cache_fiber, &c, true));
  for (exo_fiber* f : h) join(f);
}

int cache_affinity(const Options& o, bool cold_only) {
  const uint64_t rounds = o.iters ? o.iters : 200;
  std::vector<double> ns_per_run, migrations;
  const unsigned reps = o.iters ? 1 : o.reps;
  for (unsigned rep = 0; rep < reps; rep++) {
    std::vector<CacheFiber> fibers(kCacheFibers);
    std::vector<std::unique_ptr<uint64_t[]>> bufs;
    for (CacheFiber& c : fibers) {
      bufs.emplace_back(new uint64_t[kWorkingSet / sizeof(uint64_t)]());
      c.data = bufs.back().get();
      c.rounds = rounds;
      c.rng.s += uint64_t(&c - fibers.data());
    }
    exo_fiber_sched* s = make_sched(2, EXO_FIBER_PREDICTIVE, cold_only);
    CacheRun run{s, &fibers};
    const uint64_t t0 = now_ns();
    join(spawn(s, cache_driver, &run, true));
    const uint64_t t = now_ns() - t0;
    exo_fiber_stats st;
    exo_fiber_sched_get_stats(s, &st);
    exo_fiber_sched_destroy(s);
    const uint64_t lines = kWorkingSet / 64;
    // Line k of a fiber holds r after round r: the sum is lines * (1 + ... + rounds).
    for (CacheFiber& c : fibers) {
      if (c.sum != lines * rounds * (rounds + 1) / 2)
        die("cache-affinity: a fiber's sum is %llu, not %llu", (unsigned long long)c.sum,
            (unsigned long long)(lines * rounds * (rounds + 1) / 2));
      for (size_t i = 0; i < kWorkingSet / sizeof(uint64_t); i += 8)
        if (c.data[i] != rounds) die("cache-affinity: a line was touched %llu times, not %llu",
                                     (unsigned long long)c.data[i], (unsigned long long)rounds);
    }
    const double runs = double(kCacheFibers * rounds);
    if (getenv("FIBERBENCH_VERBOSE"))
      fprintf(stderr, "cache-affinity %s: switches %llu steals cold %llu other %llu migrations %llu\n",
              o.impl.c_str(), (unsigned long long)st.switches, (unsigned long long)st.steals_cold,
              (unsigned long long)st.steals_other, (unsigned long long)st.migrations);
    ns_per_run.push_back(double(t) / runs);
    migrations.push_back(double(st.migrations) / runs);
  }
  emit(o, "ns_per_run", "ns", ns_per_run, kCacheFibers * rounds);
  emit(o, "migrations_per_run", "migrations", migrations, kCacheFibers * rounds);
  return 0;
}

// --- ring-server ---------------------------------------------------------------------------------

// K clients on one thread (the last allowed CPU), each with a request and a
// response ring (memfd, SPSC) and one request in flight; the server runs on
// the first CPU: one fiber per ring, a thread per ring, or one epoll loop.
struct Msg {
  uint64_t seq;      // 0: stop
  uint64_t sent_ns;
  uint64_t check;    // ~seq: the server echoes the message whole
};

constexpr uint64_t kRingRunNs = 300'000'000;

struct RingSet {
  unsigned k;
  std::vector<exo_ring*> req, resp;
  // epoll-loop: one eventfd per ring, written by the client only when the
  // loop has announced that it sleeps.
  std::vector<int> evfd;
  std::atomic<uint32_t> loop_sleeping{0};
  std::atomic<uint64_t> served{0};
  bool doorbells = false;
};

exo_ring* make_ring() {
  exo_ring_params p{};
  p.capacity = 64;
  p.mode = EXO_MODE_SPSC;
  exo_ring* r;
  const int err = exo_ring_create(&p, EXO_BACKEND_MEMFD, &r);
  if (err) die("exo_ring_create: %d (%s)", err, exo_last_error());
  return r;
}

void check_msg(const exo_msg& m, const char* who) {
  if (m.len != sizeof(Msg)) die("ring-server %s: a message of %u bytes", who, m.len);
  Msg x;
  memcpy(&x, m.data, sizeof(x));
  if (x.check != ~x.seq) die("ring-server %s: a corrupt message (seq %llu)", who, (unsigned long long)x.seq);
}

// Returns true on the stop message.
bool serve_one(RingSet& rs, unsigned i, const exo_msg& m, bool fiber) {
  check_msg(m, "server");
  Msg x;
  memcpy(&x, m.data, sizeof(x));
  if (!x.seq) return true;
  const int err = fiber ? exo_fiber_send(rs.resp[i], &x, sizeof(x), 0) : exo_send(rs.resp[i], &x, sizeof(x), 0);
  if (err) die("ring-server: send of the reply: %d (%s)", err, exo_last_error());
  rs.served.fetch_add(1, std::memory_order_relaxed);
  return false;
}

struct RingFiberArg {
  RingSet* rs;
  unsigned i;
};

void ring_fiber(void* p) {
  auto* a = static_cast<RingFiberArg*>(p);
  for (;;) {
    exo_msg m;
    const int err = exo_fiber_recv(a->rs->req[a->i], &m, 0);
    if (err) die("ring-server: exo_fiber_recv: %d (%s)", err, exo_last_error());
    if (serve_one(*a->rs, a->i, m, true)) return;
  }
}

void ring_epoll_loop(RingSet& rs) {
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1: %s", strerror(errno));
  for (unsigned i = 0; i < rs.k; i++) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = i;
    if (epoll_ctl(ep, EPOLL_CTL_ADD, rs.evfd[i], &ev)) die("epoll_ctl: %s", strerror(errno));
  }
  unsigned stopped = 0, empty_passes = 0;
  std::vector<epoll_event> evs(rs.k);
  auto pass = [&] {
    bool any = false;
    for (unsigned i = 0; i < rs.k; i++) {
      exo_msg m;
      while (exo_recv(rs.req[i], &m, EXO_NONBLOCK) == 0) {
        any = true;
        if (serve_one(rs, i, m, false)) stopped++;
      }
    }
    return any;
  };
  while (stopped < rs.k) {
    if (pass()) {
      empty_passes = 0;
      continue;
    }
    if (++empty_passes < 16) continue;
    rs.loop_sleeping.store(1, std::memory_order_seq_cst);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (pass()) {
      rs.loop_sleeping.store(0, std::memory_order_relaxed);
      continue;
    }
    const int n = epoll_wait(ep, evs.data(), int(evs.size()), -1);
    if (n < 0 && errno != EINTR) die("epoll_wait: %s", strerror(errno));
    for (int j = 0; j < n; j++) {
      uint64_t v;
      if (read(rs.evfd[evs[j].data.u32], &v, sizeof(v)) < 0 && errno != EAGAIN) die("read eventfd: %s", strerror(errno));
    }
    rs.loop_sleeping.store(0, std::memory_order_relaxed);
  }
  close(ep);
}

void client_send(RingSet& rs, unsigned i, uint64_t seq) {
  Msg x{seq, now_ns(), ~seq};
  const int err = exo_send(rs.req[i], &x, sizeof(x), 0);
  if (err) die("ring-server client: exo_send: %d (%s)", err, exo_last_error());
  if (rs.doorbells) {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    if (rs.loop_sleeping.load(std::memory_order_relaxed) && rs.loop_sleeping.exchange(0)) {
      const uint64_t one = 1;
      if (write(rs.evfd[i], &one, sizeof(one)) != sizeof(one)) die("write eventfd: %s", strerror(errno));
    }
  }
}

struct RingRep {
  double msgs_per_s, p99_us;
};

RingRep ring_client(RingSet& rs) {
  pin_thread_to(allowed_cpus().back());
  std::vector<uint64_t> next(rs.k, 1);
  std::vector<double> lat_us;
  lat_us.reserve(1 << 20);
  for (unsigned i = 0; i < rs.k; i++) client_send(rs, i, next[i]);
  const uint64_t t0 = now_ns();
  uint64_t done = 0, now = t0;
  bool stopping = false;
  unsigned outstanding = rs.k;
  while (outstanding) {
    for (unsigned i = 0; i < rs.k; i++) {
      exo_msg m;
      if (exo_recv(rs.resp[i], &m, EXO_NONBLOCK)) continue;
      check_msg(m, "client");
      Msg x;
      memcpy(&x, m.data, sizeof(x));
      if (x.seq != next[i]) die("ring-server: ring %u answered %llu, expected %llu", i,
                                (unsigned long long)x.seq, (unsigned long long)next[i]);
      now = now_ns();
      if (!stopping) {
        lat_us.push_back(double(now - x.sent_ns) / 1e3);
        done++;
      }
      if (stopping) {
        outstanding--;
      } else {
        client_send(rs, i, ++next[i]);
      }
    }
    if (!stopping && now_ns() - t0 >= kRingRunNs) {
      stopping = true;
      now = now_ns();
    }
  }
  const double secs = double(now - t0) / 1e9;
  for (unsigned i = 0; i < rs.k; i++) client_send(rs, i, 0);
  if (done < rs.k) die("ring-server: only %llu replies", (unsigned long long)done);
  return {double(done) / secs, percentile(lat_us, 0.99)};
}

int ring_server(const Options& o, unsigned k) {
  std::vector<double> rate, p99;
  const unsigned reps = o.iters ? 1 : o.reps;
  for (unsigned rep = 0; rep < reps; rep++) {
    RingSet rs;
    rs.k = k;
    for (unsigned i = 0; i < k; i++) {
      rs.req.push_back(make_ring());
      rs.resp.push_back(make_ring());
    }
    const int server_cpu = allowed_cpus()[0];
    RingRep r;
    if (o.impl == "exofiber") {
      exo_fiber_sched* s = make_sched(1, EXO_FIBER_PREDICTIVE);  // worker 0: the first CPU
      std::vector<RingFiberArg> args(k);
      for (unsigned i = 0; i < k; i++) {
        args[i] = {&rs, i};
        spawn(s, ring_fiber, &args[i], false);
      }
      std::thread client([&] { r = ring_client(rs); });
      client.join();
      exo_fiber_sched_destroy(s);
    } else if (o.impl == "thread-per-ring") {
      std::vector<std::thread> servers;
      for (unsigned i = 0; i < k; i++)
        servers.emplace_back([&rs, i, server_cpu] {
          pin_thread_to(server_cpu);
          for (;;) {
            exo_msg m;
            const int err = exo_recv(rs.req[i], &m, 0);
            if (err) die("ring-server: exo_recv: %d (%s)", err, exo_last_error());
            if (serve_one(rs, i, m, false)) return;
          }
        });
      std::thread client([&] { r = ring_client(rs); });
      client.join();
      for (std::thread& t : servers) t.join();
    } else {
      rs.doorbells = true;
      for (unsigned i = 0; i < k; i++) {
        rs.evfd.push_back(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
        if (rs.evfd.back() < 0) die("eventfd: %s", strerror(errno));
      }
      std::thread server([&] {
        pin_thread_to(server_cpu);
        ring_epoll_loop(rs);
      });
      std::thread client([&] { r = ring_client(rs); });
      client.join();
      server.join();
      for (int fd : rs.evfd) close(fd);
    }
    for (unsigned i = 0; i < k; i++) {
      exo_msg m;
      if (exo_recv(rs.req[i], &m, EXO_NONBLOCK) == 0) die("ring-server: ring %u has an unread request", i);
      exo_ring_close(rs.req[i]);
      exo_ring_close(rs.resp[i]);
    }
    rate.push_back(r.msgs_per_s);
    p99.push_back(r.p99_us);
  }
  emit(o, "msgs_per_s", "msg/s", rate, k);
  emit(o, "p99_us", "us", p99, k);
  return 0;
}

// --- the list and main ---------------------------------------------------------------------------

struct Entry {
  const char* scenario;
  const char* impl;
};

const Entry kEntries[] = {
    {"switch", "exofiber"},          {"switch", "exofiber-yield"},
    {"switch", "fcontext"},          {"switch", "boost-fiber"},
    {"switch", "ucontext"},          {"switch", "thread-futex"},
    {"spawn-join", "exofiber"},      {"spawn-join", "exofiber-fifo"},
    {"spawn-join", "boost-fiber"},   {"skynet-1M", "exofiber"},
    // Not exofiber-fifo: FIFO runs the tree breadth first, a million
    // fibers alive, and each has its stack from its spawn on (two mappings
    // each: vm.max_map_count stops it near 32k). See README.md.
    {"skynet-1M", "boost-fiber"},
    {"mixed-latency", "exofiber"},   {"mixed-latency", "exofiber-fifo"},
    {"mixed-latency", "boost-fiber"}, {"cache-affinity", "exofiber-steal-cold"},
    {"cache-affinity", "exofiber-steal-any"},
    {"ring-server-1", "exofiber"},   {"ring-server-1", "thread-per-ring"},
    {"ring-server-1", "epoll-loop"}, {"ring-server-16", "exofiber"},
    {"ring-server-16", "thread-per-ring"}, {"ring-server-16", "epoll-loop"},
    {"ring-server-256", "exofiber"}, {"ring-server-256", "thread-per-ring"},
    {"ring-server-256", "epoll-loop"},
};

int run(const Options& o) {
  const std::string& s = o.scenario;
  const std::string& i = o.impl;
  if (i == "boost-fiber") return boost_run(o);
  if (s == "switch") {
    // One thread: on the first CPU (thread-futex pins both of its own).
    pin_thread_to(allowed_cpus()[0]);
    if (i == "exofiber") timed_ns_per_op(o, switch_exofiber);
    else if (i == "fcontext") timed_ns_per_op(o, switch_fcontext);
    else if (i == "ucontext") timed_ns_per_op(o, switch_ucontext);
    else if (i == "thread-futex") timed_ns_per_op(o, switch_thread_futex);
    else if (i == "exofiber-yield") timed_ns_per_op(o, switch_exofiber_yield);
    return 0;
  }
  const unsigned policy = i == "exofiber-fifo" ? EXO_FIBER_FIFO : EXO_FIBER_PREDICTIVE;
  if (s == "spawn-join") return spawn_join_exofiber(o, policy);
  if (s == "skynet-1M") return skynet_exofiber(o, policy);
  if (s == "mixed-latency") return mixed_exofiber(o, policy);
  if (s == "cache-affinity") return cache_affinity(o, i == "exofiber-steal-cold");
  if (s.rfind("ring-server-", 0) == 0) return ring_server(o, unsigned(std::stoul(s.substr(12))));
  die("no scenario %s", s.c_str());
}

[[noreturn]] void usage(const char* why) {
  fprintf(stderr,
          "fiberbench: %s\n"
          "usage: fiberbench --list\n"
          "       fiberbench --scenario S --impl I [--reps N] [--iters N]\n",
          why);
  exit(2);
}

uint64_t parse_count(const char* s, const char* what) {
  char* end;
  const unsigned long long v = strtoull(s, &end, 10);
  if (!*s || *end || v == 0 || v > (1ull << 40)) usage(what);
  return v;
}

}  // namespace
}  // namespace fiberbench

int main(int argc, char** argv) {
  using namespace fiberbench;
  Options o;
  bool list = false;
  for (int i = 1; i < argc; i++) {
    const std::string arg = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage((arg + " needs a value").c_str());
      return argv[++i];
    };
    if (arg == "--list") list = true;
    else if (arg == "--scenario") o.scenario = value();
    else if (arg == "--impl") o.impl = value();
    else if (arg == "--reps") o.reps = unsigned(parse_count(value(), "--reps: a positive number"));
    else if (arg == "--iters") o.iters = parse_count(value(), "--iters: a positive number");
    else usage(("unknown argument " + arg).c_str());
  }
  if (list) {
    for (const Entry& e : kEntries) printf("%s %s\n", e.scenario, e.impl);
    return 0;
  }
  if (o.scenario.empty() || o.impl.empty()) usage("--scenario and --impl are needed");
  bool known = false;
  for (const Entry& e : kEntries) known |= o.scenario == e.scenario && o.impl == e.impl;
  if (!known) usage(("no impl " + o.impl + " of scenario " + o.scenario).c_str());
  if (o.iters && o.iters % 2) o.iters++;  // switches come in round trips
  return run(o);
}
