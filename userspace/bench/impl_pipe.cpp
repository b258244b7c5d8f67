// pipe: one pipe per direction, default capacity (64 KiB), plain read/write.
#include <fcntl.h>
#include <unistd.h>

#include "byte_stream.h"
#include "sys.h"

namespace exobench {
namespace {

std::unique_ptr<Channel> create(const ChannelSpec &spec)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		die_errno("pipe2");
	return create_byte_stream_channel(fds[0], fds[1], spec);
}

const TransportRegistrar registrar({"pipe", /*can_block=*/true, /*copies_per_msg=*/2, create,
				    nullptr});

}  // namespace
}  // namespace exobench
