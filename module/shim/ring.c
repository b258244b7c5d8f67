// SPDX-License-Identifier: GPL-2.0
/*
 * The ring character devices /dev/exofusion/<name>: mmap of the shared
 * region, sleeping and waking, poll, and read/write with the kernel as a
 * ring peer. Every value read from the region is checked by the core.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/device.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/poll.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/smp.h>
#include <linux/timer.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "module/core/core_api.h"
#include "module/shim/shim.h"
#include "module/shim/trace.h"

/*
 * Sleeping, and what it costs others.
 *
 * A sleeper announces itself (need_wakeup) and re-checks the ring; senders
 * read need_wakeup after publishing with only a compiler barrier, so the
 * sleeper must make sure that every other CPU passed a full barrier after
 * its announcement before it trusts its re-check. Two ways:
 *  - now, by an IPI to every CPU (exo_remote_barrier()). Only a waiter that
 *    really goes to sleep pays it (a blocking call, a poll that queues),
 *    only once per announcement (a barrier covers every later sleeper of
 *    the kind until a wake clears need_wakeup: fenced_gen), and within a
 *    budget: EXO_RING_IPIS_PER_SEC per ring and EXO_IPIS_PER_SEC for the
 *    whole module, so no user can make every CPU take interrupts at will;
 *  - later, for free: an RCU grace period also makes every CPU pass a full
 *    barrier (as membarrier(2)'s MEMBARRIER_CMD_GLOBAL relies on). Until
 *    one has elapsed, the ring's recheck timer re-checks the kind every
 *    EXO_RECHECK_MS (rounded up to a jiffy) and wakes its sleepers when it
 *    became ready, so a wake-up the race lost comes at most one period
 *    late: that is the latency bound of a sleeper over budget.
 * Senders never pay a fence either way.
 */
#define EXO_RING_IPIS_PER_SEC	64
#define EXO_IPIS_PER_SEC	256
#define EXO_RECHECK_MS		2
#define EXO_RECHECKS_BEFORE_GP	8

static struct exo_ipi_budget exo_ipis_all;

/* What each kind's wake-up tells poll(2)/epoll waiters. */
static const __poll_t exo_poll_key[EXO_WAIT_NR] = {
	[EXO_WAIT_DATA] = EPOLLIN | EPOLLRDNORM,
	[EXO_WAIT_SPACE] = EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND,
	[EXO_WAIT_BUFFER] = EPOLLOUT | EPOLLWRNORM,
};

/* 1 ready, 0 not (wait), -EBADMSG corrupt (never wait): see exo_core_ready(). */
static int exo_state(struct exo_ring *ring, unsigned int which)
{
	unsigned int fault;

	return exo_core_ready(ring->region, &ring->info, which, &fault);
}

/* The same; on -EBADMSG @fault says what was wrong (enum exo_core_fault). */
static int exo_state_fault(struct exo_ring *ring, unsigned int which, unsigned int *fault)
{
	return exo_core_ready(ring->region, &ring->info, which, fault);
}

/* The kernel found @ring corrupted (-EBADMSG) in @op of kind @which: counted, traced. */
static void exo_ring_error(struct exo_ring *ring, unsigned int op, unsigned int which,
			   unsigned int fault)
{
	atomic64_inc(&ring->counters.kernel_errors);
	trace_ring_error(ring, op, which, fault);
}

static unsigned long exo_recheck_period(void)
{
	return max(1UL, msecs_to_jiffies(EXO_RECHECK_MS));
}

/* Takes one IPI of @b's budget of @per_sec a second; false when spent. */
static bool exo_budget_take(struct exo_ipi_budget *b, int per_sec)
{
	unsigned long now = jiffies, start = READ_ONCE(b->start);

	/* A zeroed budget may start "in the future" (jiffies start negative). */
	/*
	 * A take between the cmpxchg and the reset is forgotten: the budget
	 * can be overshot by the few CPUs racing here, once a second.
	 */
	if (time_after(now, start + HZ) || time_before(now, start)) {
		if (cmpxchg(&b->start, start, now) == start)
			atomic_set(&b->used, 0);
	}
	return atomic_inc_return(&b->used) <= per_sec;
}

static bool exo_ipi_allowed(struct exo_ring *ring)
{
	return exo_budget_take(&ring->sleep.ipis, EXO_RING_IPIS_PER_SEC) &&
	       exo_budget_take(&exo_ipis_all, EXO_IPIS_PER_SEC);
}

