// SPDX-License-Identifier: GPL-2.0
// module_fuzz: a fuzzer of the loaded module's interface. Worker processes,
// some of them other uids, run random sequences of every entry point (the
// control ioctls, open/close of ring nodes, mmap/munmap/mremap/mprotect,
// fork, read/write with the kernel as the peer, poll/epoll, the ring ioctls)
// with valid and hostile arguments, while scribblers write random bytes over
// the shared regions and the supervisor SIGKILLs workers mid-call.
//
//   module_fuzz [--seed N] [--duration S | --ops N] [--workers N] [--scribblers N]
//               [--kill-rate PER_S] [--hang-after S] [--prefix NAME] [--keep-going]
//               [--exclude OP_OR_CLASS,...] [--all-cpus] [--list] [--verbose]
//
// Oracle: every call returns success or an errno of its entry point's table
// (kEntryPoints); no call runs longer than --hang-after (blocking calls run
// under an interval timer, so a wait the ring cannot satisfy must end with
// EINTR); after the run every process is reaped, the rings are destroyed and
// the module's totals are back to their idle values. A violation prints the
// op, the last ops of that process and the seed, and the exit status is 1.
//
// Each process's op stream is a function of (seed, worker, generation): with
// --workers 1 --scribblers 0 --kill-rate 0 --exclude fork a seed replays
// exactly; with more processes the streams replay and only their
// interleaving differs.
//
// Talks to the module through uapi/exofusion.h only (raw syscalls, not the
// library), so that it can pass arguments no library would.
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <grp.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <initializer_list>
#include <string>

#include "uapi/exofusion.h"

namespace {

constexpr const char* kControl = "/dev/exofusion/control";
constexpr const char* kNodeDir = "/dev/exofusion";
// Where the module's totals live, in the order tried: the first directory
// that has both files wins. One place to change when they move.
constexpr const char* kTotalsDir = "/sys/module/exofusion/totals";
constexpr const char* kClassDir = "/sys/class/exofusion";  // one directory per ring

constexpr int kMaxSlots = 64;        // processes that report their ops
constexpr int kHistory = 12;         // last ops kept per process
constexpr int kDescLen = 160;
constexpr int kMaxFds = 12;
constexpr int kMaxMaps = 12;
constexpr int kMaxChildren = 3;
constexpr int kRingNames = 6;        // names fz0..fz5: collisions are the point
constexpr int kFailExit = 3;         // a process's exit status when the oracle failed
constexpr uint32_t kUids[] = {0, 65534, 4242};

// --- entry points and their documented errnos -------------------------------

enum Ep {
  EP_CREATE, EP_DESTROY, EP_CONTROL_OTHER, EP_OPEN, EP_CLOSE, EP_MMAP, EP_MUNMAP,
  EP_MREMAP, EP_MPROTECT, EP_FORK, EP_READ, EP_WRITE, EP_POLL, EP_EPOLL_CTL,
  EP_EPOLL_WAIT, EP_INFO, EP_STATS, EP_WAIT, EP_WAKE, EP_WAKE_WAIT, EP_RING_OTHER, EP_NR
};

struct EntryPoint {
  const char* name;
  std::initializer_list<int> errnos;  // besides success
  const char* why;
};

// EINTR appears only where a call may sleep (it runs under a timer).
const EntryPoint kEntryPoints[EP_NR] = {
    {"ioctl(control, CREATE)", {EINVAL, ENAMETOOLONG, EEXIST, ENOSPC, ENOMEM, EFAULT, EMFILE},
     "bad parameters or name, name taken, no minor, memory limits, bad pointer, "
     "max_rings_per_user"},
    {"ioctl(control, DESTROY)", {EINVAL, ENAMETOOLONG, ENOENT, EPERM, EFAULT},
     "bad name, no such ring, not the owner, bad pointer"},
    {"control: other ioctl/read/write/mmap", {ENOTTY, EINVAL, ENODEV, EFAULT},
     "unknown command, no read/write/mmap on the control node"},
    {"open(ring node)", {ENOENT, EACCES, ENODEV, ENXIO},
     "destroyed, node permission, ring gone between lookup and open"},
    {"close(ring fd)", {}, "never fails"},
    {"mmap(ring fd)", {EINVAL, EACCES, EPERM, ENOMEM, EOVERFLOW},
     "range outside the region or unaligned, prot the fd's mode denies, PROT_EXEC"},
    {"munmap", {EINVAL}, "unaligned or empty range"},
    {"mremap", {EINVAL, EFAULT, ENOMEM},
     "bad flags, growing a VM_DONTEXPAND mapping, no room"},
    {"mprotect", {EACCES, EINVAL, ENOMEM},
     "PROT_WRITE on a read-only fd, PROT_EXEC (VM_MAYEXEC cleared)"},
    {"fork", {EAGAIN, ENOMEM}, "process limits"},
    {"read(ring fd)", {EAGAIN, EINTR, EMSGSIZE, EFAULT, EBADMSG, EBADF, EPIPE},
     "empty (O_NONBLOCK), timer signal while blocked, buffer shorter than the largest "
     "message, bad buffer, corrupted ring, fd not open for reading, destroyed and empty"},
    {"write(ring fd)", {EAGAIN, EINTR, EMSGSIZE, EFAULT, EBADMSG, EBADF, EPIPE},
     "full (O_NONBLOCK), timer signal while blocked, message too large, bad buffer, "
     "corrupted ring, fd not open for writing, destroyed and full"},
    {"poll", {EINTR, EFAULT, EINVAL}, "timer signal, bad array, too many fds"},
    {"epoll_ctl", {EEXIST, ENOENT, EBADF, EINVAL}, "already/not registered, closed fd"},
    {"epoll_wait", {EINTR, EFAULT, EINVAL}, "timer signal, bad events array"},
    {"ioctl(ring, INFO)", {EFAULT}, "bad pointer"},
    {"ioctl(ring, STATS)", {EFAULT}, "bad pointer"},
    {"ioctl(ring, WAIT)", {EINVAL, EFAULT, ETIMEDOUT, EINTR, EBADMSG, EPIPE},
     "bad kind or flags, no pool for BUFFER, bad pointer, timeout, timer signal, "
     "corrupted ring, destroyed"},
    {"ioctl(ring, WAKE)", {EINVAL}, "bad kind"},
    {"ioctl(ring, WAKE_WAIT)", {EINVAL, EFAULT, EBADF, ETIMEDOUT, EINTR, EBADMSG, EPIPE},
     "bad kinds or flags, wake fd not a ring, no pool for BUFFER, bad pointer, wake fd not "
     "open, timeout, timer signal, corrupted ring, destroyed"},
    {"ring: other ioctl", {ENOTTY, EFAULT, EINVAL}, "unknown command"},
};

// --- options ------------------------------------------------------------------

struct Options {
  uint64_t seed = 0;
  bool seed_given = false;
  double duration_s = 30;
  uint64_t ops = 0;  // 0: run for duration_s
  int workers = 6;
  int scribblers = 2;
  double kill_rate = 0.5;  // SIGKILLs of a random worker per second
  double hang_after_s = 10;
  std::string prefix = "fz";
  std::string exclude;
  bool keep_going = false;
  bool verbose = false;
  bool all_cpus = false;  // else the last CPU is the supervisor's alone
};

Options g_opt;

// --- shared state: one status slot per process --------------------------------

struct Slot {
  std::atomic<int> pid;       // 0: free
  int worker;                 // index of the worker (or its parent, for fork children)
  uint32_t gen;               // respawns of that worker
  bool killed;                // the supervisor sent SIGKILL
  std::atomic<uint64_t> ops;  // ops finished
  std::atomic<int64_t> start_ns;  // start of the op in progress, 0 if none
  char cur[kDescLen];
  char hist[kHistory][kDescLen];
  uint32_t hist_next;
};

struct Shared {
  std::atomic<int> stop;
  std::atomic<int64_t> ops_left;  // with --ops; < 0 once exhausted
  std::atomic<uint64_t> calls[EP_NR];
  std::atomic<uint64_t> ok[EP_NR];
  std::atomic<uint64_t> errs[EP_NR][134];  // by errno
  std::atomic<uint64_t> scribbles;
  Slot slots[kMaxSlots];
};

Shared* g_shared;
Slot* g_slot;  // this process's
int g_worker = -1;
uint32_t g_gen;

int64_t now_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

[[noreturn]] void die(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "module_fuzz: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(2);
}

// --- randomness (splitmix64: cheap, and the same stream on every machine) ----

struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint64_t below(uint64_t n) { return n ? next() % n : 0; }
  bool one_in(uint64_t n) { return below(n) == 0; }
  template <typename T, size_t N>
  T pick(const T (&a)[N]) { return a[below(N)]; }
};

