// Small system helpers shared by the harness and every transport.
#pragma once

#include <cstddef>
#include <cstdint>

namespace exobench {

// Prints "exobench: <message>" to stderr and exits with status 1 (_exit, so a
// forked child never runs the parent's destructors or flushes its stdio twice).
[[noreturn]] void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
// die() with ": strerror(errno)" appended.
[[noreturn]] void die_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

uint64_t now_ns();          // CLOCK_MONOTONIC: comparable across processes
uint64_t process_cpu_ns();  // user + system CPU time of the calling process

// One iteration of a busy-wait loop. When the communicating processes share
// one CPU (env vm-icount) spinning would only burn the peer's time slice, so
// it yields instead; otherwise it is a bare PAUSE.
void spin_pause();
void set_cpu_shared(bool shared);
bool cpu_shared();

// Byte-stream I/O that finishes the job: retries EINTR, short transfers, and
// (for O_NONBLOCK fds, i.e. spin mode) EAGAIN with spin_pause(). A peer that
// closed its end is fatal.
void write_all(int fd, const void *buf, size_t len);
size_t read_some(int fd, void *buf, size_t max);  // returns >= 1 byte
void read_exact(int fd, void *buf, size_t len);
void set_nonblocking(int fd);

}  // namespace exobench
