// SPDX-License-Identifier: LGPL-2.1 OR GPL-2.0
// A thin C++ face on libexofusion: a move-only owner of a ring handle.
// Errors stay negative errnos (no exceptions), as in the C API.
#ifndef EXOFUSION_EXOFUSION_HPP
#define EXOFUSION_EXOFUSION_HPP

#include <utility>

#include "exofusion.h"

namespace exofusion {

class Ring {
 public:
  Ring() = default;
  explicit Ring(exo_ring* ring) : ring_(ring) {}
  Ring(Ring&& other) noexcept : ring_(std::exchange(other.ring_, nullptr)) {}
  Ring& operator=(Ring&& other) noexcept {
    std::swap(ring_, other.ring_);
    return *this;
  }
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
  ~Ring() {
    if (ring_) exo_ring_close(ring_);
  }

  static int create(const exo_ring_params& params, exo_backend backend, Ring* out) {
    exo_ring* ring;
    int err = exo_ring_create(&params, backend, &ring);
    if (err == 0) *out = Ring(ring);
    return err;
  }
  static int open(const char* name, Ring* out) {
    exo_ring* ring;
    int err = exo_ring_open(name, &ring);
    if (err == 0) *out = Ring(ring);
    return err;
  }

  int send(const void* data, size_t len, unsigned flags = 0) { return exo_send(ring_, data, len, flags); }
  int recv(exo_msg* msg, unsigned flags = 0) { return exo_recv(ring_, msg, flags); }
  int send_batch(const iovec* msgs, unsigned count, unsigned flags = 0) {
    return exo_send_batch(ring_, msgs, count, flags);
  }
  int recv_batch(exo_msg* msgs, unsigned max, unsigned flags = 0) {
    return exo_recv_batch(ring_, msgs, max, flags);
  }
  int zc_reserve(uint32_t* buf, void** data, unsigned flags = 0) {
    return exo_zc_reserve(ring_, buf, data, flags);
  }
  int zc_send(uint32_t buf, uint32_t offset, uint32_t len, unsigned flags = 0) {
    return exo_zc_send(ring_, buf, offset, len, flags);
  }
  int zc_release(uint32_t buf) { return exo_zc_release(ring_, buf); }
  // Slots in place (see exofusion.h): reserve, fill, commit; borrow, read,
  // release. Each returns the run's length or a negative errno.
  int reserve(unsigned max, exo_slots* run, unsigned flags = 0) {
    return exo_reserve(ring_, max, flags, run);
  }
  int commit(const exo_slots& run) { return exo_commit(ring_, &run); }
  int borrow(unsigned max, exo_slots* run, unsigned flags = 0) {
    return exo_recv_borrow(ring_, max, flags, run);
  }
  int msg(const exo_slots& run, uint32_t i, exo_msg* out) {
    return exo_slots_msg(ring_, &run, i, out);
  }
  int release(const exo_slots& run) { return exo_recv_release(ring_, &run); }
  int wait(unsigned which, int64_t timeout_ns = -1) { return exo_ring_wait(ring_, which, timeout_ns); }
  // The wake-up a send with EXO_WAKE_ON_WAIT put off, issued now (per thread).
  static void flush_wakeups() { exo_flush_wakeups(); }

  exo_ring* get() const { return ring_; }
  int fd() const { return exo_ring_fd(ring_); }
  explicit operator bool() const { return ring_ != nullptr; }

 private:
  exo_ring* ring_ = nullptr;
};

}  // namespace exofusion

#endif  // EXOFUSION_EXOFUSION_HPP
