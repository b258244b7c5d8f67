// exobench: IPC benchmark driver. Parses the command line and runs one
// (scenario, impl) pair; see README.md.
#include <sched.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "lockstep.h"
#include "scenarios.h"
#include "transport.h"

namespace exobench {
namespace {

constexpr unsigned kDefaultReps = 7;

const char kUsage[] =
	"usage: exobench --scenario S --impl I [--reps N] [--msgs M]\n"
	"                [--env host|vm-icount] [--cpus A,B]\n"
	"       exobench --scenario S --impl I --env host-insn [--msgs M]\n"
	"                  both ends in lockstep in one thread, for callgrind\n"
	"       exobench --list [--env host-insn]\n"
	"                  print the valid scenario/impl pairs (in lockstep)\n";

[[noreturn]] void usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void usage_error(const char *fmt, ...)
{
	std::fprintf(stderr, "exobench: ");
	va_list ap;
	va_start(ap, fmt);
	std::vfprintf(stderr, fmt, ap);
	va_end(ap);
	std::fprintf(stderr, "\n%s", kUsage);
	std::exit(2);
}

void list_pairs()
{
	for (const Scenario &scenario : all_scenarios())
		for (const char *impl : scenario.impls)
			if (find_transport(impl))
				std::printf("%s %s\n", scenario.name, impl);
}

uint64_t parse_count(const char *option, const char *text, uint64_t max)
{
	char *end;
	errno = 0;
	const unsigned long long value = std::strtoull(text, &end, 10);
	if (errno || end == text || *end || text[0] == '-' || value < 1 || value > max)
		usage_error("%s: '%s' is not a whole number from 1 to %llu", option, text,
			    (unsigned long long)max);
	return value;
}

bool cpu_allowed(int cpu)
{
	cpu_set_t set;
	return sched_getaffinity(0, sizeof(set), &set) == 0 && cpu >= 0 && cpu < CPU_SETSIZE &&
	       CPU_ISSET(cpu, &set);
}

int first_allowed_cpu(int after)
{
	for (int cpu = after + 1; cpu < CPU_SETSIZE; cpu++)
		if (cpu_allowed(cpu))
			return cpu;
	return -1;
}

void parse_cpus(const char *text, int cpus[2])
{
	char *end;
	const long a = std::strtol(text, &end, 10);
	const bool comma = end != text && *end == ',';
	const char *second = comma ? end + 1 : end;
	const long b = comma ? std::strtol(second, &end, 10) : -1;
	if (!comma || end == second || *end)
		usage_error("--cpus: '%s' is not two CPU numbers like 0,1", text);
	for (const long cpu : {a, b})
		if (cpu < 0 || cpu >= CPU_SETSIZE || !cpu_allowed(int(cpu)))
			usage_error("--cpus: CPU %ld is not available to this process", cpu);
	cpus[0] = int(a);
	cpus[1] = int(b);
}

// Host: the first two CPUs we may use. vm-icount has one CPU: both there.
void default_cpus(const std::string &env, int cpus[2])
{
	cpus[0] = first_allowed_cpu(-1);
	cpus[1] = env == "host" ? first_allowed_cpu(cpus[0]) : cpus[0];
	if (cpus[1] < 0) {
		std::fprintf(stderr, "exobench: only CPU %d is available: both processes run there\n",
			     cpus[0]);
		cpus[1] = cpus[0];
	}
}

const TransportInfo &resolve_impl(const Scenario &scenario, const std::string &impl)
{
	if (!runs_impl(scenario, impl)) {
		bool known = find_transport(impl) != nullptr;
		for (const Scenario &s : all_scenarios())
			known = known || runs_impl(s, impl);
		if (!known)
			usage_error("--impl: unknown impl '%s' (exobench --list shows the valid pairs)",
				    impl.c_str());
		usage_error("--impl: '%s' does not run in scenario '%s' (see exobench --list)",
			    impl.c_str(), scenario.name);
	}
	const TransportInfo *transport = find_transport(impl);
	if (!transport)
		usage_error("--impl: '%s' is not built into this exobench", impl.c_str());
	return *transport;
}

RunConfig parse_args(int argc, char **argv)
{
	std::string scenario_name, impl, env = "host";
	unsigned reps = kDefaultReps;
	uint64_t msgs = 0;
	const char *cpus_text = nullptr;
	bool list = false;

	for (int i = 1; i < argc; i++) {
		const std::string option = argv[i];
		if (option == "--list") {
			list = true;
			continue;
		}
		if (option == "--help" || option == "-h") {
			std::fputs(kUsage, stdout);
			std::exit(0);
		}
		if (option != "--scenario" && option != "--impl" && option != "--reps" &&
		    option != "--msgs" && option != "--env" && option != "--cpus")
			usage_error("unknown argument '%s'", argv[i]);
		if (i + 1 == argc)
			usage_error("%s needs a value", option.c_str());
		const char *value = argv[++i];
		if (option == "--scenario")
			scenario_name = value;
		else if (option == "--impl")
			impl = value;
		else if (option == "--reps")
			reps = unsigned(parse_count("--reps", value, 1000));
		else if (option == "--msgs")
			msgs = parse_count("--msgs", value, uint64_t(1) << 40);
		else if (option == "--env")
			env = value;
		else
			cpus_text = value;
	}

	if (env != "host" && env != "vm-icount" && env != "host-insn")
		usage_error("--env: '%s' is none of host, vm-icount, host-insn", env.c_str());
	if (list) {
		if (env == "host-insn")
			list_lockstep_pairs();
		else
			list_pairs();
		std::exit(0);
	}
	if (scenario_name.empty() || impl.empty())
		usage_error("--scenario and --impl are required");
	const Scenario *scenario = find_scenario(scenario_name);
	if (!scenario)
		usage_error("--scenario: unknown scenario '%s' (exobench --list shows the valid pairs)",
			    scenario_name.c_str());

	RunConfig config = {scenario, &resolve_impl(*scenario, impl), env, reps,
			    msgs, {0, 0}};
	if (cpus_text)
		parse_cpus(cpus_text, config.cpus);
	else
		default_cpus(env, config.cpus);
	return config;
}

}  // namespace
}  // namespace exobench

int main(int argc, char **argv)
{
	const exobench::RunConfig config = exobench::parse_args(argc, argv);
	if (config.env == "host-insn")
		exobench::run_lockstep(config);
	else
		exobench::run_scenario(config);
	return 0;
}
