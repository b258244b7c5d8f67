// SPDX-License-Identifier: GPL-2.0
/*
 * Ring memory: zeroed vmalloc pages that user space maps, charged to the
 * creator's RLIMIT_MEMLOCK as io_uring charges its rings (CAP_IPC_LOCK
 * exempts), and capped module-wide by max_total_mb, so that too much ring
 * memory is a clear -ENOMEM at creation, never an OOM later.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/device.h>
#include <linux/mm.h>
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

int exo_memory_alloc(struct exo_ring *ring)
{
	unsigned long pages = ring->info.region_size >> PAGE_SHIFT;
	int err;

	err = exo_charge(ring, pages);
	if (err)
		return err;
	ring->region = vmalloc_user(ring->info.region_size);
	if (!ring->region) {
		exo_uncharge(ring, pages);
		return -ENOMEM;
	}
	exo_core_init_ring(ring->region, &ring->info);
	atomic_long_inc(&exo_rings_alive);
	return 0;
}

void exo_memory_free(struct exo_ring *ring)
{
	if (!ring->region)
		return;
	vfree(ring->region);
	ring->region = NULL;
	exo_uncharge(ring, ring->info.region_size >> PAGE_SHIFT);
	atomic_long_dec(&exo_rings_alive);
}

/* /sys/class/exofusion/{rings,pages}: what the module holds, for leak checks. */
static ssize_t rings_show(EXO_CLASS_CONST struct class *class,
			  EXO_CLASS_CONST struct class_attribute *attr,
			  char *buf)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&exo_rings_alive));
}

static ssize_t pages_show(EXO_CLASS_CONST struct class *class,
			  EXO_CLASS_CONST struct class_attribute *attr,
			  char *buf)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&exo_pages_held));
}

static CLASS_ATTR_RO(rings);
static CLASS_ATTR_RO(pages);

static struct attribute *exo_class_attrs[] = {
	&class_attr_rings.attr,
	&class_attr_pages.attr,
	NULL,
};

static const struct attribute_group exo_class_group = {
	.attrs = exo_class_attrs,
};

const struct attribute_group *exo_class_groups[] = {
	&exo_class_group,
	&exo_slab_class_group,
	NULL,
};
