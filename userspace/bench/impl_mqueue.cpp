// mqueue: a POSIX message queue per direction, one message per call (the API
// has no batch). mq_send/mq_receive are glibc's names for the
// mq_timedsend/mq_timedreceive system calls without a timeout. Spin mode opens
// the queue O_NONBLOCK and retries EAGAIN.
#include <fcntl.h>
#include <mqueue.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <vector>

#include "message.h"
#include "sys.h"
#include "transport.h"

namespace exobench {
namespace {

class MqueueEndpoint : public Endpoint {
public:
	MqueueEndpoint(mqd_t queue, size_t msg_size) : queue_(queue), buf_(msg_size / 8) {}

	void send(size_t count, FillFn fill) override
	{
		for (size_t i = 0; i < count; i++) {
			fill(i, buf_.data());
			while (mq_send(queue_, bytes(), size(), 0) < 0)
				retry_or_die("mq_send");
		}
	}

	size_t receive(size_t, CheckFn check) override
	{
		ssize_t n;
		while ((n = mq_receive(queue_, bytes(), size(), nullptr)) < 0)
			retry_or_die("mq_receive");
		if (size_t(n) != size())
			die("mq_receive: got %zd bytes, expected %zu", n, size());
		check(buf_.data());
		return 1;
	}

private:
	char *bytes() { return reinterpret_cast<char *>(buf_.data()); }
	size_t size() const { return buf_.size() * 8; }

	static void retry_or_die(const char *call)
	{
		if (errno == EAGAIN)
			spin_pause();
		else if (errno != EINTR)
			die_errno("%s", call);
	}

	const mqd_t queue_;
	std::vector<uint64_t> buf_;  // uint64_t: messages must be 8-byte aligned
};

// The unprivileged ceiling on mq_maxmsg (10 by default).
long unprivileged_max_messages()
{
	long max = 10;
	if (FILE *f = std::fopen("/proc/sys/fs/mqueue/msg_max", "r")) {
		if (std::fscanf(f, "%ld", &max) != 1)
			max = 10;
		std::fclose(f);
	}
	return max;
}

// Asks for the depth the other peers have; a process without
// CAP_SYS_RESOURCE gets EINVAL above msg_max and falls back to it.
mqd_t open_unique_queue(const ChannelSpec &spec)
{
	static unsigned counter;
	char name[64];
	std::snprintf(name, sizeof(name), "/exobench.%d.%u", int(getpid()), counter++);
	const int flags = O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC |
			  (spec.mode == WaitMode::Spin ? O_NONBLOCK : 0);
	mq_attr attr = {};
	attr.mq_maxmsg = long(kPeerQueueMessages);
	attr.mq_msgsize = long(spec.msg_size);
	mqd_t queue = mq_open(name, flags, 0600, &attr);
	if (queue == mqd_t(-1) && errno == EINVAL) {
		attr.mq_maxmsg = unprivileged_max_messages();
		queue = mq_open(name, flags, 0600, &attr);
	}
	if (queue == mqd_t(-1))
		die_errno("mq_open(%s)", name);
	// Unlinked at once: the inherited descriptor keeps it alive, and a
	// crash leaves nothing behind in /dev/mqueue.
	mq_unlink(name);
	return queue;
}

class MqueueChannel : public Channel {
public:
	explicit MqueueChannel(const ChannelSpec &spec)
		: queue_(open_unique_queue(spec)), msg_size_(spec.msg_size)
	{
	}
	~MqueueChannel() override { mq_close(queue_); }

	std::unique_ptr<Endpoint> open(Role) override
	{
		return std::make_unique<MqueueEndpoint>(queue_, msg_size_);
	}

private:
	const mqd_t queue_;
	const size_t msg_size_;
};

std::unique_ptr<Channel> create(const ChannelSpec &spec)
{
	return std::make_unique<MqueueChannel>(spec);
}

const TransportRegistrar registrar({"mqueue", /*can_block=*/true, /*copies_per_msg=*/2, create,
				    nullptr});

}  // namespace
}  // namespace exobench
