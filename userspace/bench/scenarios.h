// The benchmark suite: the scenarios, which impls run in each (the pairs
// table, in scenarios.cpp), and how a scenario is run and reported.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "transport.h"

namespace exobench {

enum class Pattern {
	PingPong,  // one message each way per round trip, between two processes
	Stream,    // one-way: `producers` processes send to one consumer
};

enum class ModeRule {
	Spin,
	Block,
	BlockIfCan,  // Block where the impl can block, else Spin (boost-spsc)
};

// Metrics a scenario reports (bit mask).
enum Metric : unsigned {
	kRttNs = 1,
	kCpuNsPerRtt = 2,
	kMsgsPerS = 4,
	kBytesPerS = 8,
	kCopiesPerMsg = 16,
};

struct Scenario {
	const char *name;
	Pattern pattern;
	ModeRule mode;
	size_t msg_size;
	size_t batch;            // messages per send()/receive() call
	unsigned producers;      // sending processes (Stream)
	unsigned metrics;        // Metric bits
	std::vector<const char *> impls;  // the impls that run it
};

const std::vector<Scenario> &all_scenarios();
const Scenario *find_scenario(std::string_view name);
bool runs_impl(const Scenario &scenario, std::string_view impl);
WaitMode wait_mode(const Scenario &scenario, const TransportInfo &transport);

struct RunConfig {
	const Scenario *scenario;
	const TransportInfo *transport;
	std::string env;  // "host" or "vm-icount", copied into the JSON
	unsigned reps;
	uint64_t msgs;    // timed round trips or messages per repetition; 0: calibrate
	int cpus[2];      // ping / producers, pong / consumer
};

// Runs config.reps repetitions and prints one JSON line per metric.
void run_scenario(const RunConfig &config);

}  // namespace exobench
