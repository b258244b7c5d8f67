// exofusion: one fusion ring per direction, through libexofusion. A device
// ring when the module is loaded (named after the pid and a counter), else
// a memfd ring; children inherit the handle across fork. 56-byte messages
// are written and read in the ring's slots in place (a run of them has one
// publication, at most one wake-up and one release); larger ones are built
// in place in a pool buffer and read in place by the receiver: zero copies.
// Ping-pong (blocking) sends with EXO_WAKE_ON_WAIT: each send is followed by
// the wait for its reply, which carries the send's wake-up (one system call
// a hop instead of two).
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <memory>

#include "sys.h"
#include "transport.h"
#include "userspace/include/exofusion/exofusion.h"

namespace exobench {
namespace {

constexpr uint32_t kCapacity = 1024;
constexpr uint32_t kZeroCopyBuffers = 64;

class ExofusionEndpoint final : public Endpoint {
public:
	ExofusionEndpoint(exo_ring *ring, const ChannelSpec &spec, unsigned send_flags = 0)
		: ring_(ring), spec_(spec), flags_(spec.mode == WaitMode::Spin ? EXO_NONBLOCK : 0),
		  send_flags_(flags_ | send_flags)
	{
	}
	// A send's wake-up deferred to a wait that will not come.
	~ExofusionEndpoint() override
	{
		if (send_flags_ & EXO_WAKE_ON_WAIT)
			exo_flush_wakeups();
	}

	// The API a user who cares about the cost would pick: one message, the
	// copying call (exo_send: one call); batches, the ring's own slots in
	// place (one publication and one release per run); larger messages,
	// pool buffers.
	void send(size_t count, FillFn fill) override
	{
		if (spec_.msg_size > EXO_INLINE_MAX)
			return send_zerocopy(count, fill);
		if (count == 1) {
			alignas(8) uint8_t msg[EXO_INLINE_MAX];
			fill(0, msg);
			for (int rc; (rc = exo_send(ring_, msg, spec_.msg_size, send_flags_)) != 0;)
				settle(rc, "send");
			return;
		}
		for (size_t done = 0; done < count;) {
			exo_slots reserved;
			size_t n = settle(exo_reserve(ring_, count - done, flags_, &reserved),
					  "reserve");
			// A copy the fill calls cannot change: its fields stay in registers.
			const exo_slots run = reserved;
			for (size_t i = 0; i < n; ++i) {
				fill(done + i, exo_slots_at(&run, i)->data);
				exo_slots_set(&run, i, static_cast<uint16_t>(spec_.msg_size), 0);
			}
			if (n && exo_commit(ring_, &run))
				die("exo_commit: %s", exo_last_error());
			done += n;
		}
	}

	size_t receive(size_t max, CheckFn check) override
	{
		if (max == 1)
			return receive_one(check);
		exo_slots borrowed;
		size_t n;
		do
			n = settle(exo_recv_borrow(ring_, max, flags_, &borrowed), "recv_borrow");
		while (n == 0);
		const exo_slots run = borrowed;  // as in send()
		for (size_t i = 0; i < n; ++i) {
			uint32_t len;
			if (const void *data = exo_slots_inline(&run, i, &len)) {
				check(data);
				continue;
			}
			exo_msg m;
			if (exo_slots_msg(ring_, &run, i, &m))
				die("exo_slots_msg: %s", exo_last_error());
			check(m.data);
			if (m.type == EXO_MSG_ZEROCOPY && exo_zc_release(ring_, m.buf))
				die("exo_zc_release: %s", exo_last_error());
		}
		if (exo_recv_release(ring_, &run))
			die("exo_recv_release: %s", exo_last_error());
		return n;
	}

private:
	size_t receive_one(CheckFn check)
	{
		exo_msg m;
		for (int rc; (rc = exo_recv(ring_, &m, flags_)) != 0;)
			settle(rc, "recv");
		check(m.data);
		if (m.type == EXO_MSG_ZEROCOPY && exo_zc_release(ring_, m.buf))
			die("exo_zc_release: %s", exo_last_error());
		return 1;
	}

	// Messages moved by one call: 0 on EAGAIN (spin mode), fatal on errors.
	size_t settle(int n, const char *what)
	{
		if (n == -EAGAIN) {
			spin_pause();
			return 0;
		}
		if (n < 0)
			die("exo_%s: %s", what, exo_last_error());
		return n;
	}

	void send_zerocopy(size_t count, FillFn fill)
	{
		for (size_t i = 0; i < count; ++i) {
			uint32_t buf;
			void *data;
			int err;
			while ((err = exo_zc_reserve(ring_, &buf, &data, flags_)) == -EAGAIN)
				spin_pause();
			if (err)
				die("exo_zc_reserve: %s", exo_last_error());
			fill(i, data);
			while ((err = exo_zc_send(ring_, buf, 0, spec_.msg_size, flags_)) == -EAGAIN)
				spin_pause();
			if (err)
				die("exo_zc_send: %s", exo_last_error());
		}
	}

	exo_ring *ring_;
	ChannelSpec spec_;
	unsigned flags_;
	unsigned send_flags_;
};

class ExofusionChannel final : public Channel {
public:
	// |send_flags|: added to every send (a duplex channel's).
	explicit ExofusionChannel(const ChannelSpec &spec, unsigned send_flags = 0)
		: spec_(spec), send_flags_(send_flags)
	{
		static unsigned counter;
		snprintf(name_, sizeof(name_), "exobench-%d-%u", getpid(), counter++);
		bool zerocopy = spec.msg_size > EXO_INLINE_MAX;
		exo_ring_params params = {name_, kCapacity,
					  spec.producers > 1 ? uint32_t{EXO_MODE_MPMC} : uint32_t{EXO_MODE_SPSC},
					  zerocopy ? static_cast<uint32_t>(spec.msg_size) : 0,
					  zerocopy ? kZeroCopyBuffers : 0, 0600};
		if (exo_ring_create(&params, EXO_BACKEND_AUTO, &ring_))
			die("exo_ring_create: %s", exo_last_error());
		device_ = exo_ring_is_device(ring_);
	}

	~ExofusionChannel() override
	{
		exo_ring_close(ring_);
		if (device_)
			exo_ring_destroy(name_);
	}

	std::unique_ptr<Endpoint> open(Role role) override
	{
		return std::make_unique<ExofusionEndpoint>(ring_, spec_,
							   role == Role::Consumer ? 0 : send_flags_);
	}

private:
	ChannelSpec spec_;
	unsigned send_flags_;
	char name_[EXO_NAME_MAX];
	exo_ring *ring_ = nullptr;
	bool device_ = false;
};

std::unique_ptr<Channel> create(const ChannelSpec &spec)
{
	return std::make_unique<ExofusionChannel>(spec);
}

// Ping sends, then waits for the reply; pong waits, then replies: every
// send is followed by a wait, so in Block mode each carries EXO_WAKE_ON_WAIT
// (pong's last one is issued by its endpoint's destructor).
std::unique_ptr<Channel> create_duplex(const ChannelSpec &spec)
{
	const unsigned flags = spec.mode == WaitMode::Block ? EXO_WAKE_ON_WAIT : 0;
	return duplex_of_two(std::make_unique<ExofusionChannel>(spec, flags),
			     std::make_unique<ExofusionChannel>(spec, flags));
}

const TransportRegistrar registrar({"exofusion", /*can_block=*/true, /*copies_per_msg=*/0, create,
				    create_duplex});

}  // namespace
}  // namespace exobench
