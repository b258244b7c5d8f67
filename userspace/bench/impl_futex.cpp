// futex: the boost spsc_queue of queue_channel.h in shared memory; a waiter
// sleeps in FUTEX_WAIT on its own sleep flag (wake.h), which doubles as the
// futex word. Shared (not FUTEX_PRIVATE) because the word lives in a
// MAP_SHARED mapping used by two processes.
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include "queue_channel.h"

namespace exobench {
namespace {

long futex(SleepFlag &flag, int op, uint32_t value)
{
	return syscall(SYS_futex, reinterpret_cast<uint32_t *>(&flag.sleeping), op, value,
		       nullptr, nullptr, 0);
}

struct FutexBell {
	static constexpr bool kCanSleep = true;

	// Sleeps only while the flag still reads 1: the waker clears it before
	// FUTEX_WAKE, so a wake that comes first makes this return at once.
	void sleep(SleepFlag &flag)
	{
		if (futex(flag, FUTEX_WAIT, 1) < 0 && errno != EAGAIN && errno != EINTR)
			die_errno("futex(FUTEX_WAIT)");
	}
	void wake(SleepFlag &flag)
	{
		if (futex(flag, FUTEX_WAKE, 1) < 0)
			die_errno("futex(FUTEX_WAKE)");
	}
};

const TransportRegistrar registrar({"futex", /*can_block=*/true, /*copies_per_msg=*/2,
				    create_queue_channel<FutexBell>, nullptr});

}  // namespace
}  // namespace exobench
