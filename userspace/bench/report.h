// Statistics over measurements and the JSON lines exobench prints.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace exobench {

// The q-quantile (0..1) of ascending `sorted`, interpolating between ranks.
double percentile(const std::vector<double> &sorted, double q);

struct Summary {
	double value;  // the headline number: median over repetitions
	double p50, p99;
};

// value = p50 = median of the per-repetition numbers; p99 over them too.
Summary summarize_reps(std::vector<double> per_rep);

// Identifies the run every metric line belongs to.
struct RunLabel {
	std::string scenario, impl, env;
	unsigned reps;
	uint64_t msgs;
};

// One JSON object on one line of stdout.
void print_metric(const RunLabel &run, const char *metric, const char *unit, const Summary &s);

}  // namespace exobench
