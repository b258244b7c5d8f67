// pipe: one pipe per direction, plain read/write. Default capacity (64 KiB)
// unless that holds fewer than kByteStreamBufferedMessages messages; then
// F_SETPIPE_SZ (1 MiB for 64 KiB messages, the unprivileged maximum).
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
	const long wanted = long(kByteStreamBufferedMessages * spec.msg_size);
	if (wanted > fcntl(fds[1], F_GETPIPE_SZ) && fcntl(fds[1], F_SETPIPE_SZ, wanted) < 0)
		die_errno("fcntl(F_SETPIPE_SZ, %ld)", wanted);
	return create_byte_stream_channel(fds[0], fds[1], spec);
}

const TransportRegistrar registrar({"pipe", /*can_block=*/true, /*copies_per_msg=*/2, create,
				    nullptr});

}  // namespace
}  // namespace exobench
