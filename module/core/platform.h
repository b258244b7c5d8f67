/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the core needs from its environment. The module's C shim implements
 * this with kernel APIs (module/shim/platform.c); the hosted build with
 * libc (userspace/hosted/platform.c), so the same core is unit-tested in
 * user space.
 */
#ifndef EXO_CORE_PLATFORM_H
#define EXO_CORE_PLATFORM_H

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Copies between a caller's buffer and kernel memory; "user" pointers are
 * opaque to the core. Return the number of bytes NOT copied, like
 * copy_to_user().
 */
unsigned long exo_plat_copy_to_user(void *to_user, const void *from, unsigned long n);
unsigned long exo_plat_copy_from_user(void *to, const void *from_user, unsigned long n);

/*
 * Memory for the slab cache (module/core/slab/). Pages come from the page
 * (buddy) allocator: 2^order of them, aligned to their size, or NULL.
 * |may_sleep| 0 means the caller cannot sleep (interrupts or preemption
 * may be off, or it runs in softirq context); |account| charges the pages
 * to the caller's memory cgroup (__GFP_ACCOUNT in the kernel).
 */
void *exo_plat_pages_alloc(unsigned int order, int may_sleep, int account);
void exo_plat_pages_free(void *addr, unsigned int order);
/* Small zeroed bookkeeping (caches, magazines, per-CPU arrays), or NULL. */
void *exo_plat_zalloc(unsigned long size, int may_sleep);
void exo_plat_free(void *p);

/*
 * A lock that may be taken with preemption off and from softirq or (not on
 * PREEMPT_RT) hard interrupt context: an IRQ-safe spinlock in the kernel
 * (spin_lock_irqsave; the saved flags live in the lock, written by its
 * holder only). Locks of one kind are never nested; a lock of an earlier
 * kind may be held while one of a later kind is taken (lockdep sees one
 * class a kind).
 */
enum exo_lock_kind { EXO_LOCK_ADMIN, EXO_LOCK_DEPOT, EXO_LOCK_SLABS };
struct exo_lock;
struct exo_lock *exo_plat_lock_create(enum exo_lock_kind kind);
void exo_plat_lock_destroy(struct exo_lock *lock);
void exo_plat_lock(struct exo_lock *lock);
void exo_plat_unlock(struct exo_lock *lock);

/*
 * The CPU the caller runs on, which stays its own, and whose per-CPU state
 * nothing else on that CPU touches, until exo_plat_cpu_exit(): nothing else
 * means no other task and no interrupt or softirq handler either (the
 * kernel takes a per-CPU local_lock_irqsave(): interrupts off, or on
 * PREEMPT_RT a per-CPU sleeping lock with migration off; the saved flags
 * stay in that CPU's lock, which the holder owns; the hosted build gives
 * each thread a CPU id of its own). Ids are below exo_plat_nr_cpus().
 */
#ifdef EXO_HOSTED
/*
 * Hosted: inline, since they sit on every fast path and pin nothing (a
 * thread's CPU id is its own); the id is claimed on the thread's first call.
 */
extern __thread unsigned int exo_hosted_cpu_id;	/* ~0u until claimed */
unsigned int exo_hosted_claim_cpu(void);
static inline unsigned int exo_plat_cpu_enter(void)
{
	unsigned int id = exo_hosted_cpu_id;

	return __builtin_expect(id != ~0u, 1) ? id : exo_hosted_claim_cpu();
}

static inline void exo_plat_cpu_exit(void)
{
}
#else
unsigned int exo_plat_cpu_enter(void);
void exo_plat_cpu_exit(void);
#endif
unsigned int exo_plat_nr_cpus(void);

/* A diagnostic (double free, overrun, leak): the kernel log, or stderr. */
void exo_plat_report(const char *fmt, ...);

#ifdef __cplusplus
}
#endif

#endif /* EXO_CORE_PLATFORM_H */