static void exo_barrier_ipi(void *unused)
{
	/* Pairs with the sleeper's smp_mb() in exo_remote_barrier(). */
	smp_mb();
}

/*
 * The sleeper's half of the asymmetric barrier (as membarrier(2) does):
 * this IPI makes every other CPU pass a full barrier, so after it either
 * we see their message or they see our need_wakeup.
 */
static void exo_remote_barrier(void)
{
	/* Orders our need_wakeup store before the IPIs and the re-check. */
	smp_mb();
	smp_call_function(exo_barrier_ipi, NULL, 1);
}

/* A grace period that ends every unfenced kind's wait, started now. */
static void exo_start_grace_period(struct exo_ring_sleep *s)
{
	unsigned long cookie = start_poll_synchronize_rcu();
	unsigned int which;

	spin_lock(&s->lock);
	for (which = 0; which < EXO_WAIT_NR; which++)
		if (s->unfenced & (1u << which))
			s->cookie[which] = cookie;
	spin_unlock(&s->lock);
}

/* Re-checks the kinds whose barrier waits for a grace period. */
static void exo_recheck_fn(struct timer_list *t)
{
	struct exo_ring_sleep *s = from_timer(s, t, recheck);
	struct exo_ring *ring = container_of(s, struct exo_ring, sleep);
	unsigned int which, wake = 0;

	/*
	 * Grace periods others start end the fallback; on a quiet system there
	 * may be none for long, so after a while this ring starts one (once
	 * per fallback: the RCU kthread's wake-up is then a bounded cost).
	 */
	if (++s->rechecks == EXO_RECHECKS_BEFORE_GP)
		exo_start_grace_period(s);
	spin_lock(&s->lock);
	for (which = 0; which < EXO_WAIT_NR; which++) {
		if (!(s->unfenced & (1u << which)))
			continue;
		if (poll_state_synchronize_rcu(s->cookie[which])) {
			/* Every CPU passed a barrier: this re-check is the last. */
			s->unfenced &= ~(1u << which);
			atomic_set(&s->fenced_gen[which], s->cookie_gen[which] + 1);
		}
		if (exo_state(ring, which))
			wake |= 1u << which;
	}
	if (s->unfenced && !ring->dead)
		mod_timer(&s->recheck, jiffies + exo_recheck_period());
	else
		s->rechecks = 0;
	spin_unlock(&s->lock);
	for (which = 0; which < EXO_WAIT_NR; which++) {
		if (!(wake & (1u << which)))
			continue;
		trace_ring_wake(ring, which, EXO_TRACE_WAKE_RECHECK);
		wake_up_interruptible_poll(&ring->wq[which], exo_poll_key[which]);
	}
}

/* The barrier of an announcement of @which, deferred to a grace period. */
static void exo_fence_later(struct exo_ring *ring, unsigned int which, int gen)
{
	struct exo_ring_sleep *s = &ring->sleep;

	/* Orders need_wakeup before the grace period we wait for. */
	smp_mb();
	spin_lock_bh(&s->lock);
	/*
	 * Not start_poll_synchronize_rcu(): starting a grace period wakes the
	 * RCU kthread, often with an IPI to the CPU it sleeps on. Grace periods
	 * that others start end the fallback; until then the timer re-checks,
	 * and starts one itself only if the fallback lasts (exo_recheck_fn()).
	 */
	s->cookie[which] = get_state_synchronize_rcu();
	s->cookie_gen[which] = gen;
	s->unfenced |= 1u << which;
	if (!ring->dead)
		timer_reduce(&s->recheck, jiffies + exo_recheck_period());
	spin_unlock_bh(&s->lock);
}

/* The barrier after an announcement of @which made at wake_gen @gen. */
static void exo_fence_announcement(struct exo_ring *ring, unsigned int which, int gen,
				   bool may_ipi)
{
	/* A barrier since the last wake, which cleared need_wakeup, covers us. */
	if (atomic_read(&ring->sleep.fenced_gen[which]) == gen + 1) {
		/* Orders our need_wakeup store before the caller's re-check. */
		smp_mb();
		return;
	}
	/*
	 * With one CPU online there is no other CPU to fence: a sender that
	 * ran here before us is ordered by the context switch (a full barrier
	 * in schedule()). So one vCPU, the common VM, never pays the timer.
	 */
	if (num_online_cpus() == 1) {
		/* Orders our need_wakeup store before the caller's re-check. */
		smp_mb();
		return;
	}
	if (may_ipi && exo_ipi_allowed(ring)) {
		exo_remote_barrier();
		atomic_set(&ring->sleep.fenced_gen[which], gen + 1);
		return;
	}
	exo_fence_later(ring, which, gen);
}

