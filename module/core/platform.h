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

#ifdef __cplusplus
}
#endif

#endif /* EXO_CORE_PLATFORM_H */
