// SPDX-License-Identifier: GPL-2.0
/*
 * In-kernel slab benchmarks and self-tests, driven from user space through
 * debugfs (root only):
 *
 *   exofusion/slab_bench     write "<scenario> <impl> <size> <iterations>",
 *                            read "ops <n> ns <total>"
 *       scenario: pair | batch1000 | bulk16 | crosscpu
 *       impl:     exofusion-slab | kmem_cache (the kernel's own, same size)
 *   exofusion/slab_selftest  write a test name, read its outcome
 *       double_free | overrun | use_after_free | wrong_cache | leak
 *       (each on a fresh debug cache: "reports <n> leaked <n>")
 *       stress <ms>: every CPU allocates, hands objects to others, checks
 *       their contents and frees them ("ops <n> corrupt <n> leaked <n>")
 *       irq <ms> [debug]: on one CPU a task loop, a softirq hrtimer and (but
 *       on PREEMPT_RT) a hard-IRQ hrtimer allocate and free from one cache
 *       at once ("task <n> softirq <n> hardirq <n> failed <n> dup <n>
 *       corrupt <n> live <n> leaked <n>")
 *   Stress and irq go through exo_kcache_*(), so they test either backend;
 *   the findings need the exo backend's debug mode (-EOPNOTSUPP under kmem).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/completion.h>
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/hrtimer.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/random.h>
#include <linux/preempt.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "module/core/slab/slab_api.h"
#include "module/shim/shim.h"

static DEFINE_MUTEX(exo_test_lock);	/* one run at a time; guards exo_test_result */
static char exo_test_result[128];

/* --- benchmarks -------------------------------------------------------------- */

enum exo_bench_impl { EXO_IMPL_SLAB, EXO_IMPL_KMEM };

struct exo_bench {
	enum exo_bench_impl impl;
	struct exo_slab_cache *slab;
	struct kmem_cache *kmem;
	unsigned long iters;
};

/* Direct calls on both sides: an indirect call would tax both with a retpoline. */
static __always_inline void *exo_bench_alloc(struct exo_bench *b)
{
	void *p = b->impl == EXO_IMPL_SLAB ? exo_slab_alloc(b->slab, 0) :
					     kmem_cache_alloc(b->kmem, GFP_KERNEL);

	if (likely(p))
		WRITE_ONCE(*(char *)p, 1);	/* touch it, as a user would */
	return p;
}

static __always_inline void exo_bench_free(struct exo_bench *b, void *p)
{
	if (b->impl == EXO_IMPL_SLAB)
		exo_slab_free(b->slab, p);
	else
		kmem_cache_free(b->kmem, p);
}

static int exo_bench_pair(struct exo_bench *b)
{
	unsigned long i;
	void *p;

	for (i = 0; i < b->iters; i++) {
		p = exo_bench_alloc(b);
		if (!p)
			return -ENOMEM;
		exo_bench_free(b, p);
	}
	return 0;
}

#define EXO_BATCH 1000

static int exo_bench_batch(struct exo_bench *b)
{
	void **objs = kmalloc_array(EXO_BATCH, sizeof(void *), GFP_KERNEL);
	unsigned long round, i;
	int err = 0;

	if (!objs)
		return -ENOMEM;
	for (round = 0; round < b->iters / EXO_BATCH && !err; round++) {
		for (i = 0; i < EXO_BATCH; i++) {
			objs[i] = exo_bench_alloc(b);
			if (!objs[i]) {
				err = -ENOMEM;
				break;
			}
		}
		while (i--)
			exo_bench_free(b, objs[i]);
		cond_resched();
	}
	kfree(objs);
	return err;
}

#define EXO_BULK 16

