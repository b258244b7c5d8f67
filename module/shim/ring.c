// SPDX-License-Identifier: GPL-2.0
/*
 * The ring character devices /dev/exofusion/<name>: mmap of the shared
 * region, sleeping and waking, poll, and read/write with the kernel as a
 * ring peer. Every value read from the region is checked by the core.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/device.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/mm.h>
#include <linux/poll.h>
#include <linux/sched/signal.h>
#include <linux/smp.h>
#include <linux/uaccess.h>
#include <linux/vmalloc.h>

#include "module/core/core_api.h"
#include "module/shim/shim.h"

static bool exo_ready(struct exo_ring *ring, unsigned int which)
{
	return exo_core_ready(ring->region, &ring->info, which);
}

static void exo_barrier_ipi(void *unused)
{
	/* Pairs with the sleeper's smp_mb() in exo_remote_barrier(). */
	smp_mb();
}

/*
 * The sleeper's half of the asymmetric barrier (as membarrier(2) does):
 * wakers in user space order their slot stores before their need_wakeup
 * load with a compiler barrier only; this IPI makes every other CPU pass a
 * full barrier, so after it either we see their message or they see our
 * need_wakeup.
 */
static void exo_remote_barrier(void)
{
	/* Orders our need_wakeup store before the IPIs and the re-check. */
	smp_mb();
	smp_call_function(exo_barrier_ipi, NULL, 1);
}

static void exo_announce_sleep(struct exo_ring *ring, unsigned int which)
{
	exo_core_announce_sleep(ring->region, &ring->info, which);
	exo_remote_barrier();
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
		wake_up_interruptible_all(&ring->wq[which]);
		atomic64_inc(&ring->counters.wakeups);
	}
}

/*
 * A waker clears need_wakeup, then bumps wake_gen, then wakes the queue. A
 * sleeper whose announcement that clear erased (it announced after another
 * sleeper, before the clear, and was not queued yet at the wake) sees
 * wake_gen move past its snapshot and returns, instead of sleeping with no
 * one left to wake it; the caller re-checks and announces again.
 */