/*
 * Announces a sleeper of @which; @may_ipi when it is about to sleep for
 * real. Returns the wake_gen it saw first, for the wait. After it, a
 * sender either sees need_wakeup or published before our caller's
 * re-check, or (deferred barrier) the recheck timer covers the race.
 */
static int exo_announce_sleep(struct exo_ring *ring, unsigned int which, bool may_ipi)
{
	int gen = atomic_read(&ring->wake_gen[which]);

	/* Orders the wake_gen snapshot before the announcement. */
	smp_mb();
	exo_core_announce_sleep(ring->region, &ring->info, which);
	exo_fence_announcement(ring, which, gen, may_ipi);
	return gen;
}

/* Sets up what a new ring's file operations use, before it is published. */
void exo_ring_io_init(struct exo_ring *ring)
{
	struct exo_ring_sleep *s = &ring->sleep;

	spin_lock_init(&s->lock);
	timer_setup(&s->recheck, exo_recheck_fn, 0);
	mutex_init(&ring->spsc_side[EXO_SIDE_CONSUMER]);
	mutex_init(&ring->spsc_side[EXO_SIDE_PRODUCER]);
}

void exo_ring_hangup(struct exo_ring *ring)
{
	struct exo_ring_sleep *s = &ring->sleep;
	unsigned int which;

	spin_lock_bh(&s->lock);
	WRITE_ONCE(ring->dead, true);
	spin_unlock_bh(&s->lock);
	/* Nothing arms it once dead (under s->lock): it stays stopped. */
	del_timer_sync(&s->recheck);
	for (which = 0; which < EXO_WAIT_NR; which++)
		wake_up_interruptible_poll(&ring->wq[which], EPOLLHUP | exo_poll_key[which]);
}

void exo_ring_wake(struct exo_ring *ring, unsigned int kinds)
{
	unsigned int which;

	for (which = 0; which < EXO_WAIT_NR; which++) {
		if (!(kinds & (1u << which)))
			continue;
		exo_core_note_wake(ring->region, &ring->info, which);
		/* need_wakeup clear before the wake_gen bump: see exo_ring_sleep(). */
		smp_mb__before_atomic();
		atomic_inc(&ring->wake_gen[which]);
		wake_up_interruptible_poll(&ring->wq[which], exo_poll_key[which]);
		atomic64_inc(&ring->counters.wakeups);
		trace_ring_wake(ring, which, EXO_TRACE_WAKE_PEER);
	}
}

static bool exo_wait_over(struct exo_ring *ring, unsigned int which, int gen)
{
	return READ_ONCE(ring->dead) || exo_state(ring, which) ||
	       atomic_read(&ring->wake_gen[which]) != gen;
}

/*
 * Sleeps until @which may make progress, a wake-up, destroy, a signal or
 * @timeout. Returns 0 (re-check), -ETIMEDOUT, -ERESTARTSYS, -EBADMSG (a
 * corrupted ring: waiting would be for ever; @fault says why) or -EPIPE
 * (destroyed).
 *
 * A waker clears need_wakeup, then bumps wake_gen, then wakes the queue. A
 * sleeper whose announcement that clear erased (it announced after another
 * sleeper, before the clear, and was not queued yet at the wake) sees
 * wake_gen move past its snapshot and returns, instead of sleeping with no
 * one left to wake it; the caller re-checks and announces again.
 */
static long exo_ring_sleep(struct exo_ring *ring, unsigned int which, long timeout,
			   unsigned int *fault)
{
	int gen, state;
	long ret;

	state = exo_state_fault(ring, which, fault);
	if (state)
		return state < 0 ? state : 0;
	if (READ_ONCE(ring->dead))
		return -EPIPE;
	if (!timeout)
		return -ETIMEDOUT;	/* a probe: no announcement, no barrier */
	gen = exo_announce_sleep(ring, which, true);
	atomic64_inc(&ring->counters.sleeps);
	trace_ring_sleep(ring, which, timeout);
	ret = wait_event_interruptible_timeout(ring->wq[which], exo_wait_over(ring, which, gen),
					       timeout);
	if (ret < 0)
		return -ERESTARTSYS;
	if (ret == 0)
		return -ETIMEDOUT;
	state = exo_state_fault(ring, which, fault);
	return state < 0 ? state : 0;
}

