// SPDX-License-Identifier: GPL-2.0
/*
 * The slab cache (module/core/slab/) in the kernel: a registry of caches
 * and what runs for all of them. A tick each second trims each depot to
 * its working set and adapts magazine sizes; a shrinker gives cached
 * objects back under memory pressure; a dead CPU's magazines go to the
 * depot; debugfs shows every cache (exofusion/slabinfo) and takes
 * commands (exofusion/slab_ctl).
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
#include <linux/seq_file.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "module/core/slab/slab_api.h"
#include "module/shim/shim.h"

static bool slab_debug;
module_param(slab_debug, bool, 0444);
MODULE_PARM_DESC(slab_debug,
		 "Red zones, poisoning and free checks in the module's own slab caches");

struct exo_kcache {
	struct list_head node;
	struct exo_slab_cache *core;
	unsigned int size;
};

atomic_long_t exo_slab_pages = ATOMIC_LONG_INIT(0);
struct dentry *exo_debugfs_dir;

static LIST_HEAD(exo_kcaches);
static DEFINE_MUTEX(exo_kcaches_lock);
static struct delayed_work exo_slab_tick_work;
static DEFINE_PER_CPU(struct work_struct, exo_slab_drain_work);
static int exo_slab_hp_state;
static struct shrinker exo_slab_shrinker;

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
	err = exo_slab_create(&params, &kc->core, &why);
	if (err) {
		pr_err("slab cache %s: %s\n", name, why);
		kfree(kc);
		return ERR_PTR(err);
	}
	kc->size = size;
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
	leaked = exo_slab_destroy(kc->core);
	kfree(kc);
	return leaked;
}

void *exo_kcache_alloc(struct exo_kcache *kc, gfp_t gfp)
{
	void *obj = exo_slab_alloc(kc->core, gfpflags_allow_blocking(gfp) ? 0 : EXO_SLAB_NOWAIT);

	if (obj && (gfp & __GFP_ZERO))
		memset(obj, 0, kc->size);
	return obj;
}

void exo_kcache_free(struct exo_kcache *kc, void *obj)
{
	exo_slab_free(kc->core, obj);
}

struct exo_slab_cache *exo_kcache_core(struct exo_kcache *kc)
{
	return kc->core;
}

/* --- the periodic tick --------------------------------------------------- */

static void exo_slab_tick_all(void)
{
	struct exo_kcache *kc;

	mutex_lock(&exo_kcaches_lock);
	list_for_each_entry(kc, &exo_kcaches, node)
		exo_slab_tick(kc->core);
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

/* Every CPU's magazines, then every depot and empty slab, go back. */
static unsigned long exo_slab_shrink_all(bool pressure)
{
	struct exo_kcache *kc;
	unsigned long pages = 0;

	cpus_read_lock();
	mutex_lock(&exo_kcaches_lock);
	exo_slab_drain_all_locked();
	list_for_each_entry(kc, &exo_kcaches, node)
		pages += exo_slab_shrink(kc->core, pressure);
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
		exo_slab_drain_cpu(kc->core, cpu);
	mutex_unlock(&exo_kcaches_lock);
	return 0;
}

/* --- memory pressure ------------------------------------------------------- */

/* Reclaim may run under our allocations: never wait for the registry. */
static unsigned long exo_slab_count(struct shrinker *shrinker, struct shrink_control *sc)
{
	struct exo_kcache *kc;
	unsigned long objects = 0;

	if (!mutex_trylock(&exo_kcaches_lock))
		return 0;
	list_for_each_entry(kc, &exo_kcaches, node)
		objects += exo_slab_reclaimable(kc->core);
	mutex_unlock(&exo_kcaches_lock);
	return objects ? objects : SHRINK_EMPTY;
}

static unsigned long exo_slab_scan(struct shrinker *shrinker, struct shrink_control *sc)
{
	struct exo_kcache *kc;
	unsigned long freed = 0;

	if (!mutex_trylock(&exo_kcaches_lock))
		return SHRINK_STOP;
	list_for_each_entry(kc, &exo_kcaches, node) {
		freed += exo_slab_reclaimable(kc->core);
		exo_slab_shrink(kc->core, true);
	}
	mutex_unlock(&exo_kcaches_lock);
	return freed;
}

static struct shrinker exo_slab_shrinker = {
	.count_objects = exo_slab_count,
	.scan_objects = exo_slab_scan,
	.seeks = DEFAULT_SEEKS,
};

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

/* "shrink", "pressure" (shrink and step magazines down) or "tick". */
static ssize_t exo_slab_ctl_write(struct file *file, const char __user *ubuf, size_t len,
				  loff_t *ppos)
{
	char buf[16], *cmd;

	cmd = exo_debugfs_command(buf, sizeof(buf), ubuf, len);
	if (IS_ERR(cmd))
		return PTR_ERR(cmd);
	if (!strcmp(cmd, "shrink"))
		exo_slab_shrink_all(false);
	else if (!strcmp(cmd, "pressure"))
		exo_slab_shrink_all(true);
	else if (!strcmp(cmd, "tick"))
		exo_slab_tick_all();
	else
		return -EINVAL;
	return len;
}

static const struct file_operations exo_slab_ctl_fops = {
	.owner = THIS_MODULE,
	.write = exo_slab_ctl_write,
	.llseek = noop_llseek,
};

/* /sys/class/exofusion/slab_pages: pages the module's slab caches hold. */
static ssize_t slab_pages_show(EXO_CLASS_CONST struct class *class,
			       EXO_CLASS_CONST struct class_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&exo_slab_pages));
}
static CLASS_ATTR_RO(slab_pages);

static struct attribute *exo_slab_class_attrs[] = {
	&class_attr_slab_pages.attr,
	NULL,
};

const struct attribute_group exo_slab_class_group = {
	.attrs = exo_slab_class_attrs,
};

/* --- module init and exit -------------------------------------------------- */

int exo_slab_init(void)
{
	int err;

	err = cpuhp_setup_state_nocalls(CPUHP_BP_PREPARE_DYN, "exofusion/slab:dead", NULL,
					exo_slab_cpu_dead);
	if (err < 0)
		return err;
	exo_slab_hp_state = err;
	err = register_shrinker(&exo_slab_shrinker, "exofusion-slab");
	if (err)
		goto out_hotplug;
	exo_debugfs_dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("slabinfo", 0400, exo_debugfs_dir, NULL, &exo_slabinfo_fops);
	debugfs_create_file("slab_ctl", 0200, exo_debugfs_dir, NULL, &exo_slab_ctl_fops);
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
	unregister_shrinker(&exo_slab_shrinker);
	cpuhp_remove_state_nocalls(exo_slab_hp_state);
	pages = atomic_long_read(&exo_slab_pages);
	if (pages)
		pr_err("slab: %ld pages not returned at unload\n", pages);
	else
		pr_info("slab: every page returned\n");
}
