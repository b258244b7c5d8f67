// io_uring-msg-ring: every process has its own io_uring and targets its
// peer's ring fd. The sender writes a message into a shared-memory slot and
// submits IORING_OP_MSG_RING, which posts a CQE with user_data = sequence
// number on the receiver's ring: the CQE is the notification and names the
// slot. Spin polls the CQ ring (io_uring_peek_batch_cqe, no system call);
// Block polls it for a BlockingWait (wake.h), then sleeps in io_uring_wait_cqe.
//
// The rings are created by the parent before fork and inherited: Linux
// refuses to pass io_uring fds over SCM_RIGHTS (sendmsg fails with EINVAL), so
// rings made after fork could not be exchanged. Each ring is still used by
// exactly one process; no setup flag ties a ring to its creator.
//
// One-way channels have kPeerQueueMessages slots; the receiver publishes its
// progress in shared memory, and a producer that finds no room waits with the
// handshake of wake.h, woken by a "credit" MSG_RING from the receiver.
// Duplex channels (ping-pong) use one ring per process and one slot per
// direction, and need no flow control: one message in flight at most.
#include <liburing.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "message.h"
#include "shm.h"
#include "sys.h"
#include "transport.h"
#include "wake.h"

namespace exobench {
namespace {

// user_data of CQEs that are not messages; messages carry seq < 2^63.
constexpr uint64_t kNotAMessage = 1ull << 63;
constexpr uint64_t kPostFailed = kNotAMessage | 1;  // own MSG_RING failed (successes skipped)
constexpr uint64_t kCredit = kNotAMessage | 2;      // room again, to a sleeping producer

// One io_uring, created in the parent and used by one child.
class Ring {
public:
	explicit Ring(unsigned cq_entries)
	{
		io_uring_params params = {};
		params.flags = IORING_SETUP_CQSIZE;
		params.cq_entries = cq_entries;
		check(io_uring_queue_init_params(2 * kMaxBatch, &ring_, &params), "io_uring_queue_init");
	}
	~Ring() { io_uring_queue_exit(&ring_); }
	Ring(const Ring &) = delete;
	Ring &operator=(const Ring &) = delete;

	int fd() const { return ring_.ring_fd; }

	// Queues a MSG_RING that will post a CQE with `user_data` on ring `target`.
	void queue_post(int target, uint64_t user_data)
	{
		io_uring_sqe *sqe = io_uring_get_sqe(&ring_);
		if (!sqe)
			die("io_uring: submission queue full");
		io_uring_prep_msg_ring(sqe, target, 0, user_data, 0);
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
		io_uring_sqe_set_data64(sqe, kPostFailed);
	}

	void submit() { check(io_uring_submit(&ring_), "io_uring_submit"); }

	// Waits per mode until CQEs are there; returns up to max, still unconsumed.
	unsigned wait_cqes(io_uring_cqe **cqes, unsigned max, WaitMode mode, BlockingWait &budget)
	{
		bool slept = false;
		if (mode == WaitMode::Block)
			slept = !budget.spin_until([&] { return io_uring_cq_ready(&ring_) > 0; });
		unsigned n;
		while ((n = io_uring_peek_batch_cqe(&ring_, cqes, max)) == 0) {
			if (mode == WaitMode::Spin)
				spin_pause();
			else
				sleep_for_cqe();
		}
		if (slept)
			budget.slept();
		return n;
	}

	// Consumes CQEs that are not messages (credits); dies on a failed post.
	void drain_control_cqes()
	{
		io_uring_cqe *cqes[kMaxBatch];
		while (unsigned n = io_uring_peek_batch_cqe(&ring_, cqes, kMaxBatch)) {
			for (unsigned i = 0; i < n; i++)
				expect_control(cqes[i]);
			io_uring_cq_advance(&ring_, n);
		}
	}

	void consumed(unsigned n) { io_uring_cq_advance(&ring_, n); }

	// Returns once a CQE is there (spurious returns are fine for callers).
	void sleep_for_cqe()
	{
		io_uring_cqe *cqe;
		const int ret = io_uring_wait_cqe(&ring_, &cqe);
		if (ret != -EINTR)
			check(ret, "io_uring_wait_cqe");
	}