Rng g_rng;

uint64_t stream_seed(uint64_t seed, int worker, uint32_t gen, uint32_t child) {
  Rng r{seed ^ (uint64_t(worker + 1) << 48) ^ (uint64_t(gen) << 24) ^ child};
  return r.next();
}

// --- the oracle -----------------------------------------------------------------

void print_history(FILE* f, const Slot& s) {
  for (uint32_t i = 0; i < kHistory; ++i) {
    const char* h = s.hist[(s.hist_next + i) % kHistory];
    if (h[0]) fprintf(f, "    done: %s\n", h);
  }
  if (s.start_ns.load()) fprintf(f, "    in progress: %s\n", s.cur);
}

const char* errno_name(int e) {
  static const struct { int e; const char* n; } names[] = {
      {EPERM, "EPERM"}, {ENOENT, "ENOENT"}, {EINTR, "EINTR"}, {ENXIO, "ENXIO"},
      {EBADF, "EBADF"}, {EAGAIN, "EAGAIN"}, {ENOMEM, "ENOMEM"}, {EACCES, "EACCES"},
      {EFAULT, "EFAULT"}, {EEXIST, "EEXIST"}, {ENODEV, "ENODEV"}, {EINVAL, "EINVAL"},
      {ENOTTY, "ENOTTY"}, {ENOSPC, "ENOSPC"}, {ENAMETOOLONG, "ENAMETOOLONG"},
      {EOVERFLOW, "EOVERFLOW"}, {EBADMSG, "EBADMSG"}, {EMSGSIZE, "EMSGSIZE"},
      {ETIMEDOUT, "ETIMEDOUT"}, {ESRCH, "ESRCH"}, {EBUSY, "EBUSY"}, {EPIPE, "EPIPE"},
      {EMFILE, "EMFILE"}};
  for (auto& n : names)
    if (n.e == e) return n.n;
  return "?";
}

[[noreturn]] void fail_op(const char* fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  fprintf(stderr, "module_fuzz: FAIL (seed %llu, worker %d gen %u, pid %d, op #%llu): %s\n",
          (unsigned long long)g_opt.seed, g_worker, g_gen, getpid(),
          (unsigned long long)g_slot->ops.load(), msg);
  print_history(stderr, *g_slot);
  _exit(kFailExit);
}

// Checks a call's result against its entry point's table; returns ret.
long check(Ep ep, long ret) {
  int e = ret < 0 ? errno : 0;
  g_shared->calls[ep]++;
  if (ret >= 0) {
    g_shared->ok[ep]++;
    return ret;
  }
  if (e > 0 && e < 134) g_shared->errs[ep][e]++;
  for (int allowed : kEntryPoints[ep].errnos)
    if (allowed == e) {
      errno = e;
      return ret;
    }
  fail_op("%s: %s returned undocumented errno %d (%s: %s)", g_slot->cur, kEntryPoints[ep].name,
          e, errno_name(e), strerror(e));
}

// A property that must hold whatever user space did to the ring.
void expect(bool ok, const char* what) {
  if (!ok) fail_op("%s: %s", g_slot->cur, what);
}

// --- blocking calls run under a timer -----------------------------------------

void on_alarm(int) {}

void arm_timer(int64_t us) {
  struct itimerval it = {};
  it.it_value.tv_sec = us / 1000000;
  it.it_value.tv_usec = us % 1000000;
  it.it_interval.tv_usec = 20000;  // again, in case the first lands before the sleep
  setitimer(ITIMER_REAL, &it, nullptr);
}

void disarm_timer() {
  struct itimerval it = {};
  setitimer(ITIMER_REAL, &it, nullptr);
}

// --- a worker's resources -------------------------------------------------------

struct RingFd {
  int fd;
  int name;       // index into the ring names
  int acc;        // O_RDONLY/O_WRONLY/O_RDWR
  bool nonblock;
  struct exo_ring_info info;  // from INFO (magic 0 if not known)
};

struct Map {
  char* addr;
  size_t len;
  size_t touchable;  // bytes backed by the region from addr
  uint64_t off;      // region offset of addr
  int prot;
  struct exo_ring_info info;
};

struct State {
  RingFd fds[kMaxFds];
  int nfds = 0;
  Map maps[kMaxMaps];
  int nmaps = 0;
  int epfd = -1;
  int children = 0;
  bool is_child = false;
  bool scribbler = false;
};

State g_st;
char* g_ro_page;     // a page mapped PROT_READ: the kernel cannot write there
char* g_guard_page;  // not mapped; the page before it is ours and unused
char g_buf[EXO_BUF_MAX_SIZE];  // any message fits

std::string ring_name(int i) { return g_opt.prefix + std::to_string(i); }

// A pointer argument: mostly good, sometimes hostile.
void* user_ptr(void* good, size_t need) {
  switch (g_rng.below(12)) {
    case 0: return nullptr;
    case 1: return reinterpret_cast<void*>(1);
    case 2: return reinterpret_cast<void*>(0xffff888000000000ull);  // kernel direct map
    case 3: return g_ro_page;
    case 4: return g_guard_page - (need > 1 && need < EXO_PAGE_SIZE ? need / 2 : 8);  // crosses
    default: return good;
  }
}

void describe(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g_slot->cur, kDescLen, fmt, ap);
  va_end(ap);
}

RingFd* pick_fd() { return g_st.nfds ? &g_st.fds[g_rng.below(g_st.nfds)] : nullptr; }
Map* pick_map() { return g_st.nmaps ? &g_st.maps[g_rng.below(g_st.nmaps)] : nullptr; }

void forget_map(Map* m) { *m = g_st.maps[--g_st.nmaps]; }

uint32_t random_capacity() {
  if (g_rng.one_in(10)) return uint32_t(g_rng.next());  // mostly invalid
  return 2u << g_rng.below(10);
}

// --- control ops ------------------------------------------------------------------

int control_fd() {
  int fd = open(kControl, O_RDWR | O_CLOEXEC);
  if (fd < 0) fail_op("open(%s): %s", kControl, strerror(errno));
  return fd;
}

void fill_name(char* dst, int idx) {
  memset(dst, 0, EXO_NAME_MAX);
  switch (g_rng.below(16)) {
    case 0: memset(dst, 'n', EXO_NAME_MAX); break;                // no NUL
    case 1: strcpy(dst, "control"); break;
    case 2: strcpy(dst, ".."); break;
    case 3: strcpy(dst, "a/b"); break;
    case 4: break;                                                 // empty
    case 5: for (int i = 0; i < EXO_NAME_MAX; ++i) dst[i] = char(g_rng.next()); break;
    default: snprintf(dst, EXO_NAME_MAX, "%s", ring_name(idx).c_str());
  }
}

