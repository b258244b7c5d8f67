// SPDX-License-Identifier: GPL-2.0
/*
 * Rings by name and by minor number, their device nodes and lifetime.
 *
 * A ring holds one reference for the registry (dropped by destroy) and one
 * per open file (mappings hold their file). Its node /dev/exofusion/<name>
 * is made by devtmpfs with the creator's uid/gid and the requested mode,
 * so the VFS does access control.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/dcache.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/hashtable.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/stringhash.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>

#include "module/core/core_api.h"
#include "module/shim/shim.h"
#include "module/shim/trace.h"

/*
 * Every minor a char device may have: rings run out of memory (each holds
 * at least two pages, under max_total_mb) long before they run out of
 * minors, and minors are handed out cyclically, so a destroyed ring's minor
 * comes back only after 2^20 other creations.
 */
#define EXO_MINORS	(MINORMASK + 1)

static unsigned int max_rings_per_user = 128;
module_param(max_rings_per_user, uint, 0644);
MODULE_PARM_DESC(max_rings_per_user,
		 "Rings one uid may have published at once (default 128; CAP_SYS_ADMIN is exempt)");

static DEFINE_MUTEX(exo_registry_lock);
static struct exo_kcache *exo_ring_cache;
static DEFINE_XARRAY_ALLOC(exo_rings);	/* minor -> live ring */
static u32 exo_next_minor;		/* cursor of the cyclic allocation */
static DEFINE_HASHTABLE(exo_names, 10);	/* name -> live ring */
static DEFINE_HASHTABLE(exo_users, 6);	/* uid -> its ring count */
static dev_t exo_devt;
static struct cdev exo_cdev;

/* How many rings one uid has published; exists while that count is > 0. */
struct exo_user {
	struct hlist_node node;
	kuid_t uid;
	unsigned int rings;
};

static struct class exo_class = {
	.name = "exofusion",
};

/*
 * The node path is allocated with __GFP_NOFAIL: devtmpfs and the uevent
 * take a NULL from here as "no name of its own" and fall back to the device
 * name, which would put the node at /dev/<name>, outside exofusion/, with
 * the ring's owner and mode. The string is at most 42 bytes.
 */
static char *exo_ring_devnode(EXO_DEVNODE_CONST struct device *dev, umode_t *mode,
			      kuid_t *uid, kgid_t *gid)
{
	struct exo_ring *ring = dev_get_drvdata(dev);

	if (mode)
		*mode = ring->perm;
	if (uid)
		*uid = ring->uid;
	if (gid)
		*gid = ring->gid;
	return kasprintf(GFP_KERNEL | __GFP_NOFAIL, "exofusion/%s", ring->name);
}

static const struct device_type exo_ring_type = {
	.name = "exofusion_ring",
	.devnode = exo_ring_devnode,
};

static void exo_device_release(struct device *dev)
{
	kfree(dev);
}

static int exo_ring_add_device(struct exo_ring *ring)
{
	struct device *dev;
	int err;

	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return -ENOMEM;
	device_initialize(dev);
	dev->devt = MKDEV(MAJOR(exo_devt), ring->minor);
	dev->class = &exo_class;
	dev->type = &exo_ring_type;
	dev->groups = exo_ring_groups;
	dev->release = exo_device_release;
	dev_set_drvdata(dev, ring);
	err = dev_set_name(dev, "%s", ring->name);
	if (!err)
		err = device_add(dev);
	if (err) {
		put_device(dev);
		return err;
	}
	ring->dev = dev;
	return 0;
}

static u32 exo_name_hash(const char *name)
{
	return full_name_hash(NULL, name, strlen(name));
}

static struct exo_ring *exo_ring_find_locked(const char *name)
{
	struct exo_ring *ring;

	hash_for_each_possible(exo_names, ring, name_node, exo_name_hash(name))
		if (!strcmp(ring->name, name))
			return ring;
	return NULL;
}

static struct exo_user *exo_user_find_locked(kuid_t uid)
{
	struct exo_user *user;

	hash_for_each_possible(exo_users, user, node, __kuid_val(uid))
		if (uid_eq(user->uid, uid))
			return user;
	return NULL;
}

