/* SPDX-License-Identifier: LGPL-2.1 OR GPL-2.0 */
/*
 * libexofiber: fibers (user-space threads) on N worker threads, with a
 * cache-affine, run-length-predicting scheduler, and waits on fds and
 * fusion rings that park the fiber, not the thread.
 *
 * Calls return 0 (or a count) on success and a negative errno on failure;
 * exo_last_error() (exofusion.h) then names what was wrong. Calls that wait
 * (join, yield, sleep, mutex, condition, channel, fd and ring waits) park
 * the calling fiber; called from a thread that is not a fiber they block
 * the thread instead (yield: sched_yield).
 */
#ifndef EXOFIBER_EXOFIBER_H
#define EXOFIBER_EXOFIBER_H

#include <stddef.h>
#include <stdint.h>

#include "userspace/include/exofusion/exofusion.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct exo_fiber_sched exo_fiber_sched;
typedef struct exo_fiber exo_fiber;

enum exo_fiber_policy {
	EXO_FIBER_PREDICTIVE = 0,	/* hot first, shortest predicted, aging */
	EXO_FIBER_FIFO = 1,		/* per-worker FIFO, steal anything */
};

struct exo_fiber_sched_params {
	unsigned int workers;		/* 0: one per online CPU */
	unsigned int policy;		/* enum exo_fiber_policy */
	unsigned int no_pin;		/* 1: do not pin worker k to CPU k */
	uint32_t stack_size;		/* default stack bytes (0: 64 KiB) */
	uint64_t hot_window_ns;		/* 0: 100 us */
	uint64_t aging_bound_ns;	/* 0: 10 ms */
	uint64_t steal_any_after_ns;	/* idle this long: steal normal, hot (0: 50 us) */
	unsigned int steal_cold_only;	/* 1: never steal beyond cold (an experiment) */
};

struct exo_fiber_stats {
	uint64_t spawned;
	uint64_t finished;
	uint64_t switches;		/* a fiber started or resumed */
	uint64_t steals_cold;		/* taken from another worker's cold queue */
	uint64_t steals_other;		/* normal or hot, after the idle bound */
	uint64_t migrations;		/* resumed on another worker than last time */
	uint64_t aged;			/* ran because it waited past the aging bound */
	uint64_t predictions;		/* runs scored against their prediction */
	uint64_t predictions_within_20pct;
	uint64_t sleeps;		/* a worker slept (futex or epoll) */
	uint64_t io_polls;		/* epoll_wait calls */
	uint64_t stacks_mapped;		/* stacks in use or cached */
};

int exo_fiber_sched_create(const struct exo_fiber_sched_params *params, exo_fiber_sched **out);
/* Waits until every fiber has finished, then stops the workers. Called from
 * one of its own fibers it aborts (it would wait for itself). */
void exo_fiber_sched_destroy(exo_fiber_sched *sched);
void exo_fiber_sched_get_stats(exo_fiber_sched *sched, struct exo_fiber_stats *stats);
/* The scheduler of the calling fiber, or NULL. */
exo_fiber_sched *exo_fiber_sched_current(void);

/* Runs fn(arg) on a new fiber. stack_size 0: the scheduler's default.
 * out NULL: detached; else *out must be joined exactly once. */
int exo_fiber_spawn(exo_fiber_sched *sched, void (*fn)(void *), void *arg, size_t stack_size,
		    exo_fiber **out);
int exo_fiber_join(exo_fiber *fiber);
/* Non-zero in a fiber. */
int exo_fiber_in_fiber(void);
int exo_fiber_yield(void);
int exo_fiber_sleep_ns(uint64_t ns);

/* Waits until fd has one of events (EPOLLIN, EPOLLOUT...); returns the
 * events, or -ETIMEDOUT (timeout_ns < 0: none), -EBUSY (another fiber of
 * this worker waits on fd), -EBADF/-EPERM (epoll refuses the fd). */
int exo_fiber_wait_fd(int fd, uint32_t events, int64_t timeout_ns);

/* exo_recv/exo_send that park the fiber while the ring is empty/full. */
int exo_fiber_recv(exo_ring *ring, struct exo_msg *msg, unsigned int flags);
int exo_fiber_send(exo_ring *ring, const void *data, size_t len, unsigned int flags);

/* Synchronisation between fibers (of any worker). */
typedef struct exo_fiber_mutex exo_fiber_mutex;
typedef struct exo_fiber_cond exo_fiber_cond;
typedef struct exo_fiber_chan exo_fiber_chan;
int exo_fiber_mutex_create(exo_fiber_mutex **out);
void exo_fiber_mutex_destroy(exo_fiber_mutex *m);
void exo_fiber_mutex_lock(exo_fiber_mutex *m);
int exo_fiber_mutex_trylock(exo_fiber_mutex *m);	/* 1 if taken */
void exo_fiber_mutex_unlock(exo_fiber_mutex *m);
int exo_fiber_cond_create(exo_fiber_cond **out);
void exo_fiber_cond_destroy(exo_fiber_cond *c);
void exo_fiber_cond_wait(exo_fiber_cond *c, exo_fiber_mutex *m);
void exo_fiber_cond_signal(exo_fiber_cond *c);
void exo_fiber_cond_broadcast(exo_fiber_cond *c);
/* A bounded channel of elem_size-byte items (capacity >= 1). */
int exo_fiber_chan_create(size_t elem_size, size_t capacity, exo_fiber_chan **out);
void exo_fiber_chan_destroy(exo_fiber_chan *ch);
/* 0, or -EPIPE once closed (recv: closed and drained). */
int exo_fiber_chan_send(exo_fiber_chan *ch, const void *item);
int exo_fiber_chan_recv(exo_fiber_chan *ch, void *item);
void exo_fiber_chan_close(exo_fiber_chan *ch);

#ifdef __cplusplus
}
#endif

#endif /* EXOFIBER_EXOFIBER_H */
