// SPDX-License-Identifier: GPL-2.0
/*
 * Ring memory: zeroed pages, mapped contiguously in the kernel with vmap()
 * and by users through remap_vmalloc_range(). They are charged three
 * times, as io_uring charges its rings: to the creator's memory cgroup
 * (__GFP_ACCOUNT), to the creator's RLIMIT_MEMLOCK (CAP_IPC_LOCK exempts),
 * and to the module-wide cap max_total_mb, so that too much ring memory is
 * a clear -ENOMEM at creation, never an OOM later.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/kobject.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/module.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>
#include <linux/vmalloc.h>

#include "module/core/core_api.h"
#include "module/shim/shim.h"

static unsigned long max_total_mb = 1024;
module_param(max_total_mb, ulong, 0644);
MODULE_PARM_DESC(max_total_mb, "Ring memory the module may hold in all, in MiB (default 1024)");

static atomic_long_t exo_pages_held = ATOMIC_LONG_INIT(0);
static atomic_long_t exo_rings_alive = ATOMIC_LONG_INIT(0);

static int exo_charge_module(unsigned long pages)
{
	unsigned long limit = max_total_mb << (20 - PAGE_SHIFT);

	if (atomic_long_add_return(pages, &exo_pages_held) > limit) {
		atomic_long_sub(pages, &exo_pages_held);
		pr_info_ratelimited("create: ring memory would exceed max_total_mb=%lu\n",
				    max_total_mb);
		return -ENOMEM;
	}
	return 0;
}

static int exo_charge_user(struct user_struct *user, unsigned long pages)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	long cur = atomic_long_read(&user->locked_vm);

	do {
		if ((unsigned long)cur + pages > limit) {
			pr_info_ratelimited("create: ring memory would exceed RLIMIT_MEMLOCK\n");
			return -ENOMEM;
		}
	} while (!atomic_long_try_cmpxchg(&user->locked_vm, &cur, cur + pages));
	return 0;
}

static int exo_charge(struct exo_ring *ring, unsigned long pages)
{
	int err;

	err = exo_charge_module(pages);
	if (err)
		return err;
	if (capable(CAP_IPC_LOCK))
		return 0;
	ring->user = get_current_user();
	err = exo_charge_user(ring->user, pages);
	if (err) {
		free_uid(ring->user);
		ring->user = NULL;
		atomic_long_sub(pages, &exo_pages_held);
		return err;
	}
	ring->charged_pages = pages;
	return 0;
}

static void exo_uncharge(struct exo_ring *ring, unsigned long pages)
{
	if (ring->user) {
		atomic_long_sub(ring->charged_pages, &ring->user->locked_vm);
		free_uid(ring->user);
		ring->user = NULL;
	}
	atomic_long_sub(pages, &exo_pages_held);
}

static void exo_pages_free(struct page **pages, unsigned long count)
{
	while (count)
		__free_page(pages[--count]);
	kvfree(pages);
}

/*
 * vmalloc_user() cannot charge a memory cgroup, and the vmalloc calls
 * that can (__vmalloc() with GFP_KERNEL_ACCOUNT) do not set VM_USERMAP,
 * which remap_vmalloc_range() requires: so the pages are allocated here,
 * accounted, and vmap() sets VM_USERMAP itself (on 6.1 and 6.12 alike).
 */
static int exo_region_alloc(struct exo_ring *ring, unsigned long count)
{
	const gfp_t gfp = GFP_KERNEL_ACCOUNT | __GFP_ZERO | __GFP_NOWARN;
	struct page **pages;
	unsigned long i;
	int err;

	pages = kvcalloc(count, sizeof(*pages), GFP_KERNEL_ACCOUNT);
	if (!pages)
		return -ENOMEM;
	for (i = 0; i < count; i++) {
		err = -EINTR;
		if (fatal_signal_pending(current))
			goto fail;
		err = -ENOMEM;
		pages[i] = alloc_page(gfp);
		if (!pages[i])
			goto fail;
		cond_resched();
	}
	err = -ENOMEM;
	ring->region = vmap(pages, count, VM_MAP | VM_USERMAP, PAGE_KERNEL);
	if (!ring->region)
		goto fail;
	ring->pages = pages;
	return 0;

fail:
	exo_pages_free(pages, i);
	return err;
}

int exo_memory_alloc(struct exo_ring *ring)
{
	unsigned long pages = ring->info.region_size >> PAGE_SHIFT;
	int err;

	err = exo_charge(ring, pages);
	if (err)
		return err;
	err = exo_region_alloc(ring, pages);
	if (err) {
		exo_uncharge(ring, pages);
		return err;
	}
	exo_core_init_ring(ring->region, &ring->info);
	atomic_long_inc(&exo_rings_alive);
	return 0;
}

void exo_memory_free(struct exo_ring *ring)
{
	unsigned long pages = ring->info.region_size >> PAGE_SHIFT;

	if (!ring->region)
		return;
	vunmap(ring->region);
	ring->region = NULL;
	exo_pages_free(ring->pages, pages);
	ring->pages = NULL;
	exo_uncharge(ring, pages);
	atomic_long_dec(&exo_rings_alive);
}

/*
 * /sys/module/exofusion/totals/{rings,pages,slab_pages}: what the module
 * holds, for leak checks. Not in /sys/class/exofusion/, where ring
 * devices are named by users: a ring named like a class file would
 * collide with it.
 */
static struct kobject *exo_totals_kobj;

static ssize_t rings_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&exo_rings_alive));
}

static ssize_t pages_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&exo_pages_held));
}

static ssize_t slab_pages_show(struct kobject *kobj, struct kobj_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&exo_slab_pages));
}

static struct kobj_attribute exo_attr_rings = __ATTR_RO(rings);
static struct kobj_attribute exo_attr_pages = __ATTR_RO(pages);
static struct kobj_attribute exo_attr_slab_pages = __ATTR_RO(slab_pages);

static struct attribute *exo_totals_attrs[] = {
	&exo_attr_rings.attr,
	&exo_attr_pages.attr,
	&exo_attr_slab_pages.attr,
	NULL,
};

static const struct attribute_group exo_totals_group = {
	.attrs = exo_totals_attrs,
};

int exo_totals_init(void)
{
	int err;

	exo_totals_kobj = kobject_create_and_add("totals", &THIS_MODULE->mkobj.kobj);
	if (!exo_totals_kobj)
		return -ENOMEM;
	err = sysfs_create_group(exo_totals_kobj, &exo_totals_group);
	if (err)
		kobject_put(exo_totals_kobj);
	return err;
}

void exo_totals_exit(void)
{
	sysfs_remove_group(exo_totals_kobj, &exo_totals_group);
	kobject_put(exo_totals_kobj);
}
