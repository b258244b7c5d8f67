/* SPDX-License-Identifier: LGPL-2.1 OR GPL-2.0 */
/*
 * libexofusion: fusion rings between processes.
 *
 * A ring lives either in the exofusion kernel module (a device node
 * /dev/exofusion/<name>, shared by name or fd) or, when the module is
 * absent, in a memfd (shared by fd: fork or SCM_RIGHTS). Both run the same
 * protocol in the same shared layout (uapi/exofusion.h); only sleeping and
 * waking differ (module ioctls vs futexes).
 *
 * Every call returns 0 (or a count) on success and a negative errno on
 * failure; exo_last_error() then names what was wrong, except for the
 * expected outcomes -EAGAIN (EXO_NONBLOCK), -ETIMEDOUT and -EINTR, which
 * keep the hot path free of formatting. Stall counters (full_events,
 * empty_events) count the calls that found the ring full or empty. Calls block with an
 * adaptive wait (spin, then sleep) unless EXO_NONBLOCK is given.
 *
 * Thread-safety: an SPSC ring has one sending and one receiving party at a
 * time (threads or processes); an MPMC ring any number of each.
 */
#ifndef EXOFUSION_EXOFUSION_H
#define EXOFUSION_EXOFUSION_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "uapi/exofusion.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct exo_ring exo_ring;

enum exo_backend {
	EXO_BACKEND_AUTO = 0,	/* the module if loaded, else memfd */
	EXO_BACKEND_DEVICE = 1,
	EXO_BACKEND_MEMFD = 2,
};

struct exo_ring_params {
	const char *name;	/* device: node name; memfd: label, may be NULL */
	uint32_t capacity;	/* slots, power of two */
	uint32_t mode;		/* EXO_MODE_SPSC or EXO_MODE_MPMC */
	uint32_t buf_size;	/* zero-copy buffer size (0: no pool) */
	uint32_t buf_count;	/* zero-copy buffers */
	uint32_t perm;		/* device node mode; 0 means 0600 */
};

/* Flags of send/recv calls */
#define EXO_NONBLOCK	0x1u
/*
 * Sends (exo_send, exo_send_batch, exo_zc_send): the caller's next call of
 * this library in this thread is a wait (a request, then its reply), so
 * the wake-up this send owes a sleeping peer of a device ring may ride on
 * that wait's system call: one instead of two. Any other call issues it
 * first thing, so the peer is late by at most the caller's time until its
 * next call; keep the ring open until then. Memfd rings wake at once.
 */
#define EXO_WAKE_ON_WAIT	0x2u

/* A received message. For EXO_MSG_ZEROCOPY, data points into the ring's
 * buffer pool and buf must be handed back with exo_zc_release(). */
struct exo_msg {
	uint32_t type;		/* EXO_MSG_INLINE or EXO_MSG_ZEROCOPY */
	uint32_t len;
	uint32_t buf;
	uint32_t flags;		/* EXO_SLOT_F_* */
	const void *data;	/* inline: points at inline_data */
	uint8_t inline_data[EXO_INLINE_MAX];
};

int exo_ring_create(const struct exo_ring_params *params, enum exo_backend backend,
		    exo_ring **out);
int exo_ring_open(const char *name, exo_ring **out);
/* Opens the device ring NAME only if uid OWNER created it (the kernel's
 * record, EXO_RING_IOC_INFO): -EPERM otherwise, so that a ring another user
 * created under an expected name (a squatter) is refused, not talked to. */
int exo_ring_open_owned(const char *name, uid_t owner, exo_ring **out);
int exo_ring_attach_fd(int fd, exo_ring **out);
void exo_ring_close(exo_ring *ring);
int exo_ring_destroy(const char *name);

int exo_ring_fd(const exo_ring *ring);
int exo_ring_is_device(const exo_ring *ring);
const struct exo_ring_info *exo_ring_get_info(const exo_ring *ring);
/* Device rings: the module's counters (owner_uid its record of the creator);
 * memfd rings: the shared header's, owner_uid 0. */
int exo_ring_get_stats(exo_ring *ring, struct exo_ring_stats *stats);

/* Inline messages (len <= EXO_INLINE_MAX): one slot each. */
int exo_send(exo_ring *ring, const void *data, size_t len, unsigned int flags);
int exo_recv(exo_ring *ring, struct exo_msg *msg, unsigned int flags);

/* Batches: many slots, one publication, at most one wake-up. Return the
 * number of messages moved (>= 1 unless EXO_NONBLOCK). */
