// The allocators slabbench compares, behind one compile-time interface so
// the scenarios call each directly (templates, no indirect calls):
//
//   A(const std::vector<unsigned> &sizes)  one size class per entry
//   void *alloc(unsigned cls)               an object of sizes[cls] bytes
//   void free(void *p, unsigned cls)
//   void alloc_bulk(unsigned cls, unsigned n, void **out)
//   void free_bulk(unsigned cls, unsigned n, void **objs)
//   void tick()                             between repetitions (untimed)
//   bool finish()                           at the end: false on leaks
//   void print_stats(FILE *)                --verbose
//
// MallocAllocator is whatever malloc/free this binary was linked with
// (glibc, jemalloc, tcmalloc, mimalloc); ExoSlabAllocator is the hosted
// exofusion slab core, one cache per size class.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <vector>

#if SLABBENCH_WITH_EXO
#include "module/core/slab/slab_api.h"
#include "userspace/hosted/hosted.h"
#endif

namespace slabbench {

[[noreturn]] void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

class MallocAllocator {
public:
	explicit MallocAllocator(const std::vector<unsigned> &sizes) : sizes_(sizes) {}

	void *alloc(unsigned cls)
	{
		void *p = std::malloc(sizes_[cls]);
		if (__builtin_expect(!p, 0))
			die("malloc(%u) failed", sizes_[cls]);
		return p;
	}
	void free(void *p, unsigned) { std::free(p); }
	void alloc_bulk(unsigned cls, unsigned n, void **out)
	{
		for (unsigned i = 0; i < n; i++)
			out[i] = alloc(cls);
	}
	void free_bulk(unsigned, unsigned n, void **objs)
	{
		for (unsigned i = 0; i < n; i++)
			std::free(objs[i]);
	}
	void tick() {}
	bool finish() { return true; }
	void print_stats(FILE *) {}

private:
	std::vector<unsigned> sizes_;
};

#if SLABBENCH_WITH_EXO
class ExoSlabAllocator {
public:
	explicit ExoSlabAllocator(const std::vector<unsigned> &sizes);
	~ExoSlabAllocator();

	void *alloc(unsigned cls)
	{
		void *p = exo_slab_alloc(caches_[cls], 0);
		if (__builtin_expect(!p, 0))
			die("exo_slab_alloc(%s) failed", exo_slab_name(caches_[cls]));
		return p;
	}
	void free(void *p, unsigned cls) { exo_slab_free(caches_[cls], p); }
	void alloc_bulk(unsigned cls, unsigned n, void **out)
	{
		if (exo_slab_alloc_bulk(caches_[cls], 0, n, out) != n)
			die("exo_slab_alloc_bulk(%s, %u) failed", exo_slab_name(caches_[cls]), n);
	}
	void free_bulk(unsigned cls, unsigned n, void **objs)
	{
		exo_slab_free_bulk(caches_[cls], n, objs);
	}
	// The module's periodic step (depot trimming, magazine sizing).
	void tick();
	// Destroys the caches: false if any leaked or the core reported.
	bool finish();
	void print_stats(FILE *out);

	static bool ticking;  // --no-tick clears it

private:
	std::vector<exo_slab_cache *> caches_;
};
#endif

}  // namespace slabbench
