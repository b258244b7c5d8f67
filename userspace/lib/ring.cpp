// SPDX-License-Identifier: LGPL-2.1 OR GPL-2.0
// libexofusion: ring handles, and the ring protocol as seen by senders and
// receivers in user space. The protocol itself (claims, publication,
// validation) is the core's (module/core): the same code the module runs.
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <new>

#include "module/core/ring/ring_layout.h"
#include "module/core/ring/ring_view.h"
#include "userspace/include/exofusion/exofusion.h"
#include "userspace/lib/adaptive_wait.h"
#include "userspace/lib/backend.h"
#include "userspace/lib/error.h"

using exo::RingView;
using exo::lib::Backend;
using exo::lib::fail;

namespace {

constexpr char kDeviceDir[] = "/dev/exofusion/";
constexpr char kControlPath[] = "/dev/exofusion/control";

using exo::wait::AdaptiveWait;
using WaitMode = exo::wait::Mode;

// How blocked calls wait before they sleep (adaptive_wait.h): the machine's
// choice (spin with several CPUs, yield with one), or the environment's,
// EXOFUSION_WAIT=spin, yield or sleep (tests use it to take every path).
int choose_wait_mode(WaitMode* out) {
  const char* env = getenv("EXOFUSION_WAIT");
  static const struct {
    const char* name;
    WaitMode mode;
  } kModes[] = {{"spin", WaitMode::kSpin}, {"yield", WaitMode::kYield}, {"sleep", WaitMode::kSleep}};
  if (!env || !*env) {
    *out = sysconf(_SC_NPROCESSORS_ONLN) <= 1 ? WaitMode::kYield : WaitMode::kSpin;
    return 0;
  }
  for (const auto& m : kModes)
    if (strcmp(env, m.name) == 0) {
      *out = m.mode;
      return 0;
    }
  return fail(-EINVAL, "EXOFUSION_WAIT=%s: expected spin, yield or sleep", env);
}

// The wake-up a send of this thread put off until its next wait
// (EXO_WAKE_ON_WAIT): at most one; a second deferral issues the first.
// Initial-exec: one load on the fast paths, in the static and shared library.
struct Deferred {
  exo_ring* ring;
  u32 which;
};
__attribute__((tls_model("initial-exec"))) thread_local Deferred deferred = {nullptr, 0};

}  // namespace

struct exo_ring {
  int fd = -1;
  bool device = false;
  u32 owner_uid = 0;  // device rings: the kernel's record of the creator
  void* region = MAP_FAILED;
  u64 mapped_size = 0;
  exo_ring_info info{};  // validated at attach; the view reads it
  RingView view;
  Backend* backend = nullptr;
  AdaptiveWait waits[EXO_WAIT_NR];  // a blocked call's active wait, per kind

  ~exo_ring() {
    delete backend;
    if (region != MAP_FAILED) munmap(region, mapped_size);
    if (fd >= 0) close(fd);
  }

  bool multi() const { return view.info().mode == EXO_MODE_MPMC; }

  // Counter in a side's line: a plain update when that side has a single
  // party (no read-modify-write in SPSC mode), atomic otherwise.
  void bump(u64* counter) const {
    if (multi())
      exo::fetch_add(counter, 1ull);
    else
      exo::store_relaxed(counter, exo::load_relaxed(counter) + 1);
  }


  int wait(u32 which, s64 timeout_ns) {
    AdaptiveWait& waiting = waits[which];
    if (deferred.ring) {
      // Waiting actively has been failing: sleep now, and the deferred
      // wake-up rides on our WAIT. Else it goes first: the peer sleeps.
      if (waiting.at_minimum() && device && deferred.ring->device) {
        exo::lib::DeferredWake first = {deferred.ring->fd, deferred.which};
        deferred.ring = nullptr;
        return backend->sleep(view, which, timeout_ns, &first);
      }
      flush_deferred();
    }
    // A timed wait does not yield: a yield may run other tasks for a time
    // slice, which its timeout could not bound.
    bool active = timeout_ns < 0 || (timeout_ns > 0 && waiting.mode() == WaitMode::kSpin);
    // Our caller's claim just failed: no check before the first pause or yield.
    if (active && waiting.wait_actively([&] { return view.ready(which); }, true)) return 0;
    int err = backend->sleep(view, which, timeout_ns, nullptr);
    if (active && !err) waiting.ended_asleep();
    return err;
  }

