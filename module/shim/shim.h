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
#include <linux/mutex.h>
#include <linux/types.h>
#include <linux/wait.h>

#include "module/shim/compat.h"
#include "uapi/exofusion.h"

struct user_struct;

/* Counters only the kernel writes: user space cannot forge them. */
struct exo_ring_counters {
	atomic64_t sleeps;
	atomic64_t wakeups;
	atomic64_t kernel_errors;
	atomic_t open_count;
};

struct exo_ring {
	struct kref ref;		/* registry + open files */
	char name[EXO_NAME_MAX];
	struct exo_ring_info info;	/* trusted copy of the layout */
	void *region;			/* vmalloc_user(), mapped by users */
	struct user_struct *user;	/* charged for region's pages */
	unsigned long charged_pages;
	kuid_t uid;
	kgid_t gid;
	umode_t perm;
	int minor;
	struct device *dev;		/* NULL once destroyed */
	wait_queue_head_t wq[EXO_WAIT_NR];
	atomic_t wake_gen[EXO_WAIT_NR];	/* bumped by every wake of a kind */
	struct exo_ring_counters counters;
};

/* registry.c: names, minors and lifetime of rings */
int exo_registry_init(void);
void exo_registry_exit(void);
int exo_ring_create(struct exo_create_req *req);
int exo_ring_destroy(const struct exo_name_req *req);
struct exo_ring *exo_ring_get_by_minor(int minor);
void exo_ring_put(struct exo_ring *ring);
extern const struct attribute_group *exo_ring_groups[];

/* memory.c: ring memory and its accounting */
int exo_memory_alloc(struct exo_ring *ring);
void exo_memory_free(struct exo_ring *ring);
extern const struct attribute_group *exo_class_groups[];

/* ring.c: the ring character devices */
extern const struct file_operations exo_ring_fops;
void exo_ring_wake(struct exo_ring *ring, unsigned int kinds);

/* slab.c: the module's slab caches (module/core/slab/) */
struct exo_kcache;
struct exo_slab_cache;
struct dentry;
extern atomic_long_t exo_slab_pages;	/* pages all slab caches hold */
extern struct dentry *exo_debugfs_dir;	/* exofusion/ in debugfs */
extern const struct attribute_group exo_slab_class_group;
int exo_slab_init(void);
void exo_slab_exit(void);
struct exo_kcache *exo_kcache_create(const char *name, unsigned int size, unsigned int flags);
unsigned long exo_kcache_destroy(struct exo_kcache *kc);
void *exo_kcache_alloc(struct exo_kcache *kc, gfp_t gfp);
void exo_kcache_free(struct exo_kcache *kc, void *obj);
struct exo_slab_cache *exo_kcache_core(struct exo_kcache *kc);
char *exo_debugfs_command(char *buf, size_t size, const char __user *ubuf, size_t len);

/* slab_test.c: in-kernel slab benchmarks and self-tests (debugfs) */
void exo_slab_test_init(void);

/* control.c: /dev/exofusion/control */
int exo_control_init(void);
void exo_control_exit(void);

#endif /* EXO_SHIM_H */
