// slabbench: the exofusion slab cache (hosted) against general-purpose
// allocators. Built once per peer allocator (slab.mk): slabbench-glibc also
// runs impl exofusion-slab; slabbench-jemalloc, -tcmalloc and -mimalloc are
// linked with that allocator, which replaces malloc/free. See README.md.
//
//   slabbench --list                      "scenario impl" lines this binary runs
//   slabbench --scenario S --impl I [--reps N] [--rep-ms MS] [--warmup N]
//             [--no-tick] [--verbose]
#include <dlfcn.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstring>
#include <string>

#include "allocators.h"
#include "scenarios.h"

#ifndef SLABBENCH_PEER
#error "build with -DSLABBENCH_PEER=glibc|jemalloc|tcmalloc|mimalloc"
#endif
#define SLABBENCH_STR2(x) #x
#define SLABBENCH_STR(x) SLABBENCH_STR2(x)

namespace slabbench {

std::atomic<uintptr_t> g_sink{0};

void die(const char *fmt, ...)
{
	va_list args;
	va_start(args, fmt);
	std::fputs("slabbench: ", stderr);
	std::vfprintf(stderr, fmt, args);
	std::fputc('\n', stderr);
	va_end(args);
	std::fflush(stdout);
	_exit(1);
}

const std::vector<int> &allowed_cpus()
{
	static const std::vector<int> cpus = [] {
		std::vector<int> v;
		cpu_set_t set;
		if (sched_getaffinity(0, sizeof(set), &set) == 0)
			for (int c = 0; c < CPU_SETSIZE; c++)
				if (CPU_ISSET(c, &set))
					v.push_back(c);
		if (v.empty())
			v.push_back(0);
		return v;
	}();
	return cpus;
}

void pin_thread(pthread_t thread, int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	const int err = pthread_setaffinity_np(thread, sizeof(set), &set);
	if (err)
		die("pthread_setaffinity_np(CPU %d): %s", cpu, strerror(err));
}

namespace {

const char *const kPeer = SLABBENCH_STR(SLABBENCH_PEER);
const char *const kExo = "exofusion-slab";

struct ScenarioInfo {
	const char *name;
	std::vector<unsigned> sizes;  // the size classes (exofusion-slab: caches)
};

const std::vector<ScenarioInfo> &scenarios()
{
	static const std::vector<ScenarioInfo> list = {
		{"pair-64B", {64}},
		{"pair-256B", {256}},
		{"batch1000-64B", {64}},
		{"bulk16-64B", {64}},
		{"crosscpu-64B", {64}},
		{"threads-remote-free", RemoteFreeWorkload<MallocAllocator>::sizes()},
	};
	return list;
}

std::vector<const char *> impls()
{
	std::vector<const char *> v = {kPeer};
#if SLABBENCH_WITH_EXO
	v.push_back(kExo);
#endif
	return v;
}

struct Options {
	std::string scenario, impl;
	unsigned reps = 7;
	unsigned warmup = 2;
	double rep_ms = 40;
	bool verbose = false;
};

// The library the process's malloc comes from must be the one this binary
// claims to measure (a peer linked wrongly would silently measure glibc).
// SLABBENCH_ANY_MALLOC=1 skips the check (sanitizer builds bring their own).
void check_malloc_provider()
{
	if (const char *any = std::getenv("SLABBENCH_ANY_MALLOC"))
		if (!std::strcmp(any, "1"))
			return;
	static const struct {
		const char *peer, *library;
	} expected[] = {
		{"glibc", "libc.so"},
		{"jemalloc", "libjemalloc"},
		{"tcmalloc", "libtcmalloc"},
		{"mimalloc", "libmimalloc"},
	};
	void *sym = dlsym(RTLD_DEFAULT, "malloc");
	Dl_info info;
	if (!sym || !dladdr(sym, &info) || !info.dli_fname)
		die("cannot tell where malloc comes from");
	for (const auto &e : expected)
		if (!std::strcmp(e.peer, kPeer)) {
			if (!std::strstr(info.dli_fname, e.library))
				die("malloc comes from %s, not %s", info.dli_fname, e.library);
			return;
		}
	die("unknown peer %s", kPeer);
}

template <typename A>
std::unique_ptr<Workload> make_workload(const std::string &name, A &a)
{
	if (name == "pair-64B" || name == "pair-256B")
		return std::unique_ptr<Workload>(new PairWorkload<A>(a));
	if (name == "batch1000-64B")
		return std::unique_ptr<Workload>(new BatchWorkload<A>(a));
	if (name == "bulk16-64B")
		return std::unique_ptr<Workload>(new BulkWorkload<A>(a));
	if (name == "crosscpu-64B")
		return std::unique_ptr<Workload>(new CrossCpuWorkload<A>(a));
	if (name == "threads-remote-free")
		return std::unique_ptr<Workload>(new RemoteFreeWorkload<A>(a));
	die("unknown scenario %s", name.c_str());
}

double percentile(const std::vector<double> &sorted, double q)
{
	const double rank = q * double(sorted.size() - 1);
	const size_t lo = size_t(std::floor(rank));
	const size_t hi = std::min(lo + 1, sorted.size() - 1);
	return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - double(lo));
}

// Units are kept a multiple of 4 (threads-remote-free splits them in 4).
uint64_t round_units(double u) { return std::max<uint64_t>(4, (uint64_t(u) + 3) / 4 * 4); }

template <typename A>
int run(const ScenarioInfo &info, const Options &o)
{
	A alloc(info.sizes);
	std::vector<double> per_rep;
	uint64_t units;
	{
		std::unique_ptr<Workload> w = make_workload(o.scenario, alloc);
		const double target = o.rep_ms * 1e6;
		// Calibration (also a warm-up): grow until a run lasts a
		// quarter of the target, then scale to the target.
		units = round_units(4096.0 / double(w->pairs_per_unit()));
		for (;;) {
			const double t = double(w->run(units));
			alloc.tick();
			if (t >= target / 4) {
				units = round_units(double(units) * target / t);
				break;
			}
			units = round_units(double(units) * (t * 64 < target ? 8 : 2));
		}
		// Warm-up, refining the count (a cold first run misleads).
		for (unsigned i = 0; i < o.warmup; i++) {
			const double t = double(w->run(units));
			alloc.tick();
			units = round_units(double(units) * target / std::max(t, 1.0));
		}
		for (unsigned i = 0; i < o.reps; i++) {
			const double t = double(w->run(units));
			alloc.tick();
			per_rep.push_back(t / double(units * w->pairs_per_unit()));
			if (o.verbose)
				std::fprintf(stderr, "slabbench: %s %s rep %u: %.2f ns/op (%.1f ms)\n",
					     o.scenario.c_str(), o.impl.c_str(), i, per_rep.back(),
					     t / 1e6);
		}
		units *= w->pairs_per_unit();
	}
	if (o.verbose)
		alloc.print_stats(stderr);
	if (!alloc.finish())
		return 1;
	std::sort(per_rep.begin(), per_rep.end());
	const double median = percentile(per_rep, 0.5);
	std::printf("{\"suite\":\"slab\",\"scenario\":\"%s\",\"impl\":\"%s\",\"env\":\"host\","
		    "\"metric\":\"ns_per_op\",\"unit\":\"ns\",\"value\":%.2f,\"p50\":%.2f,"
		    "\"p99\":%.2f,\"reps\":%u,\"ops\":%llu}\n",
		    o.scenario.c_str(), o.impl.c_str(), median, median, percentile(per_rep, 0.99),
		    o.reps, (unsigned long long)units);
	return 0;
}

[[noreturn]] void usage(const char *why)
{
	std::fprintf(stderr,
		     "slabbench: %s\n"
		     "usage: slabbench --list\n"
		     "       slabbench --scenario S --impl I [--reps N] [--rep-ms MS] [--warmup N]\n"
		     "                 [--no-tick] [--verbose]\n",
		     why);
	std::exit(2);
}

unsigned parse_unsigned(const char *s, const char *what)
{
	char *end;
	const unsigned long v = std::strtoul(s, &end, 10);
	if (!*s || *end || v == 0 || v > 1000000)
		usage(what);
	return unsigned(v);
}

}  // namespace
}  // namespace slabbench