static int exo_bench_bulk(struct exo_bench *b)
{
	void *objs[EXO_BULK];
	unsigned long round;
	int got;

	for (round = 0; round < b->iters / EXO_BULK; round++) {
		if (b->impl == EXO_IMPL_SLAB)
			got = exo_slab_alloc_bulk(b->slab, 0, EXO_BULK, objs);
		else
			got = kmem_cache_alloc_bulk(b->kmem, GFP_KERNEL, EXO_BULK, objs);
		if (got != EXO_BULK)
			return -ENOMEM;
		if (b->impl == EXO_IMPL_SLAB)
			exo_slab_free_bulk(b->slab, EXO_BULK, objs);
		else
			kmem_cache_free_bulk(b->kmem, EXO_BULK, objs);
	}
	return 0;
}

/* Cross-CPU: a producer on CPU 0 allocates, a consumer on another CPU frees. */
#define EXO_HANDOFF 256

struct exo_handoff {
	struct exo_bench *bench;
	void *slots[EXO_HANDOFF];
	unsigned long head;		/* written by the producer */
	unsigned long tail;		/* written by the consumer */
	int err;
	struct completion done[2];
};

static int exo_handoff_producer(void *arg)
{
	struct exo_handoff *h = arg;
	unsigned long i;

	for (i = 0; i < h->bench->iters; i++) {
		void *p = exo_bench_alloc(h->bench);

		if (!p) {
			WRITE_ONCE(h->err, -ENOMEM);
			break;
		}
		/* Pairs with the consumer's release: its free of the slot is done. */
		while (i - smp_load_acquire(&h->tail) >= EXO_HANDOFF)
			cond_resched();
		h->slots[i % EXO_HANDOFF] = p;
		/* Publishes the slot to the consumer's acquire. */
		smp_store_release(&h->head, i + 1);
	}
	if (READ_ONCE(h->err)) {
		/* A failure ends the consumer's wait too (release, as above). */
		smp_store_release(&h->head, ULONG_MAX);
	}
	complete(&h->done[0]);
	return 0;
}

static int exo_handoff_consumer(void *arg)
{
	struct exo_handoff *h = arg;
	unsigned long i, head;

	for (i = 0; i < h->bench->iters; i++) {
		/* Pairs with the producer's release of the slot. */
		while ((head = smp_load_acquire(&h->head)) == i)
			cond_resched();
		if (head == ULONG_MAX)
			break;
		exo_bench_free(h->bench, h->slots[i % EXO_HANDOFF]);
		/* Hands the slot back to the producer's acquire. */
		smp_store_release(&h->tail, i + 1);
	}
	complete(&h->done[1]);
	return 0;
}

static int exo_bench_crosscpu(struct exo_bench *b)
{
	unsigned int other = cpumask_next(0, cpu_online_mask);
	struct task_struct *prod, *cons;
	struct exo_handoff *h;
	int err;

	h = kzalloc(sizeof(*h), GFP_KERNEL);
	if (!h)
		return -ENOMEM;
	h->bench = b;
	init_completion(&h->done[0]);
	init_completion(&h->done[1]);
	if (other >= nr_cpu_ids)
		other = 0;	/* one CPU: the two threads take turns */
	prod = kthread_create(exo_handoff_producer, h, "exo_bench_prod");
	cons = kthread_create(exo_handoff_consumer, h, "exo_bench_cons");
	if (IS_ERR(prod) || IS_ERR(cons)) {
		err = -ENOMEM;
		goto out;
	}
	kthread_bind(prod, 0);
	kthread_bind(cons, other);
	wake_up_process(cons);
	wake_up_process(prod);
	wait_for_completion(&h->done[0]);
	wait_for_completion(&h->done[1]);
	/* Both returned: the kthreads are gone. */
	prod = NULL;
	cons = NULL;
	err = h->err;
out:
	if (!IS_ERR_OR_NULL(prod))
		kthread_stop(prod);
	if (!IS_ERR_OR_NULL(cons))
		kthread_stop(cons);
	kfree(h);
	return err;
}

static int exo_bench_run(const char *scenario, struct exo_bench *b)
{
	if (!strcmp(scenario, "pair"))
		return exo_bench_pair(b);
	if (!strcmp(scenario, "batch1000"))
		return exo_bench_batch(b);
	if (!strcmp(scenario, "bulk16"))
		return exo_bench_bulk(b);
	if (!strcmp(scenario, "crosscpu"))
		return exo_bench_crosscpu(b);
	return -EINVAL;
}

