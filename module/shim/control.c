// SPDX-License-Identifier: GPL-2.0
/* /dev/exofusion/control: creates and destroys rings by name. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/uaccess.h>

#include "module/shim/shim.h"

static void exo_control_undo_create(const struct exo_create_req *req)
{
	struct exo_name_req name = {};

	memcpy(name.name, req->name, sizeof(name.name));
	if (exo_ring_destroy(&name))
		pr_warn_ratelimited("create: could not undo ring '%s'\n", name.name);
}

static long exo_control_create(void __user *argp)
{
	struct exo_create_req req;
	int err;

	if (copy_from_user(&req, argp, sizeof(req)))
		return -EFAULT;
	err = exo_ring_create(&req);
	if (err)
		return err;
	if (copy_to_user(argp, &req, sizeof(req)))
		goto out_undo;
	return 0;

out_undo:
	/* EFAULT means nothing was made: a ring the caller never heard of goes. */
	exo_control_undo_create(&req);
	return -EFAULT;
}

static long exo_control_destroy(void __user *argp)
{
	struct exo_name_req req;

	if (copy_from_user(&req, argp, sizeof(req)))
		return -EFAULT;
	return exo_ring_destroy(&req);
}

static long exo_control_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case EXO_IOC_CREATE:
		return exo_control_create(argp);
	case EXO_IOC_DESTROY:
		return exo_control_destroy(argp);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations exo_control_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = exo_control_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

/* Any user may create rings: their memory is charged to that user. */
static struct miscdevice exo_control_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "exofusion-control",
	.nodename = "exofusion/control",
	.mode = 0666,
	.fops = &exo_control_fops,
};

int exo_control_init(void)
{
	return misc_register(&exo_control_dev);
}

void exo_control_exit(void)
{
	misc_deregister(&exo_control_dev);
}
