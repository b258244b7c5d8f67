// A one-way channel through a boost::lockfree::spsc_queue<Msg56> placed in
// shared memory: the queue of the boost-spsc, eventfd and futex peers, which
// differ only in their Bell (how an empty consumer or a full producer waits).
//
// The queue's compile-time-capacity variant keeps its indices and element
// array inline (no heap, no pointers), so placement-new into a MAP_SHARED
// mapping before fork makes it work across processes.
#pragma once

#include <boost/lockfree/spsc_queue.hpp>
#include <memory>

#include "message.h"
#include "shm.h"
#include "transport.h"
#include "wake.h"

namespace exobench {

// boost keeps one slot free to tell full from empty, hence the +1.
using Queue56 =
	boost::lockfree::spsc_queue<Msg56, boost::lockfree::capacity<kPeerQueueMessages + 1>>;

struct QueueShared {
	Queue56 queue;
	SleepFlag consumer_sleeping;  // waits for a message
	SleepFlag producer_sleeping;  // waits for room
};

template <class Bell>
class QueueEndpoint : public Endpoint {
public:
	QueueEndpoint(QueueShared &shared, Bell &not_empty, Bell &not_full, WaitMode mode)
		: shared_(shared), not_empty_(not_empty), not_full_(not_full), mode_(mode)
	{
	}

	// boost's batch API: push(array, n). Values are copied into the queue.
	void send(size_t count, FillFn fill) override
	{
		Msg56 batch[kMaxBatch];
		for (size_t i = 0; i < count; i++)
			fill(i, &batch[i]);
		Queue56 &queue = shared_.queue;
		for (size_t pushed = 0; pushed < count;) {
			wait_until([&] { return queue.write_available() > 0; }, mode_,
				   shared_.producer_sleeping, not_full_, spin_budget_);
			pushed += queue.push(batch + pushed, count - pushed);
			wake_if_sleeping(shared_.consumer_sleeping, not_empty_);
		}
	}

	// pop(array, max) takes the whole batch with one index update.
	size_t receive(size_t max, CheckFn check) override
	{
		Queue56 &queue = shared_.queue;
		wait_until([&] { return queue.read_available() > 0; }, mode_,
			   shared_.consumer_sleeping, not_empty_, spin_budget_);
		Msg56 batch[kMaxBatch];
		const size_t n = queue.pop(batch, max);
		wake_if_sleeping(shared_.producer_sleeping, not_full_);
		for (size_t i = 0; i < n; i++)
			check(&batch[i]);
		return n;
	}

private:
	QueueShared &shared_;
	Bell &not_empty_;
	Bell &not_full_;
	const WaitMode mode_;
	BlockingWait spin_budget_;
};

template <class Bell>
class QueueChannel : public Channel {
public:
	explicit QueueChannel(const ChannelSpec &spec) : mode_(spec.mode)
	{
		if (spec.msg_size != sizeof(Msg56) || spec.producers != 1)
			die("queue channel: only single-producer 56-byte messages");
		if (spec.mode == WaitMode::Block && !Bell::kCanSleep)
			die("queue channel: this peer cannot block");
	}

	std::unique_ptr<Endpoint> open(Role role) override
	{
		if (role == Role::Producer1)
			die("queue channel: single producer only");
		return std::make_unique<QueueEndpoint<Bell>>(*shared_, not_empty_, not_full_, mode_);
	}

private:
	const WaitMode mode_;
	SharedObject<QueueShared> shared_;
	Bell not_empty_, not_full_;  // created here, before fork: inherited
};

template <class Bell>
std::unique_ptr<Channel> create_queue_channel(const ChannelSpec &spec)
{
	return std::make_unique<QueueChannel<Bell>>(spec);
}

}  // namespace exobench
