/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What differs between the kernels the module is built for (Debian's 6.1
 * and 6.12): one spelling for the shim, whatever the kernel's.
 */
#ifndef EXO_SHIM_COMPAT_H
#define EXO_SHIM_COMPAT_H

#include <linux/mm.h>
#include <linux/version.h>

/* 6.2: device_type.devnode takes a const device. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 2, 0)
#define EXO_DEVNODE_CONST const
#else
#define EXO_DEVNODE_CONST
#endif

/* 6.4: class attribute callbacks take a const class and attribute. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
#define EXO_CLASS_CONST const
#else
#define EXO_CLASS_CONST
#endif

/* 6.3: vma->vm_flags is read-only; it is changed through these helpers. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
static inline void vm_flags_set(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags |= flags;
}

static inline void vm_flags_clear(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags &= ~flags;
}
#endif

/* 6.6: the page_pool API moved to <net/page_pool/helpers.h>. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 6, 0)
#include <net/page_pool/helpers.h>
#else
#include <net/page_pool.h>
#endif

#endif /* EXO_SHIM_COMPAT_H */
