// A one-way channel over a byte-stream file descriptor pair (a pipe or an
// AF_UNIX SOCK_STREAM socketpair): the pipe and unix-stream peers.
#pragma once

#include <cstddef>
#include <memory>

#include "transport.h"

namespace exobench {

// Messages of buffer room the byte-stream peers ask for when their default
// buffer holds fewer: a 64 KiB pipe holds one 64 KiB message, which forces
// writer and reader into lock-step (half the throughput, measured).
constexpr size_t kByteStreamBufferedMessages = 16;

// Takes ownership of both fds (the parent closes them after the repetition).
// Spin mode sets O_NONBLOCK, so reads poll and writes never sleep.
std::unique_ptr<Channel> create_byte_stream_channel(int read_fd, int write_fd,
						    const ChannelSpec &spec);

}  // namespace exobench