	static void expect_message_cqe(const io_uring_cqe *cqe, uint64_t seq)
	{
		if (cqe->user_data != seq) {
			expect_control(cqe);
			die("io_uring: CQE for seq %llu, expected %llu",
			    (unsigned long long)cqe->user_data, (unsigned long long)seq);
		}
	}

private:
	static void expect_control(const io_uring_cqe *cqe)
	{
		if (cqe->user_data == kPostFailed || cqe->res < 0)
			die("io_uring: MSG_RING failed: %s", std::strerror(-cqe->res));
		if (cqe->user_data != kCredit)
			die("io_uring: unexpected CQE user_data %llu",
			    (unsigned long long)cqe->user_data);
	}

	static void check(int ret, const char *call)
	{
		if (ret < 0)
			die("%s: %s", call, std::strerror(-ret));
	}

	io_uring ring_;
};

// Messages live in shared memory, one slot per sequence number modulo count.
// Slots start on cache-line boundaries so neighbours never share a line;
// count is a power of two so the modulo is a mask.
class Slots {
public:
	Slots(size_t count, size_t msg_size)
		: stride_((msg_size + 63) / 64 * 64), memory_(count * stride_), count_(count)
	{
		if (count & (count - 1))
			die("io_uring-msg-ring: slot count must be a power of two");
	}
	void *operator[](uint64_t seq) const
	{
		return static_cast<char *>(memory_.data()) + (seq & (count_ - 1)) * stride_;
	}
	size_t count() const { return count_; }

private:
	const size_t stride_;
	SharedMemory memory_;
	const size_t count_;
};

// ---- One-way channel (stream) -------------------------------------------

struct StreamShared {
	alignas(64) std::atomic<uint64_t> consumed{0};  // messages the receiver released
	SleepFlag producer_sleeping;                     // waits for room
};

// The endpoint is also the Bell of wake.h for a producer waiting for room.
class StreamEndpoint : public Endpoint {
public:
	static constexpr bool kCanSleep = true;

	StreamEndpoint(Ring &ring, int peer_ring_fd, StreamShared &shared, const Slots &slots,
		       WaitMode mode)
		: ring_(ring), peer_ring_fd_(peer_ring_fd), shared_(shared), slots_(slots), mode_(mode)
	{
	}

	// Producer: the whole batch into shared slots, then one submit for all.
	void send(size_t count, FillFn fill) override
	{
		wait_until([&] { return has_room_for(count); }, mode_, shared_.producer_sleeping, *this,
			   spin_budget_);
		for (size_t i = 0; i < count; i++) {
			fill(i, slots_[next_seq_]);
			ring_.queue_post(peer_ring_fd_, next_seq_++);
		}
		ring_.submit();
		ring_.drain_control_cqes();  // stale credits, or a failed post
	}

	// Consumer: messages are read in place, then released by publishing progress.
	size_t receive(size_t max, CheckFn check) override
	{
		io_uring_cqe *cqes[kMaxBatch];
		const unsigned n = ring_.wait_cqes(cqes, unsigned(max), mode_, spin_budget_);
		for (unsigned i = 0; i < n; i++) {
			Ring::expect_message_cqe(cqes[i], next_seq_);
			check(slots_[next_seq_++]);
		}
		ring_.consumed(n);
		shared_.consumed.store(next_seq_, std::memory_order_release);
		wake_if_sleeping(shared_.producer_sleeping, *this);
		return n;
	}

	// Bell, producer side: a credit CQE on our own ring ends the sleep.
	void sleep(SleepFlag &)
	{
		ring_.sleep_for_cqe();
		ring_.drain_control_cqes();
	}
	// Bell, consumer side.
	void wake(SleepFlag &)
	{
		ring_.queue_post(peer_ring_fd_, kCredit);
		ring_.submit();
	}

private:
	bool has_room_for(size_t count) const
	{
		const uint64_t consumed = shared_.consumed.load(std::memory_order_acquire);
		return next_seq_ + count - consumed <= slots_.count();
	}

