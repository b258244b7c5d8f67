/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The module's tracepoints (tracefs events/exofusion/, perf and trace-cmd
 * "exofusion:*"): rings made and destroyed, sleeps and wake-ups, corrupted
 * shared state the kernel saw, the slab caches' magazine resizes and
 * shrinks, and the NIC driver's mode changes. trace.c instantiates them.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM exofusion

#ifndef EXO_SHIM_TRACE_TYPES_H
#define EXO_SHIM_TRACE_TYPES_H
/* The kernel's call that found a ring corrupted (ring_error's op). */
enum exo_trace_op { EXO_TRACE_OP_READ, EXO_TRACE_OP_WRITE, EXO_TRACE_OP_WAIT };
/* Who woke a ring's sleepers (ring_wake's cause). */
enum exo_trace_wake { EXO_TRACE_WAKE_PEER, EXO_TRACE_WAKE_RECHECK };
/* What shrank a slab cache (slab_shrink's cause). */
enum exo_trace_shrink {
	EXO_TRACE_SHRINK_CTL,		/* slab_ctl "shrink" */
	EXO_TRACE_SHRINK_PRESSURE,	/* slab_ctl "pressure" */
	EXO_TRACE_SHRINK_SCAN,		/* the shrinker's scan (or slab_ctl "scan <nr>") */
};
#endif /* EXO_SHIM_TRACE_TYPES_H */

#if !defined(EXO_SHIM_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define EXO_SHIM_TRACE_H

#include <linux/cred.h>
#include <linux/netdevice.h>
#include <linux/tracepoint.h>
#include <linux/uidgid.h>

#include "module/core/core_api.h"
#include "module/core/nic/mode_api.h"
#include "module/core/slab/slab_api.h"
#include "module/shim/shim.h"

TRACE_DEFINE_ENUM(EXO_FAULT_NONE);
TRACE_DEFINE_ENUM(EXO_FAULT_POSITIONS);
TRACE_DEFINE_ENUM(EXO_FAULT_SEQUENCE);
TRACE_DEFINE_ENUM(EXO_FAULT_SLOT_TYPE);
TRACE_DEFINE_ENUM(EXO_FAULT_INLINE_LEN);
TRACE_DEFINE_ENUM(EXO_FAULT_ZC_DESC);
TRACE_DEFINE_ENUM(EXO_TRACE_OP_READ);
TRACE_DEFINE_ENUM(EXO_TRACE_OP_WRITE);
TRACE_DEFINE_ENUM(EXO_TRACE_OP_WAIT);
TRACE_DEFINE_ENUM(EXO_TRACE_WAKE_PEER);
TRACE_DEFINE_ENUM(EXO_TRACE_WAKE_RECHECK);
TRACE_DEFINE_ENUM(EXO_TRACE_SHRINK_CTL);
TRACE_DEFINE_ENUM(EXO_TRACE_SHRINK_PRESSURE);
TRACE_DEFINE_ENUM(EXO_TRACE_SHRINK_SCAN);
TRACE_DEFINE_ENUM(EXO_SLAB_GROW_MISSES);
TRACE_DEFINE_ENUM(EXO_SLAB_GROW_CONTENTION);
TRACE_DEFINE_ENUM(EXO_SLAB_SHRINK_IDLE);
TRACE_DEFINE_ENUM(EXO_SLAB_SHRINK_PRESSURE);
TRACE_DEFINE_ENUM(EXO_NIC_MODE_INTERRUPT);
TRACE_DEFINE_ENUM(EXO_NIC_MODE_MODERATED);
TRACE_DEFINE_ENUM(EXO_NIC_MODE_TIMER_POLL);
TRACE_DEFINE_ENUM(EXO_NIC_MODE_BUSY_POLL);
TRACE_DEFINE_ENUM(EXO_NIC_MODES);
TRACE_DEFINE_ENUM(EXO_NIC_REASON_FORCED);
TRACE_DEFINE_ENUM(EXO_NIC_REASON_RATE_UP);
TRACE_DEFINE_ENUM(EXO_NIC_REASON_RATE_DOWN);
TRACE_DEFINE_ENUM(EXO_NIC_REASON_BUSY_POLL);
TRACE_DEFINE_ENUM(EXO_NIC_REASON_BUSY_TIMEOUT);
TRACE_DEFINE_ENUM(EXO_NIC_REASON_IDLE);

