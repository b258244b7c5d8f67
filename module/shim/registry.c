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

#include <linux/cred.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include "module/core/core_api.h"
#include "module/shim/shim.h"

#define EXO_MAX_RINGS	1024

static DEFINE_MUTEX(exo_registry_lock);
static struct exo_kcache *exo_ring_cache;
static DEFINE_XARRAY_ALLOC(exo_rings);	/* minor -> live ring */
static dev_t exo_devt;
static struct cdev exo_cdev;

static struct class exo_class = {
	.name = "exofusion",
	.class_groups = exo_class_groups,
};

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
	return kasprintf(GFP_KERNEL, "exofusion/%s", ring->name);
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

static struct exo_ring *exo_ring_find_locked(const char *name)
{
	struct exo_ring *ring;
	unsigned long minor;

	xa_for_each(&exo_rings, minor, ring)
		if (!strcmp(ring->name, name))
			return ring;
	return NULL;
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

struct exo_ring *exo_ring_get_by_minor(int minor)
{
	struct exo_ring *ring;

	mutex_lock(&exo_registry_lock);
	ring = xa_load(&exo_rings, minor);
	if (ring)
		kref_get(&ring->ref);
	mutex_unlock(&exo_registry_lock);
	return ring;
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
	return ring;
}

/* Publishes @ring under its name: a minor, then the device node. */
static int exo_ring_register(struct exo_ring *ring)
{
	u32 minor;
	int err;

	mutex_lock(&exo_registry_lock);
	err = -EEXIST;
	if (exo_ring_find_locked(ring->name))
		goto out_unlock;
	err = xa_alloc(&exo_rings, &minor, ring, XA_LIMIT(0, EXO_MAX_RINGS - 1), GFP_KERNEL);
	if (err == -EBUSY)
		err = -ENOSPC;
	if (err)
		goto out_unlock;
	ring->minor = minor;
	err = exo_ring_add_device(ring);
	if (err)
		xa_erase(&exo_rings, minor);
out_unlock:
	mutex_unlock(&exo_registry_lock);
	return err;
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
	err = exo_memory_alloc(ring);
	if (err)
		goto out_free;
	err = exo_ring_register(ring);
	if (err)
		goto out_put;
	req->region_size = ring->info.region_size;
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
	xa_erase(&exo_rings, ring->minor);
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

int exo_registry_init(void)
{
	int err;

	/* Ring control blocks come from the module's own slab cache. */
	exo_ring_cache = exo_kcache_create("exo_ring", sizeof(struct exo_ring), 0);
	if (IS_ERR(exo_ring_cache))
		return PTR_ERR(exo_ring_cache);
	err = alloc_chrdev_region(&exo_devt, 0, EXO_MAX_RINGS, "exofusion");
	if (err)
		goto out_cache;
	cdev_init(&exo_cdev, &exo_ring_fops);
	exo_cdev.owner = THIS_MODULE;
	err = cdev_add(&exo_cdev, exo_devt, EXO_MAX_RINGS);
	if (err)
		goto out_region;
	err = class_register(&exo_class);
	if (err)
		goto out_cdev;
	return 0;

out_cdev:
	cdev_del(&exo_cdev);
out_region:
	unregister_chrdev_region(exo_devt, EXO_MAX_RINGS);
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
	xa_destroy(&exo_rings);
	class_unregister(&exo_class);
	cdev_del(&exo_cdev);
	unregister_chrdev_region(exo_devt, EXO_MAX_RINGS);
	exo_kcache_destroy(exo_ring_cache);
}