static long exo_ring_sleep(struct exo_ring *ring, unsigned int which, long timeout)
{
	int gen;
	long ret;

	if (exo_ready(ring, which))
		return 0;
	gen = atomic_read(&ring->wake_gen[which]);
	/* Orders the snapshot before the announcement. */
	smp_mb();
	exo_announce_sleep(ring, which);
	atomic64_inc(&ring->counters.sleeps);
	ret = wait_event_interruptible_timeout(ring->wq[which],
					       exo_ready(ring, which) ||
					       atomic_read(&ring->wake_gen[which]) != gen,
					       timeout);
	if (ret > 0)
		return 0;
	return ret == 0 ? -ETIMEDOUT : -EINTR;
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

static long exo_ioctl_wait(struct exo_ring *ring, void __user *argp)
{
	struct exo_wait_req w;

	if (copy_from_user(&w, argp, sizeof(w)))
		return -EFAULT;
	if (w.which >= EXO_WAIT_NR || w.flags)
		return -EINVAL;
	if (w.which == EXO_WAIT_BUFFER && !ring->info.buf_count)
		return -EINVAL;
	return exo_ring_sleep(ring, w.which, exo_timeout_jiffies(w.timeout_ns));
}

static void exo_ring_fill_stats(struct exo_ring *ring, struct exo_ring_stats *st)
{
	exo_core_stats(ring->region, &ring->info, st);
	/* The kernel's own counts, not what shared memory claims. */
	st->sleeps = atomic64_read(&ring->counters.sleeps);
	st->wakeups = atomic64_read(&ring->counters.wakeups);
	st->kernel_errors = atomic64_read(&ring->counters.kernel_errors);
	st->open_count = atomic_read(&ring->counters.open_count);
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
		return copy_to_user(argp, &ring->info, sizeof(ring->info)) ? -EFAULT : 0;
	case EXO_RING_IOC_WAIT:
		return exo_ioctl_wait(ring, argp);
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

static ssize_t exo_ring_io_done(struct exo_ring *ring, long ret, unsigned int wake)
{
	exo_ring_wake(ring, wake);
	if (ret == -EBADMSG)
		atomic64_inc(&ring->counters.kernel_errors);
	return ret;
}

static ssize_t exo_ring_read(struct file *file, char __user *buf, size_t len, loff_t *ppos)
{
	struct exo_ring *ring = file->private_data;
	unsigned int wake;
	long ret;

	for (;;) {
		ret = exo_core_read(ring->region, &ring->info, (__force void *)buf, len, &wake);
		ret = exo_ring_io_done(ring, ret, wake);
		if (ret != -EAGAIN || (file->f_flags & O_NONBLOCK))
			return ret;
		ret = exo_ring_sleep(ring, EXO_WAIT_DATA, MAX_SCHEDULE_TIMEOUT);
		if (ret)
			return ret;
	}
}

static ssize_t exo_ring_write(struct file *file, const char __user *buf, size_t len,
			      loff_t *ppos)
{
	struct exo_ring *ring = file->private_data;
	unsigned int wake, which;
	long ret;

	for (;;) {
		ret = exo_core_write(ring->region, &ring->info, (__force const void *)buf, len,
				     &wake);
		ret = exo_ring_io_done(ring, ret, wake);
		if (ret != -EAGAIN || (file->f_flags & O_NONBLOCK))
			return ret;
		which = exo_ready(ring, EXO_WAIT_SPACE) ? EXO_WAIT_BUFFER : EXO_WAIT_SPACE;
		ret = exo_ring_sleep(ring, which, MAX_SCHEDULE_TIMEOUT);
		if (ret)
			return ret;
	}
}

/* Readiness of one kind for poll(); arms the wake-up when not ready. */
static __poll_t exo_poll_kind(struct exo_ring *ring, unsigned int which, __poll_t bits)
{
	if (exo_ready(ring, which))
		return bits;
	exo_announce_sleep(ring, which);
	return exo_ready(ring, which) ? bits : 0;
}

static __poll_t exo_ring_poll(struct file *file, poll_table *wait)
{
	struct exo_ring *ring = file->private_data;
	__poll_t events = poll_requested_events(wait);
	__poll_t mask = 0;

	poll_wait(file, &ring->wq[EXO_WAIT_DATA], wait);
	poll_wait(file, &ring->wq[EXO_WAIT_SPACE], wait);
	if (events & (EPOLLIN | EPOLLRDNORM))
		mask |= exo_poll_kind(ring, EXO_WAIT_DATA, EPOLLIN | EPOLLRDNORM);
	if (events & (EPOLLOUT | EPOLLWRNORM))
		mask |= exo_poll_kind(ring, EXO_WAIT_SPACE, EPOLLOUT | EPOLLWRNORM);
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
	struct exo_ring *ring = exo_ring_get_by_minor(iminor(inode));

	if (!ring)
		return -ENODEV;
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

/* /sys/class/exofusion/<name>/stats: the same figures as EXO_RING_IOC_STATS. */
static ssize_t stats_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	struct exo_ring *ring = dev_get_drvdata(dev);
	struct exo_ring_stats st;

	exo_ring_fill_stats(ring, &st);
	return sysfs_emit(buf,
			  "messages %llu\nreceived %llu\nbatches %llu\nfull_events %llu\n"
			  "empty_events %llu\nsleeps %llu\nwakeups %llu\nkernel_errors %llu\n"
			  "open_count %u\ncapacity %u\nmode %s\nbuf_size %u\nbuf_count %u\n"
			  "region_size %llu\n",
			  st.messages, st.received, st.batches, st.full_events, st.empty_events,
			  st.sleeps, st.wakeups, st.kernel_errors, st.open_count, st.capacity,
			  st.mode == EXO_MODE_MPMC ? "mpmc" : "spsc", st.buf_size, st.buf_count,
			  st.region_size);
}
static DEVICE_ATTR_RO(stats);

static struct attribute *exo_ring_attrs[] = {
	&dev_attr_stats.attr,
	NULL,
};

static const struct attribute_group exo_ring_group = {
	.attrs = exo_ring_attrs,
};

const struct attribute_group *exo_ring_groups[] = {
	&exo_ring_group,
	NULL,
};