#define exo_show_wait(w)						\
	__print_symbolic(w, { EXO_WAIT_DATA, "data" }, { EXO_WAIT_SPACE, "space" },	\
			 { EXO_WAIT_BUFFER, "buffer" })

#define exo_show_nic_mode(m)						\
	__print_symbolic(m, { EXO_NIC_MODE_INTERRUPT, "interrupt" },		\
			 { EXO_NIC_MODE_MODERATED, "moderated" },		\
			 { EXO_NIC_MODE_TIMER_POLL, "timer-poll" },		\
			 { EXO_NIC_MODE_BUSY_POLL, "busy-poll" },		\
			 { EXO_NIC_MODES, "adaptive" })

/* The ring's owner: its creator's fsuid, in the initial user namespace. */
#define exo_trace_owner(ring) from_kuid(&init_user_ns, (ring)->uid)

TRACE_EVENT(ring_create,
	    TP_PROTO(const struct exo_ring *ring),
	    TP_ARGS(ring),
	    TP_STRUCT__entry(__array(char, name, EXO_NAME_MAX)
			     __field(int, minor)
			     __field(u32, uid)
			     __field(u32, mode)
			     __field(u32, capacity)
			     __field(u32, buf_size)
			     __field(u32, buf_count)
			     __field(u64, region_size)
			     __field(u32, perm)),
	    TP_fast_assign(strscpy(__entry->name, ring->name, sizeof(__entry->name));
			   __entry->minor = ring->minor;
			   __entry->uid = exo_trace_owner(ring);
			   __entry->mode = ring->info.mode;
			   __entry->capacity = ring->info.capacity;
			   __entry->buf_size = ring->info.buf_size;
			   __entry->buf_count = ring->info.buf_count;
			   __entry->region_size = ring->info.region_size;
			   __entry->perm = ring->perm;),
	    TP_printk("ring=%s minor=%d uid=%u mode=%s capacity=%u buf_size=%u buf_count=%u region_size=%llu perm=0%o",
		      __entry->name, __entry->minor, __entry->uid,
		      __print_symbolic(__entry->mode, { EXO_MODE_SPSC, "spsc" },
				       { EXO_MODE_MPMC, "mpmc" }),
		      __entry->capacity, __entry->buf_size, __entry->buf_count,
		      __entry->region_size, __entry->perm)
);

TRACE_EVENT(ring_destroy,
	    TP_PROTO(const struct exo_ring *ring),
	    TP_ARGS(ring),
	    TP_STRUCT__entry(__array(char, name, EXO_NAME_MAX)
			     __field(int, minor)
			     __field(u32, uid)
			     __field(u32, by_uid)
			     __field(int, open_files)
			     __field(u64, region_size)),
	    TP_fast_assign(strscpy(__entry->name, ring->name, sizeof(__entry->name));
			   __entry->minor = ring->minor;
			   __entry->uid = exo_trace_owner(ring);
			   __entry->by_uid = from_kuid(&init_user_ns, current_fsuid());
			   __entry->open_files = atomic_read(&ring->counters.open_count);
			   __entry->region_size = ring->info.region_size;),
	    TP_printk("ring=%s minor=%d uid=%u by_uid=%u open_files=%d region_size=%llu",
		      __entry->name, __entry->minor, __entry->uid, __entry->by_uid,
		      __entry->open_files, __entry->region_size)
);

