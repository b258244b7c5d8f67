// Transport registry, and the duplex channel made of two one-way channels.
#include "transport.h"

#include <vector>

#include "sys.h"

namespace exobench {
namespace {

// A function-local static, so registrars in other files may run first.
std::vector<TransportInfo> &registry()
{
	static std::vector<TransportInfo> transports;
	return transports;
}

class DuplexEndpoint : public Endpoint {
public:
	DuplexEndpoint(std::unique_ptr<Endpoint> tx, std::unique_ptr<Endpoint> rx)
		: tx_(std::move(tx)), rx_(std::move(rx))
	{
	}
	void send(size_t count, FillFn fill) override { tx_->send(count, fill); }
	size_t receive(size_t max, CheckFn check) override { return rx_->receive(max, check); }

private:
	std::unique_ptr<Endpoint> tx_, rx_;
};

// Ping -> pong over `forward`, pong -> ping over `backward`.
class DuplexOfTwo : public Channel {
public:
	DuplexOfTwo(std::unique_ptr<Channel> forward, std::unique_ptr<Channel> backward)
		: forward_(std::move(forward)), backward_(std::move(backward))
	{
	}

	std::unique_ptr<Endpoint> open(Role role) override
	{
		// Both sides open `forward` first: open() may block until the peer
		// opens the same channel, so a different order could deadlock.
		if (role == Role::Producer0) {
			auto tx = forward_->open(Role::Producer0);
			auto rx = backward_->open(Role::Consumer);
			return std::make_unique<DuplexEndpoint>(std::move(tx), std::move(rx));
		}
		auto rx = forward_->open(Role::Consumer);
		auto tx = backward_->open(Role::Producer0);
		return std::make_unique<DuplexEndpoint>(std::move(tx), std::move(rx));
	}

private:
	std::unique_ptr<Channel> forward_, backward_;
};

}  // namespace

TransportRegistrar::TransportRegistrar(const TransportInfo &info)
{
	registry().push_back(info);
}

const TransportInfo *find_transport(std::string_view name)
{
	for (const TransportInfo &info : registry())
		if (name == info.name)
			return &info;
	return nullptr;
}

std::unique_ptr<Channel> duplex_of_two(std::unique_ptr<Channel> forward,
				       std::unique_ptr<Channel> backward)
{
	return std::make_unique<DuplexOfTwo>(std::move(forward), std::move(backward));
}

std::unique_ptr<Channel> create_duplex_channel(const TransportInfo &info, const ChannelSpec &spec)
{
	if (info.create_duplex)
		return info.create_duplex(spec);
	if (!info.create_one_way)
		die("%s: no channel factory", info.name);
	return duplex_of_two(info.create_one_way(spec), info.create_one_way(spec));
}

}  // namespace exobench
