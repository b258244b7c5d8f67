#include "report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace exobench {

double percentile(const std::vector<double> &sorted, double q)
{
	if (sorted.empty())
		return 0;
	const double rank = q * double(sorted.size() - 1);
	const size_t lo = size_t(std::floor(rank));
	const size_t hi = std::min(lo + 1, sorted.size() - 1);
	return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - double(lo));
}

Summary summarize_reps(std::vector<double> per_rep)
{
	std::sort(per_rep.begin(), per_rep.end());
	const double median = percentile(per_rep, 0.5);
	return {median, median, percentile(per_rep, 0.99)};
}

// Names are fixed identifiers (no quoting needed); numbers keep one decimal.
void print_metric(const RunLabel &run, const char *metric, const char *unit, const Summary &s)
{
	std::printf("{\"suite\":\"rings\",\"scenario\":\"%s\",\"impl\":\"%s\",\"env\":\"%s\","
		    "\"metric\":\"%s\",\"unit\":\"%s\",\"value\":%.1f,\"p50\":%.1f,\"p99\":%.1f,"
		    "\"reps\":%u,\"msgs\":%llu}\n",
		    run.scenario.c_str(), run.impl.c_str(), run.env.c_str(), metric, unit, s.value,
		    s.p50, s.p99, run.reps, (unsigned long long)run.msgs);
}

}  // namespace exobench