TRACE_EVENT(ring_sleep,
	    TP_PROTO(const struct exo_ring *ring, unsigned int which, long timeout),
	    TP_ARGS(ring, which, timeout),
	    TP_STRUCT__entry(__array(char, name, EXO_NAME_MAX)
			     __field(u32, uid)
			     __field(u32, which)
			     __field(long, timeout_ms)
			     __field(u64, sleeps)),
	    TP_fast_assign(strscpy(__entry->name, ring->name, sizeof(__entry->name));
			   __entry->uid = exo_trace_owner(ring);
			   __entry->which = which;
			   __entry->timeout_ms = timeout == MAX_SCHEDULE_TIMEOUT ? -1 :
			   (long)jiffies_to_msecs(timeout);
			   __entry->sleeps = atomic64_read(&ring->counters.sleeps);),
	    TP_printk("ring=%s uid=%u which=%s timeout_ms=%ld sleeps=%llu",
		      __entry->name, __entry->uid, exo_show_wait(__entry->which),
		      __entry->timeout_ms, __entry->sleeps)
);

TRACE_EVENT(ring_wake,
	    TP_PROTO(const struct exo_ring *ring, unsigned int which, unsigned int cause),
	    TP_ARGS(ring, which, cause),
	    TP_STRUCT__entry(__array(char, name, EXO_NAME_MAX)
			     __field(u32, uid)
			     __field(u32, which)
			     __field(u32, cause)
			     __field(u64, wakeups)),
	    TP_fast_assign(strscpy(__entry->name, ring->name, sizeof(__entry->name));
			   __entry->uid = exo_trace_owner(ring);
			   __entry->which = which;
			   __entry->cause = cause;
			   __entry->wakeups = atomic64_read(&ring->counters.wakeups);),
	    TP_printk("ring=%s uid=%u which=%s cause=%s wakeups=%llu",
		      __entry->name, __entry->uid, exo_show_wait(__entry->which),
		      __print_symbolic(__entry->cause, { EXO_TRACE_WAKE_PEER, "peer" },
				       { EXO_TRACE_WAKE_RECHECK, "recheck" }),
		      __entry->wakeups)
);

TRACE_EVENT(ring_error,
	    TP_PROTO(const struct exo_ring *ring, unsigned int op, unsigned int which,
		     unsigned int reason),
	    TP_ARGS(ring, op, which, reason),
	    TP_STRUCT__entry(__array(char, name, EXO_NAME_MAX)
			     __field(u32, uid)
			     __field(u32, caller_uid)
			     __field(u32, op)
			     __field(u32, which)
			     __field(u32, reason)
			     __field(u64, errors)),
	    TP_fast_assign(strscpy(__entry->name, ring->name, sizeof(__entry->name));
			   __entry->uid = exo_trace_owner(ring);
			   __entry->caller_uid = from_kuid(&init_user_ns, current_fsuid());
			   __entry->op = op;
			   __entry->which = which;
			   __entry->reason = reason;
			   __entry->errors = atomic64_read(&ring->counters.kernel_errors);),
	    TP_printk("ring=%s uid=%u caller_uid=%u op=%s which=%s reason=%s errors=%llu",
		      __entry->name, __entry->uid, __entry->caller_uid,
		      __print_symbolic(__entry->op, { EXO_TRACE_OP_READ, "read" },
				       { EXO_TRACE_OP_WRITE, "write" },
				       { EXO_TRACE_OP_WAIT, "wait" }),
		      exo_show_wait(__entry->which),
		      __print_symbolic(__entry->reason, { EXO_FAULT_NONE, "unknown" },
				       { EXO_FAULT_POSITIONS, "positions" },
				       { EXO_FAULT_SEQUENCE, "sequence" },
				       { EXO_FAULT_SLOT_TYPE, "slot-type" },
				       { EXO_FAULT_INLINE_LEN, "inline-len" },
				       { EXO_FAULT_ZC_DESC, "zc-desc" }),
		      __entry->errors)
);

