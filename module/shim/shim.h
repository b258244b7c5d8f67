/* SPDX-License-Identifier: GPL-2.0 */
/*
 * exofusion C shim: the only code of the module that touches kernel APIs.
 * The rules (parameters, layout, ring protocol) live in the C++ core,
 * reached through module/core/core_api.h.
 */
#ifndef EXO_SHIM_H
#define EXO_SHIM_H

#include <linux/cdev.h>
#include <linux/kref.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/timer.h>
#include <linux/types.h>
#include <linux/wait.h>

#include "module/shim/compat.h"
#include "uapi/exofusion.h"

struct user_struct;
struct exo_user;

/* Counters only the kernel writes: user space cannot forge them. */
struct exo_ring_counters {
	atomic64_t sleeps;
	atomic64_t wakeups;
	atomic64_t kernel_errors;
	atomic_t open_count;
};

/* Barrier IPIs a ring (or the module) sent in the current one-second window. */
struct exo_ipi_budget {
	unsigned long start;		/* jiffies */
	atomic_t used;
};

/*
 * ring.c's sleep state, set up at create (exo_ring_io_init()): which kinds
 * are announced with a barrier, and the re-check of those whose barrier is
 * deferred to an RCU grace period.
 */
struct exo_ring_sleep {
	spinlock_t lock;		/* unfenced, cookie, cookie_gen; recheck arming */
	struct timer_list recheck;	/* re-checks the unfenced kinds */
	unsigned int unfenced;		/* kinds announced without a barrier yet */
	unsigned long cookie[EXO_WAIT_NR];	/* RCU state at that announcement */
	int cookie_gen[EXO_WAIT_NR];	/* wake_gen then */
	atomic_t fenced_gen[EXO_WAIT_NR];	/* wake_gen + 1 that a barrier covers */
	struct exo_ipi_budget ipis;
	unsigned int rechecks;		/* timer runs of this fallback (timer only) */
};

enum { EXO_SIDE_CONSUMER, EXO_SIDE_PRODUCER };

struct exo_ring {
	struct kref ref;		/* registry + open files */
	char name[EXO_NAME_MAX];
	struct hlist_node name_node;	/* in the registry's name hash */
	struct exo_ring_info info;	/* trusted copy of the layout */
	void *region;			/* vmap() of pages, mapped by users */
	struct page **pages;		/* region's pages, charged to the memcg */
	struct user_struct *user;	/* charged for region's pages */
	unsigned long charged_pages;
	kuid_t uid;			/* owner: the creator's fsuid */
	struct exo_user *owner;		/* its ring count, while published */
	kgid_t gid;
	umode_t perm;
	int minor;
	struct device *dev;		/* NULL once destroyed */
	wait_queue_head_t wq[EXO_WAIT_NR];
	atomic_t wake_gen[EXO_WAIT_NR];	/* bumped by every wake of a kind */
	bool dead;			/* destroyed: sleepers woken, none sleep again */
	struct exo_ring_sleep sleep;
	struct mutex spsc_side[2];	/* SPSC: the kernel's consumer, producer */
	struct exo_ring_counters counters;
};

/* registry.c: names, minors and lifetime of rings */
int exo_registry_init(void);
void exo_registry_exit(void);
int exo_ring_create(struct exo_create_req *req);
int exo_ring_destroy(const struct exo_name_req *req);
struct exo_ring *exo_ring_get_for_open(struct inode *inode, struct file *file);
void exo_ring_put(struct exo_ring *ring);
long exo_ring_copy_info(const struct exo_ring *ring, void __user *argp);
extern const struct attribute_group *exo_ring_groups[];

/* memory.c: ring memory and its accounting */
int exo_memory_alloc(struct exo_ring *ring);
void exo_memory_free(struct exo_ring *ring);
int exo_totals_init(void);
void exo_totals_exit(void);

/* ring.c: the ring character devices */
extern const struct file_operations exo_ring_fops;
void exo_ring_wake(struct exo_ring *ring, unsigned int kinds);
void exo_ring_fill_stats(struct exo_ring *ring, struct exo_ring_stats *st);
/* Create, before publishing: sleep state, re-check timer, SPSC side locks. */
void exo_ring_io_init(struct exo_ring *ring);
/* Destroy: wakes every sleeper (EPOLLHUP), none sleeps on the ring again. */
void exo_ring_hangup(struct exo_ring *ring);

/* slab.c: the module's slab caches (module/core/slab/) */
struct exo_kcache;
struct exo_slab_cache;
struct dentry;
extern atomic_long_t exo_slab_pages;	/* pages all slab caches hold */
extern struct dentry *exo_debugfs_dir;	/* exofusion/ in debugfs */
int exo_slab_init(void);
void exo_slab_exit(void);
/* exo_kcache_create() flags, the core's EXO_SLAB_DEBUG and EXO_SLAB_ACCOUNT */
#define EXO_KCACHE_DEBUG BIT(0)
#define EXO_KCACHE_ACCOUNT BIT(1)	/* pages charged to the memory cgroup */
struct exo_kcache *exo_kcache_create(const char *name, unsigned int size, unsigned int flags);
unsigned long exo_kcache_destroy(struct exo_kcache *kc);
void *exo_kcache_alloc(struct exo_kcache *kc, gfp_t gfp);
void exo_kcache_free(struct exo_kcache *kc, void *obj);
struct exo_slab_cache *exo_kcache_core(struct exo_kcache *kc);
bool exo_slab_backend_is_kmem(void);
char *exo_debugfs_command(char *buf, size_t size, const char __user *ubuf, size_t len);

/* slab_test.c: in-kernel slab benchmarks and self-tests (debugfs) */
void exo_slab_test_init(void);

/* nic.c: the 8254x driver (PCI driver "exofusion"); after exo_slab_init() (debugfs) */
int exo_nic_init(void);
void exo_nic_exit(void);

/* control.c: /dev/exofusion/control */
int exo_control_init(void);
void exo_control_exit(void);

#endif /* EXO_SHIM_H */
