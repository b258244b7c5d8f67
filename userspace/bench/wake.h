// The sleep/wake handshake the blocking shared-memory peers use.
//
// A waiter that finds nothing to do announces itself in a shared flag, issues
// a full fence, checks again, and only then sleeps. A waker publishes its
// work, issues a full fence, and enters the kernel only if it sees the flag.
// The two fences guarantee that at least one of them sees the other (Dekker),
// so no wake-up is lost, while a waker whose peer is awake pays one fence and
// one load of a line nobody writes. This is the standard pattern (futex-based
// mutexes, eventfd-driven queues); it makes eventfd and futex strong peers.
#pragma once

#include <atomic>
#include <cstdint>

#include "sys.h"
#include "transport.h"

namespace exobench {

struct alignas(64) SleepFlag {
	std::atomic<uint32_t> sleeping{0};
};

// A Bell is how a waiter sleeps and a waker wakes it:
//   static constexpr bool kCanSleep;  false: spin-only, wakers do nothing
//   void sleep(SleepFlag &);  blocks until woken; may return spuriously
//   void wake(SleepFlag &);   wakes the sleeper
template <class Bell, class Ready>
void wait_until(Ready ready, WaitMode mode, SleepFlag &flag, Bell &bell)
{
	while (!ready()) {
		if (mode == WaitMode::Spin) {
			spin_pause();
			continue;
		}
		flag.sleeping.store(1, std::memory_order_relaxed);
		std::atomic_thread_fence(std::memory_order_seq_cst);
		if (ready()) {
			flag.sleeping.store(0, std::memory_order_relaxed);
			return;
		}
		bell.sleep(flag);
	}
}

// Call after publishing work the other side may be waiting for.
template <class Bell>
void wake_if_sleeping(SleepFlag &flag, Bell &bell)
{
	if constexpr (Bell::kCanSleep) {
		std::atomic_thread_fence(std::memory_order_seq_cst);
		if (flag.sleeping.load(std::memory_order_relaxed) &&
		    flag.sleeping.exchange(0, std::memory_order_relaxed))
			bell.wake(flag);
	}
}

}  // namespace exobench