void op_create() {
  struct exo_create_req req = {};
  bool hostile = g_rng.one_in(4);
  int idx = int(g_rng.below(kRingNames));
  if (hostile) fill_name(req.name, idx);
  else snprintf(req.name, sizeof(req.name), "%s", ring_name(idx).c_str());
  req.capacity = hostile ? random_capacity() : 2u << g_rng.below(9);
  req.mode = hostile && g_rng.one_in(3) ? uint32_t(g_rng.next()) : uint32_t(g_rng.below(2));
  if (g_rng.one_in(2)) {
    req.buf_size = hostile && g_rng.one_in(3) ? uint32_t(g_rng.next()) : 64u << g_rng.below(7);
    req.buf_count = hostile && g_rng.one_in(3) ? uint32_t(g_rng.next()) : 1 + g_rng.below(32);
  }
  static const uint32_t perms[] = {0600, 0660, 0666, 0644, 0, 0400, 0222};
  req.perm = hostile && g_rng.one_in(4) ? uint32_t(g_rng.next()) : g_rng.pick(perms);
  req.flags = hostile && g_rng.one_in(4) ? uint32_t(g_rng.next()) : 0;
  void* arg = hostile ? user_ptr(&req, sizeof(req)) : &req;
  describe("create name=%.31s cap=%u mode=%u buf=%ux%u perm=%o flags=%x arg=%p", req.name,
           req.capacity, req.mode, req.buf_size, req.buf_count, req.perm, req.flags, arg);
  int fd = control_fd();
  long ret = check(EP_CREATE, ioctl(fd, EXO_IOC_CREATE, arg));
  close(fd);
  if (ret == 0 && arg == &req)
    expect(req.region_size >= EXO_PAGE_SIZE && req.region_size % EXO_PAGE_SIZE == 0,
           "create returned a region_size that is not whole pages");
}

void op_destroy() {
  struct exo_name_req req;
  int idx = int(g_rng.below(kRingNames));
  bool hostile = g_rng.one_in(4);
  if (hostile) fill_name(req.name, idx);
  else snprintf(req.name, sizeof(req.name), "%s", ring_name(idx).c_str());
  void* arg = hostile ? user_ptr(&req, sizeof(req)) : &req;
  describe("destroy name=%.31s arg=%p", req.name, arg);
  int fd = control_fd();
  check(EP_DESTROY, ioctl(fd, EXO_IOC_DESTROY, arg));
  close(fd);
}

unsigned long unknown_cmd() {
  static const unsigned long known[] = {EXO_IOC_CREATE, EXO_IOC_DESTROY, EXO_RING_IOC_INFO,
                                        EXO_RING_IOC_WAIT, EXO_RING_IOC_WAKE,
                                        EXO_RING_IOC_STATS, EXO_RING_IOC_WAKE_WAIT};
  if (g_rng.one_in(3)) return g_rng.pick(known);  // the other device's commands
  unsigned long dirs[] = {_IOC_NONE, _IOC_READ, _IOC_WRITE, _IOC_READ | _IOC_WRITE};
  for (;;) {
    unsigned long cmd = _IOC(g_rng.pick(dirs), EXO_IOC_MAGIC, g_rng.below(256), g_rng.below(512));
    bool is_known = false;
    for (unsigned long k : known) is_known |= k == cmd;
    if (!is_known) return cmd;
  }
}

void op_control_other() {
  int fd = control_fd();
  switch (g_rng.below(4)) {
    case 0: {
      unsigned long cmd = unknown_cmd();
      if (cmd == EXO_IOC_CREATE || cmd == EXO_IOC_DESTROY) cmd = EXO_RING_IOC_INFO;
      describe("control ioctl cmd=%#lx", cmd);
      check(EP_CONTROL_OTHER, ioctl(fd, cmd, g_buf));
      break;
    }
    case 1:
      describe("control read");
      check(EP_CONTROL_OTHER, read(fd, g_buf, 64));
      break;
    case 2:
      describe("control write");
      check(EP_CONTROL_OTHER, write(fd, g_buf, 64));
      break;
    default: {
      describe("control mmap");
      void* p = mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd, 0);
      check(EP_CONTROL_OTHER, p == MAP_FAILED ? -1 : 0);
      if (p != MAP_FAILED) munmap(p, 4096);
    }
  }
  close(fd);
}

// --- ring nodes ---------------------------------------------------------------------

bool fetch_info(int fd, struct exo_ring_info* info) {
  memset(info, 0, sizeof(*info));
  long ret = check(EP_INFO, ioctl(fd, EXO_RING_IOC_INFO, info));
  if (ret < 0) return false;
  expect(info->magic == EXO_RING_MAGIC && info->abi_version == EXO_ABI_VERSION,
         "INFO: bad magic or ABI version");
  expect(info->capacity >= 2 && !(info->capacity & (info->capacity - 1)),
         "INFO: capacity not a power of two");
  expect(info->region_size % EXO_PAGE_SIZE == 0 && info->pool_offset <= info->region_size,
         "INFO: region_size or pool_offset inconsistent");
  return true;
}

void op_open() {
  if (g_st.nfds == kMaxFds) return;
  static const int accs[] = {O_RDWR, O_RDWR, O_RDONLY, O_WRONLY};
  RingFd r = {};
  r.name = int(g_rng.below(kRingNames));
  r.acc = g_rng.pick(accs);
  r.nonblock = g_st.scribbler || g_rng.one_in(2);
  std::string path = std::string(kNodeDir) + "/" + ring_name(r.name);
  describe("open %s acc=%d nonblock=%d", path.c_str(), r.acc, r.nonblock);
  r.fd = int(check(EP_OPEN, open(path.c_str(), r.acc | (r.nonblock ? O_NONBLOCK : 0) | O_CLOEXEC)));
  if (r.fd < 0) return;
  // The file must be the ring whose node was opened (defect 2: a destroy
  // and another uid's create between the permission check and the lookup
  // handed the opener that uid's ring). The fuzzer never chowns a node, but
  // devtmpfs makes a node as root and gives it its owner just after
  // (handle_create(): vfs_mknod(), then notify_change()): a node caught in
  // between is root's.
  struct stat node;
  if (fetch_info(r.fd, &r.info) && fstat(r.fd, &node) == 0 &&
      r.info.owner_uid != node.st_uid && node.st_uid != 0)
    fail_op("%s: open: the file's ring is uid %u's, the node uid %u's", g_slot->cur,
            r.info.owner_uid, unsigned(node.st_uid));
  g_st.fds[g_st.nfds++] = r;
}

void op_close() {
  RingFd* r = pick_fd();
  if (!r) return;
  describe("close fd=%d (%s)", r->fd, ring_name(r->name).c_str());
  check(EP_CLOSE, close(r->fd));
  *r = g_st.fds[--g_st.nfds];
}

// --- mappings --------------------------------------------------------------------------

void op_mmap() {
  RingFd* r = pick_fd();
  if (!r || g_st.nmaps == kMaxMaps || !r->info.magic) return;
  uint64_t pages = r->info.region_size / EXO_PAGE_SIZE;
  uint64_t pgoff = g_rng.one_in(3) ? g_rng.below(pages) : 0;
  uint64_t npages = g_rng.one_in(2) ? pages - pgoff : 1 + g_rng.below(pages - pgoff);
  static const int prots[] = {PROT_READ | PROT_WRITE, PROT_READ | PROT_WRITE, PROT_READ,
                              PROT_WRITE, PROT_READ | PROT_EXEC};
  int prot = g_rng.pick(prots);
  int flags = g_rng.one_in(8) ? MAP_PRIVATE : MAP_SHARED;
  describe("mmap fd=%d pgoff=%llu pages=%llu prot=%d flags=%d", r->fd,
           (unsigned long long)pgoff, (unsigned long long)npages, prot, flags);
  void* p = mmap(nullptr, npages * EXO_PAGE_SIZE, prot, flags, r->fd, pgoff * EXO_PAGE_SIZE);
  check(EP_MMAP, p == MAP_FAILED ? -1 : 0);
  if (p == MAP_FAILED) return;
  expect(!(prot & PROT_EXEC), "mmap with PROT_EXEC succeeded");
  g_st.maps[g_st.nmaps++] = {static_cast<char*>(p), npages * EXO_PAGE_SIZE,
                             npages * EXO_PAGE_SIZE, pgoff * EXO_PAGE_SIZE, prot, r->info};
}