  // Whether this thread has a wake-up deferred; settle_deferred() issues it.
  static bool deferring() { return deferred.ring != nullptr; }
  static void settle_deferred() {
    if (__builtin_expect(deferred.ring != nullptr, 0)) flush_deferred();
  }
  static __attribute__((noinline)) void flush_deferred() {
    exo_ring* ring = deferred.ring;
    deferred.ring = nullptr;
    ring->notify(deferred.which);
  }

  // After publishing or releasing: a syscall only if someone sleeps. The
  // compiler barrier suffices; sleepers issue the cross-CPU barrier (see
  // backend.h). A send's |flags| may defer the wake-up of a device ring's
  // sleeper to the thread's next wait (EXO_WAKE_ON_WAIT).
  void notify(u32 which, unsigned int flags = 0) {
    exo::compiler_barrier();
    if (!exo::load_relaxed(&view.waiter(which).need_wakeup)) return;
    if (!(flags & EXO_WAKE_ON_WAIT) || !device) return backend->wake(view, which);
    if (deferred.ring) flush_deferred();
    deferred = {this, which};
  }

  // The side a waiter of |which| waits on, for its stall counter.
  u64* stall_counter(u32 which) {
    exo_ring_header* h = view.header();
    return which == EXO_WAIT_DATA ? &h->cons.stalls : which == EXO_WAIT_SPACE ? &h->prod.stalls
                                                                             : &h->free_cons.stalls;
  }

  // One failed attempt: -EAGAIN if non-blocking, else wait and retry.
  int stall(u32 which, unsigned int flags, bool first) {
    if (first) bump(stall_counter(which));
    if (flags & EXO_NONBLOCK) return -EAGAIN;
    return wait(which, -1);
  }
};

namespace {

int map_ring(exo_ring* ring, const exo_ring_info& info, u64 size) {
  const char* why = nullptr;
  int err = exo::validate_info(info, size, &why);
  if (err) return fail(err, "ring fd %d: %s", ring->fd, why);
  ring->region = mmap(nullptr, info.region_size, PROT_READ | PROT_WRITE, MAP_SHARED, ring->fd, 0);
  if (ring->region == MAP_FAILED) return fail(-errno, "mmap of ring fd %d", ring->fd);
  ring->mapped_size = info.region_size;
  // Our own copy of the layout: later scribbles on the header change nothing.
  ring->info = info;
  ring->view = RingView(ring->region, ring->info);
  WaitMode mode = WaitMode::kSpin;
  err = choose_wait_mode(&mode);
  if (err) return err;
  for (AdaptiveWait& w : ring->waits) w = AdaptiveWait(mode);
  return 0;
}

int attach_device(exo_ring* ring) {
  exo_ring_info info;
  if (ioctl(ring->fd, EXO_RING_IOC_INFO, &info) != 0)
    return fail(-errno, "fd %d is not an exofusion ring device", ring->fd);
  ring->device = true;
  ring->owner_uid = info.owner_uid;
  ring->backend = exo::lib::new_device_backend(ring->fd);
  if (!ring->backend) return fail(-ENOMEM, "ring backend");
  return map_ring(ring, info, info.region_size);
}

int attach_memfd(exo_ring* ring, u64 size) {
  int err = exo::lib::register_memfd_process();
  if (err) return fail(err, "membarrier(2) global expedited registration");
  exo_ring_info info;
  if (pread(ring->fd, &info, sizeof(info), 0) != static_cast<ssize_t>(sizeof(info)))
    return fail(-EINVAL, "fd %d is too small to hold a ring", ring->fd);
  ring->backend = exo::lib::new_memfd_backend();
  if (!ring->backend) return fail(-ENOMEM, "ring backend");
  return map_ring(ring, info, size);
}

// Takes ownership of |fd|, also on failure.
int attach(int fd, exo_ring** out) {
  exo_ring* ring = new (std::nothrow) exo_ring;
  if (!ring) {
    close(fd);
    return fail(-ENOMEM, "ring handle");
  }
  ring->fd = fd;
  struct stat st;
  int err = fstat(fd, &st) == 0 ? 0 : fail(-errno, "fstat of fd %d", fd);
  if (!err && S_ISCHR(st.st_mode))
    err = attach_device(ring);
  else if (!err && S_ISREG(st.st_mode))
    err = attach_memfd(ring, st.st_size);
  else if (!err)
    err = fail(-EINVAL, "fd %d is neither a ring device nor a memfd", fd);
  if (err) {
    delete ring;
    return err;
  }
  *out = ring;
  return 0;
}

int open_device(const char* name, exo_ring** out) {
  const char* why = nullptr;
  int err = exo::check_name(name, strlen(name) + 1, &why);
  if (err) return fail(err, "ring name '%s': %s", name, why);
  char path[sizeof(kDeviceDir) + EXO_NAME_MAX];
  snprintf(path, sizeof(path), "%s%s", kDeviceDir, name);
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) return fail(-errno, "open %s", path);
  return attach(fd, out);
}