/* Counts @ring against its owner's max_rings_per_user. */
static int exo_user_charge_locked(struct exo_ring *ring)
{
	struct exo_user *user = exo_user_find_locked(ring->uid);
	unsigned int rings = user ? user->rings : 0;

	if (rings >= max_rings_per_user && !capable(CAP_SYS_ADMIN)) {
		pr_info_ratelimited("create: uid %u already has %u rings (max_rings_per_user=%u)\n",
				    from_kuid_munged(current_user_ns(), ring->uid), rings,
				    max_rings_per_user);
		return -EMFILE;
	}
	if (!user) {
		user = kzalloc(sizeof(*user), GFP_KERNEL_ACCOUNT);
		if (!user)
			return -ENOMEM;
		user->uid = ring->uid;
		hash_add(exo_users, &user->node, __kuid_val(user->uid));
	}
	user->rings++;
	ring->owner = user;
	return 0;
}

static void exo_user_uncharge_locked(struct exo_ring *ring)
{
	struct exo_user *user = ring->owner;

	ring->owner = NULL;
	if (--user->rings)
		return;
	hash_del(&user->node);
	kfree(user);
}

static void exo_ring_release(struct kref *ref)
{
	struct exo_ring *ring = container_of(ref, struct exo_ring, ref);

	exo_memory_free(ring);
	exo_kcache_free(exo_ring_cache, ring);
}

void exo_ring_put(struct exo_ring *ring)
{
	kref_put(&ring->ref, exo_ring_release);
}

/*
 * Whether @file, opened through @inode, is a node of @ring, the ring that
 * now holds the node's minor. The VFS checked the permission of that
 * node; between that check and this lookup the node's ring may have been
 * destroyed and its minor given to another ring. Destroy unlinks the
 * devtmpfs node under exo_registry_lock (devtmpfs works synchronously) and
 * devtmpfs resets the node's owner and mode first, so a node whose ring
 * went has no link left. Nodes made by hand (mknod, a container's /dev)
 * are never unlinked: for them the name must still match, and a minor is
 * only reused after 2^20 creations.
 */
static bool exo_node_is_ring_locked(const struct inode *inode, struct file *file,
				    const struct exo_ring *ring)
{
	struct dentry *dentry = file->f_path.dentry;
	bool same;

	if (!inode->i_nlink)
		return false;
	spin_lock(&dentry->d_lock);
	same = !strcmp(dentry->d_name.name, ring->name);
	spin_unlock(&dentry->d_lock);
	return same;
}

/* The ring that @inode names, with a reference, or ERR_PTR(-ENXIO). */
struct exo_ring *exo_ring_get_for_open(struct inode *inode, struct file *file)
{
	struct exo_ring *ring;

	mutex_lock(&exo_registry_lock);
	ring = xa_load(&exo_rings, iminor(inode));
	if (ring && exo_node_is_ring_locked(inode, file, ring))
		kref_get(&ring->ref);
	else
		ring = ERR_PTR(-ENXIO);
	mutex_unlock(&exo_registry_lock);
	return ring;
}

/* EXO_RING_IOC_INFO: the trusted layout, the owner in the caller's terms. */
long exo_ring_copy_info(const struct exo_ring *ring, void __user *argp)
{
	struct exo_ring_info info = ring->info;

	info.owner_uid = from_kuid_munged(current_user_ns(), ring->uid);
	return copy_to_user(argp, &info, sizeof(info)) ? -EFAULT : 0;
}

static struct exo_ring *exo_ring_alloc(const struct exo_create_req *req)
{
	struct exo_ring *ring;
	unsigned int i;

	ring = exo_kcache_alloc(exo_ring_cache, GFP_KERNEL | __GFP_ZERO);
	if (!ring)
		return NULL;
	kref_init(&ring->ref);
	strscpy(ring->name, req->name, sizeof(ring->name));
	ring->perm = req->perm;
	ring->uid = current_fsuid();
	ring->gid = current_fsgid();
	for (i = 0; i < EXO_WAIT_NR; i++)
		init_waitqueue_head(&ring->wq[i]);
	exo_ring_io_init(ring);
	return ring;
}

/*
 * Publishes @ring under its name: its owner's count, a minor, the device
 * node. From then on a concurrent destroy may free it: the caller must not
 * touch it after a success.
 */
