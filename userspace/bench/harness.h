// Process plumbing shared by every scenario: fork, pin, wait, and the
// barrier that starts a timed phase in all processes together.
#pragma once

#include <atomic>
#include <vector>

#include "transport.h"

namespace exobench {

// A child process of a repetition: the role it plays and the CPU it runs on.
struct Placement {
	Role role;
	int cpu;
};

// Forks one child per placement, pins it, runs body(role) in it, and waits
// for all. A child that exits non-zero, dies of a signal or outlives the
// timeout makes the parent kill the others and exit 1. Children that share a
// CPU yield in spin loops (see spin_pause()).
void run_children(const std::vector<Placement> &placements, FnRef<void(Role)> body);

const char *role_name(Role role);

// Lives in shared memory; one use per repetition.
struct StartBarrier {
	std::atomic<unsigned> arrived{0};

	// Yields while waiting: it is outside every timed phase, and must not
	// starve a process it waits for on the same CPU.
	void arrive_and_wait(unsigned parties);
};

}  // namespace exobench
