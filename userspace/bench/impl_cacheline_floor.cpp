// cacheline-floor: one bare 64-byte cache line handed back and forth, the
// physical limit of a cross-CPU ping-pong. The line carries an 8-byte turn
// counter and the whole 56-byte message, which the receiver checks in place.
// Duplex and spin only: each side polls the counter until it is its turn.
#include <atomic>

#include "message.h"
#include "shm.h"
#include "sys.h"
#include "transport.h"

namespace exobench {
namespace {

struct alignas(64) Line {
	std::atomic<uint64_t> turn{0};  // messages written so far; odd: pong's turn
	Msg56 msg;
};
static_assert(sizeof(Line) == 64, "one cache line");

class LineEndpoint : public Endpoint {
public:
	LineEndpoint(Line &line, bool owns_line) : line_(line), owns_line_(owns_line) {}

	void send(size_t count, FillFn fill) override
	{
		if (count != 1 || !owns_line_)
			die("cacheline-floor: one message per turn, replies only");
		fill(0, &line_.msg);
		line_.turn.store(++turn_, std::memory_order_release);
		owns_line_ = false;
	}

	size_t receive(size_t, CheckFn check) override
	{
		while (line_.turn.load(std::memory_order_acquire) != turn_ + 1)
			spin_pause();
		++turn_;
		owns_line_ = true;
		check(&line_.msg);
		return 1;
	}

private:
	Line &line_;
	bool owns_line_;
	uint64_t turn_ = 0;  // this side's copy of line_.turn
};

class LineChannel : public Channel {
public:
	explicit LineChannel(const ChannelSpec &spec)
	{
		if (spec.msg_size != sizeof(Msg56) || spec.mode != WaitMode::Spin)
			die("cacheline-floor: 56-byte spinning ping-pong only");
	}

	std::unique_ptr<Endpoint> open(Role role) override
	{
		return std::make_unique<LineEndpoint>(*line_, role == Role::Producer0);
	}

private:
	SharedObject<Line> line_;
};

std::unique_ptr<Channel> create_duplex(const ChannelSpec &spec)
{
	return std::make_unique<LineChannel>(spec);
}

const TransportRegistrar registrar({"cacheline-floor", /*can_block=*/false,
				    /*copies_per_msg=*/0, nullptr, create_duplex});

}  // namespace
}  // namespace exobench