static int exo_ring_register(struct exo_ring *ring)
{
	u32 minor;
	int err;

	mutex_lock(&exo_registry_lock);
	err = -EEXIST;
	if (exo_ring_find_locked(ring->name))
		goto out_unlock;
	err = exo_user_charge_locked(ring);
	if (err)
		goto out_unlock;
	err = xa_alloc_cyclic(&exo_rings, &minor, ring, XA_LIMIT(0, EXO_MINORS - 1),
			      &exo_next_minor, GFP_KERNEL);
	if (err < 0)
		goto out_uncharge;
	ring->minor = minor;
	err = exo_ring_add_device(ring);
	if (err)
		goto out_erase;
	hash_add(exo_names, &ring->name_node, exo_name_hash(ring->name));
	/* Under the lock: a destroy's ring_destroy cannot come first. */
	trace_ring_create(ring);
	mutex_unlock(&exo_registry_lock);
	return 0;

out_erase:
	xa_erase(&exo_rings, minor);
out_uncharge:
	exo_user_uncharge_locked(ring);
out_unlock:
	mutex_unlock(&exo_registry_lock);
	return err == -EBUSY ? -ENOSPC : err;
}

int exo_ring_create(struct exo_create_req *req)
{
	struct exo_ring *ring;
	const char *why = NULL;
	int err;

	ring = exo_ring_alloc(req);
	if (!ring)
		return -ENOMEM;
	err = exo_core_plan_ring(req, &ring->info, &why);
	if (err) {
		pr_info_ratelimited("create: %s\n", why);
		goto out_free;
	}
	ring->info.owner_uid = from_kuid(&init_user_ns, ring->uid);
	err = exo_memory_alloc(ring);
	if (err)
		goto out_free;
	/* Read before publishing: once published, destroy may free the ring. */
	req->region_size = ring->info.region_size;
	err = exo_ring_register(ring);
	if (err)
		goto out_put;
	return 0;

out_put:
	exo_ring_put(ring);
	return err;
out_free:
	exo_kcache_free(exo_ring_cache, ring);
	return err;
}

/* Unlinks the node and drops the registry's reference; users keep going. */
static void exo_ring_unpublish_locked(struct exo_ring *ring)
{
	trace_ring_destroy(ring);
	exo_ring_hangup(ring);
	xa_erase(&exo_rings, ring->minor);
	hash_del(&ring->name_node);
	exo_user_uncharge_locked(ring);
	device_unregister(ring->dev);
	ring->dev = NULL;
}

int exo_ring_destroy(const struct exo_name_req *req)
{
	struct exo_ring *ring;
	const char *why = NULL;
	int err;

	err = exo_core_check_name(req->name, sizeof(req->name), &why);
	if (err) {
		pr_info_ratelimited("destroy: %s\n", why);
		return err;
	}
	mutex_lock(&exo_registry_lock);
	ring = exo_ring_find_locked(req->name);
	err = -ENOENT;
	if (!ring)
		goto out_unlock;
	err = -EPERM;
	if (!uid_eq(current_fsuid(), ring->uid) && !capable(CAP_SYS_ADMIN))
		goto out_unlock;
	exo_ring_unpublish_locked(ring);
	err = 0;
out_unlock:
	mutex_unlock(&exo_registry_lock);
	if (!err)
		exo_ring_put(ring);
	return err;
}

/*
 * /sys/class/exofusion/<name>/stats/<counter>: one value per file, the
 * same figures as EXO_RING_IOC_STATS.
 */
struct exo_stat_attr {
	struct device_attribute dattr;
	size_t offset;		/* of the counter in struct exo_ring_stats */
	bool wide;		/* a __u64, else a __u32 */
};

static ssize_t exo_stat_show(struct device *dev, struct device_attribute *dattr, char *buf)
{
	const struct exo_stat_attr *sa = container_of(dattr, struct exo_stat_attr, dattr);
	struct exo_ring_stats st;
	const u8 *field = (const u8 *)&st + sa->offset;

	exo_ring_fill_stats(dev_get_drvdata(dev), &st);
	if (sa->wide)
		return sysfs_emit(buf, "%llu\n", *(const u64 *)field);
	return sysfs_emit(buf, "%u\n", *(const u32 *)field);
}