static long exo_timeout_jiffies(s64 timeout_ns)
{
	u64 j;

	if (timeout_ns < 0)
		return MAX_SCHEDULE_TIMEOUT;
	j = nsecs_to_jiffies64(timeout_ns);
	if (timeout_ns > 0 && j == 0)
		j = 1;
	return min_t(u64, j, MAX_SCHEDULE_TIMEOUT - 1);
}

static bool exo_wait_valid(struct exo_ring *ring, const struct exo_wait_req *w)
{
	if (w->which >= EXO_WAIT_NR || w->flags)
		return false;
	return w->which != EXO_WAIT_BUFFER || ring->info.buf_count;
}

/*
 * A wait without a timeout restarts after a signal handler installed with
 * SA_RESTART; a timed one does not (restarting would start its full
 * timeout anew), as ppoll(2): -EINTR after a handler, a transparent
 * restart when no handler ran (a stop and continue).
 */
static long exo_wait(struct exo_ring *ring, const struct exo_wait_req *w)
{
	unsigned int fault;
	long ret;

	if (!exo_wait_valid(ring, w))
		return -EINVAL;
	ret = exo_ring_sleep(ring, w->which, exo_timeout_jiffies(w->timeout_ns), &fault);
	if (ret == -ERESTARTSYS && w->timeout_ns >= 0)
		ret = -ERESTARTNOHAND;
	if (ret == -EBADMSG)
		exo_ring_error(ring, EXO_TRACE_OP_WAIT, w->which, fault);
	return ret;
}

static long exo_ioctl_wait(struct exo_ring *ring, void __user *argp)
{
	struct exo_wait_req w;

	if (copy_from_user(&w, argp, sizeof(w)))
		return -EFAULT;
	return exo_wait(ring, &w);
}

/* Wakes kind @which of the ring open as @fd: -EBADF, or -EINVAL if not a ring. */
static long exo_wake_fd(int fd, unsigned int which)
{
	struct file *file = fget(fd);
	long ret = 0;

	if (!file)
		return -EBADF;
	if (file->f_op == &exo_ring_fops)
		exo_ring_wake(file->private_data, 1u << which);
	else
		ret = -EINVAL;
	fput(file);
	return ret;
}

/*
 * Everything is checked before the wake, so that a bad request wakes no one.
 * A restart after a signal wakes again: a wake-up with nothing new is only a
 * re-check for its sleepers.
 */
static long exo_ioctl_wake_wait(struct exo_ring *ring, void __user *argp)
{
	struct exo_wake_wait_req req;
	long ret;

	if (copy_from_user(&req, argp, sizeof(req)))
		return -EFAULT;
	if (req.wake_which >= EXO_WAIT_NR || !exo_wait_valid(ring, &req.wait))
		return -EINVAL;
	ret = exo_wake_fd(req.wake_fd, req.wake_which);
	if (ret)
		return ret;
	return exo_wait(ring, &req.wait);
}

void exo_ring_fill_stats(struct exo_ring *ring, struct exo_ring_stats *st)
{
	exo_core_stats(ring->region, &ring->info, st);
	/* The kernel's own counts, not what shared memory claims. */
	st->sleeps = atomic64_read(&ring->counters.sleeps);
	st->wakeups = atomic64_read(&ring->counters.wakeups);
	st->kernel_errors = atomic64_read(&ring->counters.kernel_errors);
	st->open_count = atomic_read(&ring->counters.open_count);
	st->owner_uid = from_kuid_munged(current_user_ns(), ring->uid);
}

static long exo_ioctl_stats(struct exo_ring *ring, void __user *argp)
{
	struct exo_ring_stats st;

	exo_ring_fill_stats(ring, &st);
	return copy_to_user(argp, &st, sizeof(st)) ? -EFAULT : 0;
}

static long exo_ring_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct exo_ring *ring = file->private_data;
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case EXO_RING_IOC_INFO:
		return exo_ring_copy_info(ring, argp);
	case EXO_RING_IOC_WAIT:
		return exo_ioctl_wait(ring, argp);
	case EXO_RING_IOC_WAKE_WAIT:
		return exo_ioctl_wake_wait(ring, argp);
	case EXO_RING_IOC_WAKE:
		if (arg >= EXO_WAIT_NR)
			return -EINVAL;
		exo_ring_wake(ring, 1u << arg);
		return 0;
	case EXO_RING_IOC_STATS:
		return exo_ioctl_stats(ring, argp);
	default:
		return -ENOTTY;
	}
}