// Ranges the region does not have: each must fail, never map anything.
void op_mmap_bad() {
  RingFd* r = pick_fd();
  if (!r || !r->info.magic) return;
  uint64_t size = r->info.region_size;
  uint64_t len = size, off = 0;
  switch (g_rng.below(5)) {
    case 0: len = size + EXO_PAGE_SIZE; break;
    case 1: off = size; len = EXO_PAGE_SIZE; break;
    case 2: off = size - EXO_PAGE_SIZE; len = 2 * EXO_PAGE_SIZE; break;
    case 3: off = (1ull << 40) & ~(EXO_PAGE_SIZE - 1ull); len = EXO_PAGE_SIZE; break;
    default: off = 0xfffffffffffff000ull; len = EXO_PAGE_SIZE; break;
  }
  describe("mmap(bad) fd=%d off=%#llx len=%#llx", r->fd, (unsigned long long)off,
           (unsigned long long)len);
  void* p = mmap(nullptr, len, PROT_READ, MAP_SHARED, r->fd, off);
  check(EP_MMAP, p == MAP_FAILED ? -1 : 0);
  if (p != MAP_FAILED) {
    munmap(p, len);
    expect(false, "mmap of a range outside the region succeeded");
  }
}

void op_munmap() {
  Map* m = pick_map();
  if (!m) {
    describe("munmap(bad) unaligned");
    check(EP_MUNMAP, munmap(g_buf + 1, EXO_PAGE_SIZE));
    return;
  }
  size_t pages = m->len / EXO_PAGE_SIZE;
  if (pages > 1 && g_rng.one_in(2)) {  // a head or a tail, the rest stays mapped
    size_t cut = (1 + g_rng.below(pages - 1)) * EXO_PAGE_SIZE;
    bool head = g_rng.one_in(2);
    describe("munmap %s %zu of %zu bytes at %p", head ? "head" : "tail", cut, m->len,
             (void*)m->addr);
    if (check(EP_MUNMAP, munmap(head ? m->addr : m->addr + m->len - cut, cut)) < 0) return;
    if (head) {
      m->addr += cut;
      m->off += cut;
      m->touchable = m->touchable > cut ? m->touchable - cut : 0;
    } else {
      m->touchable = m->touchable < m->len - cut ? m->touchable : m->len - cut;
    }
    m->len -= cut;
    return;
  }
  describe("munmap %zu bytes at %p", m->len, (void*)m->addr);
  if (check(EP_MUNMAP, munmap(m->addr, m->len)) == 0) forget_map(m);
}

void op_mremap() {
  Map* m = pick_map();
  if (!m) return;
  size_t len = m->len;
  switch (g_rng.below(3)) {
    case 0: len = m->len + EXO_PAGE_SIZE; break;                         // grow
    case 1: if (m->len > EXO_PAGE_SIZE) len = m->len - EXO_PAGE_SIZE; break;  // shrink
    default: break;                                                       // move only
  }
  int flags = g_rng.one_in(2) ? MREMAP_MAYMOVE : 0;
  describe("mremap %p %zu -> %zu flags=%d", (void*)m->addr, m->len, len, flags);
  void* p = mremap(m->addr, m->len, len, flags);
  if (check(EP_MREMAP, p == MAP_FAILED ? -1 : 0) < 0) return;
  m->addr = static_cast<char*>(p);
  if (len < m->touchable) m->touchable = len;
  m->len = len;
}

void op_mprotect() {
  Map* m = pick_map();
  if (!m) return;
  static const int prots[] = {PROT_READ, PROT_READ | PROT_WRITE, PROT_NONE, PROT_READ | PROT_EXEC};
  int prot = g_rng.pick(prots);
  describe("mprotect %p %zu prot=%d", (void*)m->addr, m->len, prot);
  if (check(EP_MPROTECT, mprotect(m->addr, m->len, prot)) < 0) return;
  expect(!(prot & PROT_EXEC), "mprotect(PROT_EXEC) of a ring mapping succeeded");
  m->prot = prot;
}

// --- scribbling over shared memory -------------------------------------------------------

// The offset of something the kernel reads, in a region of this layout.
uint64_t target_offset(const struct exo_ring_info& in, uint32_t* width) {
  *width = 8;
  switch (g_rng.below(8)) {
    case 0: return EXO_CACHELINE * (1 + g_rng.below(4));                  // a side's pos
    case 1: *width = 4; return EXO_CACHELINE * (5 + g_rng.below(EXO_WAIT_NR));  // need_wakeup
    case 2: *width = 4; return in.slots_offset + EXO_SLOT_SIZE * g_rng.below(in.capacity);  // seq
    case 3: return in.slots_offset + EXO_SLOT_SIZE * g_rng.below(in.capacity) + 4;  // type/len
    case 4: return in.slots_offset + EXO_SLOT_SIZE * g_rng.below(in.capacity) + 8 +
                   8 * g_rng.below(2);                                    // a zc descriptor
    case 5:
      if (in.free_words) return in.free_offset + 8 * g_rng.below(in.free_words);  // bitmap
      return EXO_CACHELINE;
    default: *width = 1; return g_rng.below(in.region_size);             // anywhere
  }
}

uint64_t scribble_value(uint64_t old) {
  switch (g_rng.below(5)) {
    case 0: return old + 1 + g_rng.below(3);  // a little ahead (defect 1's trigger)
    case 1: return old - 1 - g_rng.below(3);
    case 2: return 0;
    case 3: return ~0ull;
    default: return g_rng.next();
  }
}

void op_scribble() {
  Map* m = pick_map();
  if (!m || !(m->prot & PROT_WRITE) || !(m->prot & PROT_READ) || !m->touchable) return;
  int n = 1 + int(g_rng.below(g_st.scribbler ? 16 : 4));
  describe("scribble %d words over map %p (region off %llu, %zu bytes)", n, (void*)m->addr,
           (unsigned long long)m->off, m->touchable);
  for (int i = 0; i < n; ++i) {
    uint32_t width;
    uint64_t off = target_offset(m->info, &width) & ~uint64_t(width - 1);
    if (off < m->off || off + width > m->off + m->touchable) continue;
    char* p = m->addr + (off - m->off);
    if (width == 8) {
      auto* w = reinterpret_cast<uint64_t*>(p);
      __atomic_store_n(w, scribble_value(__atomic_load_n(w, __ATOMIC_RELAXED)), __ATOMIC_RELAXED);
    } else if (width == 4) {
      auto* w = reinterpret_cast<uint32_t*>(p);
      __atomic_store_n(w, uint32_t(scribble_value(__atomic_load_n(w, __ATOMIC_RELAXED))),
                       __ATOMIC_RELAXED);
    } else {
      __atomic_store_n(reinterpret_cast<uint8_t*>(p), uint8_t(g_rng.next()), __ATOMIC_RELAXED);
    }
  }
  g_shared->scribbles++;
}

// --- the kernel as a peer: read/write ---------------------------------------------------

size_t io_len() {
  static const size_t lens[] = {0, 1, 8, 55, 56, 57, 64, 200, 4096, 8192, 65536};
  if (g_rng.one_in(16)) return size_t(g_rng.next() >> 1);  // huge
  return g_rng.pick(lens);
}

// A buffer of len bytes; sometimes hostile, sometimes a ring mapping itself.
void* io_buf(size_t len) {
  if (len > sizeof(g_buf)) return g_buf;  // huge: the kernel must stop at its limit
  Map* m = pick_map();
  if (m && m->touchable >= len && (m->prot & PROT_READ) && (m->prot & PROT_WRITE) &&
      g_rng.one_in(8))
    return m->addr;
  return user_ptr(g_buf, len);
}

bool blocking_variant(RingFd* r) { return !r->nonblock && g_rng.one_in(3); }

