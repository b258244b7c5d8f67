// A one-way channel over a byte-stream file descriptor pair (a pipe or an
// AF_UNIX SOCK_STREAM socketpair): the pipe and unix-stream peers.
#pragma once

#include <memory>

#include "transport.h"

namespace exobench {

// Takes ownership of both fds (the parent closes them after the repetition).
// Spin mode sets O_NONBLOCK, so reads poll and writes never sleep.
std::unique_ptr<Channel> create_byte_stream_channel(int read_fd, int write_fd,
						    const ChannelSpec &spec);

}  // namespace exobench
