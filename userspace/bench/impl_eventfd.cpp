// eventfd: the boost spsc_queue of queue_channel.h in shared memory, with an
// eventfd per direction of waiting, written only when the other side announced
// it sleeps (wake.h).
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

#include "queue_channel.h"

namespace exobench {
namespace {

class EventfdBell {
public:
	static constexpr bool kCanSleep = true;

	EventfdBell() : fd_(eventfd(0, EFD_CLOEXEC))
	{
		if (fd_ < 0)
			die_errno("eventfd");
	}
	~EventfdBell() { close(fd_); }
	EventfdBell(const EventfdBell &) = delete;
	EventfdBell &operator=(const EventfdBell &) = delete;

	// A wake that raced with a cancelled sleep leaves a count behind; the
	// read then returns at once and wait_until() rechecks: harmless.
	void sleep(SleepFlag &)
	{
		uint64_t count;
		read_exact(fd_, &count, sizeof(count));
	}
	void wake(SleepFlag &)
	{
		const uint64_t one = 1;
		write_all(fd_, &one, sizeof(one));
	}

private:
	int fd_;
};

const TransportRegistrar registrar({"eventfd", /*can_block=*/true, /*copies_per_msg=*/2,
				    create_queue_channel<EventfdBell>, nullptr});

}  // namespace
}  // namespace exobench