	Ring &ring_;
	const int peer_ring_fd_;
	StreamShared &shared_;
	const Slots &slots_;
	const WaitMode mode_;
	BlockingWait spin_budget_;
	uint64_t next_seq_ = 0;  // next to send, or next to receive
};

class StreamChannel : public Channel {
public:
	explicit StreamChannel(const ChannelSpec &spec)
		: slots_(kPeerQueueMessages, spec.msg_size),
		  producer_ring_(2 * kMaxBatch),
		  consumer_ring_(2 * kPeerQueueMessages),  // never overflows: <= one CQE per slot
		  mode_(spec.mode)
	{
		if (spec.producers != 1)
			die("io_uring-msg-ring: single producer only");
	}

	std::unique_ptr<Endpoint> open(Role role) override
	{
		if (role == Role::Consumer)
			return std::make_unique<StreamEndpoint>(consumer_ring_, producer_ring_.fd(),
								*shared_, slots_, mode_);
		return std::make_unique<StreamEndpoint>(producer_ring_, consumer_ring_.fd(), *shared_,
							slots_, mode_);
	}

private:
	SharedObject<StreamShared> shared_;
	Slots slots_;
	Ring producer_ring_, consumer_ring_;
	const WaitMode mode_;
};

// ---- Duplex channel (ping-pong) -----------------------------------------

class DuplexEndpoint : public Endpoint {
public:
	DuplexEndpoint(Ring &ring, int peer_ring_fd, void *tx_slot, const void *rx_slot,
		       WaitMode mode)
		: ring_(ring), peer_ring_fd_(peer_ring_fd), tx_slot_(tx_slot), rx_slot_(rx_slot),
		  mode_(mode)
	{
	}

	void send(size_t count, FillFn fill) override
	{
		if (count != 1)
			die("io_uring-msg-ring duplex: one message per turn");
		fill(0, tx_slot_);
		ring_.queue_post(peer_ring_fd_, tx_seq_++);
		ring_.submit();
	}

	size_t receive(size_t, CheckFn check) override
	{
		io_uring_cqe *cqe;
		ring_.wait_cqes(&cqe, 1, mode_, spin_budget_);
		Ring::expect_message_cqe(cqe, rx_seq_++);
		check(rx_slot_);
		ring_.consumed(1);
		return 1;
	}

private:
	Ring &ring_;
	const int peer_ring_fd_;
	void *const tx_slot_;
	const void *const rx_slot_;
	const WaitMode mode_;
	BlockingWait spin_budget_;
	uint64_t tx_seq_ = 0, rx_seq_ = 0;
};

class DuplexChannel : public Channel {
public:
	explicit DuplexChannel(const ChannelSpec &spec)
		: slots_(2, spec.msg_size), ping_ring_(2 * kMaxBatch), pong_ring_(2 * kMaxBatch),
		  mode_(spec.mode)
	{
	}

	// Slot 0 carries ping -> pong, slot 1 pong -> ping.
	std::unique_ptr<Endpoint> open(Role role) override
	{
		if (role == Role::Producer0)
			return std::make_unique<DuplexEndpoint>(ping_ring_, pong_ring_.fd(), slots_[0],
								slots_[1], mode_);
		return std::make_unique<DuplexEndpoint>(pong_ring_, ping_ring_.fd(), slots_[1],
							slots_[0], mode_);
	}

private:
	Slots slots_;
	Ring ping_ring_, pong_ring_;
	const WaitMode mode_;
};

std::unique_ptr<Channel> create_one_way(const ChannelSpec &spec)
{
	return std::make_unique<StreamChannel>(spec);
}

std::unique_ptr<Channel> create_duplex(const ChannelSpec &spec)
{
	return std::make_unique<DuplexChannel>(spec);
}

const TransportRegistrar registrar({"io_uring-msg-ring", /*can_block=*/true,
				    /*copies_per_msg=*/0, create_one_way, create_duplex});

}  // namespace
}  // namespace exobench