int create_device(const exo_create_req& req, exo_ring** out) {
  int control = open(kControlPath, O_RDWR | O_CLOEXEC);
  if (control < 0) return fail(-errno, "open %s (is the exofusion module loaded?)", kControlPath);
  exo_create_req inout = req;
  int err = ioctl(control, EXO_IOC_CREATE, &inout) == 0 ? 0 : -errno;
  close(control);
  if (err == -EMFILE)
    return fail(err, "create ring '%s': uid %u has as many rings as the module's "
                "max_rings_per_user allows", req.name, static_cast<unsigned>(geteuid()));
  if (err) return fail(err, "create ring '%s'", req.name);
  err = open_device(req.name, out);
  if (err) exo_ring_destroy(req.name);
  return err;
}

int create_memfd(const exo_create_req& req, exo_ring** out) {
  exo_ring_info info;
  const char* why = nullptr;
  exo::plan_ring(req, &info, &why);  // validated by the caller already
  char label[EXO_NAME_MAX + 16];
  snprintf(label, sizeof(label), "exofusion:%s", req.name);
  int fd = memfd_create(label, MFD_CLOEXEC);
  if (fd < 0) return fail(-errno, "memfd_create");
  void* region = MAP_FAILED;
  int err = ftruncate(fd, info.region_size) == 0 ? 0 : fail(-errno, "ftruncate of ring memfd");
  if (!err) region = mmap(nullptr, info.region_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (!err && region == MAP_FAILED) err = fail(-errno, "mmap of ring memfd");
  if (err) {
    close(fd);
    return err;
  }
  exo::init_ring(region, info);
  munmap(region, info.region_size);
  return attach(fd, out);
}

bool module_loaded() { return access(kControlPath, F_OK) == 0; }

int check_msg_size(size_t len) {
  if (len <= EXO_INLINE_MAX) return 0;
  return fail(-EMSGSIZE, "inline message of %zu bytes: at most %d", len, EXO_INLINE_MAX);
}

// A full slot's payload is copied with a fixed size (a few vector moves,
// no call); shorter ones by length (the caller's buffer may end there).
__attribute__((always_inline)) inline void fill_inline(exo_slot& slot, const void* data,
                                                       size_t len, u8 flags) {
  slot.type = EXO_MSG_INLINE;
  slot.flags = flags;
  slot.len = static_cast<u16>(len);
  if (len == EXO_INLINE_MAX)
    memcpy(slot.data, data, EXO_INLINE_MAX);
  else
    memcpy(slot.data, data, len);
}

// A claim that found shared positions or sequences no honest peer writes:
// waiting for them to change could last for ever (as the kernel's side).
int corrupted(const char* call) {
  return fail(-EBADMSG, "%s: the ring's shared positions or sequences are corrupted", call);
}

// Claims up to |max| message slots, for a producer (|which| EXO_WAIT_SPACE)
// or a consumer (EXO_WAIT_DATA), waiting as |flags| say: how many, or a
// negative errno (EAGAIN; EBADMSG for a corrupted ring; a wait's error).
// Inlined: it is the send and receive calls' fast path.
using Run = exo::SeqRing<exo_slot>::Run;

template <u32 kWhich>
__attribute__((always_inline)) inline int claim_slots(exo_ring* ring, u32 max, unsigned int flags,
                                                      const char* call, u64* pos,
                                                      Run run = Run::kMayWrap) {
  static_assert(kWhich == EXO_WAIT_SPACE || kWhich == EXO_WAIT_DATA, "a producer or a consumer");
  auto& slots = ring->view.messages();
  exo::RingState state;
  for (bool first = true;; first = false) {
    u32 n = kWhich == EXO_WAIT_SPACE ? slots.claim_produce(max, pos, &state, run)
                                     : slots.claim_consume(max, pos, &state, run);
    if (n) return static_cast<int>(n);
    if (state == exo::RingState::kCorrupt) return corrupted(call);
    int err = ring->stall(kWhich, flags, first);
    if (err) return err;
  }
}

// Points |msg| at a claimed slot's well-formed inline message in place;
// false, |msg| untouched, for any other slot. Each field is read once.
__attribute__((always_inline)) inline bool view_inline(const exo_slot& slot, exo_msg* msg) {
  u8 type = exo::load_relaxed(&slot.type);
  u16 len = exo::load_relaxed(&slot.len);
  if (type != EXO_MSG_INLINE || len > EXO_INLINE_MAX) return false;
  msg->type = type;
  msg->len = len;
  msg->buf = 0;
  msg->flags = exo::load_relaxed(&slot.flags);
  msg->data = slot.data;
  return true;
}

// Points |msg| at a claimed slot that is not an inline message: a zero-copy
// one, at its range of the pool (each field read once); else -EBADMSG.
inline int view_zerocopy(exo_ring* ring, const exo_slot& slot, exo_msg* msg, const char* call) {
  u8 type = exo::load_relaxed(&slot.type);
  u16 len = exo::load_relaxed(&slot.len);
  msg->type = type;
  msg->flags = exo::load_relaxed(&slot.flags);
  msg->buf = 0;
  if (type == EXO_MSG_ZEROCOPY) {
    exo_zc_desc desc;
    memcpy(&desc, slot.data, sizeof(desc));
    msg->data = ring->view.zc_payload(desc);
    msg->len = desc.len;
    msg->buf = desc.buf;
    if (msg->data) return 0;
  }
  return fail(-EBADMSG, "%s: malformed message (type %u, len %u)", call, type, len);
}

// Points |msg| at a claimed slot's message in place: its inline data, or
// its zero-copy range of the pool. 0, or -EBADMSG for a malformed slot.
inline int view_slot(exo_ring* ring, const exo_slot& slot, exo_msg* msg, const char* call) {
  return view_inline(slot, msg) ? 0 : view_zerocopy(ring, slot, msg, call);
}

// As view_inline, but the message is copied out (its slot is released
// next). The copy is the whole slot's payload, a fixed size (vector moves,
// no call): bytes past len are the slot's own.
__attribute__((always_inline)) inline bool copy_inline(const exo_slot& slot, exo_msg* msg) {
  if (!view_inline(slot, msg)) return false;
  memcpy(msg->inline_data, slot.data, EXO_INLINE_MAX);
  msg->data = msg->inline_data;
  return true;
}

// Reads a claimed slot into |msg|: an inline message copied out, a
// zero-copy one pointed at in the pool. 0, or -EBADMSG for a malformed slot.
inline int read_slot(exo_ring* ring, const exo_slot& slot, exo_msg* msg, const char* call) {
  return copy_inline(slot, msg) ? 0 : view_zerocopy(ring, slot, msg, call);
}

// exo_recv for every case but its fast path's: MPMC, an empty ring, a
// zero-copy or a malformed slot.
__attribute__((noinline)) int recv_general(exo_ring* ring, exo_msg* msg, unsigned int flags) {
  u64 pos = 0;
  int n = claim_slots<EXO_WAIT_DATA>(ring, 1, flags, "exo_recv", &pos);
  exo_ring::settle_deferred();  // no wait, or one that failed: issue it
  if (n < 0) return n;
  int err = read_slot(ring, ring->view.messages().at(pos), msg, "exo_recv");
  ring->view.messages().release(pos);
  ring->notify(EXO_WAIT_SPACE);
  return err;
}

// exo_send for every case but its fast path's: MPMC, a ring that looks
// full, a message too long.
__attribute__((noinline)) int send_general(exo_ring* ring, const void* data, size_t len,
                                           unsigned int flags) {
  int err = check_msg_size(len);
  if (err) return err;
  u64 pos = 0;
  int n = claim_slots<EXO_WAIT_SPACE>(ring, 1, flags, "exo_send", &pos);
  if (n < 0) return n;
  fill_inline(ring->view.messages().at(pos), data, len, 0);
  ring->view.messages().publish(pos);
  exo::prefetch_for_write(&ring->view.messages().at(pos + 1));
  ring->notify(EXO_WAIT_DATA, flags);
  return 0;
}

// A non-blocking exo_recv that found the SPSC ring empty: its poll, as
// cheap as the fast path's miss (the general claim would find the same).
__attribute__((noinline)) int recv_empty(exo_ring* ring) {
  ring->bump(&ring->view.header()->cons.stalls);
  exo_ring::settle_deferred();
  return -EAGAIN;
}

// The end of a fast path that owes a wake-up (|which|, or EXO_WAIT_NR for
// none) or found one of the thread's deferred: out of line, so that the
// fast path needs no frame.
__attribute__((noinline)) int finish_slow(exo_ring* ring, u32 which, unsigned int flags) {
  exo_ring::settle_deferred();  // the thread's earlier one first
  if (which < EXO_WAIT_NR) ring->notify(which, flags);
  return 0;
}

// A run handed back by the caller must be one this ring lent: its shape
// (the slots of its positions, not past the array's end).
__attribute__((always_inline)) inline int check_run(exo_ring* ring, const exo_slots* run,
                                                    const char* call) {
  auto& slots = ring->view.messages();
  const u32 to_end = slots.capacity() - static_cast<u32>(run->first & (slots.capacity() - 1));
  if (run->slots != &slots.at(run->first) || !run->count || run->count > to_end)
    return fail(-EINVAL, "%s: run (count %u) was not lent by this ring", call, run->count);
  return 0;
}

// And one still out: reserved and not committed, or borrowed and not
// released (a run handed back twice, or shifted by a lap, changes nothing).
__attribute__((always_inline)) inline int check_run_out(exo_ring* ring, const exo_slots* run,
                                                        bool reserved, const char* call) {
  int err = check_run(ring, run, call);
  if (err) return err;
  auto& slots = ring->view.messages();
  if (reserved ? slots.producer_owns(run->first, run->count)
               : slots.consumer_owns(run->first, run->count))
    return 0;
  return fail(-EINVAL, "%s: run at position %llu (count %u) is not %s", call,
              static_cast<unsigned long long>(run->first), run->count,
              reserved ? "reserved and uncommitted" : "borrowed and unreleased");
}

// exo_reserve (|kWhich| EXO_WAIT_SPACE) and exo_recv_borrow (EXO_WAIT_DATA):
// a run of up to |max| slots that never wraps, lent to the caller.
template <u32 kWhich>
int lend_run(exo_ring* ring, unsigned int max, unsigned int flags, const char* call,
             exo_slots* run) {
  auto& slots = ring->view.messages();
  if (!max || max > slots.capacity())
    return fail(-EINVAL, "%s: max %u is not in [1, capacity %u]", call, max, slots.capacity());
  u64 pos = 0;
  int n = claim_slots<kWhich>(ring, max, flags, call, &pos, Run::kContiguous);
  exo_ring::settle_deferred();  // no wait, or one that failed: issue it
  if (n < 0) return n;
  *run = exo_slots{&slots.at(pos), pos, static_cast<u32>(n), 0};
  return n;
}

// exo_commit (|kWhich| EXO_WAIT_SPACE: publishes the run) and
// exo_recv_release (EXO_WAIT_DATA: frees it), each with at most one wake-up.
template <u32 kWhich>
int take_back_run(exo_ring* ring, const exo_slots* run, const char* call) {
  constexpr bool kReserved = kWhich == EXO_WAIT_SPACE;
  exo_ring::settle_deferred();
  int err = check_run_out(ring, run, kReserved, call);
  if (err) return err;
  auto& slots = ring->view.messages();
  exo_ring_header* h = ring->view.header();
  if (kReserved)
    slots.publish_run(run->first, run->count);
  else
    slots.release_run(run->first, run->count);
  ring->bump(kReserved ? &h->prod.batches : &h->cons.batches);
  ring->notify(kReserved ? EXO_WAIT_DATA : EXO_WAIT_SPACE);
  return 0;
}

}  // namespace

