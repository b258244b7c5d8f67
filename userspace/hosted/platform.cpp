// SPDX-License-Identifier: GPL-2.0
// The hosted (user-space) implementation of module/core/platform.h, for the
// core's unit tests, sanitizer runs and fuzzing. "User" pointers below the
// first page fault, as they would in the kernel, so tests reach the
// -EFAULT paths.
#include "module/core/platform.h"

#include <string.h>

namespace {

constexpr unsigned long kFirstValidAddress = 4096;

bool faults(const void* user) { return reinterpret_cast<unsigned long>(user) < kFirstValidAddress; }

// A user copy may race with user space, as copy_to_user() does in the kernel:
// a reader copies a pool buffer out before it claims the message, and the
// copy is thrown away if another reader won it meanwhile (ring_io.cpp). Byte
// by byte with relaxed atomics, so TSan sees the race as the allowed one it is.
void racy_copy(void* to, const void* from, unsigned long n) {
  auto* dst = static_cast<unsigned char*>(to);
  const auto* src = static_cast<const unsigned char*>(from);
  for (unsigned long i = 0; i < n; ++i)
    __atomic_store_n(&dst[i], __atomic_load_n(&src[i], __ATOMIC_RELAXED), __ATOMIC_RELAXED);
}

}  // namespace

extern "C" unsigned long exo_plat_copy_to_user(void* to_user, const void* from, unsigned long n) {
  if (faults(to_user)) return n;
  racy_copy(to_user, from, n);
  return 0;
}

extern "C" unsigned long exo_plat_copy_from_user(void* to, const void* from_user, unsigned long n) {
  if (faults(from_user)) return n;
  racy_copy(to, from_user, n);
  return 0;
}

// --- the slab cache's needs -------------------------------------------------
// Pages come from mmap, aligned to their size as the buddy allocator's
// are. A "CPU" is a slot that a thread holds from its first cache call to
// its exit; a slot that a thread left is taken by a later one, magazines
// and all, as a CPU outlives the tasks that ran on it.

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>

#include <atomic>

#include "userspace/hosted/hosted.h"

namespace {

constexpr unsigned int kSlots = EXO_HOSTED_CPUS;
constexpr unsigned long kPage = 4096;

std::atomic<unsigned long> pages_in_use{0};
std::atomic<unsigned long> reports{0};
char last_report[256];
pthread_mutex_t report_mutex = PTHREAD_MUTEX_INITIALIZER;
std::atomic<bool> slot_taken[kSlots];

constexpr unsigned int kNoSlot = ~0u;

// Gives the slot back when its thread exits; touched only when one is taken.
class SlotReleaser {
 public:
  void hold(unsigned int slot) { slot_ = slot; }
  ~SlotReleaser() {
    if (slot_ != kNoSlot) slot_taken[slot_].store(false, std::memory_order_release);
  }

 private:
  unsigned int slot_ = kNoSlot;
};

thread_local SlotReleaser slot_releaser;

}  // namespace

// The thread's slot, read on every cache operation (platform.h): a plain
// __thread, so reading it needs no TLS initialisation guard.
__thread unsigned int exo_hosted_cpu_id = kNoSlot;

extern "C" unsigned int exo_hosted_claim_cpu(void) {
  for (unsigned int i = 0; i < kSlots; ++i) {
    bool expected = false;
    if (!slot_taken[i].load(std::memory_order_relaxed) &&
        slot_taken[i].compare_exchange_strong(expected, true, std::memory_order_acquire)) {
      slot_releaser.hold(i);
      exo_hosted_cpu_id = i;
      return i;
    }
  }
  fprintf(stderr, "exofusion hosted: more than %u threads use slab caches at once\n", kSlots);
  abort();
}

extern "C" void* exo_plat_pages_alloc(unsigned int order, int /*may_sleep*/, int /*account*/) {
  unsigned long size = kPage << order;
  // Twice the size, then trimmed to an aligned block.
  void* raw = mmap(nullptr, 2 * size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  unsigned long start = reinterpret_cast<unsigned long>(raw);
  unsigned long aligned = (start + size - 1) & ~(size - 1);
  if (aligned > start) munmap(raw, aligned - start);
  if (aligned + size < start + 2 * size)
    munmap(reinterpret_cast<void*>(aligned + size), start + 2 * size - aligned - size);
  pages_in_use += 1ul << order;
  return reinterpret_cast<void*>(aligned);
}

extern "C" void exo_plat_pages_free(void* addr, unsigned int order) {
  munmap(addr, kPage << order);
  pages_in_use -= 1ul << order;
}

extern "C" void* exo_plat_zalloc(unsigned long size, int /*may_sleep*/) { return calloc(1, size); }

extern "C" void exo_plat_free(void* p) { free(p); }

struct exo_lock {
  pthread_mutex_t mutex;
};

extern "C" exo_lock* exo_plat_lock_create(exo_lock_kind /*kind*/) {
  auto* lock = static_cast<exo_lock*>(calloc(1, sizeof(exo_lock)));
  if (lock) pthread_mutex_init(&lock->mutex, nullptr);
  return lock;
}

extern "C" void exo_plat_lock_destroy(exo_lock* lock) {
  pthread_mutex_destroy(&lock->mutex);
  free(lock);
}

extern "C" void exo_plat_lock(exo_lock* lock) { pthread_mutex_lock(&lock->mutex); }

extern "C" void exo_plat_unlock(exo_lock* lock) { pthread_mutex_unlock(&lock->mutex); }

extern "C" unsigned int exo_plat_nr_cpus(void) { return kSlots; }

extern "C" void exo_plat_report(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  pthread_mutex_lock(&report_mutex);
  vsnprintf(last_report, sizeof(last_report), fmt, args);
  pthread_mutex_unlock(&report_mutex);
  va_end(args);
  ++reports;
  if (!getenv("EXO_HOSTED_QUIET_REPORTS")) fputs(last_report, stderr);
}

extern "C" unsigned long exo_hosted_pages_in_use(void) { return pages_in_use.load(); }

extern "C" unsigned long exo_hosted_reports(char* last, unsigned long size) {
  pthread_mutex_lock(&report_mutex);
  if (size) snprintf(last, size, "%s", last_report);
  pthread_mutex_unlock(&report_mutex);
  return reports.load();
}