static int exo_bench_setup(struct exo_bench *b, const char *impl, unsigned int size)
{
	struct exo_slab_cache_params params = { .name = "exo_bench", .size = size };
	const char *why = NULL;

	if (!strcmp(impl, "exofusion-slab")) {
		b->impl = EXO_IMPL_SLAB;
		return exo_slab_create(&params, &b->slab, &why);
	}
	if (!strcmp(impl, "kmem_cache")) {
		b->impl = EXO_IMPL_KMEM;
		b->kmem = kmem_cache_create("exo_bench", size, 0, 0, NULL);
		return b->kmem ? 0 : -ENOMEM;
	}
	pr_info_ratelimited("slab_bench: impl must be exofusion-slab or kmem_cache\n");
	return -EINVAL;
}

static void exo_bench_teardown(struct exo_bench *b)
{
	if (b->slab)
		exo_slab_destroy(b->slab);
	kmem_cache_destroy(b->kmem);
}

static int exo_slab_bench(const char *cmd)
{
	char scenario[16], impl[16];
	struct exo_bench b = {};
	unsigned long iters;
	unsigned int size;
	u64 start, ns;
	int err;

	if (sscanf(cmd, "%15s %15s %u %lu", scenario, impl, &size, &b.iters) != 4 ||
	    !b.iters || b.iters > 100000000UL) {
		pr_info_ratelimited("slab_bench: want \"<scenario> <impl> <size> <iterations>\"\n");
		return -EINVAL;
	}
	err = exo_bench_setup(&b, impl, size);
	if (err)
		goto out;
	/* One untimed round, so both start with warm caches. */
	iters = b.iters;
	b.iters = max(iters / 10, 1UL);
	err = exo_bench_run(scenario, &b);
	b.iters = iters;
	if (err)
		goto out;
	start = ktime_get_ns();
	err = exo_bench_run(scenario, &b);
	ns = ktime_get_ns() - start;
	if (!err)
		snprintf(exo_test_result, sizeof(exo_test_result), "ops %lu ns %llu\n",
			 b.iters, ns);
out:
	exo_bench_teardown(&b);
	return err;
}

/* --- self-tests: debug-mode findings ------------------------------------------------ */

#define EXO_TEST_SIZE 64

static unsigned long long exo_reports(struct exo_slab_cache *cache)
{
	struct exo_slab_stats *st = kmalloc(sizeof(*st), GFP_KERNEL);
	unsigned long long reports = 0;

	if (st) {
		exo_slab_get_stats(cache, st);
		reports = st->debug_reports;
		kfree(st);
	}
	return reports;
}

/* Provokes one finding; the debug checks must report it and stay safe. */
static int exo_provoke(const char *name, struct exo_kcache *kc)
{
	struct exo_slab_cache *cache = exo_kcache_core(kc);
	struct exo_kcache *other;
	u8 *p = exo_slab_alloc(cache, 0);
	unsigned int i;

	if (!p)
		return -ENOMEM;
	if (!strcmp(name, "double_free")) {
		exo_slab_free(cache, p);
		exo_slab_free(cache, p);
	} else if (!strcmp(name, "overrun")) {
		p[EXO_TEST_SIZE] = 0x42;	/* one byte past the end: the red zone */
		exo_slab_free(cache, p);
	} else if (!strcmp(name, "use_after_free")) {
		exo_slab_free(cache, p);
		p[0] = 0x42;			/* the object sits poisoned in a magazine */
		exo_slab_free(cache, exo_slab_alloc(cache, 0));	/* LIFO: p again */
	} else if (!strcmp(name, "wrong_cache")) {
		/* An object of another cache, freed to this one. */
		exo_slab_free(cache, p);
		other = exo_kcache_create("exo_selftest_other", EXO_TEST_SIZE, EXO_SLAB_DEBUG);
		if (IS_ERR(other))
			return PTR_ERR(other);
		p = exo_slab_alloc(exo_kcache_core(other), 0);
		if (p) {
			exo_slab_free(cache, p);
			exo_slab_free(exo_kcache_core(other), p);
		}
		exo_kcache_destroy(other);
	} else if (!strcmp(name, "leak")) {
		for (i = 0; i < 4; i++)	/* with p: 5 objects never freed */
			exo_slab_alloc(cache, 0);
	} else {
		exo_slab_free(cache, p);
		return -EINVAL;
	}
	return 0;
}

