// SPDX-License-Identifier: LGPL-2.1 OR GPL-2.0
// The futex system call on the runtime's 32-bit atomic words, and the
// timespec its timed waits (and nanosleep) take.
#ifndef EXOFIBER_FUTEX_H
#define EXOFIBER_FUTEX_H

#include <linux/futex.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>

namespace exo::fiber {

inline long futex(std::atomic<uint32_t>* word, int op, uint32_t val,
                  const timespec* timeout = nullptr) {
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t), "a futex word");
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op, val, timeout, nullptr, 0);
}

inline timespec to_timespec(uint64_t ns) {
  return timespec{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
}

}  // namespace exo::fiber

#endif  // EXOFIBER_FUTEX_H
