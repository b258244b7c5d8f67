// The transport interface of exobench.
//
// Every IPC mechanism under test (a peer, or exofusion itself) is one file
// impl_<name>.cpp that implements Channel and Endpoint and registers itself
// with a static TransportRegistrar. Nothing else needs editing, except adding
// the name to a row of the pairs table in scenarios.cpp if it is not there.
//
// Life cycle of one repetition:
//   parent:  channel = info.create_one_way(spec)  (or create_duplex)
//   fork:    every child inherits the channel (shared memory, fds)
//   child:   endpoint = channel->open(role); send()/receive() ...; _exit()
//   parent:  channel destroyed (unmap, close) after all children exited
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <type_traits>
#include <utility>

namespace exobench {

enum class WaitMode {
	Spin,   // poll with non-blocking calls; never sleep in the kernel
	Block,  // sleep in the kernel when there is nothing to do
};

// The largest batch a scenario passes to send() or receive().
constexpr size_t kMaxBatch = 16;

// Fixed for a channel's lifetime, so transports can set up fds and memory for it.
struct ChannelSpec {
	size_t msg_size;     // bytes per message, a multiple of 8: 56, 4096 or 65536
	WaitMode mode;
	unsigned producers;  // sending processes of a one-way channel: 1, or 2 (mpmc)
};

// The process an endpoint belongs to. In a duplex channel Producer0 is the
// side that sends first (ping) and Consumer the side that replies (pong).
enum class Role { Producer0, Producer1, Consumer };

// Non-owning reference to a callable (C++26 std::function_ref): lets the
// harness hand per-message work to a virtual call without allocating.
template <class Signature>
class FnRef;

template <class R, class... Args>
class FnRef<R(Args...)> {
public:
	template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FnRef>>>
	FnRef(F &&f)  // NOLINT: implicit on purpose, like std::function_ref
		: object_(const_cast<void *>(static_cast<const void *>(&f))),
		  call_([](void *object, Args... args) -> R {
			  return (*static_cast<std::remove_reference_t<F> *>(object))(
				  std::forward<Args>(args)...);
		  })
	{
	}
	R operator()(Args... args) const { return call_(object_, std::forward<Args>(args)...); }

private:
	void *object_;
	R (*call_)(void *, Args...);
};

// Writes message `index` of a batch into `msg` (msg_size bytes, 8-byte aligned).
using FillFn = FnRef<void(size_t index, void *msg)>;
// Reads (verifies) one received message in place.
using CheckFn = FnRef<void(const void *msg)>;

// One process's end of a channel; used only by the process that opened it.
// Errors are fatal: print a message and exit(1) (see die() in sys.h).
class Endpoint {
public:
	virtual ~Endpoint() = default;

	// Sends `count` (1..kMaxBatch) messages as one batch. Calls fill(i, msg)
	// for each, on memory the transport chooses (its shared memory if it is
	// zero-copy, a staging buffer if not), then hands the batch over with as
	// few calls as the mechanism allows. Waits for room per spec.mode.
	virtual void send(size_t count, FillFn fill) = 0;

	// Waits per spec.mode for at least one message, calls check(msg) on up
	// to `max` (1..kMaxBatch) messages in arrival order, then releases them.
	// Returns how many it passed to check().
	virtual size_t receive(size_t max, CheckFn check) = 0;
};

// Created by the parent before fork; opened by each child after fork.
class Channel {
public:
	virtual ~Channel() = default;

	// Called once per role, in the child process playing it, after that
	// process is pinned to its CPU. May block until the peer opens too.
	// One-way channel: producers only send, the consumer only receives.
	// Duplex channel: both send and receive, strictly alternating (ping:
	// send, receive, send...; pong: receive, send, ...).
	virtual std::unique_ptr<Endpoint> open(Role role) = 0;
};

using ChannelFactory = std::unique_ptr<Channel> (*)(const ChannelSpec &spec);

// How one implementation plugs in.
struct TransportInfo {
	const char *name;       // the --impl name, e.g. "pipe"
	bool can_block;         // implements WaitMode::Block (else spin only)
	double copies_per_msg;  // payload copies per message, reported by zerocopy-*
	// One-way channel: spec.producers senders, one receiver. Null: unsupported.
	ChannelFactory create_one_way;
	// Duplex channel for ping-pong (spec.producers == 1). Null: exobench
	// composes one from two one-way channels.
	ChannelFactory create_duplex;
};

// Registers a transport at static-initialization time. In impl_foo.cpp:
//   static const TransportRegistrar registrar({"foo", true, 0, create, nullptr});
// The object file must be linked directly (not pulled from a static archive,
// which would drop it since nothing references it).
struct TransportRegistrar {
	explicit TransportRegistrar(const TransportInfo &info);
};

// Null when no transport of that name is linked in.
const TransportInfo *find_transport(std::string_view name);

// A duplex channel for `info`: its own create_duplex if it has one, else two
// one-way channels, one per direction.
std::unique_ptr<Channel> create_duplex_channel(const TransportInfo &info, const ChannelSpec &spec);
// A duplex channel of two one-way ones: ping -> pong over |forward|, pong ->
// ping over |backward| (what create_duplex_channel() builds when a transport
// has no create_duplex; one that needs its own one-way channels uses it too).
std::unique_ptr<Channel> duplex_of_two(std::unique_ptr<Channel> forward,
				       std::unique_ptr<Channel> backward);

}  // namespace exobench
