// slabbench's scenarios, each a Workload over an allocator type A (see
// allocators.h). A workload runs a number of units and returns the time
// they took; a unit is one or more alloc+free pairs (pairs_per_unit()).
// Every object is written (one byte) while allocated and its address fed
// to a sink, so no allocator (and no compiler) can skip the work.
#pragma once

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "allocators.h"
#include "spsc.h"

namespace slabbench {

inline uint64_t now_ns()
{
	timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

extern std::atomic<uintptr_t> g_sink;

// The object escapes: the compiler must produce it and keep its store.
inline void touch(void *p, uint64_t i)
{
	static_cast<volatile unsigned char *>(p)[0] = static_cast<unsigned char>(i);
	asm volatile("" : : "r"(p) : "memory");
}

inline void sink(uintptr_t acc) { g_sink.fetch_add(acc, std::memory_order_relaxed); }

// The CPUs this process may run on (before any pinning), in order.
const std::vector<int> &allowed_cpus();
void pin_thread(pthread_t thread, int cpu);

// An object and its size class, as handed between threads.
struct Obj {
	void *p;
	unsigned cls;
};

class Workload {
public:
	virtual ~Workload() = default;
	// Runs |units| units; returns the elapsed CLOCK_MONOTONIC ns.
	virtual uint64_t run(uint64_t units) = 0;
	virtual uint64_t pairs_per_unit() const { return 1; }
};

// pair-*: alloc then free at once, one size.
template <typename A>
class PairWorkload : public Workload {
public:
	explicit PairWorkload(A &a) : a_(a) {}
	uint64_t run(uint64_t n) override
	{
		uintptr_t acc = 0;
		const uint64_t t0 = now_ns();
		for (uint64_t i = 0; i < n; i++) {
			void *p = a_.alloc(0);
			touch(p, i);
			acc += reinterpret_cast<uintptr_t>(p);
			a_.free(p, 0);
		}
		const uint64_t t1 = now_ns();
		sink(acc);
		return t1 - t0;
	}

private:
	A &a_;
};

// batch1000-*: 1000 allocs, then the 1000 frees in allocation order.
template <typename A>
class BatchWorkload : public Workload {
public:
	static constexpr unsigned kBatch = 1000;
	explicit BatchWorkload(A &a) : a_(a), objs_(kBatch) {}
	uint64_t pairs_per_unit() const override { return kBatch; }
	uint64_t run(uint64_t n) override
	{
		uintptr_t acc = 0;
		void **objs = objs_.data();
		const uint64_t t0 = now_ns();
		for (uint64_t b = 0; b < n; b++) {
			for (unsigned i = 0; i < kBatch; i++) {
				void *p = a_.alloc(0);
				touch(p, i);
				acc += reinterpret_cast<uintptr_t>(p);
				objs[i] = p;
			}
			for (unsigned i = 0; i < kBatch; i++)
				a_.free(objs[i], 0);
		}
		const uint64_t t1 = now_ns();
		sink(acc);
		return t1 - t0;
	}

private:
	A &a_;
	std::vector<void *> objs_;
};

// bulk16-*: 16 objects in one bulk call (peers: a loop), then freed so.
template <typename A>
class BulkWorkload : public Workload {
public:
	static constexpr unsigned kBulk = 16;
	explicit BulkWorkload(A &a) : a_(a) {}
	uint64_t pairs_per_unit() const override { return kBulk; }
	uint64_t run(uint64_t n) override
	{
		uintptr_t acc = 0;
		void *objs[kBulk];
		const uint64_t t0 = now_ns();
		for (uint64_t b = 0; b < n; b++) {
			a_.alloc_bulk(0, kBulk, objs);
			for (unsigned i = 0; i < kBulk; i++) {
				touch(objs[i], i);
				acc += reinterpret_cast<uintptr_t>(objs[i]);
			}
			a_.free_bulk(0, kBulk, objs);
		}
		const uint64_t t1 = now_ns();
		sink(acc);
		return t1 - t0;
	}

private:
	A &a_;
};

// Starts and waits for repetitions of persistent worker threads (so that
// per-thread allocator state survives from one repetition to the next).
class RepGate {
public:
	// Main: starts repetition |gen| for |workers| threads.
	void start(unsigned workers)
	{
		std::lock_guard<std::mutex> lock(mutex_);
		finished_ = 0;
		expected_ = workers;
		++generation_;
		start_cv_.notify_all();
	}
	// Main: waits until every worker called finished().
	void wait_finished()
	{
		std::unique_lock<std::mutex> lock(mutex_);
		done_cv_.wait(lock, [&] { return finished_ == expected_; });
	}
	void quit()
	{
		std::lock_guard<std::mutex> lock(mutex_);
		quit_ = true;
		start_cv_.notify_all();
	}
	// Worker: waits for a repetition after |*seen|; false on quit.
	bool wait_start(uint64_t *seen)
	{
		std::unique_lock<std::mutex> lock(mutex_);
		start_cv_.wait(lock, [&] { return quit_ || generation_ != *seen; });
		*seen = generation_;
		return !quit_;
	}
	void finished()
	{
		std::lock_guard<std::mutex> lock(mutex_);
		if (++finished_ == expected_)
			done_cv_.notify_one();
	}

private:
	std::mutex mutex_;
	std::condition_variable start_cv_, done_cv_;
	uint64_t generation_ = 0;
	unsigned finished_ = 0, expected_ = 0;
	bool quit_ = false;
};

// crosscpu-*: this thread allocates and passes objects in batches of 32
// through an SPSC queue to a consumer thread on another CPU, which reads
// and frees them. A unit is one object; the time runs until the consumer
// freed the last.
template <typename A>
class CrossCpuWorkload : public Workload {
public:
	static constexpr unsigned kBatch = 32;

	explicit CrossCpuWorkload(A &a) : a_(a), queue_(new Queue)
	{
		const std::vector<int> &cpus = allowed_cpus();
		pin_thread(pthread_self(), cpus[0]);
		consumer_ = std::thread([this] { consume(); });
		pin_thread(consumer_.native_handle(), cpus[cpus.size() > 1 ? 1 : 0]);
	}
	~CrossCpuWorkload() override
	{
		gate_.quit();
		consumer_.join();
	}

	uint64_t run(uint64_t n) override
	{
		target_ = n;
		consumed_.store(false, std::memory_order_relaxed);
		gate_.start(1);
		uintptr_t acc = 0;
		Obj batch[kBatch];
		unsigned k = 0;
		Backoff backoff;
		const uint64_t t0 = now_ns();
		for (uint64_t i = 0; i < n; i++) {
			void *p = a_.alloc(0);
			touch(p, i);
			acc += reinterpret_cast<uintptr_t>(p);
			batch[k++] = Obj{p, 0};
			if (k == kBatch || i + 1 == n) {
				while (!queue_->push(batch, k))
					backoff.pause();
				k = 0;
			}
		}
		while (!consumed_.load(std::memory_order_acquire))
			backoff.pause();
		const uint64_t t1 = now_ns();
		gate_.wait_finished();
		sink(acc);
		return t1 - t0;
	}

private:
	using Queue = Spsc<Obj, 1024>;

	void consume()
	{
		uint64_t seen = 0;
		while (gate_.wait_start(&seen)) {
			const uint64_t n = target_;
			uintptr_t acc = 0;
			Obj got[kBatch];
			Backoff backoff;
			for (uint64_t freed = 0; freed < n;) {
				const size_t k = queue_->pop(got, kBatch);
				if (!k) {
					backoff.pause();
					continue;
				}
				for (size_t i = 0; i < k; i++) {
					acc += *static_cast<volatile unsigned char *>(got[i].p);
					a_.free(got[i].p, got[i].cls);
				}
				freed += k;
			}
			sink(acc);
			consumed_.store(true, std::memory_order_release);
			gate_.finished();
		}
	}

	A &a_;
	std::unique_ptr<Queue> queue_;
	RepGate gate_;
	std::thread consumer_;
	uint64_t target_ = 0;  // set before gate_.start(), read after
	std::atomic<bool> consumed_{false};
};

// threads-remote-free, after mimalloc-bench's larson and xmalloc-test:
// kThreads threads each keep kLive live objects of 16..256 bytes (16 size
// classes) and, step by step, replace a random one with a new object of a
// random class. The replaced object is freed by this thread or (half the
// time) passed, in batches, to the next thread, which frees it. A unit is
// one step (one alloc, one free); kThreads threads run units/kThreads steps
// each and the time runs from their start until the last one finished and
// its inbound queue is drained. Threads are not pinned.
template <typename A>
class RemoteFreeWorkload : public Workload {
public:
	static constexpr unsigned kThreads = 4;
	static constexpr unsigned kLive = 512;
	static constexpr unsigned kClasses = 16;
	static constexpr unsigned kBatch = 32;

	static std::vector<unsigned> sizes()
	{
		std::vector<unsigned> s;
		for (unsigned c = 0; c < kClasses; c++)
			s.push_back(16 * (c + 1));
		return s;
	}

	explicit RemoteFreeWorkload(A &a) : a_(a)
	{
		for (unsigned t = 0; t < kThreads; t++)
			workers_.emplace_back(new Worker);
		// The first "repetition" fills the live sets.
		gate_.start(kThreads);
		for (unsigned t = 0; t < kThreads; t++)
			workers_[t]->thread = std::thread([this, t] { work(t); });
		gate_.wait_finished();
	}
	~RemoteFreeWorkload() override
	{
		gate_.quit();
		for (auto &w : workers_)
			w->thread.join();
	}

	uint64_t run(uint64_t n) override
	{
		steps_ = (n + kThreads - 1) / kThreads;
		producers_done_.store(0, std::memory_order_relaxed);
		const uint64_t t0 = now_ns();
		gate_.start(kThreads);
		gate_.wait_finished();
		uint64_t t1 = 0;
		for (auto &w : workers_)
			t1 = w->end_ns > t1 ? w->end_ns : t1;
		return t1 - t0;
	}
	// run(n) does kThreads * ceil(n / kThreads) steps; callers pass
	// multiples of kThreads (see slabbench.cpp).

private:
	using Queue = Spsc<Obj, 4096>;
	struct Worker {
		std::thread thread;
		Queue inbox;  // from the previous thread
		Obj live[kLive];
		uint64_t rng = 0;
		uint64_t end_ns = 0;
	};

	static uint64_t next(uint64_t &x)
	{
		// xorshift64*
		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		return x * 0x2545f4914f6cdd1dull;
	}

	// Frees what the previous thread sent; returns whether there was any.
	bool drain(Worker &me, uintptr_t &acc)
	{
		Obj got[64];
		bool any = false;
		while (size_t k = me.inbox.pop(got, 64)) {
			any = true;
			for (size_t i = 0; i < k; i++) {
				acc += *static_cast<volatile unsigned char *>(got[i].p);
				a_.free(got[i].p, got[i].cls);
			}
		}
		return any;
	}

	void send(Worker &me, Worker &to, const Obj *batch, unsigned k, uintptr_t &acc)
	{
		Backoff backoff;
		// Drain while waiting: every thread waiting on a full queue
		// still empties its own, so the ring of threads cannot jam.
		while (!to.inbox.push(batch, k))
			if (!drain(me, acc))
				backoff.pause();
	}

	void rep(unsigned t, uint64_t steps)
	{
		Worker &me = *workers_[t];
		Worker &to = *workers_[(t + 1) % kThreads];
		uintptr_t acc = 0;
		Obj batch[kBatch];
		unsigned k = 0;
		for (uint64_t s = 0; s < steps; s++) {
			const uint64_t r = next(me.rng);
			const unsigned slot = unsigned(r >> 8) & (kLive - 1);
			const unsigned cls = unsigned(r >> 24) & (kClasses - 1);
			const Obj old = me.live[slot];
			void *p = a_.alloc(cls);
			touch(p, s);
			acc += reinterpret_cast<uintptr_t>(p);
			me.live[slot] = Obj{p, cls};
			if ((r >> 32) & 1) {
				a_.free(old.p, old.cls);
			} else {
				batch[k++] = old;
				if (k == kBatch) {
					send(me, to, batch, k, acc);
					k = 0;
				}
			}
			if ((s & 31) == 31)
				drain(me, acc);
		}
		if (k)
			send(me, to, batch, k, acc);
		producers_done_.fetch_add(1, std::memory_order_acq_rel);
		// Once all producers are done (acquire), one more drain empties
		// this thread's queue for good.
		Backoff backoff;
		for (;;) {
			const bool all = producers_done_.load(std::memory_order_acquire) == kThreads;
			const bool any = drain(me, acc);
			if (all)
				break;
			if (!any)
				backoff.pause();
		}
		me.end_ns = now_ns();
		sink(acc);
	}

	void work(unsigned t)
	{
		Worker &me = *workers_[t];
		me.rng = 0x9e3779b97f4a7c15ull * (t + 1);
		for (unsigned i = 0; i < kLive; i++) {
			const unsigned cls = unsigned(next(me.rng) >> 24) & (kClasses - 1);
			me.live[i] = Obj{a_.alloc(cls), cls};
			touch(me.live[i].p, i);
		}
		gate_.finished();
		uint64_t seen = 1;  // the fill above was generation 1
		while (gate_.wait_start(&seen)) {
			rep(t, steps_);
			gate_.finished();
		}
		for (unsigned i = 0; i < kLive; i++)
			a_.free(me.live[i].p, me.live[i].cls);
	}

	A &a_;
	std::vector<std::unique_ptr<Worker>> workers_;
	RepGate gate_;
	uint64_t steps_ = 0;  // set before gate_.start(), read after
	std::atomic<unsigned> producers_done_{0};
};

}  // namespace slabbench
