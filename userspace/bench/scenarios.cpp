#include "scenarios.h"

#include <algorithm>
#include <memory>

#include "harness.h"
#include "message.h"
#include "report.h"
#include "shm.h"
#include "sys.h"

namespace exobench {

// The pairs table: every scenario with the impls that run in it. `exofusion`
// is listed everywhere; a pair whose impl is not linked in is skipped by
// --list and refused on the command line.
const std::vector<Scenario> &all_scenarios()
{
	constexpr auto kPing = Pattern::PingPong, kStream = Pattern::Stream;
	constexpr auto kSpin = ModeRule::Spin, kBlock = ModeRule::Block, kAny = ModeRule::BlockIfCan;
	static const std::vector<Scenario> scenarios = {
		// name, pattern, mode, msg_size, batch, producers, metrics, impls
		{"pingpong-spin-56B", kPing, kSpin, 56, 1, 1, kRttNs,
		 {"cacheline-floor", "boost-spsc", "pipe", "unix-stream", "eventfd", "futex", "mqueue",
		  "io_uring-msg-ring", "exofusion"}},
		{"pingpong-block-56B", kPing, kBlock, 56, 1, 1, kRttNs | kCpuNsPerRtt,
		 {"pipe", "unix-stream", "eventfd", "futex", "mqueue", "io_uring-msg-ring", "exofusion"}},
		{"stream-56B", kStream, kAny, 56, 1, 1, kMsgsPerS,
		 {"boost-spsc", "pipe", "unix-stream", "eventfd", "futex", "mqueue", "io_uring-msg-ring",
		  "exofusion"}},
		{"stream-56B-batch16", kStream, kAny, 56, 16, 1, kMsgsPerS,
		 {"boost-spsc", "pipe", "unix-stream", "eventfd", "futex", "io_uring-msg-ring",
		  "exofusion"}},
		{"zerocopy-4KiB", kStream, kAny, 4096, 1, 1, kBytesPerS | kCopiesPerMsg,
		 {"pipe", "unix-stream", "exofusion"}},
		{"zerocopy-64KiB", kStream, kAny, 65536, 1, 1, kBytesPerS | kCopiesPerMsg,
		 {"pipe", "unix-stream", "exofusion"}},
		{"mpmc-2p-56B", kStream, kAny, 56, 1, 2, kMsgsPerS,
		 {"pipe", "unix-stream", "mqueue", "exofusion"}},
	};
	return scenarios;
}

const Scenario *find_scenario(std::string_view name)
{
	for (const Scenario &s : all_scenarios())
		if (name == s.name)
			return &s;
	return nullptr;
}

bool runs_impl(const Scenario &scenario, std::string_view impl)
{
	for (const char *name : scenario.impls)
		if (impl == name)
			return true;
	return false;
}

WaitMode wait_mode(const Scenario &scenario, const TransportInfo &transport)
{
	switch (scenario.mode) {
	case ModeRule::Spin:
		return WaitMode::Spin;
	case ModeRule::Block:
		if (!transport.can_block)
			die("pairs table: %s cannot block, but is listed for %s", transport.name,
			    scenario.name);
		return WaitMode::Block;
	case ModeRule::BlockIfCan:
		break;
	}
	return transport.can_block ? WaitMode::Block : WaitMode::Spin;
}

namespace {

// What one repetition does, derived from the run configuration.
struct Plan {
	uint64_t warmup;  // untimed messages (round trips) before the timed phase
	uint64_t timed;
	size_t msg_size;
	size_t batch;
	unsigned producers;
};

struct RepResult {
	double elapsed_ns;
	double cpu_ns;               // PingPong: both processes, timed phase only
	std::vector<double> rtt_ns;  // PingPong: every timed round trip
};

// Verifies that each message is the next one expected from its producer.
class SequenceChecker {
public:
	SequenceChecker(size_t msg_size, uint64_t first_producer, unsigned producers)
		: msg_size_(msg_size), first_producer_(first_producer), next_seq_(producers, 0)
	{
	}