#if SLABBENCH_WITH_EXO
namespace slabbench {

bool ExoSlabAllocator::ticking = true;

ExoSlabAllocator::ExoSlabAllocator(const std::vector<unsigned> &sizes)
{
	for (unsigned size : sizes) {
		char name[EXO_SLAB_NAME_MAX];
		std::snprintf(name, sizeof(name), "slabbench-%u", size);
		exo_slab_cache_params params = {};
		params.name = name;
		params.size = size;
		exo_slab_cache *cache;
		const char *why = "";
		const int err = exo_slab_create(&params, &cache, &why);
		if (err)
			die("exo_slab_create(%u): %d (%s)", size, err, why);
		caches_.push_back(cache);
	}
}

ExoSlabAllocator::~ExoSlabAllocator()
{
	if (!caches_.empty())
		finish();
}

void ExoSlabAllocator::tick()
{
	if (ticking)
		for (exo_slab_cache *c : caches_)
			exo_slab_tick(c);
}

bool ExoSlabAllocator::finish()
{
	unsigned long leaked = 0;
	for (exo_slab_cache *c : caches_)
		leaked += exo_slab_destroy(c);
	caches_.clear();
	char last[256];
	const unsigned long reports = exo_hosted_reports(last, sizeof(last));
	if (leaked || reports) {
		std::fprintf(stderr, "slabbench: exofusion-slab: %lu objects leaked, %lu reports%s%s\n",
			     leaked, reports, reports ? "; last: " : "", reports ? last : "");
		return false;
	}
	if (exo_hosted_pages_in_use()) {
		std::fprintf(stderr, "slabbench: exofusion-slab: %lu pages not returned\n",
			     exo_hosted_pages_in_use());
		return false;
	}
	return true;
}

void ExoSlabAllocator::print_stats(FILE *out)
{
	for (exo_slab_cache *c : caches_) {
		exo_slab_stats s;
		exo_slab_get_stats(c, &s);
		std::fprintf(out,
			     "slabbench: %s: stride %u, %u/slab, order %u, magazine %u; cpu hits %llu/%llu "
			     "misses %llu/%llu; depot exchanges %llu contended %llu full %llu empty %llu; "
			     "magazines %llu; slab allocs %llu frees %llu; pages %llu (allocated %llu)\n",
			     s.name, s.stride, s.objects_per_slab, s.slab_order, s.magazine_size,
			     s.cpu_alloc_hits, s.cpu_free_hits, s.cpu_alloc_misses, s.cpu_free_misses,
			     s.depot_exchanges, s.depot_contended, s.depot_full_magazines,
			     s.depot_empty_magazines, s.magazines_allocated, s.slab_allocs,
			     s.slab_frees, s.pages, s.pages_allocated);
		for (unsigned i = 0; i < s.trace_len; i++)
			std::fprintf(out, "slabbench:   tick %llu: magazine %u -> %u (reason %u)\n",
				     s.trace[i].tick, s.trace[i].from, s.trace[i].to,
				     s.trace[i].reason);
	}
}

}  // namespace slabbench
#endif