int exo_send_batch(exo_ring *ring, const struct iovec *msgs, unsigned int count,
		   unsigned int flags);
int exo_recv_batch(exo_ring *ring, struct exo_msg *msgs, unsigned int max, unsigned int flags);

/* Slots in place: a run of consecutive slots of the ring, lent to the
 * caller. A run never wraps around the ring's end (a claim stops there;
 * the next one starts at the beginning), so slot i of the run is
 * run->slots + i: exo_slots_at(run, i).
 *
 * Sending: exo_reserve() claims up to max free slots (>= 1 unless
 * EXO_NONBLOCK: -EAGAIN); the caller writes each one's data (at most
 * EXO_INLINE_MAX bytes) and sets it with exo_slots_set(), then
 * exo_commit() publishes the whole run at once (every reserved slot: an
 * SPSC ring has no holes) with at most one wake-up.
 * Receiving: exo_recv_borrow() lends up to max published slots in place;
 * exo_slots_inline() reads an inline slot where it lies, exo_slots_msg()
 * any slot (a zero-copy one at its pool range; a malformed one is an
 * error); exo_recv_release() gives the run back in one store (SPSC) before
 * the next borrow or receive. The slots are shared memory: a peer can
 * change them while they are read. */
struct exo_slots {
	struct exo_slot *slots;	/* the run's first slot */
	uint64_t first;		/* ring position of the run's first slot */
	uint32_t count;		/* slots in the run */
	uint32_t reserved;
};

static inline struct exo_slot *exo_slots_at(const struct exo_slots *run, uint32_t i)
{
	return &run->slots[i];
}

/* Marks slot i of a reserved run as an inline message of len bytes: its
 * type, flags and len words in one store. */
static inline void exo_slots_set(const struct exo_slots *run, uint32_t i, uint16_t len,
				 uint8_t flags)
{
	struct exo_slot *slot = exo_slots_at(run, i);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint32_t word = EXO_MSG_INLINE | (uint32_t)flags << 8 | (uint32_t)len << 16;

	__builtin_memcpy((unsigned char *)slot + offsetof(struct exo_slot, type), &word,
			 sizeof(word));
#else
	slot->type = EXO_MSG_INLINE;
	slot->flags = flags;
	slot->len = len;
#endif
}

/* The fast path of exo_slots_msg for inline slots: slot i's data and
 * *len, or NULL when the slot is not a well-formed inline message (then
 * exo_slots_msg tells what it is: zero-copy, or malformed). Each field of
 * the shared slot is read once. */
static inline const void *exo_slots_inline(const struct exo_slots *run, uint32_t i,
					   uint32_t *len)
{
	const struct exo_slot *slot = exo_slots_at(run, i);
	uint8_t type = __atomic_load_n(&slot->type, __ATOMIC_RELAXED);
	uint16_t n = __atomic_load_n(&slot->len, __ATOMIC_RELAXED);

	if (type != EXO_MSG_INLINE || n > EXO_INLINE_MAX)
		return (const void *)0;
	*len = n;
	return slot->data;
}

int exo_reserve(exo_ring *ring, unsigned int max, unsigned int flags, struct exo_slots *run);
int exo_commit(exo_ring *ring, const struct exo_slots *run);
int exo_recv_borrow(exo_ring *ring, unsigned int max, unsigned int flags, struct exo_slots *run);
int exo_slots_msg(exo_ring *ring, const struct exo_slots *run, uint32_t i, struct exo_msg *msg);
int exo_recv_release(exo_ring *ring, const struct exo_slots *run);

/* Zero copy: take a pool buffer, build the message in it, send a range of
 * it; the receiver reads it in place and releases the buffer. */
int exo_zc_reserve(exo_ring *ring, uint32_t *buf, void **data, unsigned int flags);
int exo_zc_send(exo_ring *ring, uint32_t buf, uint32_t offset, uint32_t len, unsigned int flags);
int exo_zc_release(exo_ring *ring, uint32_t buf);

/* Issues the wake-up a send of this thread put off (EXO_WAKE_ON_WAIT), if
 * any: for a sender whose next step is not a call of this library. */
void exo_flush_wakeups(void);

/* Waits until a waiter of kind EXO_WAIT_* could progress (adaptive spin,
 * then sleep). timeout_ns < 0: no timeout. 0, -ETIMEDOUT or -EINTR. */
int exo_ring_wait(exo_ring *ring, unsigned int which, int64_t timeout_ns);

/* What went wrong in this thread's last failing call. */
const char *exo_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* EXOFUSION_EXOFUSION_H */