#define EXO_STAT(_field, _wide) {						\
	.dattr = { .attr = { .name = #_field, .mode = 0444 }, .show = exo_stat_show },	\
	.offset = offsetof(struct exo_ring_stats, _field),			\
	.wide = (_wide),							\
}

static struct exo_stat_attr exo_stat_messages = EXO_STAT(messages, true);
static struct exo_stat_attr exo_stat_received = EXO_STAT(received, true);
static struct exo_stat_attr exo_stat_batches = EXO_STAT(batches, true);
static struct exo_stat_attr exo_stat_full_events = EXO_STAT(full_events, true);
static struct exo_stat_attr exo_stat_empty_events = EXO_STAT(empty_events, true);
static struct exo_stat_attr exo_stat_sleeps = EXO_STAT(sleeps, true);
static struct exo_stat_attr exo_stat_wakeups = EXO_STAT(wakeups, true);
static struct exo_stat_attr exo_stat_kernel_errors = EXO_STAT(kernel_errors, true);
static struct exo_stat_attr exo_stat_region_size = EXO_STAT(region_size, true);
static struct exo_stat_attr exo_stat_capacity = EXO_STAT(capacity, false);
static struct exo_stat_attr exo_stat_buf_size = EXO_STAT(buf_size, false);
static struct exo_stat_attr exo_stat_buf_count = EXO_STAT(buf_count, false);
static struct exo_stat_attr exo_stat_open_count = EXO_STAT(open_count, false);
static struct exo_stat_attr exo_stat_owner_uid = EXO_STAT(owner_uid, false);

static ssize_t mode_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	const struct exo_ring *ring = dev_get_drvdata(dev);

	return sysfs_emit(buf, "%s\n", ring->info.mode == EXO_MODE_MPMC ? "mpmc" : "spsc");
}
static DEVICE_ATTR_RO(mode);

static struct attribute *exo_ring_stats_attrs[] = {
	&exo_stat_messages.dattr.attr,
	&exo_stat_received.dattr.attr,
	&exo_stat_batches.dattr.attr,
	&exo_stat_full_events.dattr.attr,
	&exo_stat_empty_events.dattr.attr,
	&exo_stat_sleeps.dattr.attr,
	&exo_stat_wakeups.dattr.attr,
	&exo_stat_kernel_errors.dattr.attr,
	&exo_stat_region_size.dattr.attr,
	&exo_stat_capacity.dattr.attr,
	&dev_attr_mode.attr,
	&exo_stat_buf_size.dattr.attr,
	&exo_stat_buf_count.dattr.attr,
	&exo_stat_open_count.dattr.attr,
	&exo_stat_owner_uid.dattr.attr,
	NULL,
};

static const struct attribute_group exo_ring_stats_group = {
	.name = "stats",
	.attrs = exo_ring_stats_attrs,
};

const struct attribute_group *exo_ring_groups[] = {
	&exo_ring_stats_group,
	NULL,
};

int exo_registry_init(void)
{
	int err;

	/* Ring control blocks come from the module's own slab cache. */
	exo_ring_cache = exo_kcache_create("exo_ring", sizeof(struct exo_ring), EXO_KCACHE_ACCOUNT);
	if (IS_ERR(exo_ring_cache))
		return PTR_ERR(exo_ring_cache);
	err = alloc_chrdev_region(&exo_devt, 0, EXO_MINORS, "exofusion");
	if (err)
		goto out_cache;
	cdev_init(&exo_cdev, &exo_ring_fops);
	exo_cdev.owner = THIS_MODULE;
	err = cdev_add(&exo_cdev, exo_devt, EXO_MINORS);
	if (err)
		goto out_region;
	err = class_register(&exo_class);
	if (err)
		goto out_cdev;
	return 0;

out_cdev:
	cdev_del(&exo_cdev);
out_region:
	unregister_chrdev_region(exo_devt, EXO_MINORS);
out_cache:
	exo_kcache_destroy(exo_ring_cache);
	return err;
}

/* Only runs with no ring file open: open files pin the module. */
void exo_registry_exit(void)
{
	struct exo_ring *ring;
	unsigned long minor;

	mutex_lock(&exo_registry_lock);
	xa_for_each(&exo_rings, minor, ring) {
		exo_ring_unpublish_locked(ring);
		exo_ring_put(ring);
	}
	mutex_unlock(&exo_registry_lock);
	WARN_ON(!hash_empty(exo_users));
	xa_destroy(&exo_rings);
	class_unregister(&exo_class);
	cdev_del(&exo_cdev);
	unregister_chrdev_region(exo_devt, EXO_MINORS);
	exo_kcache_destroy(exo_ring_cache);
}