int main(int argc, char **argv)
{
	using namespace slabbench;
	Options o;
	bool list = false;
	for (int i = 1; i < argc; i++) {
		const std::string arg = argv[i];
		auto value = [&]() -> const char * {
			if (i + 1 >= argc)
				usage((arg + " needs a value").c_str());
			return argv[++i];
		};
		if (arg == "--list")
			list = true;
		else if (arg == "--scenario")
			o.scenario = value();
		else if (arg == "--impl")
			o.impl = value();
		else if (arg == "--reps")
			o.reps = parse_unsigned(value(), "--reps: a positive number");
		else if (arg == "--warmup")
			o.warmup = parse_unsigned(value(), "--warmup: a positive number");
		else if (arg == "--rep-ms")
			o.rep_ms = parse_unsigned(value(), "--rep-ms: a positive number");
		else if (arg == "--no-tick") {
#if SLABBENCH_WITH_EXO
			ExoSlabAllocator::ticking = false;
#endif
		} else if (arg == "--verbose")
			o.verbose = true;
		else
			usage(("unknown argument " + arg).c_str());
	}
	if (list) {
		for (const ScenarioInfo &s : scenarios())
			for (const char *impl : impls())
				std::printf("%s %s\n", s.name, impl);
		return 0;
	}
	if (o.scenario.empty() || o.impl.empty())
		usage("--scenario and --impl are needed");
	const ScenarioInfo *info = nullptr;
	for (const ScenarioInfo &s : scenarios())
		if (o.scenario == s.name)
			info = &s;
	if (!info)
		usage(("unknown scenario " + o.scenario).c_str());
	check_malloc_provider();
	// Single-threaded scenarios run on the first allowed CPU; the others
	// place their threads themselves.
	if (o.scenario.rfind("pair-", 0) == 0 || o.scenario.rfind("batch", 0) == 0 ||
	    o.scenario.rfind("bulk", 0) == 0)
		pin_thread(pthread_self(), allowed_cpus()[0]);
	if (o.impl == kPeer)
		return run<MallocAllocator>(*info, o);
#if SLABBENCH_WITH_EXO
	if (o.impl == kExo)
		return run<ExoSlabAllocator>(*info, o);
#endif
	usage(("this binary does not run impl " + o.impl).c_str());
}