static int exo_selftest_finding(const char *name)
{
	unsigned long long reports;
	unsigned long leaked;
	struct exo_kcache *kc;
	int err;

	if (exo_slab_backend_is_kmem()) {
		pr_info_ratelimited("slab_selftest: %s needs slab_backend=exo\n", name);
		return -EOPNOTSUPP;
	}
	kc = exo_kcache_create("exo_selftest", EXO_TEST_SIZE, EXO_SLAB_DEBUG);
	if (IS_ERR(kc))
		return PTR_ERR(kc);
	err = exo_provoke(name, kc);
	reports = exo_reports(exo_kcache_core(kc));
	leaked = exo_kcache_destroy(kc);
	if (!err)
		snprintf(exo_test_result, sizeof(exo_test_result), "reports %llu leaked %lu\n",
			 reports, leaked);
	return err;
}

/* --- self-test: stress across CPUs ------------------------------------------------------ */

#define EXO_STRESS_HANDOFF 1024
#define EXO_STRESS_BATCH 16

struct exo_stress {
	struct exo_kcache *cache;
	spinlock_t lock;		/* guards handoff and count */
	struct exo_slab_cache *core;	/* for bulk calls; NULL under kmem */
	void *handoff[EXO_STRESS_HANDOFF];
	unsigned int count;
	unsigned long deadline;
	atomic64_t ops;
	atomic64_t corrupt;
	atomic_t running;
	struct completion done;
};

/* An object's words say where it is: a stray write or a double hand-out shows. */
static void exo_stress_fill(void *obj)
{
	unsigned long *w = obj;
	unsigned int i;

	for (i = 0; i < EXO_TEST_SIZE / sizeof(*w); i++)
		w[i] = (unsigned long)obj ^ i;
}

static void exo_stress_check_free(struct exo_stress *s, void *obj)
{
	unsigned long *w = obj;
	unsigned int i;

	for (i = 0; i < EXO_TEST_SIZE / sizeof(*w); i++) {
		if (w[i] != ((unsigned long)obj ^ i)) {
			atomic64_inc(&s->corrupt);
			break;
		}
	}
	exo_kcache_free(s->cache, obj);
}

/* Swaps objects with the handoff: what we put there, another CPU frees. */
static unsigned int exo_stress_trade(struct exo_stress *s, void **objs, unsigned int n)
{
	unsigned int i;

	spin_lock(&s->lock);
	for (i = 0; i < n; i++) {
		unsigned int slot = get_random_u32() % EXO_STRESS_HANDOFF;
		void *theirs = s->handoff[slot];

		s->handoff[slot] = objs[i];
		objs[i] = theirs;
	}
	spin_unlock(&s->lock);
	return n;
}

static int exo_stress_worker(void *arg)
{
	struct exo_stress *s = arg;
	void *objs[EXO_STRESS_BATCH];
	unsigned int n, i, round = 0;

	while (time_before(jiffies, s->deadline)) {
		n = 1 + get_random_u32() % EXO_STRESS_BATCH;
		if (round++ % 2 && s->core) {
			if (exo_slab_alloc_bulk(s->core, 0, n, objs) != n)
				break;
		} else {
			for (i = 0; i < n; i++) {
				objs[i] = exo_kcache_alloc(s->cache, GFP_KERNEL);
				if (!objs[i])
					break;
			}
			n = i;
		}
		for (i = 0; i < n; i++)
			exo_stress_fill(objs[i]);
		exo_stress_trade(s, objs, n / 2 + 1 > n ? n : n / 2 + 1);
		for (i = 0; i < n; i++)
			if (objs[i])
				exo_stress_check_free(s, objs[i]);
		atomic64_add(2 * n, &s->ops);
		cond_resched();
	}
	if (atomic_dec_and_test(&s->running))
		complete(&s->done);
	return 0;
}

