// The instruction-count mode: both ends of a one-way channel in one thread,
// in lockstep (produce a batch of B, consume those B, repeat), so the ring
// never fills nor runs dry and nothing ever waits, spins or sleeps: the
// instructions each side executes are a fixed function of the message count.
//
// Each side's transport work runs inside one named, never inlined nor cloned
// function, for callgrind's --toggle-collect (one run per side):
//
//   exobench_insn_producer  one Endpoint::send() of a batch
//   exobench_insn_consumer  one Endpoint::receive()
//
// The benchmark's own per-message work, the same for every impl, runs in two
// more such functions that the counting runs toggle off again (a toggle on
// entry and exit, so nested toggles exclude them):
//
//   exobench_insn_fill      writes a message's payload (fill_message)
//   exobench_insn_check     verifies one received message (expect_message)
//
// What is counted per message is thus the impl's own code (its adapter in
// impl_*.cpp, the library or queue, the copies its API makes) plus the
// FnRef call into fill/check (a few instructions, equal for all impls).
#include "lockstep.h"

#include <alloca.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>

#include "message.h"
#include "sys.h"

namespace exobench {

// One producer (id 0): message i carries sequence number i.
struct LockstepChecker {
	size_t msg_size;
	uint64_t next_seq;
	uint64_t checked;
};

}  // namespace exobench

// extern "C": names callgrind matches as written. noipa: no inlining, no
// clones (a .constprop copy would not match), no sibling calls, so that
// entry and exit toggle exactly around the body.
extern "C" {

__attribute__((noipa)) void exobench_insn_producer(exobench::Endpoint *ep, size_t count,
						   exobench::FillFn *fill)
{
	ep->send(count, *fill);
}

__attribute__((noipa)) size_t exobench_insn_consumer(exobench::Endpoint *ep, size_t max,
						     exobench::CheckFn *check)
{
	return ep->receive(max, *check);
}

__attribute__((noipa)) void exobench_insn_fill(void *msg, size_t size, uint64_t seq)
{
	exobench::fill_message(msg, size, 0, seq);
}

__attribute__((noipa)) void exobench_insn_check(exobench::LockstepChecker *checker, const void *msg)
{
	exobench::expect_message(msg, checker->msg_size, 0, checker->next_seq++);
	checker->checked++;
}

}  // extern "C"

namespace exobench {
namespace {

// Counted by callgrind in each side's own run; more impls can run here
// (any whose channel both ends of can open in one process).
constexpr const char *kLockstepImpls[] = {"exofusion", "boost-spsc"};

// A lockstep watchdog: a bug that made a blocking receive wait could
// otherwise hang for ever (nothing else runs to send).
constexpr unsigned kLockstepTimeoutSeconds = 600;

constexpr uintptr_t kStackAlign = 4096;

}  // namespace

bool runs_lockstep(const Scenario &scenario, std::string_view impl)
{
	if (scenario.pattern != Pattern::Stream || scenario.producers != 1 ||
	    !runs_impl(scenario, impl))
		return false;
	for (const char *name : kLockstepImpls)
		if (impl == name)
			return true;
	return false;
}

void list_lockstep_pairs()
{
	for (const Scenario &scenario : all_scenarios())
		for (const char *impl : scenario.impls)
			if (runs_lockstep(scenario, impl) && find_transport(impl))
				std::printf("%s %s\n", scenario.name, impl);
}

namespace {

// The rounds: produce n (the batch), consume and check those n, repeat.
__attribute__((noinline)) void lockstep_rounds(const Scenario &scenario, Endpoint &tx,
					       Endpoint &rx, uint64_t msgs)
{
	const size_t size = scenario.msg_size;
	LockstepChecker checker = {size, 0, 0};
	uint64_t seq = 0;
	// FnRef refers to its callable: the lambdas must outlive the loop.
	const auto fill_one = [&](size_t i, void *msg) { exobench_insn_fill(msg, size, seq + i); };
	const auto check_one = [&](const void *msg) { exobench_insn_check(&checker, msg); };
	FillFn fill = fill_one;
	CheckFn check = check_one;

	while (seq < msgs) {
		const size_t n = size_t(std::min<uint64_t>(scenario.batch, msgs - seq));
		exobench_insn_producer(&tx, n, &fill);
		for (size_t got = 0; got < n;) {
			const size_t max = n - got;
			const size_t took = exobench_insn_consumer(&rx, max, &check);
			if (took == 0 || took > max)
				die("lockstep: receive(%zu) passed %zu messages", max, took);
			got += took;
		}
		seq += n;
	}
	if (checker.checked != msgs || checker.next_seq != msgs)
		die("lockstep: %llu messages sent, %llu checked", (unsigned long long)msgs,
		    (unsigned long long)checker.checked);
}

}  // namespace

void run_lockstep(const RunConfig &config)
{
	const Scenario &scenario = *config.scenario;
	const TransportInfo &transport = *config.transport;
	if (!runs_lockstep(scenario, transport.name))
		die("--env host-insn: %s does not run %s in lockstep (see exobench --list --env "
		    "host-insn)", transport.name, scenario.name);
	if (!transport.create_one_way)
		die("%s has no one-way channel", transport.name);
	alarm(kLockstepTimeoutSeconds);

	// The wait mode of the timed runs: the same code paths (nothing waits).
	const ChannelSpec spec = {scenario.msg_size, wait_mode(scenario, transport), 1};
	const std::unique_ptr<Channel> channel = transport.create_one_way(spec);
	const std::unique_ptr<Endpoint> tx = channel->open(Role::Producer0);
	const std::unique_ptr<Endpoint> rx = channel->open(Role::Consumer);
	const uint64_t msgs = config.msgs ? config.msgs : kLockstepDefaultMsgs;

	// The same stack addresses modulo a page in every run: where the stack
	// starts depends on the environment and the arguments, and the copies
	// to and from batches on the stack (memcpy) take a few instructions
	// more or less depending on their alignment.
	const uintptr_t frame = uintptr_t(__builtin_frame_address(0));
	void *pad = alloca(frame % kStackAlign);
	asm volatile("" : : "r"(pad) : "memory");
	lockstep_rounds(scenario, *tx, *rx, msgs);

	std::fprintf(stderr,
		     "exobench: lockstep %s %s: %llu messages in batches of %zu, each checked\n",
		     scenario.name, transport.name, (unsigned long long)msgs, scenario.batch);
}

}  // namespace exobench