extern "C" {

int exo_ring_create(const exo_ring_params* params, exo_backend backend, exo_ring** out) {
  exo_create_req req{};
  const char* name = params->name ? params->name : "anonymous";
  if (strlen(name) >= sizeof(req.name))
    return fail(-ENAMETOOLONG, "ring name '%s': longer than %d characters", name, EXO_NAME_MAX - 1);
  memcpy(req.name, name, strlen(name));
  req.capacity = params->capacity;
  req.mode = params->mode;
  req.buf_size = params->buf_size;
  req.buf_count = params->buf_count;
  req.perm = params->perm ? params->perm : 0600;
  exo_ring_info info;
  const char* why = nullptr;
  int err = exo::plan_ring(req, &info, &why);
  if (err) return fail(err, "ring '%s': %s", name, why);
  if (backend == EXO_BACKEND_AUTO) backend = module_loaded() ? EXO_BACKEND_DEVICE : EXO_BACKEND_MEMFD;
  if (backend == EXO_BACKEND_DEVICE) return create_device(req, out);
  if (backend == EXO_BACKEND_MEMFD) return create_memfd(req, out);
  return fail(-EINVAL, "unknown backend %d", static_cast<int>(backend));
}

int exo_ring_open(const char* name, exo_ring** out) { return open_device(name, out); }

int exo_ring_open_owned(const char* name, uid_t owner, exo_ring** out) {
  exo_ring* ring = nullptr;
  int err = open_device(name, &ring);
  if (err) return err;
  // The fd is bound to the ring whose node was opened (the module checks
  // that), so the owner read through it is that ring's.
  if (ring->owner_uid != owner) {
    err = fail(-EPERM, "ring '%s' belongs to uid %u, not to the expected uid %u", name,
               ring->owner_uid, static_cast<unsigned>(owner));
    delete ring;
    return err;
  }
  *out = ring;
  return 0;
}

int exo_ring_attach_fd(int fd, exo_ring** out) {
  int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (own < 0) return fail(-errno, "dup of fd %d", fd);
  return attach(own, out);
}

void exo_ring_close(exo_ring* ring) {
  exo_ring::settle_deferred();  // it may be this ring's
  delete ring;
}

int exo_ring_destroy(const char* name) {
  exo_name_req req{};
  const char* why = nullptr;
  int err = exo::check_name(name, strlen(name) + 1, &why);
  if (err) return fail(err, "ring name '%s': %s", name, why);
  memcpy(req.name, name, strlen(name));
  int control = open(kControlPath, O_RDWR | O_CLOEXEC);
  if (control < 0) return fail(-errno, "open %s (is the exofusion module loaded?)", kControlPath);
  err = ioctl(control, EXO_IOC_DESTROY, &req) == 0 ? 0 : -errno;
  close(control);
  return err ? fail(err, "destroy ring '%s'", name) : 0;
}

int exo_ring_fd(const exo_ring* ring) { return ring->fd; }
int exo_ring_is_device(const exo_ring* ring) { return ring->device; }
const exo_ring_info* exo_ring_get_info(const exo_ring* ring) { return &ring->view.info(); }

int exo_ring_get_stats(exo_ring* ring, exo_ring_stats* stats) {
  if (ring->device)
    return ioctl(ring->fd, EXO_RING_IOC_STATS, stats) == 0 ? 0 : fail(-errno, "ring stats");
  *stats = exo_ring_stats{};
  const exo_ring_header* h = ring->view.header();
  const exo_ring_info& info = ring->view.info();
  stats->messages = h->prod.pos;
  stats->received = h->cons.pos;
  stats->batches = h->prod.batches + h->cons.batches;
  stats->full_events = h->prod.stalls;
  stats->empty_events = h->cons.stalls;
  for (const exo_ring_waiter& w : h->waiters) {
    stats->sleeps += w.sleeps;
    stats->wakeups += w.wakes;
  }
  stats->region_size = info.region_size;
  stats->capacity = info.capacity;
  stats->mode = info.mode;
  stats->buf_size = info.buf_size;
  stats->buf_count = info.buf_count;
  return 0;
}

int exo_send(exo_ring* ring, const void* data, size_t len, unsigned int flags) {
  // The fast path: SPSC with room known; anything else takes send_general().
  u64 pos = 0;
  exo_slot* slot = len <= EXO_INLINE_MAX ? ring->view.messages().claim_single_free(&pos) : nullptr;
  if (!slot) return send_general(ring, data, len, flags);
  fill_inline(*slot, data, len, 0);
  ring->view.messages().publish(pos);
  exo::prefetch_for_write(&ring->view.messages().at(pos + 1));
  bool wake = exo::load_relaxed(&ring->view.waiter(EXO_WAIT_DATA).need_wakeup);
  if (__builtin_expect(wake || exo_ring::deferring(), 0))
    return finish_slow(ring, wake ? EXO_WAIT_DATA : EXO_WAIT_NR, flags);
  return 0;
}

int exo_recv(exo_ring* ring, exo_msg* msg, unsigned int flags) {
  // The fast path: SPSC, a message waiting, and it is inline. No call and
  // no frame on it; anything else takes recv_general().
  u64 pos = 0;
  bool empty;
  const exo_slot* slot = ring->view.messages().claim_single_next(&pos, &empty);
  if (!slot) return empty && (flags & EXO_NONBLOCK) ? recv_empty(ring) : recv_general(ring, msg, flags);
  if (!copy_inline(*slot, msg)) return recv_general(ring, msg, flags);
  ring->view.messages().release(pos);
  bool wake = exo::load_relaxed(&ring->view.waiter(EXO_WAIT_SPACE).need_wakeup);
  if (__builtin_expect(wake || exo_ring::deferring(), 0))  // a message came: we wait no more
    return finish_slow(ring, wake ? EXO_WAIT_SPACE : EXO_WAIT_NR, 0);
  return 0;
}

int exo_send_batch(exo_ring* ring, const iovec* msgs, unsigned int count, unsigned int flags) {
  exo_ring::settle_deferred();
  for (unsigned int i = 0; i < count; ++i) {
    int err = check_msg_size(msgs[i].iov_len);
    if (err) return err;
  }
  auto& slots = ring->view.messages();
  unsigned int sent = 0;
  bool first = true;
  while (sent < count) {
    u64 pos;
    exo::RingState state;
    u32 n = slots.claim_produce(count - sent, &pos, &state);
    if (n == 0 && state == exo::RingState::kCorrupt)
      return sent ? static_cast<int>(sent) : corrupted("exo_send_batch");
    if (n == 0) {
      int err = ring->stall(EXO_WAIT_SPACE, flags, first);
      if (err) return sent ? static_cast<int>(sent) : err;
      first = false;
      continue;
    }
    for (u32 i = 0; i < n; ++i) {
      const iovec& m = msgs[sent + i];
      u8 slot_flags = sent + i + 1 == count ? EXO_SLOT_F_BATCH_END : 0;
      fill_inline(slots.at(pos + i), m.iov_base, m.iov_len, slot_flags);
    }
    slots.publish_run(pos, n);
    exo::prefetch_for_write(&slots.at(pos + n));
    sent += n;
    ring->bump(&ring->view.header()->prod.batches);
    ring->notify(EXO_WAIT_DATA, flags);
  }
  return static_cast<int>(sent);
}

int exo_recv_batch(exo_ring* ring, exo_msg* msgs, unsigned int max, unsigned int flags) {
  auto& slots = ring->view.messages();
  u64 pos = 0;
  int n = claim_slots<EXO_WAIT_DATA>(ring, max, flags, "exo_recv_batch", &pos);
  exo_ring::settle_deferred();
  if (n < 0) return n;
  int err = 0;
  for (int i = 0; i < n; ++i) {
    int e = read_slot(ring, slots.at(pos + i), &msgs[i], "exo_recv_batch");
    if (e && !err) err = e;
  }
  slots.release_run(pos, static_cast<u32>(n));
  ring->bump(&ring->view.header()->cons.batches);
  ring->notify(EXO_WAIT_SPACE);
  return err ? err : static_cast<int>(n);
}

int exo_reserve(exo_ring* ring, unsigned int max, unsigned int flags, exo_slots* run) {
  return lend_run<EXO_WAIT_SPACE>(ring, max, flags, "exo_reserve", run);
}

int exo_commit(exo_ring* ring, const exo_slots* run) {
  return take_back_run<EXO_WAIT_SPACE>(ring, run, "exo_commit");
}

int exo_recv_borrow(exo_ring* ring, unsigned int max, unsigned int flags, exo_slots* run) {
  return lend_run<EXO_WAIT_DATA>(ring, max, flags, "exo_recv_borrow", run);
}

int exo_slots_msg(exo_ring* ring, const exo_slots* run, uint32_t i, exo_msg* msg) {
  int err = check_run(ring, run, "exo_slots_msg");
  if (err) return err;
  if (i >= run->count) return fail(-EINVAL, "exo_slots_msg: slot %u of a run of %u", i, run->count);
  return view_slot(ring, *exo_slots_at(run, i), msg, "exo_slots_msg");
}

int exo_recv_release(exo_ring* ring, const exo_slots* run) {
  return take_back_run<EXO_WAIT_DATA>(ring, run, "exo_recv_release");
}

int exo_zc_reserve(exo_ring* ring, uint32_t* buf, void** data, unsigned int flags) {
  exo_ring::settle_deferred();
  if (!ring->view.has_pool()) return fail(-EOPNOTSUPP, "ring has no zero-copy buffer pool");
  for (bool first = true; !ring->view.take_buffer(buf); first = false) {
    int err = ring->stall(EXO_WAIT_BUFFER, flags, first);
    if (err) return err;
  }
  *data = ring->view.buffer(*buf);
  return 0;
}

int exo_zc_send(exo_ring* ring, uint32_t buf, uint32_t offset, uint32_t len, unsigned int flags) {
  exo_ring::settle_deferred();
  exo_zc_desc desc = {buf, offset, len, 0};
  if (!ring->view.zc_payload(desc))
    return fail(-EINVAL, "zero-copy range buf %u offset %u len %u is outside the pool", buf,
                offset, len);
  u64 pos = 0;
  int n = claim_slots<EXO_WAIT_SPACE>(ring, 1, flags, "exo_zc_send", &pos);
  if (n < 0) return n;
  exo_slot& slot = ring->view.messages().at(pos);
  fill_inline(slot, &desc, sizeof(desc), 0);
  slot.type = EXO_MSG_ZEROCOPY;
  ring->view.messages().publish(pos);
  ring->notify(EXO_WAIT_DATA, flags);
  return 0;
}

int exo_zc_release(exo_ring* ring, uint32_t buf) {
  exo_ring::settle_deferred();
  if (buf >= ring->view.info().buf_count)
    return fail(-EINVAL, "buffer %u is outside the pool of %u", buf, ring->view.info().buf_count);
  if (!ring->view.return_buffer(buf))
    return fail(-EINVAL, "buffer %u is free already (released twice?)", buf);
  ring->notify(EXO_WAIT_BUFFER);
  return 0;
}

void exo_flush_wakeups(void) { exo_ring::settle_deferred(); }

int exo_ring_wait(exo_ring* ring, unsigned int which, int64_t timeout_ns) {
  if (which >= EXO_WAIT_NR) return fail(-EINVAL, "wait kind %u: expected 0..%d", which, EXO_WAIT_NR - 1);
  if (which == EXO_WAIT_BUFFER && !ring->view.has_pool())
    return fail(-EINVAL, "ring has no zero-copy buffer pool to wait for");
  if (ring->view.ready(which)) {
    exo_ring::settle_deferred();
    return 0;
  }
  int err = ring->wait(which, timeout_ns);
  exo_ring::settle_deferred();  // if the wait did not carry it
  return err;
}

}  // extern "C"
