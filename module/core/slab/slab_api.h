/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The slab cache's C interface, for the shim and hosted users: an object
 * cache in the manner of kmem_cache, with three levels (per-CPU magazines,
 * a depot of magazines, slabs of pages from the page allocator).
 *
 * Calls for one cache may run concurrently from any CPU, except create,
 * destroy and exo_slab_drain_cpu(), whose callers exclude the others.
 * alloc, free and their bulk forms may also be called from softirq and,
 * except on PREEMPT_RT, hard interrupt context (with EXO_SLAB_NOWAIT): the
 * per-CPU state is owned under interrupts off (see platform.h), and every
 * lock is IRQ-safe. The other calls are process context only.
 */
#ifndef EXO_CORE_SLAB_API_H
#define EXO_CORE_SLAB_API_H

#ifdef __cplusplus
extern "C" {
#endif

struct exo_slab_cache;

#define EXO_SLAB_NAME_MAX 32
#define EXO_SLAB_MIN_SIZE 8u
#define EXO_SLAB_MAX_SIZE 4096u
#define EXO_SLAB_MAX_ALIGN 4096u

/* exo_slab_cache_params.flags */
#define EXO_SLAB_DEBUG (1u << 0)	/* red zones, poisoning, free checks */
#define EXO_SLAB_ACCOUNT (1u << 1)	/* pages charged to the memory cgroup */

/* exo_slab_alloc() flags */
#define EXO_SLAB_NOWAIT (1u << 0)	/* never sleep for pages */

struct exo_slab_cache_params {
	const char *name;		/* copied; 1..EXO_SLAB_NAME_MAX-1 chars */
	unsigned int size;		/* object size */
	unsigned int align;		/* 0 (8) or a power of two */
	unsigned int flags;		/* EXO_SLAB_* */
	void (*ctor)(void *obj);	/* optional: runs once per object, when
					 * its slab is made */
};

/* Magazine-size changes the adaptive policy made, most recent last. */
#define EXO_SLAB_TRACE_LEN 16
enum exo_slab_resize_reason {
	EXO_SLAB_GROW_MISSES = 1,	/* many CPU-layer misses in a tick */
	EXO_SLAB_GROW_CONTENTION,	/* the depot lock was contended */
	EXO_SLAB_SHRINK_IDLE,		/* two ticks without operations */
	EXO_SLAB_SHRINK_PRESSURE,	/* memory pressure (a shrinker) */
};

struct exo_slab_resize_event {
	unsigned long long tick;
	unsigned int from;
	unsigned int to;
	unsigned int reason;		/* enum exo_slab_resize_reason */
	unsigned long long ops;		/* CPU-layer operations that tick */
	unsigned long long misses;	/* of which went to the depot */
	unsigned long long contended;	/* depot lock contention that tick */
};

struct exo_slab_stats {
	char name[EXO_SLAB_NAME_MAX];
	unsigned int object_size;	/* as asked */
	unsigned int stride;		/* bytes per object in a slab */
	unsigned int objects_per_slab;
	unsigned int slab_order;	/* a slab is 2^order pages */
	unsigned int magazine_size;	/* current capacity of new magazines */
	unsigned int debug;
	/* level 1: per-CPU magazines (sums over CPUs) */
	unsigned long long cpu_alloc_hits;
	unsigned long long cpu_free_hits;
	unsigned long long cpu_alloc_misses;	/* went to the depot or slabs */
	unsigned long long cpu_free_misses;
	/*
	 * (Objects in CPU magazines are not counted: their CPUs change them
	 * without atomics. slab objects_in_use - depot_cached bounds them.)
	 */
	/* level 2: the depot */
	unsigned long long depot_full_magazines;
	unsigned long long depot_empty_magazines;
	unsigned long long depot_cached;	/* objects in depot magazines */
	unsigned long long depot_exchanges;
	unsigned long long depot_contended;
	unsigned long long magazines_allocated;
	/* level 3: slabs */
	unsigned long long slab_allocs;		/* objects handed out by slabs */
	unsigned long long slab_frees;
	unsigned long long slabs;
	unsigned long long slabs_empty;
	unsigned long long pages;
	unsigned long long pages_allocated;	/* ever, from the page allocator */
	unsigned long long pages_freed;
	unsigned long long objects_in_use;	/* allocated and not freed */
	/* debug mode */
	unsigned long long debug_reports;
	unsigned long long ticks;
	unsigned int trace_len;
	struct exo_slab_resize_event trace[EXO_SLAB_TRACE_LEN];
};

/* 0 and *out, or -EINVAL (with *why naming the parameter) or -ENOMEM. */
int exo_slab_create(const struct exo_slab_cache_params *params,
		    struct exo_slab_cache **out, const char **why);
/*
 * Returns every page to the page allocator. Objects still allocated are
 * leaks: they are reported and counted in the return value.
 */
unsigned long exo_slab_destroy(struct exo_slab_cache *cache);

void *exo_slab_alloc(struct exo_slab_cache *cache, unsigned int flags);
void exo_slab_free(struct exo_slab_cache *cache, void *obj);
/* All |n| objects or none: returns n, or 0 when memory ran out. */
unsigned int exo_slab_alloc_bulk(struct exo_slab_cache *cache, unsigned int flags,
				 unsigned int n, void **objs);
void exo_slab_free_bulk(struct exo_slab_cache *cache, unsigned int n, void **objs);

/* Moves this CPU's magazines to the depot (preemption handled inside). */
void exo_slab_drain_local(struct exo_slab_cache *cache);
/* The same for a CPU that is gone or otherwise idle for this cache. */
void exo_slab_drain_cpu(struct exo_slab_cache *cache, unsigned int cpu);
/*
 * Returns the depot's magazines and the empty slabs to the page allocator,
 * and under |pressure| steps the magazine size down. Returns pages freed.
 */
unsigned long exo_slab_shrink(struct exo_slab_cache *cache, int pressure);
/*
 * What exo_slab_shrink() could free now, in objects (a shrinker's count):
 * the objects in the depot's magazines plus the capacity of empty slabs.
 */
unsigned long exo_slab_reclaimable(struct exo_slab_cache *cache);
/*
 * A shrinker's scan: frees empty slabs, then the depot's loaded magazines
 * one at a time, until |nr_objects| objects (in exo_slab_reclaimable()'s
 * unit) are freed or nothing is left; CPU magazines stay. Returns the
 * objects freed (0: nothing could be) and sets *pages to the pages that
 * went back to the page allocator. |pressure| steps the magazine size down.
 */
unsigned long exo_slab_reclaim(struct exo_slab_cache *cache, unsigned long nr_objects,
			       int pressure, unsigned long *pages);
/*
 * The periodic step: trims the depot to its working set (what the last
 * interval did not use goes back) and adapts the magazine size.
 */
void exo_slab_tick(struct exo_slab_cache *cache);

void exo_slab_get_stats(struct exo_slab_cache *cache, struct exo_slab_stats *out);
/*
 * Magazine-size changes since create (a count) and, when there was one,
 * the last in *last (|last| may be NULL). Only exo_slab_tick(),
 * exo_slab_shrink() and exo_slab_reclaim() change the size, at most once a
 * call: a caller that serialises them compares counts around a call to
 * learn whether it resized (the shim's slab_resize tracepoint).
 */
unsigned int exo_slab_resizes(const struct exo_slab_cache *cache,
			      struct exo_slab_resize_event *last);
const char *exo_slab_name(const struct exo_slab_cache *cache);

#ifdef __cplusplus
}
#endif

#endif /* EXO_CORE_SLAB_API_H */
