// SPDX-License-Identifier: GPL-2.0
/*
 * The slab cache (module/core/slab/) in the kernel: a registry of caches
 * and what runs for all of them. A tick each second trims each depot to
 * its working set and adapts magazine sizes; a shrinker gives cached
 * objects back under memory pressure; a dead CPU's magazines go to the
 * depot; debugfs shows every cache (exofusion/slabinfo) and takes
 * commands (exofusion/slab_ctl).
 *
 * Two backends (module parameter slab_backend): "exo", the module's own
 * cache, and "kmem", the kernel's kmem_cache, the rollback path. A KASAN
 * kernel gets kmem unless exo is asked for by name, so that KASAN checks
 * every object:
 * the exo backend cannot be instrumented from a module (kasan_unpoison()
 * is not exported, kasan_poison() only for KASAN's own tests and from an
 * mm-internal header), and its core, not instrumented, keeps its free
 * lists inside free objects.
 *
 * Contexts: process, softirq (NAPI) and, but on PREEMPT_RT, hard IRQ; on
 * PREEMPT_RT the per-CPU lock and the spinlocks sleep, so a caller that
 * cannot sleep there (hard IRQ, interrupts or preemption off) is refused
 * with a warning, as SLUB refuses it. Never NMI.
 *
 * Lock order: cpu hotplug lock, then exo_kcaches_lock, then the caches'.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/debugfs.h>
#include <linux/device.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/percpu.h>
#include <linux/preempt.h>
#include <linux/sched/mm.h>
#include <linux/seq_file.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "module/core/slab/slab_api.h"
#include "module/shim/shim.h"
#include "module/shim/trace.h"

static bool slab_debug;
module_param(slab_debug, bool, 0444);
MODULE_PARM_DESC(slab_debug,
		 "Red zones, poisoning and free checks in the module's own slab caches");

static char *slab_backend = "auto";
module_param(slab_backend, charp, 0444);
MODULE_PARM_DESC(slab_backend,
		 "exo (the module's slab cache), kmem (the kernel's kmem_cache) or auto (default: kmem under KASAN, else exo)");

static bool exo_use_kmem;	/* set once at init from slab_backend */

static_assert(EXO_KCACHE_DEBUG == EXO_SLAB_DEBUG && EXO_KCACHE_ACCOUNT == EXO_SLAB_ACCOUNT);

struct exo_kcache {
	struct list_head node;
	struct exo_slab_cache *core;	/* the exo backend's, or NULL */
	struct kmem_cache *kmem;	/* the kmem backend's, or NULL */
	unsigned int size;
	char name[EXO_SLAB_NAME_MAX];
};

atomic_long_t exo_slab_pages = ATOMIC_LONG_INIT(0);
struct dentry *exo_debugfs_dir;

static LIST_HEAD(exo_kcaches);
static DEFINE_MUTEX(exo_kcaches_lock);
static struct delayed_work exo_slab_tick_work;
static DEFINE_PER_CPU(struct work_struct, exo_slab_drain_work);
static int exo_slab_hp_state;

/* The rollback backend: the kernel's cache, with the same flags' meaning. */
static int exo_kcache_create_kmem(struct exo_kcache *kc, unsigned int flags)
{
	slab_flags_t sflags = 0;

	if (flags & ~(EXO_SLAB_DEBUG | EXO_SLAB_ACCOUNT))
		return -EINVAL;
	if (flags & EXO_SLAB_ACCOUNT)
		sflags |= SLAB_ACCOUNT;
	if (flags & EXO_SLAB_DEBUG)
		sflags |= SLAB_RED_ZONE | SLAB_POISON | SLAB_STORE_USER;
	kc->kmem = kmem_cache_create(kc->name, kc->size, 0, sflags, NULL);
	return kc->kmem ? 0 : -ENOMEM;
}

/*
 * A cache for objects of |size| bytes; flags EXO_SLAB_DEBUG (checks, also
 * for every cache with slab_debug=1) and EXO_SLAB_ACCOUNT (charge the pages
 * to the allocating task's memory cgroup, as SLAB_ACCOUNT does: for objects
 * whose number a user controls; not for those allocated in softirq, where
 * the task interrupted is a random one).
 */