static int exo_selftest_stress(unsigned int ms)
{
	unsigned int i, workers = num_online_cpus() + 1;
	struct exo_kcache *kc;
	struct exo_stress *s;
	unsigned long leaked;

	s = kzalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	kc = exo_kcache_create("exo_stress", EXO_TEST_SIZE, 0);
	if (IS_ERR(kc)) {
		kfree(s);
		return PTR_ERR(kc);
	}
	s->cache = kc;
	s->core = exo_kcache_core(kc);
	spin_lock_init(&s->lock);
	init_completion(&s->done);
	s->deadline = jiffies + msecs_to_jiffies(ms);
	atomic_set(&s->running, 1);	/* ours, dropped once all are started */
	for (i = 0; i < workers; i++) {
		struct task_struct *t = kthread_run(exo_stress_worker, s, "exo_stress/%u", i);

		if (!IS_ERR(t))
			atomic_inc(&s->running);
	}
	if (atomic_dec_and_test(&s->running))
		complete(&s->done);
	wait_for_completion(&s->done);
	for (i = 0; i < EXO_STRESS_HANDOFF; i++)
		if (s->handoff[i])
			exo_stress_check_free(s, s->handoff[i]);
	leaked = exo_kcache_destroy(kc);
	snprintf(exo_test_result, sizeof(exo_test_result), "ops %lld corrupt %lld leaked %lu\n",
		 atomic64_read(&s->ops), atomic64_read(&s->corrupt), leaked);
	kfree(s);
	return 0;
}

/* --- self-test: interrupt and softirq users on one CPU ---------------------------------- */

#define EXO_IRQ_HELD 8			/* objects each context holds at most */
#define EXO_IRQ_PERIOD_NS 20000		/* between two timer runs */
#define EXO_IRQ_OWNED 0x0dd0beef00000000UL	/* | context: the marker word */
#define EXO_IRQ_FREED 0xf4eedf4eedf4eed0UL

enum { EXO_CTX_TASK, EXO_CTX_SOFTIRQ, EXO_CTX_HARDIRQ, EXO_CTX_N };

struct exo_irq_user {
	void *held[EXO_IRQ_HELD];
	unsigned int next;
	atomic64_t ops;
	atomic64_t live;		/* allocated minus freed */
};

struct exo_irqtest {
	struct exo_kcache *kc;
	struct hrtimer soft;		/* runs in softirq context */
	struct hrtimer hard;		/* runs in hard IRQ context (not on RT) */
	bool stop;
	struct exo_irq_user user[EXO_CTX_N];
	atomic64_t failed;		/* allocations that found no memory */
	atomic64_t dup;			/* objects handed out while someone held them */
	atomic64_t corrupt;		/* markers changed while held */
};

/*
 * The last word of a held object says who holds it: an object handed out
 * while another context holds it (a magazine that an interrupt corrupted)
 * shows as a marker already there.
 */
static unsigned long *exo_irq_marker(void *obj)
{
	return (unsigned long *)obj + EXO_TEST_SIZE / sizeof(unsigned long) - 1;
}