void op_read() {
  RingFd* r = pick_fd();
  if (!r) return;
  size_t len = io_len();
  void* buf = io_buf(len);
  bool block = blocking_variant(r);
  int64_t us = 20000 + int64_t(g_rng.below(300000));
  describe("read fd=%d (%s) len=%zu buf=%p %s", r->fd, ring_name(r->name).c_str(), len, buf,
           block ? "blocking" : r->nonblock ? "nonblock" : "blocking-under-timer");
  if (!r->nonblock) arm_timer(us);
  long ret = check(EP_READ, read(r->fd, buf, len));
  disarm_timer();
  if (ret >= 0) expect(size_t(ret) <= len, "read returned more than asked");
}

void op_write() {
  RingFd* r = pick_fd();
  if (!r) return;
  size_t len = io_len();
  void* buf = io_buf(len);
  if (buf == g_buf && len <= sizeof(g_buf))
    for (size_t i = 0; i < len && i < 64; ++i) g_buf[i] = char(g_rng.next());
  int64_t us = 20000 + int64_t(g_rng.below(300000));
  describe("write fd=%d (%s) len=%zu buf=%p %s", r->fd, ring_name(r->name).c_str(), len, buf,
           r->nonblock ? "nonblock" : "blocking-under-timer");
  if (!r->nonblock) arm_timer(us);
  long ret = check(EP_WRITE, write(r->fd, buf, len));
  disarm_timer();
  if (ret >= 0) expect(size_t(ret) == len, "write moved part of a message");
}

// --- poll and epoll -----------------------------------------------------------------------

void op_poll() {
  struct pollfd p[4];
  int n = 0;
  for (int i = 0; i < 4 && g_st.nfds; ++i) {
    p[n].fd = pick_fd()->fd;
    p[n].events = short(g_rng.below(2) ? POLLIN : 0) | short(g_rng.below(2) ? POLLOUT : 0);
    p[n++].revents = 0;
  }
  if (!n) return;
  int timeout = int(g_rng.below(50));
  struct pollfd* arg = g_rng.one_in(10) ? static_cast<struct pollfd*>(user_ptr(p, sizeof(p))) : p;
  nfds_t nfds = g_rng.one_in(20) ? nfds_t(1) << 40 : nfds_t(n);
  describe("poll n=%d nfds=%llu arg=%p timeout=%dms", n, (unsigned long long)nfds, (void*)arg,
           timeout);
  arm_timer(200000 + timeout * 1000);
  long ret = check(EP_POLL, poll(arg, nfds, timeout));
  disarm_timer();
  if (ret <= 0 || arg != p) return;
  for (int i = 0; i < n; ++i)
    expect(!(p[i].revents & ~(p[i].events | POLLERR | POLLHUP | POLLNVAL)),
           "poll reported events that were not asked for");
}

void op_epoll_ctl() {
  RingFd* r = pick_fd();
  if (!r) return;
  if (g_st.epfd < 0) g_st.epfd = epoll_create1(EPOLL_CLOEXEC);
  static const int ops[] = {EPOLL_CTL_ADD, EPOLL_CTL_ADD, EPOLL_CTL_MOD, EPOLL_CTL_DEL};
  struct epoll_event ev = {};
  ev.events = (g_rng.below(2) ? uint32_t(EPOLLIN) : 0u) |
              (g_rng.below(2) ? uint32_t(EPOLLOUT) : 0u) | (g_rng.one_in(3) ? uint32_t(EPOLLET) : 0u);
  ev.data.fd = r->fd;
  int op = g_rng.pick(ops);
  describe("epoll_ctl op=%d fd=%d events=%#x", op, r->fd, ev.events);
  check(EP_EPOLL_CTL, epoll_ctl(g_st.epfd, op, r->fd, &ev));
}

void op_epoll_wait() {
  if (g_st.epfd < 0) return;
  struct epoll_event ev[8];
  int timeout = int(g_rng.below(50));
  void* arg = g_rng.one_in(10) ? user_ptr(ev, sizeof(ev)) : ev;
  describe("epoll_wait arg=%p timeout=%dms", arg, timeout);
  arm_timer(200000 + timeout * 1000);
  check(EP_EPOLL_WAIT, epoll_wait(g_st.epfd, static_cast<struct epoll_event*>(arg), 8, timeout));
  disarm_timer();
}

// --- ring ioctls ----------------------------------------------------------------------------

void op_info() {
  RingFd* r = pick_fd();
  if (!r) return;
  if (g_rng.one_in(2)) {
    describe("INFO fd=%d", r->fd);
    fetch_info(r->fd, &r->info);
    return;
  }
  void* arg = user_ptr(g_buf, sizeof(struct exo_ring_info));
  describe("INFO fd=%d arg=%p", r->fd, arg);
  check(EP_INFO, ioctl(r->fd, EXO_RING_IOC_INFO, arg));
}

void op_stats() {
  RingFd* r = pick_fd();
  if (!r) return;
  struct exo_ring_stats st = {};
  void* arg = g_rng.one_in(3) ? user_ptr(&st, sizeof(st)) : &st;
  describe("STATS fd=%d arg=%p", r->fd, arg);
  if (check(EP_STATS, ioctl(r->fd, EXO_RING_IOC_STATS, arg)) < 0 || arg != &st) return;
  expect(st.open_count >= 1, "STATS: open_count 0 on an open file");
  if (r->info.magic)
    expect(st.capacity == r->info.capacity && st.region_size == r->info.region_size,
           "STATS and INFO disagree on the ring's shape");
}

void op_wait() {
  RingFd* r = pick_fd();
  if (!r) return;
  struct exo_wait_req w = {};
  w.which = g_rng.one_in(8) ? uint32_t(g_rng.next()) : uint32_t(g_rng.below(EXO_WAIT_NR));
  w.flags = g_rng.one_in(8) ? uint32_t(g_rng.next()) : 0;
  static const int64_t timeouts[] = {0, 1000, 1000000, 50000000, -1, INT64_MAX, INT64_MIN};
  w.timeout_ns = g_rng.pick(timeouts);
  void* arg = g_rng.one_in(6) ? user_ptr(&w, sizeof(w)) : &w;
  describe("WAIT fd=%d which=%u flags=%#x timeout_ns=%lld arg=%p", r->fd, w.which, w.flags,
           (long long)w.timeout_ns, arg);
  arm_timer(20000 + int64_t(g_rng.below(300000)));
  check(EP_WAIT, ioctl(r->fd, EXO_RING_IOC_WAIT, arg));
  disarm_timer();
}

void op_wake() {
  RingFd* r = pick_fd();
  if (!r) return;
  unsigned long arg = g_rng.one_in(6) ? g_rng.next() : g_rng.below(EXO_WAIT_NR);
  describe("WAKE fd=%d which=%lu", r->fd, arg);
  check(EP_WAKE, ioctl(r->fd, EXO_RING_IOC_WAKE, arg));
}

// Wakes a ring named by fd (another ring's, its own, a closed or foreign
// fd), then waits on this one.
void op_wake_wait() {
  RingFd* r = pick_fd();
  if (!r) return;
  struct exo_wake_wait_req req = {};
  req.wait.which = g_rng.one_in(8) ? uint32_t(g_rng.next()) : uint32_t(g_rng.below(EXO_WAIT_NR));
  req.wait.flags = g_rng.one_in(8) ? uint32_t(g_rng.next()) : 0;
  static const int64_t timeouts[] = {0, 1000, 1000000, 50000000, -1};
  req.wait.timeout_ns = g_rng.pick(timeouts);
  RingFd* target = pick_fd();
  static const int foreign[] = {-1, 0, 1, 2, 1 << 20};
  req.wake_fd = target && !g_rng.one_in(6) ? target->fd : g_rng.pick(foreign);
  req.wake_which = g_rng.one_in(8) ? uint32_t(g_rng.next()) : uint32_t(g_rng.below(EXO_WAIT_NR));
  void* arg = g_rng.one_in(6) ? user_ptr(&req, sizeof(req)) : &req;
  describe("WAKE_WAIT fd=%d which=%u flags=%#x timeout_ns=%lld wake_fd=%d wake_which=%u arg=%p",
           r->fd, req.wait.which, req.wait.flags, (long long)req.wait.timeout_ns, req.wake_fd,
           req.wake_which, arg);
  arm_timer(20000 + int64_t(g_rng.below(300000)));
  check(EP_WAKE_WAIT, ioctl(r->fd, EXO_RING_IOC_WAKE_WAIT, arg));
  disarm_timer();
}