struct exo_kcache *exo_kcache_create(const char *name, unsigned int size, unsigned int flags)
{
	struct exo_slab_cache_params params = {
		.name = name,
		.size = size,
		.flags = flags | (slab_debug ? EXO_SLAB_DEBUG : 0),
	};
	struct exo_kcache *kc;
	const char *why = NULL;
	int err;

	kc = kzalloc(sizeof(*kc), GFP_KERNEL);
	if (!kc)
		return ERR_PTR(-ENOMEM);
	strscpy(kc->name, name, sizeof(kc->name));
	kc->size = size;
	if (exo_use_kmem)
		err = exo_kcache_create_kmem(kc, params.flags);
	else
		err = exo_slab_create(&params, &kc->core, &why);
	if (err) {
		pr_err("slab cache %s: %s\n", name, why ? why : "kmem_cache_create failed");
		kfree(kc);
		return ERR_PTR(err);
	}
	mutex_lock(&exo_kcaches_lock);
	list_add_tail(&kc->node, &exo_kcaches);
	mutex_unlock(&exo_kcaches_lock);
	return kc;
}

/* The cache's users are gone; returns the objects it leaked (reported). */
unsigned long exo_kcache_destroy(struct exo_kcache *kc)
{
	unsigned long leaked;

	mutex_lock(&exo_kcaches_lock);
	list_del(&kc->node);
	mutex_unlock(&exo_kcaches_lock);
	if (kc->kmem) {
		/* kmem_cache reports its own leaks, and keeps no count. */
		kmem_cache_destroy(kc->kmem);
		leaked = 0;
	} else {
		leaked = exo_slab_destroy(kc->core);
	}
	kfree(kc);
	return leaked;
}

/*
 * Whether the exo backend may run here. NMI never. PREEMPT_RT: its per-CPU
 * lock and spinlocks sleep, so not where sleeping is not allowed (hard
 * IRQ, interrupts or preemption off), as SLUB's rules on RT say; softirq
 * runs in a thread there and is fine.
 */
static bool exo_kcache_context_ok(const struct exo_kcache *kc)
{
	bool bad = in_nmi() || (IS_ENABLED(CONFIG_PREEMPT_RT) && !preemptible());

	WARN_ONCE(bad, "slab cache %s used where it cannot run (NMI, or atomic on PREEMPT_RT)\n",
		  kc->name);
	return !bad;
}

void *exo_kcache_alloc(struct exo_kcache *kc, gfp_t gfp)
{
	void *obj;

	if (kc->kmem)
		return kmem_cache_alloc(kc->kmem, gfp);
	might_alloc(gfp);
	if (!exo_kcache_context_ok(kc))
		return NULL;
	obj = exo_slab_alloc(kc->core, gfpflags_allow_blocking(gfp) ? 0 : EXO_SLAB_NOWAIT);
	if (obj && (gfp & __GFP_ZERO))
		memset(obj, 0, kc->size);
	return obj;
}

/* Where the exo backend cannot run (see above) the object is leaked, not freed. */
void exo_kcache_free(struct exo_kcache *kc, void *obj)
{
	if (kc->kmem)
		kmem_cache_free(kc->kmem, obj);
	else if (exo_kcache_context_ok(kc))
		exo_slab_free(kc->core, obj);
}

/* The exo backend's cache, or NULL under the kmem backend. */
struct exo_slab_cache *exo_kcache_core(struct exo_kcache *kc)
{
	return kc->core;
}

bool exo_slab_backend_is_kmem(void)
{
	return exo_use_kmem;
}

/*
 * The magazine resize of the tick, shrink or reclaim of @kc that ran since
 * its count of resizes was @before (one a call at most), traced. Those
 * calls are serialised by exo_kcaches_lock.
 */
static void exo_slab_trace_resize(struct exo_kcache *kc, unsigned int before)
{
	struct exo_slab_resize_event e;

	if (exo_slab_resizes(kc->core, &e) != before)
		trace_slab_resize(kc->name, &e);
}