/* One step of context |ctx|: frees the slot's object, or fills the slot. */
static void exo_irq_step(struct exo_irqtest *t, unsigned int ctx, gfp_t gfp)
{
	struct exo_irq_user *u = &t->user[ctx];
	unsigned int slot = u->next++ % EXO_IRQ_HELD;
	void *obj = u->held[slot];
	unsigned long old;

	if (obj) {
		old = xchg(exo_irq_marker(obj), EXO_IRQ_FREED);
		if (old != (EXO_IRQ_OWNED | ctx))
			atomic64_inc(&t->corrupt);
		exo_kcache_free(t->kc, obj);
		u->held[slot] = NULL;
		atomic64_dec(&u->live);
	} else {
		obj = exo_kcache_alloc(t->kc, gfp);
		if (!obj) {
			atomic64_inc(&t->failed);
			return;
		}
		old = xchg(exo_irq_marker(obj), EXO_IRQ_OWNED | ctx);
		if ((old & ~0xffUL) == EXO_IRQ_OWNED)
			atomic64_inc(&t->dup);
		u->held[slot] = obj;
		atomic64_inc(&u->live);
	}
	atomic64_inc(&u->ops);
}

static enum hrtimer_restart exo_irq_timer(struct exo_irqtest *t, struct hrtimer *timer,
					  unsigned int ctx)
{
	unsigned int i;

	if (READ_ONCE(t->stop))
		return HRTIMER_NORESTART;
	for (i = 0; i < 3; i++)
		exo_irq_step(t, ctx, GFP_ATOMIC);
	hrtimer_forward_now(timer, ns_to_ktime(EXO_IRQ_PERIOD_NS));
	return HRTIMER_RESTART;
}

static enum hrtimer_restart exo_irq_soft_fn(struct hrtimer *timer)
{
	struct exo_irqtest *t = container_of(timer, struct exo_irqtest, soft);

	return exo_irq_timer(t, timer, EXO_CTX_SOFTIRQ);
}

static enum hrtimer_restart exo_irq_hard_fn(struct hrtimer *timer)
{
	struct exo_irqtest *t = container_of(timer, struct exo_irqtest, hard);

	return exo_irq_timer(t, timer, EXO_CTX_HARDIRQ);
}

/* What every context still holds goes back (timers stopped). */
static void exo_irq_release(struct exo_irqtest *t)
{
	unsigned int ctx, slot;

	for (ctx = 0; ctx < EXO_CTX_N; ctx++) {
		for (slot = 0; slot < EXO_IRQ_HELD; slot++) {
			if (t->user[ctx].held[slot]) {
				t->user[ctx].next = slot;
				exo_irq_step(t, ctx, GFP_KERNEL);
			}
		}
	}
}

/*
 * The task loop and the timers share this CPU (migration off, timers
 * pinned): the interrupts land in and around the task's fast paths.
 */
static void exo_irq_run(struct exo_irqtest *t, unsigned int ms)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(ms);
	bool hard = !IS_ENABLED(CONFIG_PREEMPT_RT);
	unsigned int i;

	migrate_disable();
	hrtimer_init(&t->soft, CLOCK_MONOTONIC, HRTIMER_MODE_REL_PINNED_SOFT);
	t->soft.function = exo_irq_soft_fn;
	hrtimer_start(&t->soft, ns_to_ktime(EXO_IRQ_PERIOD_NS), HRTIMER_MODE_REL_PINNED_SOFT);
	if (hard) {
		hrtimer_init(&t->hard, CLOCK_MONOTONIC, HRTIMER_MODE_REL_PINNED_HARD);
		t->hard.function = exo_irq_hard_fn;
		hrtimer_start(&t->hard, ns_to_ktime(EXO_IRQ_PERIOD_NS / 2),
			      HRTIMER_MODE_REL_PINNED_HARD);
	}
	while (time_before(jiffies, deadline)) {
		for (i = 0; i < 64; i++)
			exo_irq_step(t, EXO_CTX_TASK, GFP_KERNEL);
		cond_resched();
	}
	WRITE_ONCE(t->stop, true);
	hrtimer_cancel(&t->soft);
	if (hard)
		hrtimer_cancel(&t->hard);
	migrate_enable();
}

