// A bounded single-producer single-consumer queue of small trivially
// copyable items, moved in batches: how slabbench hands objects from the
// thread that allocates them to the thread that frees them.
#pragma once

#include <sched.h>

#include <atomic>
#include <cstddef>

namespace slabbench {

// One iteration of a wait loop: PAUSE, and after a while sched_yield() (the
// threads-remote-free scenario runs more threads than there may be CPUs).
class Backoff {
public:
	void pause()
	{
		if (++spins_ < kSpinsBeforeYield) {
#if defined(__x86_64__) || defined(__i386__)
			__builtin_ia32_pause();
#endif
			return;
		}
		spins_ = 0;
		sched_yield();
	}

private:
	static constexpr unsigned kSpinsBeforeYield = 256;
	unsigned spins_ = 0;
};

// Capacity is a power of two. The producer and the consumer each keep a
// cached copy of the other's index, so a batch costs one acquire load of
// the other side's cache line at most.
template <typename T, size_t Capacity>
class Spsc {
	static_assert((Capacity & (Capacity - 1)) == 0, "capacity: a power of two");

public:
	// All of items[0..n) or none; n <= Capacity.
	bool push(const T *items, size_t n)
	{
		const size_t tail = tail_.load(std::memory_order_relaxed);
		if (tail + n - head_cache_ > Capacity) {
			head_cache_ = head_.load(std::memory_order_acquire);
			if (tail + n - head_cache_ > Capacity)
				return false;
		}
		for (size_t i = 0; i < n; i++)
			slots_[(tail + i) & (Capacity - 1)] = items[i];
		tail_.store(tail + n, std::memory_order_release);
		return true;
	}

	// Up to |max| items into out; returns how many.
	size_t pop(T *out, size_t max)
	{
		const size_t head = head_.load(std::memory_order_relaxed);
		if (tail_cache_ == head) {
			tail_cache_ = tail_.load(std::memory_order_acquire);
			if (tail_cache_ == head)
				return 0;
		}
		size_t n = tail_cache_ - head;
		if (n > max)
			n = max;
		for (size_t i = 0; i < n; i++)
			out[i] = slots_[(head + i) & (Capacity - 1)];
		head_.store(head + n, std::memory_order_release);
		return n;
	}

private:
	alignas(64) std::atomic<size_t> tail_{0};  // written by the producer
	size_t head_cache_ = 0;                     // the producer's copy
	alignas(64) std::atomic<size_t> head_{0};  // written by the consumer
	size_t tail_cache_ = 0;                     // the consumer's copy
	alignas(64) T slots_[Capacity];
};

}  // namespace slabbench
