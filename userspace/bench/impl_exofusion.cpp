// exofusion: one fusion ring per direction, through libexofusion. A device
// ring when the module is loaded (named after the pid and a counter), else
// a memfd ring; children inherit the handle across fork. 56-byte messages
// travel inline (batches with one publication and at most one wake-up);
// larger ones are built in place in a pool buffer and read in place by the
// receiver: zero copies.
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
	ExofusionEndpoint(exo_ring *ring, const ChannelSpec &spec)
		: ring_(ring), spec_(spec), flags_(spec.mode == WaitMode::Spin ? EXO_NONBLOCK : 0)
	{
	}

	void send(size_t count, FillFn fill) override
	{
		if (spec_.msg_size > EXO_INLINE_MAX)
			return send_zerocopy(count, fill);
		alignas(8) uint8_t staging[kMaxBatch][EXO_INLINE_MAX];
		iovec iov[kMaxBatch];
		for (size_t i = 0; i < count; ++i) {
			fill(i, staging[i]);
			iov[i] = {staging[i], spec_.msg_size};
		}
		for (size_t done = 0; done < count;) {
			int n = count == 1 ? exo_send(ring_, staging[0], spec_.msg_size, flags_)
					   : exo_send_batch(ring_, iov + done, count - done, flags_);
			if (count == 1 && n == 0)
				n = 1;
			done += settle(n, "send");
		}
	}

	size_t receive(size_t max, CheckFn check) override
	{
		exo_msg msgs[kMaxBatch];
		int n;
		do {
			n = max == 1 ? exo_recv(ring_, &msgs[0], flags_)
				     : exo_recv_batch(ring_, msgs, max, flags_);
			if (max == 1 && n == 0)
				n = 1;
		} while (settle(n, "recv") == 0);
		for (int i = 0; i < n; ++i) {
			check(msgs[i].data);
			if (msgs[i].type == EXO_MSG_ZEROCOPY && exo_zc_release(ring_, msgs[i].buf))
				die("exo_zc_release: %s", exo_last_error());
		}
		return n;
	}

private:
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
};

class ExofusionChannel final : public Channel {
public:
	explicit ExofusionChannel(const ChannelSpec &spec) : spec_(spec)
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

	std::unique_ptr<Endpoint> open(Role) override
	{
		return std::make_unique<ExofusionEndpoint>(ring_, spec_);
	}

private:
	ChannelSpec spec_;
	char name_[EXO_NAME_MAX];
	exo_ring *ring_ = nullptr;
	bool device_ = false;
};

std::unique_ptr<Channel> create(const ChannelSpec &spec)
{
	return std::make_unique<ExofusionChannel>(spec);
}

const TransportRegistrar registrar({"exofusion", /*can_block=*/true, /*copies_per_msg=*/0, create,
				    nullptr});

}  // namespace
}  // namespace exobench