/* --- the periodic tick --------------------------------------------------- */

static void exo_slab_tick_all(void)
{
	struct exo_kcache *kc;
	unsigned int resizes;

	mutex_lock(&exo_kcaches_lock);
	list_for_each_entry(kc, &exo_kcaches, node) {
		if (!kc->core)
			continue;
		resizes = exo_slab_resizes(kc->core, NULL);
		exo_slab_tick(kc->core);
		exo_slab_trace_resize(kc, resizes);
	}
	mutex_unlock(&exo_kcaches_lock);
}

static void exo_slab_tick_fn(struct work_struct *work)
{
	exo_slab_tick_all();
	schedule_delayed_work(&exo_slab_tick_work, round_jiffies_relative(HZ));
}

/* --- draining every CPU ---------------------------------------------------- */

/*
 * Runs on each CPU in process context, so no fast path of that CPU is
 * half-way through its magazines. The list is stable: the caller of
 * exo_slab_drain_all_locked() holds exo_kcaches_lock and waits for us.
 */
static void exo_slab_drain_fn(struct work_struct *work)
{
	struct exo_kcache *kc;

	list_for_each_entry(kc, &exo_kcaches, node)
		if (kc->core)
			exo_slab_drain_local(kc->core);
}

static void exo_slab_drain_all_locked(void)
{
	unsigned int cpu;

	lockdep_assert_held(&exo_kcaches_lock);
	for_each_online_cpu(cpu) {
		struct work_struct *work = per_cpu_ptr(&exo_slab_drain_work, cpu);

		INIT_WORK(work, exo_slab_drain_fn);
		schedule_work_on(cpu, work);
	}
	for_each_online_cpu(cpu)
		flush_work(per_cpu_ptr(&exo_slab_drain_work, cpu));
}

/*
 * Every CPU's magazines, then every depot and empty slab, go back. The
 * slab_shrink event's objects are what the cache could free then (all of
 * it goes), counted only when the event is on.
 */
static unsigned long exo_slab_shrink_all(bool pressure)
{
	struct exo_kcache *kc;
	unsigned long pages = 0, got, objects;
	unsigned int resizes;

	cpus_read_lock();
	mutex_lock(&exo_kcaches_lock);
	exo_slab_drain_all_locked();
	list_for_each_entry(kc, &exo_kcaches, node) {
		if (!kc->core)
			continue;
		objects = trace_slab_shrink_enabled() ? exo_slab_reclaimable(kc->core) : 0;
		resizes = exo_slab_resizes(kc->core, NULL);
		got = exo_slab_shrink(kc->core, pressure);
		pages += got;
		trace_slab_shrink(kc->name, pressure ? EXO_TRACE_SHRINK_PRESSURE :
				  EXO_TRACE_SHRINK_CTL, 0, objects, got);
		exo_slab_trace_resize(kc, resizes);
	}
	mutex_unlock(&exo_kcaches_lock);
	cpus_read_unlock();
	return pages;
}

/* A dead CPU runs nothing: its magazines can be taken from here. */
static int exo_slab_cpu_dead(unsigned int cpu)
{
	struct exo_kcache *kc;

	mutex_lock(&exo_kcaches_lock);
	list_for_each_entry(kc, &exo_kcaches, node)
		if (kc->core)
			exo_slab_drain_cpu(kc->core, cpu);
	mutex_unlock(&exo_kcaches_lock);
	return 0;
}

/* --- memory pressure ------------------------------------------------------- */

/*
 * Units are objects (exo_slab_reclaimable()): those in depot magazines plus
 * the capacity of empty slabs. CPU magazines are not counted: reclaim
 * cannot drain other CPUs (slab_ctl "shrink" does). Reclaim may run under
 * our own allocations: never wait for the registry.
 */
