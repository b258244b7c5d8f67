// SPDX-License-Identifier: GPL-2.0
// Moving messages from the shell: send and recv.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/fusionctl/cli.h"
#include "tools/fusionctl/commands.h"

namespace fusionctl {
namespace {

// --- send ---

struct Sender {
  exo_ring* ring;
  const char* name;
  unsigned flags;  // EXO_NONBLOCK or 0
  bool zerocopy;   // even for messages that would fit a slot
};

// Builds the message in a pool buffer and sends a descriptor of it.
int send_zerocopy(const Sender& s, const char* data, size_t len) {
  const exo_ring_info* info = exo_ring_get_info(s.ring);
  if (!info->buf_count && len > EXO_INLINE_MAX)
    return fail("send: a message of %zu bytes exceeds %d (inline) and ring '%s' has no pool", len,
                EXO_INLINE_MAX, s.name);
  // Checked here, not by the library: the copy into the buffer comes first.
  if (info->buf_count && len > info->buf_size)
    return fail("send: a message of %zu bytes exceeds the pool buffer size %u of ring '%s'", len,
                info->buf_size, s.name);
  uint32_t buf;
  void* dst;
  int err = exo_zc_reserve(s.ring, &buf, &dst, s.flags);
  if (err == -EAGAIN) return fail("send: ring '%s' has no free zero-copy buffer", s.name);
  if (err) return fail_lib(err, "send");
  memcpy(dst, data, len);
  err = exo_zc_send(s.ring, buf, 0, static_cast<uint32_t>(len), s.flags);
  if (err) {
    // The free ring takes buffers from any party, so handing it back is safe.
    exo_zc_release(s.ring, buf);
    if (err == -EAGAIN) return fail("send: ring '%s' is full", s.name);
    return fail_lib(err, "send");
  }
  return kExitOk;
}

int send_message(const Sender& s, const char* data, size_t len) {
  if (s.zerocopy || len > EXO_INLINE_MAX) return send_zerocopy(s, data, len);
  int err = exo_send(s.ring, data, len, s.flags);
  if (err == -EAGAIN) return fail("send: ring '%s' is full", s.name);
  return err ? fail_lib(err, "send") : kExitOk;
}

int send_repeated(const Sender& s, const char* data, size_t len, uint64_t count) {
  for (uint64_t i = 0; i < count; ++i) {
    int status = send_message(s, data, len);
    if (status != kExitOk) return status;
  }
  return kExitOk;
}

int run_send(const Args& args) {
  const char* name = args.operand(0);
  const char* message = args.operand(1);
  uint64_t count = args.number("--count", 1, 1, UINT64_MAX);
  Sender s = {nullptr, name, args.flag("--nonblock") ? EXO_NONBLOCK : 0u, args.flag("--zerocopy")};
  s.ring = open_ring("send", name, owner_option(args));
  if (!s.ring) return kExitFailure;

  int status = kExitOk;
  if (strcmp(message, "-") != 0) {
    status = send_repeated(s, message, strlen(message), count);
  } else {
    // One message per line, sent as it is read, so that a pipe streams.
    char* line = nullptr;
    size_t size = 0;
    ssize_t len;
    while (status == kExitOk && (len = getline(&line, &size, stdin)) >= 0) {
      if (len > 0 && line[len - 1] == '\n') --len;
      status = send_repeated(s, line, static_cast<size_t>(len), count);
    }
    if (status == kExitOk && ferror(stdin))
      status = fail("send: standard input: %s", strerror(errno));
    free(line);
  }
  exo_ring_close(s.ring);
  return status;
}

// --- recv ---

// Text when every byte prints on one line, else hex.
void print_message(const exo_msg& msg, bool hex) {
  const unsigned char* p = static_cast<const unsigned char*>(msg.data);
  bool text = !hex;
  for (uint32_t i = 0; text && i < msg.len; ++i)
    text = (p[i] >= 0x20 && p[i] < 0x7f) || p[i] == '\t';
  if (text)
    fwrite(p, 1, msg.len, stdout);
  else
    for (uint32_t i = 0; i < msg.len; ++i) printf("%02x", p[i]);
  putchar('\n');
  // Each message as it comes, for a reader at the other end of a pipe.
  fflush(stdout);
}

int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

// Waits up to timeout_ns for a message, then takes it without blocking.
// Loops because with several receivers (MPMC) another one may take the
// message that woke us.
int recv_timed(exo_ring* ring, exo_msg* msg, int64_t timeout_ns) {
  int64_t deadline = now_ns() + timeout_ns;
  for (;;) {
    int err = exo_recv(ring, msg, EXO_NONBLOCK);
    if (err != -EAGAIN) return err;
    int64_t left = deadline - now_ns();
    if (left <= 0) return -ETIMEDOUT;
    err = exo_ring_wait(ring, EXO_WAIT_DATA, left);
    if (err && err != -ETIMEDOUT) return err;
  }
}

int run_recv(const Args& args) {
  const char* name = args.operand(0);
  uint64_t count = args.number("--count", 1, 1, UINT64_MAX);
  bool nonblock = args.flag("--nonblock");
  bool hex = args.flag("--hex");
  bool timed = args.given("--timeout-ms");
  int64_t timeout_ms = static_cast<int64_t>(args.number("--timeout-ms", 0, 0, INT64_MAX / 1000000));
  if (timed && nonblock) args.usage_error("--nonblock and --timeout-ms exclude each other");
  exo_ring* ring = open_ring("recv", name, owner_option(args));
  if (!ring) return kExitFailure;

  int status = kExitOk;
  for (uint64_t i = 0; i < count && status == kExitOk; ++i) {
    exo_msg msg;
    int err = timed ? recv_timed(ring, &msg, timeout_ms * 1000000)
                    : exo_recv(ring, &msg, nonblock ? EXO_NONBLOCK : 0);
    if (err == -EAGAIN) {
      status = fail("recv: no message in ring '%s'", name);
    } else if (err == -ETIMEDOUT) {
      status = fail("recv: no message in ring '%s' within %lld ms", name,
                    static_cast<long long>(timeout_ms));
    } else if (err) {
      status = fail_lib(err, "recv");
    } else {
      print_message(msg, hex);
      if (msg.type == EXO_MSG_ZEROCOPY && (err = exo_zc_release(ring, msg.buf)) != 0)
        status = fail_lib(err, "recv: release buffer %u", msg.buf);
    }
  }
  exo_ring_close(ring);
  return status;
}

}  // namespace

const Command kSend = {
    "send",
    "NAME MESSAGE|-",
    "send a message, or each line of standard input",
    "Sends MESSAGE to ring NAME, or with '-' each line of standard input (without its\n"
    "newline) as one message. A message of at most 56 bytes goes inline in a slot;\n"
    "a longer one (or any, with --zerocopy) is copied into a zero-copy pool buffer,\n"
    "which must be large enough. Blocks while the ring is full unless --nonblock.\n"
    "Use '--' before a MESSAGE that starts with '-'.",
    {
        {"--count", "N", "send each message N times (default 1)"},
        {"--nonblock", nullptr, "fail instead of waiting when the ring or the pool is full"},
        {"--zerocopy", nullptr, "send through a pool buffer even if the message fits a slot"},
        kOwnerOption,
    },
    2,
    2,
    run_send,
};

const Command kRecv = {
    "recv",
    "NAME",
    "receive messages and print one per line",
    "Receives messages from ring NAME and prints each on its own line: as text if\n"
    "every byte is printable ASCII (or a tab), else as lowercase hex. Blocks until\n"
    "each message comes unless --nonblock or --timeout-ms.",
    {
        {"--count", "N", "receive N messages (default 1)"},
        {"--nonblock", nullptr, "fail at once if no message is waiting"},
        {"--timeout-ms", "T", "fail if a message does not come within T ms"},
        {"--hex", nullptr, "print every message as hex"},
        kOwnerOption,
    },
    1,
    1,
    run_recv,
};

}  // namespace fusionctl