	void operator()(const void *msg)
	{
		const uint64_t index = message_producer(msg) - first_producer_;
		if (index >= next_seq_.size())
			die("message from unexpected producer %llu",
			    (unsigned long long)message_producer(msg));
		expect_message(msg, msg_size_, first_producer_ + index, next_seq_[index]++);
	}

private:
	const size_t msg_size_;
	const uint64_t first_producer_;
	std::vector<uint64_t> next_seq_;
};

void send_messages(Endpoint &ep, uint64_t producer, uint64_t first_seq, uint64_t count,
		   const Plan &plan)
{
	for (uint64_t seq = first_seq; seq < first_seq + count;) {
		const size_t n = size_t(std::min<uint64_t>(plan.batch, first_seq + count - seq));
		ep.send(n, [&](size_t i, void *msg) { fill_message(msg, plan.msg_size, producer, seq + i); });
		seq += n;
	}
}

void receive_messages(Endpoint &ep, uint64_t count, size_t batch, SequenceChecker &checker)
{
	for (uint64_t got = 0; got < count;)
		got += ep.receive(size_t(std::min<uint64_t>(batch, count - got)), checker);
}

// ---- ping-pong -----------------------------------------------------------

// Requests carry producer id 0, replies id 1: a reply can't be a bounced request.
constexpr uint64_t kPingId = 0, kPongId = 1;

struct PingPongShared {
	StartBarrier start;
	uint64_t elapsed_ns;
	uint64_t cpu_ns[2];  // ping, pong
};

void ping(Endpoint &ep, const Plan &plan, PingPongShared &shared, double *rtt_ns)
{
	SequenceChecker replies(plan.msg_size, kPongId, 1);
	uint64_t cpu_start = 0, t_start = 0, t_prev = 0;
	for (uint64_t seq = 0; seq < plan.warmup + plan.timed; seq++) {
		if (seq == plan.warmup) {
			cpu_start = process_cpu_ns();
			t_start = t_prev = now_ns();
		}
		send_messages(ep, kPingId, seq, 1, plan);
		receive_messages(ep, 1, 1, replies);
		if (seq >= plan.warmup) {
			const uint64_t t = now_ns();  // one clock read per round trip
			rtt_ns[seq - plan.warmup] = double(t - t_prev);
			t_prev = t;
		}
	}
	shared.elapsed_ns = t_prev - t_start;
	shared.cpu_ns[0] = process_cpu_ns() - cpu_start;
}

void pong(Endpoint &ep, const Plan &plan, PingPongShared &shared)
{
	SequenceChecker requests(plan.msg_size, kPingId, 1);
	uint64_t cpu_start = 0;
	for (uint64_t seq = 0; seq < plan.warmup + plan.timed; seq++) {
		if (seq == plan.warmup)
			cpu_start = process_cpu_ns();
		receive_messages(ep, 1, 1, requests);
		send_messages(ep, kPongId, seq, 1, plan);
	}
	shared.cpu_ns[1] = process_cpu_ns() - cpu_start;
}

RepResult run_pingpong_rep(const RunConfig &config, const ChannelSpec &spec, const Plan &plan)
{
	const std::unique_ptr<Channel> channel = create_duplex_channel(*config.transport, spec);
	SharedObject<PingPongShared> shared;
	SharedMemory samples(plan.timed * sizeof(double));
	double *rtt_ns = static_cast<double *>(samples.data());

	run_children({{Role::Producer0, config.cpus[0]}, {Role::Consumer, config.cpus[1]}},
		     [&](Role role) {
			     const std::unique_ptr<Endpoint> ep = channel->open(role);
			     shared->start.arrive_and_wait(2);
			     if (role == Role::Producer0)
				     ping(*ep, plan, *shared, rtt_ns);
			     else
				     pong(*ep, plan, *shared);
		     });
	return {double(shared->elapsed_ns), double(shared->cpu_ns[0] + shared->cpu_ns[1]),
		std::vector<double>(rtt_ns, rtt_ns + plan.timed)};
}

// ---- stream (one or more producers, one consumer) ------------------------

struct StreamShared {
	StartBarrier timed_start;
	uint64_t elapsed_ns;
};

// Producer p's part of `total` messages.
uint64_t share_of(uint64_t total, unsigned p, unsigned producers)
{
	return total / producers + (p < total % producers ? 1 : 0);
}

void produce(Endpoint &ep, unsigned producer, const Plan &plan, StreamShared &shared)
{
	const uint64_t warmup = share_of(plan.warmup, producer, plan.producers);
	send_messages(ep, producer, 0, warmup, plan);
	shared.timed_start.arrive_and_wait(plan.producers + 1);
	send_messages(ep, producer, warmup, share_of(plan.timed, producer, plan.producers), plan);
}

// The consumer times the run: from the common start to the last message.
void consume(Endpoint &ep, const Plan &plan, StreamShared &shared)
{
	SequenceChecker checker(plan.msg_size, 0, plan.producers);
	receive_messages(ep, plan.warmup, plan.batch, checker);
	shared.timed_start.arrive_and_wait(plan.producers + 1);
	const uint64_t t_start = now_ns();
	receive_messages(ep, plan.timed, plan.batch, checker);
	shared.elapsed_ns = now_ns() - t_start;
}

// Producers share the first CPU, the consumer has the second to itself.
std::vector<Placement> stream_placements(const RunConfig &config, unsigned producers)
{
	std::vector<Placement> placements = {{Role::Producer0, config.cpus[0]}};
	if (producers > 1)
		placements.push_back({Role::Producer1, config.cpus[0]});
	placements.push_back({Role::Consumer, config.cpus[1]});
	return placements;
}

RepResult run_stream_rep(const RunConfig &config, const ChannelSpec &spec, const Plan &plan)
{
	if (!config.transport->create_one_way)
		die("%s has no one-way channel", config.transport->name);
	const std::unique_ptr<Channel> channel = config.transport->create_one_way(spec);
	SharedObject<StreamShared> shared;

	run_children(stream_placements(config, plan.producers), [&](Role role) {
		const std::unique_ptr<Endpoint> ep = channel->open(role);
		if (role == Role::Consumer)
			consume(*ep, plan, *shared);
		else
			produce(*ep, role == Role::Producer0 ? 0 : 1, plan, *shared);
	});
	return {double(shared->elapsed_ns), 0, {}};
}

RepResult run_rep(const RunConfig &config, const ChannelSpec &spec, const Plan &plan)
{
	return config.scenario->pattern == Pattern::PingPong ? run_pingpong_rep(config, spec, plan)
							     : run_stream_rep(config, spec, plan);
}

// Each repetition warms up (page faults, caches, wake-up paths) untimed.
Plan plan_for(const Scenario &scenario, uint64_t msgs)
{
	return {std::max<uint64_t>(msgs / 10, 1), msgs, scenario.msg_size, scenario.batch,
		scenario.producers};
}

// The largest of 1, 2, 5 times a power of ten that is <= x (x >= 1): counts
// that stay the same from run to run while the speed wobbles a little.
uint64_t round_down_1_2_5(double x)
{
	uint64_t decade = 1;
	while (double(decade) * 10 <= x)
		decade *= 10;
	for (uint64_t m : {5, 2})
		if (double(decade * m) <= x)
			return decade * m;
	return decade;
}

// Without --msgs: a count that makes one repetition last 0.18-0.45 s (the
// speeds of the impls differ 1000-fold), found by unreported probe
// repetitions of growing size, which also warm everything up.
constexpr double kRepSecondsMax = 0.45;
constexpr double kProbeSecondsMin = 0.03;
constexpr uint64_t kFirstProbeMsgs = 1000;

// Ping-pong keeps a sample per round trip, hence a cap. In Block mode a
// spin-then-sleep waiter can switch from spinning (~0.2 us per round trip)
// to sleeping (~40 us) after the probe, hence a lower one.
uint64_t max_msgs(const Scenario &scenario, const ChannelSpec &spec)
{
	if (scenario.pattern == Pattern::Stream)
		return 1000000000;
	return spec.mode == WaitMode::Block ? 10000 : 500000;
}

uint64_t calibrated_msgs(const RunConfig &config, const ChannelSpec &spec)
{
	const uint64_t cap = max_msgs(*config.scenario, spec);
	uint64_t probe = kFirstProbeMsgs;
	double seconds;
	for (;;) {
		seconds = run_rep(config, spec, plan_for(*config.scenario, probe)).elapsed_ns / 1e9;
		if (seconds >= kProbeSecondsMin || probe >= cap)
			break;
		probe *= 8;
	}
	const double wanted = double(probe) * kRepSecondsMax / std::max(seconds, 1e-9);
	return std::min(round_down_1_2_5(std::max(wanted, 1.0)), cap);
}

// ---- reporting -------------------------------------------------------------

template <class F>
std::vector<double> per_rep(const std::vector<RepResult> &reps, F metric)
{
	std::vector<double> values;
	for (const RepResult &rep : reps)
		values.push_back(metric(rep));
	return values;
}

// rtt_ns: value is the median over repetitions of each one's median round
// trip (robust against the rare multi-millisecond stall of a vCPU, which
// would dominate a mean); p50/p99 are over every timed round trip of every
// repetition.
Summary summarize_rtt(const std::vector<RepResult> &reps)
{
	std::vector<double> all;
	const Summary medians = summarize_reps(per_rep(reps, [&](const RepResult &r) {
		std::vector<double> sorted = r.rtt_ns;
		std::sort(sorted.begin(), sorted.end());
		all.insert(all.end(), sorted.begin(), sorted.end());
		return percentile(sorted, 0.5);
	}));
	std::sort(all.begin(), all.end());
	return {medians.value, percentile(all, 0.5), percentile(all, 0.99)};
}

void report(const RunConfig &config, uint64_t msg_count, const std::vector<RepResult> &reps)
{
	const Scenario &scenario = *config.scenario;
	const RunLabel label = {scenario.name, config.transport->name, config.env, config.reps,
				msg_count};
	const double msgs = double(msg_count);
	if (scenario.metrics & kRttNs)
		print_metric(label, "rtt_ns", "ns", summarize_rtt(reps));
	if (scenario.metrics & kCpuNsPerRtt)
		print_metric(label, "cpu_ns_per_rtt", "ns",
			     summarize_reps(per_rep(reps, [&](const RepResult &r) { return r.cpu_ns / msgs; })));
	if (scenario.metrics & kMsgsPerS)
		print_metric(label, "msgs_per_s", "msgs/s", summarize_reps(per_rep(reps, [&](const RepResult &r) {
				     return msgs * 1e9 / r.elapsed_ns;
			     })));
	if (scenario.metrics & kBytesPerS)
		print_metric(label, "bytes_per_s", "B/s", summarize_reps(per_rep(reps, [&](const RepResult &r) {
				     return msgs * double(scenario.msg_size) * 1e9 / r.elapsed_ns;
			     })));
	if (scenario.metrics & kCopiesPerMsg) {
		const double copies = config.transport->copies_per_msg;
		print_metric(label, "copies_per_msg", "copies", {copies, copies, copies});
	}
}

}  // namespace

void run_scenario(const RunConfig &config)
{
	const Scenario &scenario = *config.scenario;
	const ChannelSpec spec = {scenario.msg_size, wait_mode(scenario, *config.transport),
				  scenario.producers};
	const uint64_t msgs = config.msgs ? config.msgs : calibrated_msgs(config, spec);
	std::vector<RepResult> reps;
	for (unsigned i = 0; i < config.reps; i++)
		reps.push_back(run_rep(config, spec, plan_for(scenario, msgs)));
	report(config, msgs, reps);
}

}  // namespace exobench