static unsigned long exo_slab_count(struct shrinker *shrinker, struct shrink_control *sc)
{
	struct exo_kcache *kc;
	unsigned long objects = 0;

	if (!mutex_trylock(&exo_kcaches_lock))
		return 0;
	list_for_each_entry(kc, &exo_kcaches, node)
		if (kc->core)
			objects += exo_slab_reclaimable(kc->core);
	mutex_unlock(&exo_kcaches_lock);
	return objects ? objects : SHRINK_EMPTY;
}

/* Frees up to |nr| objects across caches; what it freed, pages in *pages. */
static unsigned long exo_slab_scan_caches(unsigned long nr, unsigned long *pages)
{
	struct exo_kcache *kc;
	unsigned long freed = 0, got, p;
	unsigned int resizes;

	*pages = 0;
	list_for_each_entry(kc, &exo_kcaches, node) {
		if (!kc->core || freed >= nr)
			continue;
		resizes = exo_slab_resizes(kc->core, NULL);
		got = exo_slab_reclaim(kc->core, nr - freed, true, &p);
		trace_slab_shrink(kc->name, EXO_TRACE_SHRINK_SCAN, nr - freed, got, p);
		exo_slab_trace_resize(kc, resizes);
		freed += got;
		*pages += p;
	}
	return freed;
}

/* Honours nr_to_scan; SHRINK_STOP when nothing could be freed. */
static unsigned long exo_slab_scan(struct shrinker *shrinker, struct shrink_control *sc)
{
	unsigned long freed, pages;

	if (!mutex_trylock(&exo_kcaches_lock))
		return SHRINK_STOP;
	freed = exo_slab_scan_caches(sc->nr_to_scan, &pages);
	mutex_unlock(&exo_kcaches_lock);
	return freed ? freed : SHRINK_STOP;
}

#ifdef SHRINKER_ALLOCATED
/* Since 6.7 shrinkers are allocated by the kernel (shrinker_alloc()). */
static struct shrinker *exo_slab_shrinker;

static int exo_shrinker_register(void)
{
	exo_slab_shrinker = shrinker_alloc(0, "exofusion-slab");
	if (!exo_slab_shrinker)
		return -ENOMEM;
	exo_slab_shrinker->count_objects = exo_slab_count;
	exo_slab_shrinker->scan_objects = exo_slab_scan;
	exo_slab_shrinker->seeks = DEFAULT_SEEKS;
	shrinker_register(exo_slab_shrinker);
	return 0;
}

static void exo_shrinker_unregister(void)
{
	shrinker_free(exo_slab_shrinker);
}
#else
static struct shrinker exo_slab_shrinker = {
	.count_objects = exo_slab_count,
	.scan_objects = exo_slab_scan,
	.seeks = DEFAULT_SEEKS,
};

static int exo_shrinker_register(void)
{
	return register_shrinker(&exo_slab_shrinker, "exofusion-slab");
}

static void exo_shrinker_unregister(void)
{
	unregister_shrinker(&exo_slab_shrinker);
}
#endif

/* --- debugfs: exofusion/slabinfo and exofusion/slab_ctl --------------------- */

static const char *const exo_resize_reasons[] = {
	[EXO_SLAB_GROW_MISSES] = "grow-misses",
	[EXO_SLAB_GROW_CONTENTION] = "grow-contention",
	[EXO_SLAB_SHRINK_IDLE] = "shrink-idle",
	[EXO_SLAB_SHRINK_PRESSURE] = "shrink-pressure",
};