void op_ring_other() {
  RingFd* r = pick_fd();
  if (!r) return;
  unsigned long cmd = unknown_cmd();
  if (cmd == EXO_RING_IOC_INFO || cmd == EXO_RING_IOC_WAIT || cmd == EXO_RING_IOC_WAKE ||
      cmd == EXO_RING_IOC_STATS || cmd == EXO_RING_IOC_WAKE_WAIT)
    cmd = EXO_IOC_DESTROY;
  describe("ring ioctl fd=%d cmd=%#lx", r->fd, cmd);
  check(EP_RING_OTHER, ioctl(r->fd, cmd, g_buf));
}

// --- fork: a child keeps using the mappings and fds, then exits -------------------------------

void run_ops(uint64_t budget);
void reap_children(bool block);

// A fork child takes a slot past the workers' own: a worker's slot is free
// for a moment while the supervisor respawns it, and a child that took it then
// was counted as a worker, so its SIGKILL on its worker's death was a failure.
Slot* claim_slot(int worker, uint32_t gen) {
  for (int i = g_opt.workers + g_opt.scribblers; i < kMaxSlots; ++i) {
    int expected = 0;
    if (g_shared->slots[i].pid.compare_exchange_strong(expected, -1)) {
      Slot* s = &g_shared->slots[i];
      s->worker = worker;
      s->gen = gen;
      s->killed = false;
      s->ops = 0;
      s->start_ns = 0;
      s->hist_next = 0;
      memset(s->hist, 0, sizeof(s->hist));
      s->pid = getpid();
      return s;
    }
  }
  return nullptr;
}

void release_slot_of(int pid) {
  for (auto& s : g_shared->slots)
    if (s.pid.load() == pid) {
      s.start_ns = 0;
      s.pid = 0;
    }
}

void op_fork() {
  if (g_st.is_child || g_st.children >= kMaxChildren) return;
  uint64_t child_seed = g_rng.next();
  describe("fork (child seed %llu)", (unsigned long long)child_seed);
  int pid = int(check(EP_FORK, fork()));
  if (pid != 0) {
    if (pid > 0) g_st.children++;
    return;
  }
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  g_slot = claim_slot(g_worker, g_gen);
  if (!g_slot) _exit(0);
  g_st.is_child = true;
  g_st.children = 0;
  g_rng.s = child_seed;
  run_ops(5 + g_rng.below(40));
  g_slot->start_ns = 0;
  g_slot->pid = 0;
  _exit(0);
}

// --- the op table -----------------------------------------------------------------------------

struct Op {
  const char* name;
  const char* cls;
  void (*fn)();
  unsigned weight;           // in a worker
  unsigned scribbler_weight; // in a scribbler
};

const Op kOps[] = {
    {"create", "control", op_create, 6, 0},
    {"destroy", "control", op_destroy, 3, 0},
    {"control-other", "control", op_control_other, 1, 0},
    {"open", "node", op_open, 8, 6},
    {"close", "node", op_close, 4, 2},
    {"mmap", "mapping", op_mmap, 6, 8},
    {"mmap-bad", "mapping", op_mmap_bad, 1, 0},
    {"munmap", "mapping", op_munmap, 2, 1},
    {"mremap", "mapping", op_mremap, 1, 0},
    {"mprotect", "mapping", op_mprotect, 1, 0},
    {"fork", "fork", op_fork, 1, 0},
    {"scribble", "scribble", op_scribble, 3, 60},
    {"read", "io", op_read, 10, 2},
    {"write", "io", op_write, 10, 2},
    {"poll", "poll", op_poll, 3, 0},
    {"epoll-ctl", "poll", op_epoll_ctl, 2, 0},
    {"epoll-wait", "poll", op_epoll_wait, 2, 0},
    {"info", "ioctl", op_info, 2, 0},
    {"stats", "ioctl", op_stats, 2, 0},
    {"wait", "ioctl", op_wait, 3, 0},
    {"wake", "ioctl", op_wake, 2, 0},
    {"wake-wait", "ioctl", op_wake_wait, 2, 0},
    {"ring-other", "ioctl", op_ring_other, 1, 0},
};
constexpr int kNrOps = sizeof(kOps) / sizeof(kOps[0]);
bool g_excluded[kNrOps];

bool in_list(const std::string& list, const char* word) {
  std::string padded = "," + list + ",";
  return padded.find("," + std::string(word) + ",") != std::string::npos;
}

const Op& pick_op() {
  unsigned total = 0;
  for (int i = 0; i < kNrOps; ++i)
    if (!g_excluded[i]) total += g_st.scribbler ? kOps[i].scribbler_weight : kOps[i].weight;
  uint64_t x = g_rng.below(total);
  for (int i = 0; i < kNrOps; ++i) {
    if (g_excluded[i]) continue;
    unsigned w = g_st.scribbler ? kOps[i].scribbler_weight : kOps[i].weight;
    if (x < w) return kOps[i];
    x -= w;
  }
  return kOps[0];
}

bool take_op_budget() {
  if (!g_opt.ops) return true;
  return g_shared->ops_left.fetch_sub(1) > 0;
}

void run_one(const Op& op) {
  snprintf(g_slot->cur, kDescLen, "%s", op.name);
  g_slot->start_ns = now_ns();
  op.fn();
  g_slot->start_ns = 0;
  snprintf(g_slot->hist[g_slot->hist_next++ % kHistory], kDescLen, "%s", g_slot->cur);
  g_slot->ops++;
  if (g_opt.verbose) fprintf(stderr, "[%d.%u %d] %s\n", g_worker, g_gen, getpid(), g_slot->cur);
}

void run_ops(uint64_t budget) {
  for (uint64_t i = 0; !budget || i < budget; ++i) {
    if (g_shared->stop.load() || !take_op_budget()) break;
    reap_children(false);
    run_one(pick_op());
  }
}

void reap_children(bool block) {
  for (;;) {
    int status;
    int pid = waitpid(-1, &status, block ? 0 : WNOHANG);
    if (pid <= 0) return;
    g_st.children--;
    release_slot_of(pid);
    if (WIFEXITED(status) && WEXITSTATUS(status) == kFailExit)
      fail_op("fork child %d failed (its report is above)", pid);
    if (WIFSIGNALED(status) && WTERMSIG(status) != SIGKILL)
      fail_op("fork child %d died of signal %d", pid, WTERMSIG(status));
  }
}

// --- a worker process -------------------------------------------------------------------------

void drop_to(uint32_t uid) {
  if (!uid) return;
  if (setgroups(0, nullptr) || setgid(uid) || setuid(uid))
    die("cannot become uid %u: %s", uid, strerror(errno));
}

