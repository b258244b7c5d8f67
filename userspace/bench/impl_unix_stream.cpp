// unix-stream: an AF_UNIX SOCK_STREAM socketpair per direction, plain
// read/write. Default buffer size (net.core.wmem_default) unless that holds
// fewer than kByteStreamBufferedMessages messages; then SO_SNDBUF (which
// net.core.wmem_max may cap). An AF_UNIX stream queues data in the receiver
// but charges the sender's buffer, so SO_SNDBUF is the knob.
#include <sys/socket.h>

#include "byte_stream.h"
#include "sys.h"

namespace exobench {
namespace {

std::unique_ptr<Channel> create(const ChannelSpec &spec)
{
	int fds[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0)
		die_errno("socketpair(AF_UNIX, SOCK_STREAM)");
	int sndbuf;
	socklen_t len = sizeof(sndbuf);
	const int wanted = int(kByteStreamBufferedMessages * spec.msg_size);
	if (getsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) < 0)
		die_errno("getsockopt(SO_SNDBUF)");
	if (wanted > sndbuf && setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &wanted, sizeof(wanted)) < 0)
		die_errno("setsockopt(SO_SNDBUF, %d)", wanted);
	return create_byte_stream_channel(fds[1], fds[0], spec);
}

const TransportRegistrar registrar({"unix-stream", /*can_block=*/true, /*copies_per_msg=*/2,
				    create, nullptr});

}  // namespace
}  // namespace exobench