/* After a read (@op, kind EXO_WAIT_DATA) or a write (EXO_WAIT_SPACE). */
static ssize_t exo_ring_io_done(struct exo_ring *ring, long ret, unsigned int wake,
				unsigned int op, unsigned int fault)
{
	exo_ring_wake(ring, wake);
	if (ret == -EBADMSG)
		exo_ring_error(ring, op, op == EXO_TRACE_OP_READ ? EXO_WAIT_DATA : EXO_WAIT_SPACE,
			       fault);
	return ret;
}

/*
 * A read or write found the ring empty or full: -EPIPE on a destroyed
 * ring, -EAGAIN without blocking, else sleep. Every pass of the callers'
 * loops goes through here, so they stay killable and yield the CPU even
 * when other parties keep changing the ring under them.
 */
static long exo_ring_wait_io(struct file *file, struct exo_ring *ring, unsigned int which)
{
	unsigned int fault;
	long ret;

	if (READ_ONCE(ring->dead))
		return -EPIPE;
	if (file->f_flags & O_NONBLOCK) {
		/*
		 * The caller may wait next in epoll with EPOLLET or an io_uring
		 * poll, which do not poll the file again before a wake-up: it is
		 * announced, or no sender would wake it. It never sleeps here, so
		 * it pays no IPI (the deferred barrier covers it).
		 */
		exo_announce_sleep(ring, which, false);
		return -EAGAIN;
	}
	if (signal_pending(current))
		return -ERESTARTSYS;
	cond_resched();
	ret = exo_ring_sleep(ring, which, MAX_SCHEDULE_TIMEOUT, &fault);
	if (ret == -EBADMSG)
		exo_ring_error(ring, which == EXO_WAIT_DATA ? EXO_TRACE_OP_READ :
			       EXO_TRACE_OP_WRITE, which, fault);
	return ret;
}

/*
 * An SPSC ring has one consumer and one producer: its positions move with
 * plain stores, so two kernel readers (threads, or processes sharing read
 * access) would each store their own next position and deliver a message
 * twice. The kernel's side of an SPSC ring is one party at a time; MPMC
 * sides claim with compare-and-swap and need no lock.
 */
static int exo_ring_side_lock(struct exo_ring *ring, unsigned int side)
{
	if (ring->info.mode != EXO_MODE_SPSC)
		return 0;
	/* A signal restarts the call, as in a wait. */
	return mutex_lock_interruptible(&ring->spsc_side[side]) ? -ERESTARTSYS : 0;
}

static void exo_ring_side_unlock(struct exo_ring *ring, unsigned int side)
{
	if (ring->info.mode == EXO_MODE_SPSC)
		mutex_unlock(&ring->spsc_side[side]);
}

static ssize_t exo_ring_read(struct file *file, char __user *buf, size_t len, loff_t *ppos)
{
	struct exo_ring *ring = file->private_data;
	unsigned int wake, fault;
	long ret;

	for (;;) {
		ret = exo_ring_side_lock(ring, EXO_SIDE_CONSUMER);
		if (ret)
			return ret;
		ret = exo_core_read(ring->region, &ring->info, (__force void *)buf, len,
				    &wake, &fault);
		exo_ring_side_unlock(ring, EXO_SIDE_CONSUMER);
		ret = exo_ring_io_done(ring, ret, wake, EXO_TRACE_OP_READ, fault);
		if (ret != -EAGAIN)
			return ret;
		ret = exo_ring_wait_io(file, ring, EXO_WAIT_DATA);
		if (ret)
			return ret;
	}
}

/* What a write that found no room waits for. */
static unsigned int exo_write_waits_for(struct exo_ring *ring, size_t len)
{
	/* Only a pool message needs a buffer, once it has a slot. */
	if (len > EXO_INLINE_MAX && ring->info.buf_count && exo_state(ring, EXO_WAIT_SPACE) > 0)
		return EXO_WAIT_BUFFER;
	return EXO_WAIT_SPACE;
}

