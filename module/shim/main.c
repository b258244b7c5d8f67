// SPDX-License-Identifier: GPL-2.0
/*
 * exofusion: zero-copy fusion rings as mmap-able character devices.
 * Module entry points; see shim.h for the parts.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/init.h>
#include <linux/module.h>

#include "module/shim/shim.h"

static int __init exo_init(void)
{
	int err;

	err = exo_slab_init();
	if (err)
		return err;
	err = exo_registry_init();
	if (err)
		goto out_slab;
	err = exo_totals_init();
	if (err)
		goto out_registry;
	err = exo_control_init();
	if (err)
		goto out_totals;
	err = exo_nic_init();
	if (err)
		goto out_control;
	exo_slab_test_init();
	pr_info("loaded, ABI %u\n", EXO_ABI_VERSION);
	return 0;

out_control:
	exo_control_exit();
out_totals:
	exo_totals_exit();
out_registry:
	exo_registry_exit();
out_slab:
	exo_slab_exit();
	return err;
}

static void __exit exo_exit(void)
{
	exo_nic_exit();
	exo_control_exit();
	exo_totals_exit();
	exo_registry_exit();
	exo_slab_exit();
}

module_init(exo_init);
module_exit(exo_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("exofusion: zero-copy fusion rings between processes");
MODULE_AUTHOR("exofusion developers");
MODULE_VERSION(EXO_VERSION);
