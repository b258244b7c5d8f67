// SPDX-License-Identifier: GPL-2.0
// The few atomic operations the ring protocol needs, on plain fields of
// shared memory (the uapi structs are C, so no std::atomic<> members).
// Built on the compiler's __atomic builtins: no libstdc++ in the kernel.
#ifndef EXO_CORE_ATOMIC_H
#define EXO_CORE_ATOMIC_H

#include "module/core/types.h"

namespace exo {

template <typename T>
inline T load_relaxed(const T* p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }

template <typename T>
inline T load_acquire(const T* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }

template <typename T>
inline void store_relaxed(T* p, T v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }

template <typename T>
inline void store_release(T* p, T v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

template <typename T>
inline bool compare_exchange(T* p, T expected, T desired) {
  return __atomic_compare_exchange_n(p, &expected, desired, /*weak=*/false,
                                     __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

template <typename T>
inline T fetch_add(T* p, T v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }

// Takes a counter that others fetch_add() to: its value, leaving |v|.
template <typename T>
inline T exchange(T* p, T v) { return __atomic_exchange_n(p, v, __ATOMIC_RELAXED); }

// Bit transfers between parties: acquire what the releaser wrote before.
template <typename T>
inline T fetch_and(T* p, T v) { return __atomic_fetch_and(p, v, __ATOMIC_ACQ_REL); }
template <typename T>
inline T fetch_or(T* p, T v) { return __atomic_fetch_or(p, v, __ATOMIC_ACQ_REL); }

// Orders only the compiler. The waker side of the sleep protocol uses this:
// the sleeper's asymmetric barrier (membarrier or IPI) makes it sufficient.
inline void compiler_barrier() { __atomic_signal_fence(__ATOMIC_SEQ_CST); }

#if defined(__SANITIZE_THREAD__)
// ThreadSanitizer does not model fences; a seq_cst read-modify-write is one
// on x86 and is what it understands (hosted sanitizer builds only).
inline u32 tsan_fence_word;
inline void full_barrier() { __atomic_fetch_add(&tsan_fence_word, 0u, __ATOMIC_SEQ_CST); }
#else
inline void full_barrier() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
#endif

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#else
  compiler_barrier();
#endif
}

// Asks for a cache line in a writable state ahead of a store, so that the
// transfer from the cache that last wrote it (the peer, one lap ago) leaves
// the critical path. PREFETCHW executes as a no-op on CPUs without it.
inline void prefetch_for_write(const void* p) {
#if defined(__x86_64__)
  asm volatile("prefetchw %0" : : "m"(*static_cast<const char*>(p)));
#else
  __builtin_prefetch(p, 1, 3);
#endif
}

// Signed distance between a 32-bit slot sequence and a 64-bit position:
// slot sequences wrap, positions do not (in practice).
inline s32 seq_diff(u32 seq, u64 pos) { return static_cast<s32>(seq - static_cast<u32>(pos)); }

}  // namespace exo

#endif  // EXO_CORE_ATOMIC_H