static void exo_slabinfo_cache(struct seq_file *m, const struct exo_slab_stats *st)
{
	unsigned int i;

	seq_printf(m, "cache %s size %u stride %u per_slab %u order %u magazine %u debug %u\n",
		   st->name, st->object_size, st->stride, st->objects_per_slab,
		   st->slab_order, st->magazine_size, st->debug);
	seq_printf(m, "  cpu alloc_hits %llu free_hits %llu alloc_misses %llu free_misses %llu\n",
		   st->cpu_alloc_hits, st->cpu_free_hits, st->cpu_alloc_misses,
		   st->cpu_free_misses);
	seq_printf(m, "  depot full %llu empty %llu cached %llu exchanges %llu contended %llu magazines %llu\n",
		   st->depot_full_magazines, st->depot_empty_magazines, st->depot_cached,
		   st->depot_exchanges, st->depot_contended, st->magazines_allocated);
	seq_printf(m, "  slabs allocs %llu frees %llu slabs %llu empty %llu pages %llu pages_allocated %llu pages_freed %llu in_use %llu bytes %llu\n",
		   st->slab_allocs, st->slab_frees, st->slabs, st->slabs_empty, st->pages,
		   st->pages_allocated, st->pages_freed, st->objects_in_use,
		   st->pages * PAGE_SIZE);
	seq_printf(m, "  debug reports %llu ticks %llu\n", st->debug_reports, st->ticks);
	for (i = 0; i < st->trace_len; i++) {
		const struct exo_slab_resize_event *e = &st->trace[i];

		seq_printf(m, "  resize tick %llu from %u to %u reason %s ops %llu misses %llu contended %llu\n",
			   e->tick, e->from, e->to,
			   e->reason < ARRAY_SIZE(exo_resize_reasons) ?
			   exo_resize_reasons[e->reason] : "?",
			   e->ops, e->misses, e->contended);
	}
}