static int exo_selftest_irq(unsigned int ms, bool debug)
{
	struct exo_irqtest *t;
	unsigned long leaked;
	long long live = 0;
	unsigned int ctx;
	int err;

	t = kzalloc(sizeof(*t), GFP_KERNEL);
	if (!t)
		return -ENOMEM;
	t->kc = exo_kcache_create("exo_irqtest", EXO_TEST_SIZE, debug ? EXO_KCACHE_DEBUG : 0);
	if (IS_ERR(t->kc)) {
		err = PTR_ERR(t->kc);
		kfree(t);
		return err;
	}
	exo_irq_run(t, ms);
	exo_irq_release(t);
	for (ctx = 0; ctx < EXO_CTX_N; ctx++)
		live += atomic64_read(&t->user[ctx].live);
	leaked = exo_kcache_destroy(t->kc);
	snprintf(exo_test_result, sizeof(exo_test_result),
		 "task %lld softirq %lld hardirq %lld failed %lld dup %lld corrupt %lld live %lld leaked %lu\n",
		 atomic64_read(&t->user[EXO_CTX_TASK].ops),
		 atomic64_read(&t->user[EXO_CTX_SOFTIRQ].ops),
		 atomic64_read(&t->user[EXO_CTX_HARDIRQ].ops),
		 atomic64_read(&t->failed), atomic64_read(&t->dup),
		 atomic64_read(&t->corrupt), live, leaked);
	kfree(t);
	return 0;
}

/* "irq <ms>" or "irq <ms> debug" */
static int exo_selftest_irq_cmd(const char *cmd)
{
	unsigned int ms;
	char flag[8];
	int n = sscanf(cmd, "irq %u %7s", &ms, flag);

	if (n < 1 || !ms || ms > 60000 || (n == 2 && strcmp(flag, "debug")))
		return -EINVAL;
	return exo_selftest_irq(ms, n == 2);
}

/* --- debugfs plumbing ---------------------------------------------------------------- */

static ssize_t exo_test_write(struct file *file, const char __user *ubuf, size_t len,
			      loff_t *ppos, bool bench)
{
	char buf[64], *cmd;
	unsigned int ms;
	int err;

	cmd = exo_debugfs_command(buf, sizeof(buf), ubuf, len);
	if (IS_ERR(cmd))
		return PTR_ERR(cmd);
	mutex_lock(&exo_test_lock);
	exo_test_result[0] = '\0';
	if (bench)
		err = exo_slab_bench(cmd);
	else if (sscanf(cmd, "stress %u", &ms) == 1)
		err = ms && ms <= 60000 ? exo_selftest_stress(ms) : -EINVAL;
	else if (!strncmp(cmd, "irq ", 4))
		err = exo_selftest_irq_cmd(cmd);
	else
		err = exo_selftest_finding(cmd);
	mutex_unlock(&exo_test_lock);
	return err ? err : len;
}

static ssize_t exo_bench_write(struct file *file, const char __user *ubuf, size_t len,
			       loff_t *ppos)
{
	return exo_test_write(file, ubuf, len, ppos, true);
}

static ssize_t exo_selftest_write(struct file *file, const char __user *ubuf, size_t len,
				  loff_t *ppos)
{
	return exo_test_write(file, ubuf, len, ppos, false);
}

static ssize_t exo_test_read(struct file *file, char __user *ubuf, size_t len, loff_t *ppos)
{
	ssize_t ret;

	mutex_lock(&exo_test_lock);
	ret = simple_read_from_buffer(ubuf, len, ppos, exo_test_result,
				      strlen(exo_test_result));
	mutex_unlock(&exo_test_lock);
	return ret;
}

static const struct file_operations exo_bench_fops = {
	.owner = THIS_MODULE,
	.read = exo_test_read,
	.write = exo_bench_write,
	.llseek = default_llseek,
};

static const struct file_operations exo_selftest_fops = {
	.owner = THIS_MODULE,
	.read = exo_test_read,
	.write = exo_selftest_write,
	.llseek = default_llseek,
};

void exo_slab_test_init(void)
{
	debugfs_create_file("slab_bench", 0600, exo_debugfs_dir, NULL, &exo_bench_fops);
	debugfs_create_file("slab_selftest", 0600, exo_debugfs_dir, NULL, &exo_selftest_fops);
}
