// SPDX-License-Identifier: GPL-2.0
// A ring fd driven by io_uring: IORING_OP_POLL_ADD on an empty device ring
// must not complete until another process sends, then complete with POLLIN.
//   ring_uring_poll NAME
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "userspace/include/exofusion/exofusion.h"

namespace {

int fail(const char* what, int err) {
  fprintf(stderr, "ring_uring_poll: %s: %s\n", what, err < 0 ? strerror(-err) : exo_last_error());
  return 1;
}

// True if a completion arrives within |ms| milliseconds.
bool completes_within(io_uring* uring, unsigned ms, io_uring_cqe** cqe) {
  __kernel_timespec ts = {ms / 1000, (ms % 1000) * 1000000ll};
  return io_uring_wait_cqe_timeout(uring, cqe, &ts) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: ring_uring_poll NAME\n");
    return 2;
  }
  exo_ring_params params = {argv[1], 64, EXO_MODE_SPSC, 0, 0, 0600};
  exo_ring* ring;
  int err = exo_ring_create(&params, EXO_BACKEND_DEVICE, &ring);
  if (err) return fail("create", 0);
  io_uring uring;
  err = io_uring_queue_init(8, &uring, 0);
  if (err) return fail("io_uring_queue_init", err);
  io_uring_prep_poll_add(io_uring_get_sqe(&uring), exo_ring_fd(ring), POLLIN);
  io_uring_submit(&uring);

  io_uring_cqe* cqe;
  if (completes_within(&uring, 200, &cqe)) return fail("POLL_ADD completed on an empty ring", -EPROTO);
  pid_t child = fork();
  if (child == 0) {
    exo_ring* sender;
    if (exo_ring_open(argv[1], &sender) || exo_send(sender, "ping", 4, 0)) _exit(1);
    _exit(0);
  }
  bool done = completes_within(&uring, 5000, &cqe);
  int status;
  waitpid(child, &status, 0);
  if (!done) return fail("POLL_ADD did not complete after a send", -ETIMEDOUT);
  if (!(cqe->res & POLLIN)) return fail("POLL_ADD completed without POLLIN", -EPROTO);
  io_uring_cqe_seen(&uring, cqe);
  exo_msg msg;
  err = exo_recv(ring, &msg, EXO_NONBLOCK);
  if (err || msg.len != 4 || memcmp(msg.data, "ping", 4) != 0) return fail("recv after poll", 0);
  io_uring_queue_exit(&uring);
  exo_ring_close(ring);
  exo_ring_destroy(argv[1]);
  printf("ring_uring_poll: POLL_ADD completed with POLLIN after the send\n");
  return 0;
}
