#include "byte_stream.h"

#include <unistd.h>

#include <vector>

#include "sys.h"

namespace exobench {
namespace {

// Messages are framed only by their fixed size. A batch goes out as one
// write() of count * msg_size bytes; writes up to PIPE_BUF (and small socket
// writes, one skb each) are atomic, which keeps two producers' messages whole.
class ByteStreamEndpoint : public Endpoint {
public:
	ByteStreamEndpoint(int fd, size_t msg_size)
		: fd_(fd), msg_size_(msg_size), staging_(kMaxBatch * msg_size / 8)
	{
	}

	void send(size_t count, FillFn fill) override
	{
		char *buf = bytes();
		for (size_t i = 0; i < count; i++)
			fill(i, buf + i * msg_size_);
		write_all(fd_, buf, count * msg_size_);  // copy 1: into the kernel
	}

	// One read() of up to max messages (copy 2: out of the kernel), then
	// completes a message the read cut in half.
	size_t receive(size_t max, CheckFn check) override
	{
		char *buf = bytes();
		size_t got = read_some(fd_, buf, max * msg_size_);
		if (got % msg_size_) {
			const size_t missing = msg_size_ - got % msg_size_;
			read_exact(fd_, buf + got, missing);
			got += missing;
		}
		for (size_t off = 0; off < got; off += msg_size_)
			check(buf + off);
		return got / msg_size_;
	}

private:
	char *bytes() { return reinterpret_cast<char *>(staging_.data()); }

	const int fd_;
	const size_t msg_size_;
	std::vector<uint64_t> staging_;  // uint64_t: messages must be 8-byte aligned
};

class ByteStreamChannel : public Channel {
public:
	ByteStreamChannel(int read_fd, int write_fd, const ChannelSpec &spec)
		: read_fd_(read_fd), write_fd_(write_fd), msg_size_(spec.msg_size)
	{
		if (spec.mode == WaitMode::Spin) {
			set_nonblocking(read_fd);
			set_nonblocking(write_fd);
		}
	}
	~ByteStreamChannel() override
	{
		close(read_fd_);
		close(write_fd_);
	}

	std::unique_ptr<Endpoint> open(Role role) override
	{
		const int fd = role == Role::Consumer ? read_fd_ : write_fd_;
		return std::make_unique<ByteStreamEndpoint>(fd, msg_size_);
	}

private:
	const int read_fd_, write_fd_;
	const size_t msg_size_;
};

}  // namespace

std::unique_ptr<Channel> create_byte_stream_channel(int read_fd, int write_fd,
						    const ChannelSpec &spec)
{
	return std::make_unique<ByteStreamChannel>(read_fd, write_fd, spec);
}

}  // namespace exobench
