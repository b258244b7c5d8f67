// SPDX-License-Identifier: GPL-2.0
// Fixed-width types for the freestanding core: it includes no kernel and no
// libc header, so it takes the widths from the compiler's own macros. The
// __u* names match the kernel's (x86_64: __u64 is unsigned long long) so the
// uapi structs are the same types on both sides of the C shim.
#ifndef EXO_CORE_TYPES_H
#define EXO_CORE_TYPES_H

typedef __UINT8_TYPE__ u8;
typedef __UINT16_TYPE__ u16;
typedef __UINT32_TYPE__ u32;
typedef unsigned long long u64;
typedef __INT32_TYPE__ s32;
typedef long long s64;
typedef __SIZE_TYPE__ usize;
typedef __UINTPTR_TYPE__ uptr;

#ifndef EXO_UAPI_TYPES_DEFINED
#define EXO_UAPI_TYPES_DEFINED
typedef u8 __u8;
typedef u16 __u16;
typedef u32 __u32;
typedef u64 __u64;
typedef s32 __s32;
typedef s64 __s64;
#endif

// A local the constructor fully writes, exempt from the kernel's
// -ftrivial-auto-var-init=zero (CONFIG_INIT_STACK_ALL_ZERO): for objects
// built on every call of a hot path, where the zeroing would double the cost.
#if defined(__has_attribute) && __has_attribute(uninitialized)
#define EXO_NO_AUTO_INIT __attribute__((uninitialized))
#else
#define EXO_NO_AUTO_INIT
#endif

#endif  // EXO_CORE_TYPES_H
