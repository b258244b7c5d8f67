// unix-stream: an AF_UNIX SOCK_STREAM socketpair, default buffer sizes,
// plain read/write; one socketpair per direction.
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
	return create_byte_stream_channel(fds[1], fds[0], spec);
}

const TransportRegistrar registrar({"unix-stream", /*can_block=*/true, /*copies_per_msg=*/2,
				    create, nullptr});

}  // namespace
}  // namespace exobench
