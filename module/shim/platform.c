// SPDX-License-Identifier: GPL-2.0
/* The kernel's implementation of module/core/platform.h. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/gfp.h>
#include <linux/local_lock.h>
#include <linux/mm.h>
#include <linux/printk.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>

#include "module/core/platform.h"
#include "module/shim/shim.h"

unsigned long exo_plat_copy_to_user(void *to_user, const void *from, unsigned long n)
{
	return copy_to_user((__force void __user *)to_user, from, n);
}

unsigned long exo_plat_copy_from_user(void *to, const void *from_user, unsigned long n)
{
	return copy_from_user(to, (__force const void __user *)from_user, n);
}

static gfp_t exo_gfp(int may_sleep)
{
	return (may_sleep ? GFP_KERNEL : GFP_NOWAIT) | __GFP_NOWARN;
}

/*
 * Slab pages: counted, so that unload can show every one came back, and
 * for an accounting cache charged to the allocating task's memory cgroup
 * (the whole slab, to whoever made it: the objects in it are then shared).
 */
void *exo_plat_pages_alloc(unsigned int order, int may_sleep, int account)
{
	gfp_t gfp = exo_gfp(may_sleep) | (account ? __GFP_ACCOUNT : 0);
	struct page *page = alloc_pages(gfp, order);

	if (!page)
		return NULL;
	atomic_long_add(1L << order, &exo_slab_pages);
	return page_address(page);
}

void exo_plat_pages_free(void *addr, unsigned int order)
{
	atomic_long_sub(1L << order, &exo_slab_pages);
	free_pages((unsigned long)addr, order);
}

void *exo_plat_zalloc(unsigned long size, int may_sleep)
{
	return kzalloc(size, exo_gfp(may_sleep));
}

void exo_plat_free(void *p)
{
	kfree(p);
}

/*
 * The depot and slab locks are reached from softirq (and, but on
 * PREEMPT_RT, hard IRQ) allocations, so their holders keep interrupts off
 * (on PREEMPT_RT spinlock_t is a sleeping lock and irqsave keeps them on).
 * The admin lock is only taken in process context (tick work, shrinker,
 * CPU hotplug, debugfs) around work that frees whole magazines and slabs:
 * with interrupts on, that cannot become an interrupt latency.
 */
struct exo_lock {
	spinlock_t lock;	/* the lock itself; see exo_plat_lock_create() */
	bool irqsafe;		/* taken with interrupts off */
	unsigned long flags;	/* the holder's saved interrupt state */
};

/* One spin_lock_init() site, so one lockdep class, per kind. */
struct exo_lock *exo_plat_lock_create(enum exo_lock_kind kind)
{
	struct exo_lock *lock = kmalloc(sizeof(*lock), GFP_KERNEL);

	if (!lock)
		return NULL;
	lock->irqsafe = kind != EXO_LOCK_ADMIN;
	switch (kind) {
	case EXO_LOCK_ADMIN:
		spin_lock_init(&lock->lock);
		break;
	case EXO_LOCK_DEPOT:
		spin_lock_init(&lock->lock);
		break;
	default:
		spin_lock_init(&lock->lock);
		break;
	}
	return lock;
}

void exo_plat_lock_destroy(struct exo_lock *lock)
{
	kfree(lock);
}

/* Returns holding the lock: sparse is told so. */
void exo_plat_lock(struct exo_lock *lock)
	__acquires(&lock->lock)
{
	unsigned long flags;

	if (!lock->irqsafe) {
		might_sleep();
		spin_lock(&lock->lock);
		return;
	}
	spin_lock_irqsave(&lock->lock, flags);
	lock->flags = flags;	/* ours until the unlock */
}

void exo_plat_unlock(struct exo_lock *lock)
	__releases(&lock->lock)
{
	if (lock->irqsafe)
		spin_unlock_irqrestore(&lock->lock, lock->flags);
	else
		spin_unlock(&lock->lock);
}

/*
 * The slab's per-CPU magazines belong to whoever holds this CPU's lock, as
 * SLUB's per-CPU slabs do (local_lock_irqsave): interrupts off, so a
 * softirq or interrupt on this CPU cannot run a fast path in the middle of
 * ours. On PREEMPT_RT it is a per-CPU sleeping lock with migration off, so
 * the region stays preemptible; there no hard IRQ may allocate (slab.c
 * refuses). One lock for every cache: no cache's region nests another's.
 * The saved interrupt state stays in the lock: only its holder touches it
 * (interrupts are off, or the holder excludes every other user of the CPU).
 */
struct exo_cpu_lock {
	local_lock_t lock;
	unsigned long flags;	/* the holder's saved interrupt state */
};

static DEFINE_PER_CPU(struct exo_cpu_lock, exo_cpu_lock) = {
	.lock = INIT_LOCAL_LOCK(lock),
};

unsigned int exo_plat_cpu_enter(void)
	__acquires(&exo_cpu_lock.lock)
{
	unsigned long flags;

	local_lock_irqsave(&exo_cpu_lock.lock, flags);
	__acquire(&exo_cpu_lock.lock);	/* local_lock has no annotation of its own */
	this_cpu_write(exo_cpu_lock.flags, flags);
	return smp_processor_id();
}

void exo_plat_cpu_exit(void)
	__releases(&exo_cpu_lock.lock)
{
	local_unlock_irqrestore(&exo_cpu_lock.lock, this_cpu_read(exo_cpu_lock.flags));
	__release(&exo_cpu_lock.lock);
}

unsigned int exo_plat_nr_cpus(void)
{
	return nr_cpu_ids;
}

void exo_plat_report(const char *fmt, ...)
{
	struct va_format vaf;
	va_list args;

	va_start(args, fmt);
	vaf.fmt = fmt;
	vaf.va = &args;
	pr_err("%pV", &vaf);
	va_end(args);
}
