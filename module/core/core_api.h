/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The core's C interface: what the module's C shim calls. The shim owns
 * kernel objects (devices, files, memory, wait queues); the core owns the
 * rules (parameters, layout, protocol) and never touches a kernel API.
 *
 * |region| is the kernel's mapping of a ring; |info| the kernel's own copy
 * of its layout, never the one in shared memory.
 */
#ifndef EXO_CORE_API_H
#define EXO_CORE_API_H

#ifdef __cplusplus
extern "C" {
#endif

struct exo_create_req;
struct exo_ring_info;
struct exo_ring_stats;

/* Name check of exo_create_req.name; 0 or -errno with *why. */
int exo_core_check_name(const char *name, unsigned long size, const char **why);
/* Validates creation parameters and computes the layout. */
int exo_core_plan_ring(const struct exo_create_req *req, struct exo_ring_info *info,
		       const char **why);
/* Lays a new ring out in zeroed memory of info->region_size bytes. */
void exo_core_init_ring(void *region, const struct exo_ring_info *info);

/*
 * What was wrong when a call below gave -EBADMSG (*fault): the corruption
 * the kernel saw in shared state, for its ring_error tracepoint.
 */
enum exo_core_fault {
	EXO_FAULT_NONE = 0,
	EXO_FAULT_POSITIONS,	/* SPSC: consumer ahead of the producer, or a lap behind */
	/* a cell's sequence no honest party writes, or a position that never settles */
	EXO_FAULT_SEQUENCE,
	EXO_FAULT_SLOT_TYPE,	/* a published message of no known type */
	EXO_FAULT_INLINE_LEN,	/* an inline message longer than EXO_INLINE_MAX */
	EXO_FAULT_ZC_DESC,	/* a zero-copy descriptor outside the pool */
};

/*
 * Whether a waiter of kind |which| (EXO_WAIT_*) can make progress: 1, 0
 * (wait for the peer; also for kinds that do not exist), or -EBADMSG: the
 * shared state is one no honest party produces, and waiting for it to
 * change could last for ever. Agrees with exo_core_read()/exo_core_write():
 * those give -EAGAIN only on a ring this calls 0 (or that moved since).
 * *fault says what was wrong on -EBADMSG (enum exo_core_fault), else
 * EXO_FAULT_NONE.
 */
int exo_core_ready(void *region, const struct exo_ring_info *info, unsigned int which,
		   unsigned int *fault);
/* Announces a sleeper of kind |which|: sets need_wakeup. */
void exo_core_announce_sleep(void *region, const struct exo_ring_info *info, unsigned int which);
/* Clears need_wakeup of |which| and bumps its wake_seq: a wake-up is due. */
void exo_core_note_wake(void *region, const struct exo_ring_info *info, unsigned int which);
/* Bit (1 << EXO_WAIT_*) set for each kind with sleepers announced. */
unsigned int exo_core_pending_wakeups(void *region, const struct exo_ring_info *info,
				      unsigned int kinds);

/*
 * The kernel as a ring peer (read(2)/write(2) on a ring fd): one message
 * per call. Return bytes moved, -EAGAIN (empty/full), -EMSGSIZE (a read
 * buffer smaller than the ring's largest message, or a message larger than
 * it), -EFAULT or -EBADMSG (corrupted shared state: a malformed message,
 * which a read drops, or positions and sequences no honest party makes).
 * A read copies the message out before it takes it: on -EFAULT the message
 * is still queued. *wake gets the kinds whose sleepers must be woken (see
 * exo_core_pending_wakeups), *fault what was wrong on -EBADMSG (as for
 * exo_core_ready).
 */
long exo_core_read(void *region, const struct exo_ring_info *info, void *ubuf,
		   unsigned long len, unsigned int *wake, unsigned int *fault);
long exo_core_write(void *region, const struct exo_ring_info *info, const void *ubuf,
		    unsigned long len, unsigned int *wake, unsigned int *fault);

/* Fills what shared memory says of the ring; the shim adds its own. */
void exo_core_stats(void *region, const struct exo_ring_info *info, struct exo_ring_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* EXO_CORE_API_H */