void setup_pages() {
  g_ro_page = static_cast<char*>(mmap(nullptr, 2 * EXO_PAGE_SIZE, PROT_READ,
                                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  char* two = static_cast<char*>(mmap(nullptr, 2 * EXO_PAGE_SIZE, PROT_READ | PROT_WRITE,
                                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (g_ro_page == MAP_FAILED || two == MAP_FAILED) die("mmap: %s", strerror(errno));
  g_guard_page = two + EXO_PAGE_SIZE;
  munmap(g_guard_page, EXO_PAGE_SIZE);
}

// A kernel loop that never yields (defect 1 of issue 6) takes its CPU for
// good: workers keep off the last CPU so that the supervisor can still
// report it. The supervisor runs there. Scribblers, whose calls never
// block, run everywhere: their stores race with the kernel on every CPU.
void place_on_cpus(bool supervisor) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  if (g_opt.all_cpus || n < 2 || g_st.scribbler) return;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (supervisor) CPU_SET(n - 1, &set);
  else for (long c = 0; c < n - 1; ++c) CPU_SET(c, &set);
  if (sched_setaffinity(0, sizeof(set), &set)) die("sched_setaffinity: %s", strerror(errno));
}

[[noreturn]] void worker_main(int worker, uint32_t gen, Slot* slot, bool scribbler) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  g_worker = worker;
  g_gen = gen;
  g_slot = slot;
  g_st.scribbler = scribbler;
  g_rng.s = stream_seed(g_opt.seed, worker, gen, 0);
  struct sigaction sa = {};
  sa.sa_handler = on_alarm;  // no SA_RESTART: a blocked call must return EINTR
  sigaction(SIGALRM, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  setup_pages();
  place_on_cpus(false);
  drop_to(scribbler ? 0 : kUids[worker % 3]);
  run_ops(0);
  reap_children(true);
  g_slot->start_ns = 0;
  exit(0);
}

// --- the supervisor ----------------------------------------------------------------------------

struct Totals {
  long rings = -1, pages = -1;
  bool operator==(const Totals& o) const { return rings == o.rings && pages == o.pages; }
};

long read_long(const std::string& path) {
  FILE* f = fopen(path.c_str(), "r");
  if (!f) return -1;
  long v = -1;
  if (fscanf(f, "%ld", &v) != 1) v = -1;
  fclose(f);
  return v;
}

// The module's own totals (rings alive, ring pages held): the one place that
// knows where they are.
Totals module_totals() {
  Totals t{read_long(std::string(kTotalsDir) + "/rings"),
           read_long(std::string(kTotalsDir) + "/pages")};
  if (t.rings < 0 || t.pages < 0) die("cannot read the module's totals under %s", kTotalsDir);
  return t;
}

// Every ring there is, not only the fuzzer's names: a hostile create with
// random bytes for a name now and then makes a valid one.
void destroy_all_rings() {
  int fd = open(kControl, O_RDWR | O_CLOEXEC);
  if (fd < 0) die("open %s: %s (is the module loaded?)", kControl, strerror(errno));
  DIR* dir = opendir(kClassDir);
  if (!dir) die("opendir %s: %s", kClassDir, strerror(errno));
  while (struct dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.' || strlen(e->d_name) >= EXO_NAME_MAX) continue;
    struct exo_name_req req = {};
    snprintf(req.name, sizeof(req.name), "%s", e->d_name);
    if (ioctl(fd, EXO_IOC_DESTROY, &req) && errno != ENOENT)
      die("destroy %s: %s", req.name, strerror(errno));
  }
  closedir(dir);
  close(fd);
}

struct Supervisor {
  Rng rng;
  int failures = 0;
  int kills = 0;
  int respawns = 0;
  int nworkers;
  uint32_t gens[kMaxSlots] = {};

  void fail(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "module_fuzz: FAIL (seed %llu): ", (unsigned long long)g_opt.seed);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    failures++;
    if (!g_opt.keep_going) g_shared->stop = 1;
  }

  void spawn(int worker) {
    Slot* s = &g_shared->slots[worker];
    s->pid = -1;
    s->worker = worker;
    s->gen = gens[worker];
    s->killed = false;
    s->start_ns = 0;
    s->hist_next = 0;
    memset(s->hist, 0, sizeof(s->hist));
    fflush(stderr);
    int pid = fork();
    if (pid < 0) die("fork: %s", strerror(errno));
    if (pid == 0) worker_main(worker, gens[worker], s, worker >= g_opt.workers);
    s->pid = pid;
  }

  Slot* slot_of(int pid) {
    for (auto& s : g_shared->slots)
      if (s.pid.load() == pid) return &s;
    return nullptr;
  }

  // One reaped process: a worker is replaced if the run goes on.
  void reaped(int pid, int status) {
    Slot* s = slot_of(pid);
    bool is_worker = s && s - g_shared->slots < nworkers;
    bool killed = s && s->killed;
    if (WIFEXITED(status) && WEXITSTATUS(status) == kFailExit) {
      fail("process %d (worker %d) reported a failure (above)", pid, s ? s->worker : -1);
    } else if (WIFEXITED(status) && WEXITSTATUS(status)) {
      fail("process %d exited with status %d", pid, WEXITSTATUS(status));
    } else if (WIFSIGNALED(status) && !(WTERMSIG(status) == SIGKILL && (killed || !is_worker))) {
      fail("process %d (worker %d) died of signal %d", pid, s ? s->worker : -1, WTERMSIG(status));
      if (s) print_history(stderr, *s);
    }
    if (!s) return;
    s->start_ns = 0;
    s->pid = 0;
    if (is_worker && killed && !g_shared->stop.load()) {
      int w = int(s - g_shared->slots);
      gens[w]++;
      respawns++;
      spawn(w);
    }
  }

  void reap(bool block) {
    for (;;) {
      int status;
      int pid = waitpid(-1, &status, block ? 0 : WNOHANG);
      if (pid <= 0) return;
      reaped(pid, status);
    }
  }

  // Where a stuck process is: its state, the CPU it last ran on and its
  // system time (a kernel spin shows as state R and growing stime), and the
  // kernel stack it last slept with.
  double show_kernel_side(int pid) {
    double system_s = 0;
    char path[64], buf[4096];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    if (read_file(path, buf, sizeof(buf)) > 0) {
      const char* p = strrchr(buf, ')');
      char state = 0;
      unsigned long long utime = 0, stime = 0;
      int cpu = -1;
      // After "pid (comm)": state, then fields 4..13, utime (14), stime (15), ..., processor (39).
      if (p && sscanf(p + 2, "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d "
                      "%*d %*d %*u %*u %*d %*u %*u %*u %*u %*u %*u %*u %*u %*u %*u %*u %*u "
                      "%*u %*d %d", &state, &utime, &stime, &cpu) == 4) {
        double hz = double(sysconf(_SC_CLK_TCK));
        system_s = stime / hz;
        fprintf(stderr, "    process %d: state %c, last on CPU %d, user %.2f s, system %.2f s%s\n",
                pid, state, cpu, utime / hz, stime / hz,
                state == 'R' ? " (running: a kernel loop if system time grows)" : "");
      }
    }
    snprintf(path, sizeof(path), "/proc/%d/stack", pid);
    if (read_file(path, buf, sizeof(buf)) > 0)
      fprintf(stderr, "    kernel stack of %d (where it last slept):\n%s", pid, buf);
    return system_s;
  }

  // Of the stuck processes, the one with the most system time: the spinner,
  // when a kernel loop starves the others on its CPU.
  int suspect_pid = 0;
  double suspect_system_s = 0;
  char suspect_op[kDescLen] = "";

  void note_suspect(int pid, double system_s, const char* op) {
    if (system_s <= suspect_system_s) return;
    suspect_pid = pid;
    suspect_system_s = system_s;
    snprintf(suspect_op, sizeof(suspect_op), "%s", op);
  }

  void report_suspect() {
    if (suspect_pid)
      fprintf(stderr, "module_fuzz: of the stuck processes, %d spent the most time in the kernel "
              "(%.2f s system), in: %s\n", suspect_pid, suspect_system_s, suspect_op);
  }

  static ssize_t read_file(const char* path, char* buf, size_t size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    buf[n > 0 ? n : 0] = 0;
    return n;
  }

  // An op running for longer than --hang-after is a failure, then SIGKILLed.
  void check_hangs() {
    int64_t now = now_ns(), bound = int64_t(g_opt.hang_after_s * 1e9);
    for (auto& s : g_shared->slots) {
      int pid = s.pid.load();
      int64_t start = s.start_ns.load();
      if (pid <= 0 || !start || now - start < bound || s.killed) continue;
      fail("HANG: process %d (worker %d gen %u) has been in op #%llu for %.1f s (bound %.1f s): %s",
           pid, s.worker, s.gen, (unsigned long long)s.ops.load(), (now - start) / 1e9,
           g_opt.hang_after_s, s.cur);
      print_history(stderr, s);
      note_suspect(pid, show_kernel_side(pid), s.cur);
      s.killed = true;
      kill(pid, SIGKILL);
    }
  }

  void maybe_kill(double tick_s) {
    if (g_opt.kill_rate <= 0 || rng.below(1000000) >= uint64_t(g_opt.kill_rate * tick_s * 1e6))
      return;
    Slot& s = g_shared->slots[rng.below(nworkers)];
    int pid = s.pid.load();
    if (pid <= 0 || s.killed) return;
    s.killed = true;
    kills++;
    kill(pid, SIGKILL);
  }

  bool anyone_left() {
    for (auto& s : g_shared->slots)
      if (s.pid.load() > 0) return true;
    return false;
  }

  // Stop, then SIGKILL what has not stopped; what survives that is a failure.
  void wind_down() {
    g_shared->stop = 1;
    int64_t deadline = now_ns() + int64_t((g_opt.hang_after_s + 5) * 1e9);
    while (anyone_left() && now_ns() < deadline) {
      reap(false);
      check_hangs();
      usleep(20000);
    }
    for (auto& s : g_shared->slots)
      if (s.pid.load() > 0) {
        s.killed = true;
        kill(s.pid.load(), SIGKILL);
      }
    deadline = now_ns() + 10 * 1000000000LL;
    while (anyone_left() && now_ns() < deadline) {
      reap(false);
      usleep(20000);
    }
    for (auto& s : g_shared->slots) {
      int pid = s.pid.load();
      if (pid <= 0) continue;
      fail("UNKILLABLE: process %d (worker %d) survived SIGKILL for 10 s, in: %s", pid, s.worker,
           s.start_ns.load() ? s.cur : "(between ops)");
      note_suspect(pid, show_kernel_side(pid), s.cur);
      s.pid = 0;
    }
  }

  void check_idle(const Totals& idle) {
    destroy_all_rings();
    Totals t = module_totals();
    for (int i = 0; i < 250 && !(t == idle); ++i) {
      usleep(20000);
      t = module_totals();
    }
    if (!(t == idle))
      fail("LEAK: the module holds %ld rings and %ld pages after the run; idle was %ld and %ld",
           t.rings, t.pages, idle.rings, idle.pages);
  }
};

void print_summary(const Supervisor& sv, double secs) {
  uint64_t total = 0;
  for (auto& s : g_shared->slots) total += s.ops.load();
  fprintf(stderr, "module_fuzz: %.1f s, %llu ops, %llu scribbles, %d kills, %d respawns; "
          "calls per entry point:\n", secs, (unsigned long long)total,
          (unsigned long long)g_shared->scribbles.load(), sv.kills, sv.respawns);
  for (int ep = 0; ep < EP_NR; ++ep) {
    fprintf(stderr, "  %-38s %8llu calls %8llu ok", kEntryPoints[ep].name,
            (unsigned long long)g_shared->calls[ep].load(),
            (unsigned long long)g_shared->ok[ep].load());
    for (int e = 1; e < 134; ++e)
      if (uint64_t n = g_shared->errs[ep][e].load())
        fprintf(stderr, " %s=%llu", errno_name(e), (unsigned long long)n);
    fprintf(stderr, "\n");
  }
}

int supervise() {
  destroy_all_rings();
  Totals idle = module_totals();
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  place_on_cpus(true);
  Supervisor sv;
  sv.rng.s = stream_seed(g_opt.seed, -1, 0, 0);
  sv.nworkers = g_opt.workers + g_opt.scribblers;
  g_shared->ops_left = int64_t(g_opt.ops);
  for (int w = 0; w < g_opt.workers + g_opt.scribblers; ++w) sv.spawn(w);
  int64_t start = now_ns();
  int64_t end = start + int64_t(g_opt.duration_s * 1e9);
  constexpr double kTick = 0.02;
  while (!g_shared->stop.load()) {
    usleep(int(kTick * 1e6));
    sv.reap(false);
    sv.check_hangs();
    sv.maybe_kill(kTick);
    if (!g_opt.ops && now_ns() >= end) break;
    if (g_opt.ops && g_shared->ops_left.load() <= 0) break;
  }
  sv.wind_down();
  sv.check_idle(idle);
  print_summary(sv, (now_ns() - start) / 1e9);
  sv.report_suspect();
  if (sv.failures) {
    fprintf(stderr, "module_fuzz: %d failure(s); replay with --seed %llu\n", sv.failures,
            (unsigned long long)g_opt.seed);
    return 1;
  }
  fprintf(stderr, "module_fuzz: no failure (seed %llu)\n", (unsigned long long)g_opt.seed);
  return 0;
}

// --- main ---------------------------------------------------------------------------------------

[[noreturn]] void usage(const char* bad) {
  fprintf(stderr, "module_fuzz: bad argument '%s' (see the header of module_fuzz.cpp)\n", bad);
  exit(2);
}

double parse_num(const char* s) {
  char* end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno || *s == '\0' || *end || v < 0) usage(s);
  return v;
}

void list_ops() {
  printf("ops (name, class):\n");
  for (auto& op : kOps) printf("  %-14s %s\n", op.name, op.cls);
  printf("entry points and their documented errnos:\n");
  for (auto& ep : kEntryPoints) {
    printf("  %-38s", ep.name);
    for (int e : ep.errnos) printf(" %s", errno_name(e));
    printf("\n      (%s)\n", ep.why);
  }
}

void parse(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> const char* {
      if (i + 1 >= argc) usage(argv[i]);
      return argv[++i];
    };
    if (a == "--seed") g_opt.seed = strtoull(value(), nullptr, 0), g_opt.seed_given = true;
    else if (a == "--duration") g_opt.duration_s = parse_num(value());
    else if (a == "--ops") g_opt.ops = uint64_t(parse_num(value()));
    else if (a == "--workers") g_opt.workers = int(parse_num(value()));
    else if (a == "--scribblers") g_opt.scribblers = int(parse_num(value()));
    else if (a == "--kill-rate") g_opt.kill_rate = parse_num(value());
    else if (a == "--hang-after") g_opt.hang_after_s = parse_num(value());
    else if (a == "--prefix") g_opt.prefix = value();
    else if (a == "--exclude") g_opt.exclude = value();
    else if (a == "--keep-going") g_opt.keep_going = true;
    else if (a == "--verbose") g_opt.verbose = true;
    else if (a == "--all-cpus") g_opt.all_cpus = true;
    else if (a == "--list") list_ops(), exit(0);
    else usage(argv[i]);
  }
  if (g_opt.workers < 1 || g_opt.workers + g_opt.scribblers > kMaxSlots / 2)
    usage("--workers/--scribblers");
  if (g_opt.prefix.empty() || g_opt.prefix.size() > 20) usage("--prefix");
  for (int i = 0; i < kNrOps; ++i)
    g_excluded[i] = in_list(g_opt.exclude, kOps[i].name) || in_list(g_opt.exclude, kOps[i].cls);
}

}  // namespace

int main(int argc, char** argv) {
  parse(argc, argv);
  if (!g_opt.seed_given) g_opt.seed = uint64_t(now_ns()) ^ (uint64_t(getpid()) << 32);
  if (geteuid() != 0) die("must run as root (workers drop to other uids)");
  fprintf(stderr, "module_fuzz: seed %llu (replay: --seed %llu)%s%s\n",
          (unsigned long long)g_opt.seed, (unsigned long long)g_opt.seed,
          g_opt.exclude.empty() ? "" : ", excluding ", g_opt.exclude.c_str());
  setvbuf(stderr, nullptr, _IOLBF, 0);
  void* sh = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                  -1, 0);
  if (sh == MAP_FAILED) die("mmap: %s", strerror(errno));
  g_shared = static_cast<Shared*>(sh);
  return supervise();
}
