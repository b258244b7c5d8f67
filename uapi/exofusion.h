/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * exofusion user-space ABI: ioctls of /dev/exofusion/control and of ring
 * devices, and the layout of a ring's shared memory region.
 *
 * Shared by the kernel module (C shim and C++ core) and user space.
 *
 * A ring region, as mmap()ed from offset 0 of a ring fd:
 *
 *   [0, 4096)            struct exo_ring_header: one read-only info line,
 *                        then one cache line per side (producer, consumer,
 *                        buffer-free producer, buffer-free consumer)
 *   [slots_offset, ...)  capacity x struct exo_slot (64 B each)
 *   [free_offset, ...)   free_words x __u64: the bitmap of free zero-copy
 *                        buffers (bit b of word w: buffer 64 w + b is free);
 *                        takers clear a bit, returners set it, atomically
 *   [pool_offset, ...)   buf_count x buf_size bytes: zero-copy buffers
 *
 * Every section starts on a page boundary. Offsets are carried in the info
 * line; user space must use them rather than recompute them.
 *
 * Protocol (per-slot sequence numbers): slot i starts with seq = i. The
 * producer that owns position p fills slot[p & mask] and publishes
 * seq = p + 1 with release; the consumer that owns position p waits for
 * seq == p + 1, reads, then gives the slot back:
 *  - MPMC (Vyukov's bounded queue): positions are taken by compare-and-swap
 *    on the side's pos; the consumer stores seq = p + capacity, and a
 *    producer waits for seq == p.
 *  - SPSC: positions are plain stores; the consumer stores cons.pos = p + 1,
 *    and the producer has room while prod.pos - cons.pos < capacity.
 *
 * Sleeping (no syscall on the hot path): a waiter sets
 * waiters[kind].need_wakeup, issues an asymmetric barrier (membarrier(2) in
 * user space, an IPI in the kernel), re-checks the ring, then sleeps in
 * EXO_RING_IOC_WAIT (device) or on the futex word wake_seq (memfd). A side
 * that made progress reads need_wakeup after publishing, with only a
 * compiler barrier, and makes a syscall (EXO_RING_IOC_WAKE or FUTEX_WAKE)
 * only when it is set. The sleeper's barrier is what makes that plain load
 * safe: it pairs with the waker's store of the slot sequence.
 */
#ifndef _UAPI_EXOFUSION_H
#define _UAPI_EXOFUSION_H

#ifndef EXO_UAPI_TYPES_DEFINED
#include <linux/types.h>
#include <linux/ioctl.h>
#endif
/*
 * Else: the freestanding C++ core, which has no kernel or libc headers,
 * defined the __u* types itself (module/core/types.h).
 */

#define EXO_ABI_VERSION		1
#define EXO_RING_MAGIC		0x464f5845u	/* "EXOF" little-endian */
#define EXO_CACHELINE		64
#define EXO_PAGE_SIZE		4096
#define EXO_SLOT_SIZE		64
#define EXO_INLINE_MAX		56
#define EXO_NAME_MAX		32	/* including the terminating NUL */

#define EXO_RING_MIN_CAPACITY	2
#define EXO_RING_MAX_CAPACITY	(1u << 20)
#define EXO_BUF_MIN_SIZE	64
#define EXO_BUF_MAX_SIZE	(1u << 22)	/* 4 MiB per zero-copy buffer */
#define EXO_BUF_MAX_COUNT	(1u << 16)

/* Ring modes */
#define EXO_MODE_SPSC		0
#define EXO_MODE_MPMC		1

/* Message types (exo_slot.type) */
#define EXO_MSG_INLINE		1	/* payload in the slot */
#define EXO_MSG_ZEROCOPY	2	/* payload is a struct exo_zc_desc */

/* exo_slot.flags */
#define EXO_SLOT_F_BATCH_END	0x01	/* last message of a batch */

/* Which side a WAIT/WAKE refers to */
#define EXO_WAIT_DATA		0	/* consumer waits for messages */
#define EXO_WAIT_SPACE		1	/* producer waits for free slots */
#define EXO_WAIT_BUFFER		2	/* sender waits for a free zc buffer */
#define EXO_WAIT_NR		3

struct exo_slot {
	__u32 seq;
	__u8 type;
	__u8 flags;
	__u16 len;
	__u8 data[EXO_INLINE_MAX];
};

/* Descriptor of a zero-copy message: a range of one pool buffer. */
struct exo_zc_desc {
	__u32 buf;
	__u32 offset;
	__u32 len;
	__u32 reserved;
};

/* Read-only description of the ring, written once at creation. */
struct exo_ring_info {
	__u32 magic;
	__u32 abi_version;
	__u32 mode;
	__u32 capacity;		/* slots, power of two */
	__u32 free_words;	/* 64-bit words of the free-buffer bitmap */
	__u32 buf_size;
	__u32 buf_count;
	/*
	 * The creator's uid. Trust it only from EXO_RING_IOC_INFO or
	 * EXO_RING_IOC_STATS (in the caller's user namespace): the copy in
	 * the shared header is writable by every mapper (and holds the uid in
	 * the initial user namespace).
	 */
	__u32 owner_uid;
	__u64 slots_offset;
	__u64 free_offset;
	__u64 pool_offset;
	__u64 region_size;
};

/*
 * Progress of one side of a ring, alone on its cache line: pos is the next
 * position that side will claim. The counters are statistics only.
 */
struct exo_ring_side {
	__u64 pos;
	__u64 stalls;		/* times this side found the ring full/empty */
	__u64 batches;		/* batch operations of this side */
	__u64 reserved[5];
};

/*
 * Sleepers of one kind (EXO_WAIT_*), alone on a cache line that is written
 * only when someone goes to sleep, so that the wakers' check of need_wakeup
 * on every publish reads a line that stays shared in their cache.
 * wake_seq is bumped on every wake: it is the futex word of the memfd
 * backend.
 */
struct exo_ring_waiter {
	__u32 need_wakeup;
	__u32 wake_seq;
	__u64 sleeps;		/* times a waiter of this kind slept */
	__u64 wakes;		/* wake calls made for this kind */
	__u64 reserved[5];
};

struct exo_ring_header {
	struct exo_ring_info info;
	struct exo_ring_side prod;	/* producers of messages */
	struct exo_ring_side cons;	/* consumers of messages */
	struct exo_ring_side reserved_side;
	/* takers of zc buffers: pos is the bitmap word where searches start */
	struct exo_ring_side free_cons;
	struct exo_ring_waiter waiters[EXO_WAIT_NR];
};

/* --- control device ioctls (/dev/exofusion/control) --- */

struct exo_create_req {
	char name[EXO_NAME_MAX];	/* [a-zA-Z0-9._-], not "control", ".", ".." */
	__u32 capacity;			/* slots, power of two */
	__u32 mode;			/* EXO_MODE_* */
	__u32 buf_size;			/* zero-copy buffer size, 0 = no pool */
	__u32 buf_count;		/* zero-copy buffers */
	__u32 perm;			/* node permission bits, e.g. 0600 */
	__u32 flags;			/* must be 0 */
	__u64 region_size;		/* out: bytes to mmap */
};

struct exo_name_req {
	char name[EXO_NAME_MAX];
};

/* --- ring device ioctls (/dev/exofusion/<name>) --- */

struct exo_wait_req {
	__u32 which;		/* EXO_WAIT_* */
	__u32 flags;		/* must be 0 */
	__s64 timeout_ns;	/* < 0: no timeout */
};

/*
 * EXO_RING_IOC_WAKE_WAIT: wakes the sleepers of kind wake_which of the ring
 * open as wake_fd (any exofusion ring's fd, this one's included), then waits
 * as EXO_RING_IOC_WAIT does: a sender whose next step is to wait (a request
 * then its reply) pays one system call instead of two.
 */
struct exo_wake_wait_req {
	struct exo_wait_req wait;
	__s32 wake_fd;
	__u32 wake_which;	/* EXO_WAIT_* */
};

struct exo_ring_stats {
	__u64 messages;		/* producer position: messages sent */
	__u64 received;		/* consumer position */
	__u64 batches;
	__u64 full_events;
	__u64 empty_events;
	__u64 sleeps;		/* EXO_RING_IOC_WAIT calls that slept */
	__u64 wakeups;		/* EXO_RING_IOC_WAKE calls */
	__u64 kernel_errors;	/* corrupted shared state seen by the kernel */
	__u64 region_size;
	__u32 capacity;
	__u32 mode;
	__u32 buf_size;
	__u32 buf_count;
	__u32 open_count;
	__u32 owner_uid;	/* the creator's uid, as in exo_ring_info */
};

#define EXO_IOC_MAGIC		0xEF
#define EXO_IOC_CREATE		_IOWR(EXO_IOC_MAGIC, 0x01, struct exo_create_req)
#define EXO_IOC_DESTROY		_IOW(EXO_IOC_MAGIC, 0x02, struct exo_name_req)
#define EXO_RING_IOC_INFO	_IOR(EXO_IOC_MAGIC, 0x10, struct exo_ring_info)
#define EXO_RING_IOC_WAIT	_IOW(EXO_IOC_MAGIC, 0x11, struct exo_wait_req)
#define EXO_RING_IOC_WAKE	_IO(EXO_IOC_MAGIC, 0x12)	/* arg: EXO_WAIT_* */
#define EXO_RING_IOC_STATS	_IOR(EXO_IOC_MAGIC, 0x13, struct exo_ring_stats)
#define EXO_RING_IOC_WAKE_WAIT	_IOW(EXO_IOC_MAGIC, 0x14, struct exo_wake_wait_req)

/* Layout checks, for C and C++ alike. */
#ifdef __cplusplus
#define EXO_STATIC_ASSERT(e, msg) static_assert(e, msg)
#else
#define EXO_STATIC_ASSERT(e, msg) _Static_assert(e, msg)
#endif
#define EXO_OFFSET(t, m) __builtin_offsetof(struct t, m)

EXO_STATIC_ASSERT(sizeof(struct exo_slot) == EXO_SLOT_SIZE, "slot is one cache line");
EXO_STATIC_ASSERT(EXO_OFFSET(exo_slot, data) == 8, "8-byte slot header");
EXO_STATIC_ASSERT(sizeof(struct exo_zc_desc) == 16, "zc descriptor size");
EXO_STATIC_ASSERT(sizeof(struct exo_zc_desc) <= EXO_INLINE_MAX, "zc descriptor fits a slot");
EXO_STATIC_ASSERT(sizeof(struct exo_ring_info) == EXO_CACHELINE, "info is one line");
EXO_STATIC_ASSERT(EXO_OFFSET(exo_ring_info, owner_uid) == 28, "owner in the old reserved word");
EXO_STATIC_ASSERT(sizeof(struct exo_ring_side) == EXO_CACHELINE, "side is one line");
EXO_STATIC_ASSERT(EXO_OFFSET(exo_ring_header, prod) == 1 * EXO_CACHELINE, "prod line");
EXO_STATIC_ASSERT(EXO_OFFSET(exo_ring_header, cons) == 2 * EXO_CACHELINE, "cons line");
EXO_STATIC_ASSERT(EXO_OFFSET(exo_ring_header, reserved_side) == 3 * EXO_CACHELINE, "reserved line");
EXO_STATIC_ASSERT(EXO_OFFSET(exo_ring_header, free_cons) == 4 * EXO_CACHELINE, "free_cons line");
EXO_STATIC_ASSERT(sizeof(struct exo_ring_waiter) == EXO_CACHELINE, "waiter is one line");
EXO_STATIC_ASSERT(EXO_OFFSET(exo_ring_header, waiters) == 5 * EXO_CACHELINE, "waiter lines");
EXO_STATIC_ASSERT(sizeof(struct exo_ring_header) <= EXO_PAGE_SIZE, "header fits a page");
EXO_STATIC_ASSERT(sizeof(struct exo_create_req) == 64, "create ABI size");
EXO_STATIC_ASSERT(sizeof(struct exo_wait_req) == 16, "wait ABI size");
EXO_STATIC_ASSERT(sizeof(struct exo_wake_wait_req) == 24, "wake-wait ABI size");
EXO_STATIC_ASSERT(sizeof(struct exo_ring_stats) == 96, "stats ABI size");
EXO_STATIC_ASSERT(EXO_OFFSET(exo_ring_stats, owner_uid) == 92, "owner in the old reserved word");

#endif /* _UAPI_EXOFUSION_H */
