// The instruction-count mode (--env host-insn): a stream scenario driven in
// lockstep in one thread, both ends, for callgrind to count each side's
// transport work separately (see lockstep.cpp and README.md).
#pragma once

#include "scenarios.h"

namespace exobench {

// The impls the lockstep mode runs (each where the pairs table lists it).
bool runs_lockstep(const Scenario &scenario, std::string_view impl);

// The valid host-insn pairs, one "scenario impl" per line.
void list_lockstep_pairs();

// Sends config.msgs messages (default kLockstepDefaultMsgs) in rounds of the
// scenario's batch B: B messages produced, then the same B consumed and
// checked. Prints a line to stderr, nothing to stdout (the counts come from
// callgrind); exits 1 on a bad message or a failed call.
void run_lockstep(const RunConfig &config);

constexpr uint64_t kLockstepDefaultMsgs = 16384;

}  // namespace exobench
