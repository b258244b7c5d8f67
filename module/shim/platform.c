// SPDX-License-Identifier: GPL-2.0
/* The kernel's implementation of module/core/platform.h. */
#include <linux/uaccess.h>

#include "module/core/platform.h"

unsigned long exo_plat_copy_to_user(void *to_user, const void *from, unsigned long n)
{
	return copy_to_user((__force void __user *)to_user, from, n);
}

unsigned long exo_plat_copy_from_user(void *to, const void *from_user, unsigned long n)
{
	return copy_from_user(to, (__force const void __user *)from_user, n);
}