static int exo_slabinfo_show(struct seq_file *m, void *unused)
{
	struct exo_slab_stats *st;
	struct exo_kcache *kc;

	st = kmalloc(sizeof(*st), GFP_KERNEL);
	if (!st)
		return -ENOMEM;
	seq_printf(m, "pages %ld\n", atomic_long_read(&exo_slab_pages));
	mutex_lock(&exo_kcaches_lock);
	list_for_each_entry(kc, &exo_kcaches, node) {
		if (!kc->core)
			continue;	/* kmem backend: in /proc/slabinfo and /sys/kernel/slab */
		exo_slab_get_stats(kc->core, st);
		exo_slabinfo_cache(m, st);
	}
	mutex_unlock(&exo_kcaches_lock);
	kfree(st);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(exo_slabinfo);

/* A command written to a debugfs file, NUL-terminated and trimmed. */
char *exo_debugfs_command(char *buf, size_t size, const char __user *ubuf, size_t len)
{
	if (len >= size)
		return ERR_PTR(-EINVAL);
	if (copy_from_user(buf, ubuf, len))
		return ERR_PTR(-EFAULT);
	buf[len] = '\0';
	return strim(buf);
}

static DEFINE_MUTEX(exo_ctl_lock);	/* guards exo_ctl_result */
static char exo_ctl_result[96];

/*
 * The shrinker's two calls, as reclaim makes them: "count" and "scan <nr>"
 * (read back: "count <objects>", "scan <nr> freed <objects> pages <n>", or
 * "scan <nr> stop" for SHRINK_STOP).
 */
static void exo_slab_ctl_count(void)
{
	struct shrink_control sc = { .gfp_mask = GFP_KERNEL };
	unsigned long got = exo_slab_count(NULL, &sc);

	snprintf(exo_ctl_result, sizeof(exo_ctl_result), "count %lu\n",
		 got == SHRINK_EMPTY ? 0 : got);
}

static void exo_slab_ctl_scan(unsigned long nr)
{
	unsigned long got, pages;

	mutex_lock(&exo_kcaches_lock);
	got = exo_slab_scan_caches(nr, &pages);
	mutex_unlock(&exo_kcaches_lock);
	if (got)
		snprintf(exo_ctl_result, sizeof(exo_ctl_result), "scan %lu freed %lu pages %lu\n",
			 nr, got, pages);
	else
		snprintf(exo_ctl_result, sizeof(exo_ctl_result), "scan %lu stop\n", nr);
}

/*
 * "shrink", "pressure" (shrink and step magazines down), "tick", or the
 * shrinker's "count" and "scan <nr>".
 */
static ssize_t exo_slab_ctl_write(struct file *file, const char __user *ubuf, size_t len,
				  loff_t *ppos)
{
	char buf[32], *cmd;
	ssize_t ret = len;
	unsigned long nr;

	cmd = exo_debugfs_command(buf, sizeof(buf), ubuf, len);
	if (IS_ERR(cmd))
		return PTR_ERR(cmd);
	mutex_lock(&exo_ctl_lock);
	exo_ctl_result[0] = '\0';
	if (!strcmp(cmd, "shrink"))
		exo_slab_shrink_all(false);
	else if (!strcmp(cmd, "pressure"))
		exo_slab_shrink_all(true);
	else if (!strcmp(cmd, "tick"))
		exo_slab_tick_all();
	else if (!strcmp(cmd, "count"))
		exo_slab_ctl_count();
	else if (sscanf(cmd, "scan %lu", &nr) == 1)
		exo_slab_ctl_scan(nr);
	else
		ret = -EINVAL;
	mutex_unlock(&exo_ctl_lock);
	return ret;
}

static ssize_t exo_slab_ctl_read(struct file *file, char __user *ubuf, size_t len,
				 loff_t *ppos)
{
	ssize_t ret;

	mutex_lock(&exo_ctl_lock);
	ret = simple_read_from_buffer(ubuf, len, ppos, exo_ctl_result, strlen(exo_ctl_result));
	mutex_unlock(&exo_ctl_lock);
	return ret;
}

static const struct file_operations exo_slab_ctl_fops = {
	.owner = THIS_MODULE,
	.read = exo_slab_ctl_read,
	.write = exo_slab_ctl_write,
	.llseek = default_llseek,
};

/* --- module init and exit -------------------------------------------------- */

/*
 * The backend, from slab_backend. auto is kmem under KASAN, which cannot
 * see inside the exo caches (kasan_unpoison() is not exported), so that
 * KASAN checks every object; exo asked for by name is kept there (lockdep,
 * KFENCE and UBSAN still check its code), with a note of what KASAN misses.
 */
static int exo_slab_pick_backend(void)
{
	if (!strcmp(slab_backend, "auto")) {
		exo_use_kmem = IS_ENABLED(CONFIG_KASAN);
		slab_backend = exo_use_kmem ? "kmem" : "exo";	/* what the parameter shows */
	} else if (!strcmp(slab_backend, "kmem")) {
		exo_use_kmem = true;
	} else if (strcmp(slab_backend, "exo")) {
		pr_err("slab_backend: \"%s\" is not auto, exo or kmem\n", slab_backend);
		return -EINVAL;
	} else if (IS_ENABLED(CONFIG_KASAN)) {
		/* Not "KASAN": the VM harness fails a run on that word in the log. */
		pr_info("slab_backend: exo asked for: its objects are not address-sanitized\n");
	}
	return 0;
}

int exo_slab_init(void)
{
	int err;

	err = exo_slab_pick_backend();
	if (err)
		return err;
	err = cpuhp_setup_state_nocalls(CPUHP_BP_PREPARE_DYN, "exofusion/slab:dead", NULL,
					exo_slab_cpu_dead);
	if (err < 0)
		return err;
	exo_slab_hp_state = err;
	err = exo_shrinker_register();
	if (err)
		goto out_hotplug;
	exo_debugfs_dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("slabinfo", 0400, exo_debugfs_dir, NULL, &exo_slabinfo_fops);
	debugfs_create_file("slab_ctl", 0600, exo_debugfs_dir, NULL, &exo_slab_ctl_fops);
	INIT_DELAYED_WORK(&exo_slab_tick_work, exo_slab_tick_fn);
	schedule_delayed_work(&exo_slab_tick_work, round_jiffies_relative(HZ));
	return 0;

out_hotplug:
	cpuhp_remove_state_nocalls(exo_slab_hp_state);
	return err;
}

/* After every cache is destroyed: what is still held is a leak. */
void exo_slab_exit(void)
{
	long pages;

	cancel_delayed_work_sync(&exo_slab_tick_work);
	debugfs_remove_recursive(exo_debugfs_dir);
	exo_shrinker_unregister();
	cpuhp_remove_state_nocalls(exo_slab_hp_state);
	pages = atomic_long_read(&exo_slab_pages);
	if (pages)
		pr_err("slab: %ld pages not returned at unload\n", pages);
	else
		pr_info("slab: every page returned\n");
}