static ssize_t exo_ring_write(struct file *file, const char __user *buf, size_t len,
			      loff_t *ppos)
{
	struct exo_ring *ring = file->private_data;
	unsigned int wake, fault;
	long ret;

	for (;;) {
		ret = exo_ring_side_lock(ring, EXO_SIDE_PRODUCER);
		if (ret)
			return ret;
		ret = exo_core_write(ring->region, &ring->info, (__force const void *)buf,
				     len, &wake, &fault);
		exo_ring_side_unlock(ring, EXO_SIDE_PRODUCER);
		ret = exo_ring_io_done(ring, ret, wake, EXO_TRACE_OP_WRITE, fault);
		if (ret != -EAGAIN)
			return ret;
		ret = exo_ring_wait_io(file, ring, exo_write_waits_for(ring, len));
		if (ret)
			return ret;
	}
}

/*
 * Readiness of one kind for poll(): 1, 0 or -EBADMSG. Not ready, it
 * announces a sleeper: poll(2) re-polls after each wake-up with a table
 * that queues nothing (poll_does_not_wait()) and then sleeps again, as
 * epoll does, so those must announce too; but only a poll that queues may
 * pay an IPI, the others get the deferred barrier.
 */
static int exo_poll_kind(struct exo_ring *ring, unsigned int which, poll_table *wait)
{
	int state = exo_state(ring, which);

	if (state || READ_ONCE(ring->dead))
		return state;
	exo_announce_sleep(ring, which, !poll_does_not_wait(wait));
	return exo_state(ring, which);
}

/*
 * EPOLLIN|EPOLLRDNORM: a message to read. EPOLLWRBAND: an inline message
 * (<= 56 bytes) fits, a free slot. EPOLLOUT|EPOLLWRNORM: any message the
 * ring takes fits, a free slot and, on a ring with a pool, a free buffer.
 * EPOLLERR: the ring is corrupted (reads or writes give -EBADMSG).
 * EPOLLHUP: destroyed (reads and writes that would wait give -EPIPE).
 */
static __poll_t exo_ring_poll(struct file *file, poll_table *wait)
{
	struct exo_ring *ring = file->private_data;
	__poll_t events = poll_requested_events(wait);
	__poll_t mask = 0;
	int in = 0, space = 0, buffer = 1;

	poll_wait(file, &ring->wq[EXO_WAIT_DATA], wait);
	poll_wait(file, &ring->wq[EXO_WAIT_SPACE], wait);
	if (ring->info.buf_count)
		poll_wait(file, &ring->wq[EXO_WAIT_BUFFER], wait);
	if (events & (EPOLLIN | EPOLLRDNORM))
		in = exo_poll_kind(ring, EXO_WAIT_DATA, wait);
	if (events & (EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND)) {
		space = exo_poll_kind(ring, EXO_WAIT_SPACE, wait);
		if (space > 0 && ring->info.buf_count && (events & (EPOLLOUT | EPOLLWRNORM)))
			buffer = exo_poll_kind(ring, EXO_WAIT_BUFFER, wait);
	}
	if (in > 0)
		mask |= EPOLLIN | EPOLLRDNORM;
	if (space > 0)
		mask |= EPOLLWRBAND;
	if (space > 0 && buffer > 0)
		mask |= EPOLLOUT | EPOLLWRNORM;
	if (in < 0 || space < 0)
		mask |= EPOLLERR;
	if (READ_ONCE(ring->dead))
		mask |= EPOLLHUP;
	return mask;
}

static int exo_ring_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct exo_ring *ring = file->private_data;
	unsigned long region_pages = ring->info.region_size >> PAGE_SHIFT;
	unsigned long pages = vma_pages(vma);

	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	if (vma->vm_pgoff > region_pages || pages > region_pages - vma->vm_pgoff)
		return -EINVAL;
	vm_flags_clear(vma, VM_MAYEXEC);
	return remap_vmalloc_range(vma, ring->region, vma->vm_pgoff);
}

static int exo_ring_open(struct inode *inode, struct file *file)
{
	struct exo_ring *ring = exo_ring_get_for_open(inode, file);

	if (IS_ERR(ring))
		return PTR_ERR(ring);
	file->private_data = ring;
	atomic_inc(&ring->counters.open_count);
	return nonseekable_open(inode, file);
}

static int exo_ring_release_file(struct inode *inode, struct file *file)
{
	struct exo_ring *ring = file->private_data;

	atomic_dec(&ring->counters.open_count);
	exo_ring_put(ring);
	return 0;
}

const struct file_operations exo_ring_fops = {
	.owner = THIS_MODULE,
	.open = exo_ring_open,
	.release = exo_ring_release_file,
	.read = exo_ring_read,
	.write = exo_ring_write,
	.poll = exo_ring_poll,
	.mmap = exo_ring_mmap,
	.unlocked_ioctl = exo_ring_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};