TRACE_EVENT(slab_resize,
	    TP_PROTO(const char *cache, const struct exo_slab_resize_event *e),
	    TP_ARGS(cache, e),
	    TP_STRUCT__entry(__array(char, cache, EXO_SLAB_NAME_MAX)
			     __field(u32, from)
			     __field(u32, to)
			     __field(u32, reason)
			     __field(u64, tick)
			     __field(u64, ops)
			     __field(u64, misses)
			     __field(u64, contended)),
	    TP_fast_assign(strscpy(__entry->cache, cache, sizeof(__entry->cache));
			   __entry->from = e->from;
			   __entry->to = e->to;
			   __entry->reason = e->reason;
			   __entry->tick = e->tick;
			   __entry->ops = e->ops;
			   __entry->misses = e->misses;
			   __entry->contended = e->contended;),
	    TP_printk("cache=%s from=%u to=%u reason=%s tick=%llu ops=%llu misses=%llu contended=%llu",
		      __entry->cache, __entry->from, __entry->to,
		      __print_symbolic(__entry->reason, { EXO_SLAB_GROW_MISSES, "grow-misses" },
				       { EXO_SLAB_GROW_CONTENTION, "grow-contention" },
				       { EXO_SLAB_SHRINK_IDLE, "shrink-idle" },
				       { EXO_SLAB_SHRINK_PRESSURE, "shrink-pressure" }),
		      __entry->tick, __entry->ops, __entry->misses, __entry->contended)
);

TRACE_EVENT(slab_shrink,
	    TP_PROTO(const char *cache, unsigned int cause, unsigned long nr_to_scan,
		     unsigned long objects, unsigned long pages),
	    TP_ARGS(cache, cause, nr_to_scan, objects, pages),
	    TP_STRUCT__entry(__array(char, cache, EXO_SLAB_NAME_MAX)
			     __field(u32, cause)
			     __field(unsigned long, nr_to_scan)
			     __field(unsigned long, objects)
			     __field(unsigned long, pages)),
	    TP_fast_assign(strscpy(__entry->cache, cache, sizeof(__entry->cache));
			   __entry->cause = cause;
			   __entry->nr_to_scan = nr_to_scan;
			   __entry->objects = objects;
			   __entry->pages = pages;),
	    TP_printk("cache=%s cause=%s nr_to_scan=%lu objects=%lu pages=%lu",
		      __entry->cache,
		      __print_symbolic(__entry->cause, { EXO_TRACE_SHRINK_CTL, "shrink" },
				       { EXO_TRACE_SHRINK_PRESSURE, "pressure" },
				       { EXO_TRACE_SHRINK_SCAN, "shrinker" }),
		      __entry->nr_to_scan, __entry->objects, __entry->pages)
);

TRACE_EVENT(nic_mode,
	    TP_PROTO(const struct net_device *dev, const struct exo_nic_mode_change *ch,
		     unsigned int policy),
	    TP_ARGS(dev, ch, policy),
	    TP_STRUCT__entry(__array(char, dev, IFNAMSIZ)
			     __field(u32, from)
			     __field(u32, to)
			     __field(u32, reason)
			     __field(u32, rate_pps)
			     __field(u32, batch_x16)
			     __field(u32, policy)),
	    TP_fast_assign(strscpy(__entry->dev, netdev_name(dev), sizeof(__entry->dev));
			   __entry->from = ch->from;
			   __entry->to = ch->to;
			   __entry->reason = ch->reason;
			   __entry->rate_pps = ch->rate_pps;
			   __entry->batch_x16 = ch->batch_x16;
			   __entry->policy = policy;),
	    TP_printk("dev=%s from=%s to=%s reason=%s rate_pps=%u batch_x16=%u policy=%s",
		      __entry->dev, exo_show_nic_mode(__entry->from),
		      exo_show_nic_mode(__entry->to),
		      __print_symbolic(__entry->reason, { EXO_NIC_REASON_FORCED, "forced" },
				       { EXO_NIC_REASON_RATE_UP, "rate-up" },
				       { EXO_NIC_REASON_RATE_DOWN, "rate-down" },
				       { EXO_NIC_REASON_BUSY_POLL, "busy-poll" },
				       { EXO_NIC_REASON_BUSY_TIMEOUT, "busy-timeout" },
				       { EXO_NIC_REASON_IDLE, "idle" }),
		      __entry->rate_pps, __entry->batch_x16, exo_show_nic_mode(__entry->policy))
);

#endif /* EXO_SHIM_TRACE_H */

/* Out of tree: found through the module's -I$(src) (Kbuild's ccflags-y). */
#undef TRACE_INCLUDE_PATH
/* module/shim, spliced so that checkpatch sees no division in it. */
#define TRACE_INCLUDE_PATH module\
/\
shim
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
