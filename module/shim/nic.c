// SPDX-License-Identifier: GPL-2.0
/*
 * The module's own Intel 8254x (82540EM, 82544GC, 82545EM) driver: PCI,
 * netdev, NAPI, legacy INTx, page_pool RX buffers, TX with byte queue
 * limits, and the four poll modes the controller of module/core/nic/ picks
 * (interrupt, moderated, timer-poll, busy-poll). The rules (reset, EEPROM,
 * register values, descriptor checks, the mode choice) are the core's.
 *
 * Which devices: only those asked for, the device's driver_override being
 * "exofusion" or its slot in nic_slots; Linux's e1000 keeps the others.
 *
 * Contexts: probe, remove, open, stop, ethtool and the works in process
 * context (rtnl for open, stop and ethtool); the IRQ handler and the poll
 * and busy hrtimers in hard IRQ (threaded on PREEMPT_RT); NAPI (softirq or
 * a busy-polling task) and the controller's tick (a softirq hrtimer).
 * mode_lock serialises the controller's tick, policy, settings and stats
 * and the mode's application; the IRQ handler and NAPI read the applied
 * mode locklessly: a mode change ends with a NAPI schedule, whose poll
 * sees the new mode, so a stale read heals at the next poll.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/dma-mapping.h>
#include <linux/etherdevice.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "module/shim/nic.h"
#include "module/shim/shim.h"
#include "module/shim/trace.h"

static char *nic_slots = "";
module_param(nic_slots, charp, 0444);
MODULE_PARM_DESC(nic_slots, "PCI slots the 8254x driver takes (0000:bb:dd.f,...), besides those whose driver_override is exofusion");

static char *nic_policy = "adaptive";
module_param(nic_policy, charp, 0444);
MODULE_PARM_DESC(nic_policy, "Poll policy a new NIC starts with: adaptive, interrupt, moderated, timer-poll or busy-poll");

/* The controller's tunables (mode_api.h); 0 takes the controller's default. */
static unsigned int nic_tick_us, nic_ema_shift, nic_moderated_up_pps, nic_moderated_down_pps;
static unsigned int nic_poll_up_pps, nic_poll_down_pps, nic_dwell_ms, nic_itr_ns;
static unsigned int nic_poll_period_us, nic_busy_timeout_us, nic_bulk_itr_ns;
module_param(nic_tick_us, uint, 0444);
MODULE_PARM_DESC(nic_tick_us, "Mode controller period (us)");
module_param(nic_ema_shift, uint, 0444);
MODULE_PARM_DESC(nic_ema_shift, "Mode controller EMA weight 1/2^shift per tick");
module_param(nic_moderated_up_pps, uint, 0444);
MODULE_PARM_DESC(nic_moderated_up_pps, "Packets/s at which interrupt goes to moderated");
module_param(nic_moderated_down_pps, uint, 0444);
MODULE_PARM_DESC(nic_moderated_down_pps, "Packets/s under which moderated goes back to interrupt");
module_param(nic_poll_up_pps, uint, 0444);
MODULE_PARM_DESC(nic_poll_up_pps, "Packets/s at which moderated goes to timer-poll");
module_param(nic_poll_down_pps, uint, 0444);
MODULE_PARM_DESC(nic_poll_down_pps, "Packets/s under which timer-poll goes back to moderated");
module_param(nic_dwell_ms, uint, 0444);
MODULE_PARM_DESC(nic_dwell_ms, "Minimum time in a mode before the next change (ms)");
module_param(nic_itr_ns, uint, 0444);
MODULE_PARM_DESC(nic_itr_ns, "Moderated mode: minimum interval between interrupts (ns)");
module_param(nic_bulk_itr_ns, uint, 0444);
MODULE_PARM_DESC(nic_bulk_itr_ns, "Moderated mode at timer-poll's rates: interval between interrupts (ns)");
module_param(nic_poll_period_us, uint, 0444);
MODULE_PARM_DESC(nic_poll_period_us, "Timer-poll mode: poll period (us)");
module_param(nic_busy_timeout_us, uint, 0444);
MODULE_PARM_DESC(nic_busy_timeout_us, "Busy-poll mode: back to interrupts after this long without a busy poll (us)");

/* Floors on the periods the controller asks for: a zero would spin. */
#define EXO_NIC_MIN_PERIOD_NS	(10 * NSEC_PER_USEC)
#define EXO_NIC_SERVICE_PERIOD	(2 * HZ)
/*
 * Descriptors a frame may take; the queue stops under this and wakes at
 * twice it, or half the ring if less (2 * (MAX_SKB_FRAGS + 2) can exceed a
 * 64-entry ring), never under the stop threshold (a 64-entry ring has 63
 * free at most, over it even with CONFIG_MAX_SKB_FRAGS at its maximum).
 */
#define EXO_NIC_TX_STOP		(MAX_SKB_FRAGS + 2)
static_assert(EXO_NIC_TX_STOP < EXO_NIC_RING_MIN);

static unsigned int exo_nic_tx_wake(const struct exo_nic *nic)
{
	return max_t(unsigned int, EXO_NIC_TX_STOP,
		     min_t(unsigned int, 2 * EXO_NIC_TX_STOP, nic->tx.count / 2));
}

static unsigned int exo_nic_default_policy;
static LIST_HEAD(exo_nics);		/* every bound NIC, for nicinfo */
static DEFINE_MUTEX(exo_nics_lock);
static struct dentry *exo_nicinfo_file;

/* --- registers ---------------------------------------------------------------- */

static inline u32 exo_nic_rd(struct exo_nic *nic, unsigned int reg)
{
	return readl(nic->regs + reg);
}

static inline void exo_nic_wr(struct exo_nic *nic, unsigned int reg, u32 val)
{
	writel(val, nic->regs + reg);
}

/* The core's register access (struct exo_nic_hw): bounded to BAR 0. */
static unsigned int exo_nic_hw_read32(void *ctx, unsigned int reg)
{
	struct exo_nic *nic = ctx;

	if (WARN_ON_ONCE(reg > EXO_E1000_REG_END - 4 || reg % 4))
		return 0;
	return exo_nic_rd(nic, reg);
}

static void exo_nic_hw_write32(void *ctx, unsigned int reg, unsigned int val)
{
	struct exo_nic *nic = ctx;

	if (WARN_ON_ONCE(reg > EXO_E1000_REG_END - 4 || reg % 4))
		return;
	exo_nic_wr(nic, reg, val);
}

static void exo_nic_hw_udelay(void *ctx, unsigned int us)
{
	udelay(us);
}

/*
 * Interrupt causes on and off, with their shadow (the IRQ handler claims only
 * those): on before IMS, off after IMC, so the shadow never misses a cause
 * the device may raise.
 */
static void exo_nic_irq_on(struct exo_nic *nic, u32 causes)
{
	atomic_or(causes, &nic->irq_enabled);
	exo_nic_wr(nic, EXO_E1000_IMS, causes);
}

static void exo_nic_irq_off(struct exo_nic *nic, u32 causes)
{
	exo_nic_wr(nic, EXO_E1000_IMC, causes);
	atomic_andnot(causes, &nic->irq_enabled);
}

/* --- receive ------------------------------------------------------------------- */

static void exo_nic_rx_unmap(struct exo_nic *nic, const struct exo_nic_rx_buf *buf)
{
	dma_unmap_page(&nic->pdev->dev, buf->dma, EXO_E1000_RX_BUF_LEN, DMA_FROM_DEVICE);
}

/* A page from the pool, mapped for the device; false if none. */
static bool exo_nic_rx_buf_get(struct exo_nic *nic, struct exo_nic_rx_buf *buf)
{
	buf->page = page_pool_dev_alloc_pages(nic->pool);
	if (!buf->page)
		return false;
	buf->dma = dma_map_page(&nic->pdev->dev, buf->page, nic->headroom,
				EXO_E1000_RX_BUF_LEN, DMA_FROM_DEVICE);
	if (!dma_mapping_error(&nic->pdev->dev, buf->dma))
		return true;
	page_pool_recycle_direct(nic->pool, buf->page);
	buf->page = NULL;
	return false;
}

/* Gives the device a page for every free slot; the tail moves if |kick|. */
static unsigned int exo_nic_rx_refill(struct exo_nic *nic, bool kick)
{
	unsigned int space = exo_nic_ring_space(&nic->rx);
	struct exo_nic_rx_buf buf;
	unsigned int n, slot;

	for (n = 0; n < space; n++) {
		if (!exo_nic_rx_buf_get(nic, &buf)) {
			u64_stats_update_begin(&nic->rx_stats.syncp);
			nic->rx_stats.alloc_failed++;
			u64_stats_update_end(&nic->rx_stats.syncp);
			break;
		}
		slot = exo_nic_rx_post(&nic->rx, buf.dma);
		if (WARN_ON_ONCE(nic->rx_bufs[slot].page)) {
			exo_nic_rx_unmap(nic, &nic->rx_bufs[slot]);
			page_pool_recycle_direct(nic->pool, nic->rx_bufs[slot].page);
		}
		nic->rx_bufs[slot] = buf;
	}
	if (n && kick)
		exo_nic_wr(nic, EXO_E1000_RDT, exo_nic_ring_tail(&nic->rx));
	return n;
}

/* The skb around a received page; NULL (the caller recycles the page) if none. */
static struct sk_buff *exo_nic_rx_skb(struct exo_nic *nic, struct page *page,
				      const struct exo_nic_rx_frame *f)
{
	struct net_device *netdev = nic->netdev;
	struct sk_buff *skb;

	/* The core checked the length; a frame must still fit the buffer we gave. */
	if (f->len < ETH_HLEN || f->len > EXO_E1000_RX_BUF_LEN)
		return NULL;
	skb = napi_build_skb(page_address(page), PAGE_SIZE);
	if (!skb)
		return NULL;
	skb_reserve(skb, nic->headroom);
	__skb_put(skb, f->len);
	skb_mark_for_recycle(skb);
	if ((f->flags & EXO_NIC_RX_CSUM_OK) && (netdev->features & NETIF_F_RXCSUM))
		skb->ip_summed = CHECKSUM_UNNECESSARY;
	skb->protocol = eth_type_trans(skb, netdev);
	return skb;
}

/* Up to |budget| descriptors the device is done with; returns how many. */
static int exo_nic_clean_rx(struct exo_nic *nic, int budget, unsigned int *frames)
{
	unsigned int packets = 0, dropped = 0;
	struct exo_nic_rx_frame f;
	enum exo_nic_rx_result res;
	struct sk_buff *skb;
	struct page *page;
	u64 bytes = 0;
	int seen;

	for (seen = 0; seen < budget; seen++) {
		res = exo_nic_rx_next(&nic->rx, &f);
		if (res == EXO_NIC_RX_NONE)
			break;
		if (WARN_ON_ONCE(f.slot >= nic->rx.count))
			break;
		page = nic->rx_bufs[f.slot].page;
		nic->rx_bufs[f.slot].page = NULL;
		if (WARN_ON_ONCE(!page))
			continue;
		exo_nic_rx_unmap(nic, &nic->rx_bufs[f.slot]);	/* the CPU's now */
		skb = res == EXO_NIC_RX_FRAME ? exo_nic_rx_skb(nic, page, &f) : NULL;
		if (!skb) {
			page_pool_recycle_direct(nic->pool, page);
			dropped++;
			continue;
		}
		bytes += f.len;
		packets++;
		napi_gro_receive(&nic->napi, skb);
	}
	exo_nic_rx_refill(nic, true);
	u64_stats_update_begin(&nic->rx_stats.syncp);
	nic->rx_stats.packets += packets;
	nic->rx_stats.bytes += bytes;
	nic->rx_stats.dropped += dropped;
	u64_stats_update_end(&nic->rx_stats.syncp);
	*frames = packets;
	return seen;
}

static void exo_nic_free_rx_bufs(struct exo_nic *nic)
{
	unsigned int slot;

	while (exo_nic_ring_in_flight(&nic->rx)) {
		slot = exo_nic_ring_take_oldest(&nic->rx);
		if (WARN_ON_ONCE(slot >= nic->rx.count))
			break;
		if (nic->rx_bufs[slot].page) {
			exo_nic_rx_unmap(nic, &nic->rx_bufs[slot]);
			page_pool_put_full_page(nic->pool, nic->rx_bufs[slot].page, false);
		}
		nic->rx_bufs[slot].page = NULL;
	}
}

/* --- transmit ------------------------------------------------------------------ */

static void exo_nic_tx_unmap(struct exo_nic *nic, struct exo_nic_tx_buf *buf)
{
	struct device *dev = &nic->pdev->dev;

	if (buf->page)
		dma_unmap_page(dev, buf->dma, buf->len, DMA_TO_DEVICE);
	else
		dma_unmap_single(dev, buf->dma, buf->len, DMA_TO_DEVICE);
}

/* One mapping per buffer of |skb| into nic->tx_map; their number, or -errno. */
static int exo_nic_tx_map(struct exo_nic *nic, struct sk_buff *skb)
{
	struct device *dev = &nic->pdev->dev;
	struct exo_nic_tx_buf *map = nic->tx_map;
	unsigned int len = skb_headlen(skb);
	int i, n = 0;

	if (len) {
		if (len > EXO_E1000_TX_MAX_LEN)
			return -EMSGSIZE;
		map[0].dma = dma_map_single(dev, skb->data, len, DMA_TO_DEVICE);
		if (dma_mapping_error(dev, map[0].dma))
			return -ENOMEM;
		map[0].len = len;
		map[0].page = false;
		map[0].skb = NULL;
		n = 1;
	}
	for (i = 0; i < skb_shinfo(skb)->nr_frags; i++) {
		const skb_frag_t *frag = &skb_shinfo(skb)->frags[i];

		len = skb_frag_size(frag);
		if (!len)
			continue;
		if (len > EXO_E1000_TX_MAX_LEN)
			goto unwind;
		map[n].dma = skb_frag_dma_map(dev, frag, 0, len, DMA_TO_DEVICE);
		if (dma_mapping_error(dev, map[n].dma))
			goto unwind;
		map[n].len = len;
		map[n].page = true;
		map[n].skb = NULL;
		n++;
	}
	if (!n)
		return -EINVAL;
	map[n - 1].skb = skb;
	return n;

unwind:
	while (n--)
		exo_nic_tx_unmap(nic, &map[n]);
	return -ENOMEM;
}

/*
 * Frames are in flight: NAPI polls within EXO_NIC_TX_REAP_NS. Fully ordered
 * (test_and_set_bit): the frames posted before it are seen by a poll that
 * clears the bit after (exo_nic_tx_reap_done).
 */
static void exo_nic_tx_reap_arm(struct exo_nic *nic)
{
	if (!test_and_set_bit(EXO_NIC_TX_REAP_ON, &nic->flags))
		hrtimer_start(&nic->tx_reap_timer, ns_to_ktime(EXO_NIC_TX_REAP_NS),
			      HRTIMER_MODE_REL);
}

/*
 * After a poll's reap: the timer stays armed while frames are in flight,
 * unless the link is down (the device sends nothing then, and re-arming
 * would poll every 250 us for nothing: link-up polls again).
 */
static void exo_nic_tx_reap_done(struct exo_nic *nic)
{
	if (exo_nic_ring_in_flight(&nic->tx)) {
		if (netif_carrier_ok(nic->netdev))
			exo_nic_tx_reap_arm(nic);
		return;
	}
	if (!test_bit(EXO_NIC_TX_REAP_ON, &nic->flags) ||
	    hrtimer_try_to_cancel(&nic->tx_reap_timer) != 1)
		return;		/* not armed, or firing: it clears the bit */
	clear_bit(EXO_NIC_TX_REAP_ON, &nic->flags);
	smp_mb__after_atomic();	/* cleared before in-flight re-read; pairs with arm */
	if (exo_nic_ring_in_flight(&nic->tx))	/* an xmit that saw the bit still set */
		exo_nic_tx_reap_arm(nic);
}

static enum hrtimer_restart exo_nic_tx_reap_timer_fn(struct hrtimer *t)
{
	struct exo_nic *nic = container_of(t, struct exo_nic, tx_reap_timer);

	clear_bit(EXO_NIC_TX_REAP_ON, &nic->flags);
	smp_mb__after_atomic();	/* as in exo_nic_tx_reap_done */
	if (READ_ONCE(nic->running) && exo_nic_ring_in_flight(&nic->tx))
		napi_schedule(&nic->napi);
	return HRTIMER_NORESTART;
}

static void exo_nic_tx_drop(struct exo_nic *nic, struct sk_buff *skb, bool map_failed)
{
	dev_kfree_skb_any(skb);
	u64_stats_update_begin(&nic->tx_stats.syncp);
	nic->tx_stats.dropped++;
	if (map_failed)
		nic->tx_stats.map_failed++;
	u64_stats_update_end(&nic->tx_stats.syncp);
}

static netdev_tx_t exo_nic_xmit(struct sk_buff *skb, struct net_device *netdev)
{
	struct exo_nic *nic = netdev_priv(netdev);
	struct netdev_queue *txq = netdev_get_tx_queue(netdev, 0);
	unsigned int slot;
	int i, n;

	if (skb_put_padto(skb, ETH_ZLEN)) {
		exo_nic_tx_drop(nic, NULL, false);
		return NETDEV_TX_OK;
	}
	if (unlikely(exo_nic_ring_space(&nic->tx) < skb_shinfo(skb)->nr_frags + 1)) {
		/* The queue stops before this can happen; if it does, as below. */
		netif_tx_stop_queue(txq);
		smp_mb();	/* stopped before space re-read; pairs with clean_tx's */
		if (exo_nic_ring_space(&nic->tx) < skb_shinfo(skb)->nr_frags + 1)
			return NETDEV_TX_BUSY;
		netif_tx_start_queue(txq);
	}
	n = exo_nic_tx_map(nic, skb);
	if (n < 0) {
		exo_nic_tx_drop(nic, skb, n == -ENOMEM);
		return NETDEV_TX_OK;
	}
	skb_tx_timestamp(skb);
	for (i = 0; i < n; i++) {
		const struct exo_nic_tx_buf *m = &nic->tx_map[i];

		slot = exo_nic_tx_post(&nic->tx, m->dma, m->len, i == n - 1);
		nic->tx_bufs[slot] = *m;
	}
	/*
	 * Completions run without the queue's lock (as e1000's): stop, then
	 * look again after the barrier that pairs with theirs, in case they
	 * freed room without seeing the queue stopped.
	 */
	if (unlikely(exo_nic_ring_space(&nic->tx) < EXO_NIC_TX_STOP)) {
		netif_tx_stop_queue(txq);
		smp_mb();	/* stopped before space re-read; pairs with clean_tx's */
		if (exo_nic_ring_space(&nic->tx) >= EXO_NIC_TX_STOP)
			netif_tx_start_queue(txq);
	}
	if (__netdev_tx_sent_queue(txq, skb->len, netdev_xmit_more()))
		exo_nic_wr(nic, EXO_E1000_TDT, exo_nic_ring_tail(&nic->tx));
	exo_nic_tx_reap_arm(nic);
	return NETDEV_TX_OK;
}

/* Frames the device has sent (NAPI, without the queue's lock); returns how many. */
static unsigned int exo_nic_clean_tx(struct exo_nic *nic, int budget)
{
	struct netdev_queue *txq = netdev_get_tx_queue(nic->netdev, 0);
	unsigned int slot, n, packets = 0, bytes = 0;
	struct exo_nic_tx_buf *buf;
	bool woke = false;

	for (n = 0; n < nic->tx.count && exo_nic_tx_reap(&nic->tx, &slot); n++) {
		if (WARN_ON_ONCE(slot >= nic->tx.count))
			break;
		buf = &nic->tx_bufs[slot];
		exo_nic_tx_unmap(nic, buf);
		if (buf->skb) {
			packets++;
			bytes += buf->skb->len;
			napi_consume_skb(buf->skb, budget);
			buf->skb = NULL;
		}
	}
	if (n)
		netdev_tx_completed_queue(txq, packets, bytes);
	if (n && exo_nic_ring_space(&nic->tx) >= exo_nic_tx_wake(nic)) {
		smp_mb();	/* room before stopped read; pairs with xmit's */
		if (netif_tx_queue_stopped(txq) && READ_ONCE(nic->running)) {
			netif_tx_wake_queue(txq);
			woke = true;
		}
	}
	u64_stats_update_begin(&nic->tx_stats.done_syncp);
	nic->tx_stats.packets += packets;
	nic->tx_stats.bytes += bytes;
	nic->tx_stats.restarts += woke;
	u64_stats_update_end(&nic->tx_stats.done_syncp);
	return packets;
}

static void exo_nic_free_tx_bufs(struct exo_nic *nic)
{
	struct exo_nic_tx_buf *buf;
	unsigned int slot;

	while (exo_nic_ring_in_flight(&nic->tx)) {
		slot = exo_nic_ring_take_oldest(&nic->tx);
		if (WARN_ON_ONCE(slot >= nic->tx.count))
			break;
		buf = &nic->tx_bufs[slot];
		exo_nic_tx_unmap(nic, buf);
		dev_kfree_skb_any(buf->skb);
		buf->skb = NULL;
	}
	netdev_reset_queue(nic->netdev);
}

/* --- interrupts, NAPI and the modes ----------------------------------------------- */

/*
 * Arms the controller's tick if it is not. Callers hold mode_lock, or run
 * where down waits for them (the IRQ handler: free_irq): down clears running
 * under mode_lock before it cancels the tick, which cannot be re-armed after.
 */
static void exo_nic_tick_kick(struct exo_nic *nic)
{
	if (READ_ONCE(nic->running) && !test_and_set_bit(EXO_NIC_TICK_ON, &nic->flags))
		hrtimer_start(&nic->tick_timer, ns_to_ktime(nic->tick_ns), HRTIMER_MODE_REL_SOFT);
}

/* A busy poll: in busy-poll mode, interrupts stay masked until it stops. */
static void exo_nic_busy_seen(struct exo_nic *nic)
{
	if (READ_ONCE(nic->mode) != EXO_NIC_MODE_BUSY_POLL)
		return;
	WRITE_ONCE(nic->busy_last_ns, ktime_get_ns());
	if (READ_ONCE(nic->irq_suspended)) {
		/* Suspended without a timer (a mode applied meanwhile cancelled it). */
		if (!hrtimer_is_queued(&nic->busy_timer))
			hrtimer_start(&nic->busy_timer,
				      ns_to_ktime(READ_ONCE(nic->busy_timeout_ns)),
				      HRTIMER_MODE_REL);
		return;
	}
	WRITE_ONCE(nic->irq_suspended, true);
	exo_nic_irq_off(nic, EXO_NIC_INT_RX);
	hrtimer_start(&nic->busy_timer, ns_to_ktime(READ_ONCE(nic->busy_timeout_ns)),
		      HRTIMER_MODE_REL);
}

/* NAPI completed: interrupts back on where the mode takes them. */
static void exo_nic_irq_after_poll(struct exo_nic *nic)
{
	switch (READ_ONCE(nic->mode)) {
	case EXO_NIC_MODE_TIMER_POLL:
		return;		/* the poll timer reschedules */
	case EXO_NIC_MODE_BUSY_POLL:
		if (READ_ONCE(nic->irq_suspended))
			return;	/* the busy timer ends the suspension */
		break;
	default:
		break;
	}
	exo_nic_irq_on(nic, EXO_NIC_INT_RX);
	/*
	 * A switch to timer-poll since the mode was read may have masked
	 * (IMC) before the IMS above: mask again. apply writes the mode
	 * before its IMC; the barrier orders our IMS before the re-read.
	 */
	mb();
	if (READ_ONCE(nic->mode) == EXO_NIC_MODE_TIMER_POLL)
		exo_nic_irq_off(nic, EXO_NIC_INT_RX);
}

static int exo_nic_poll(struct napi_struct *napi, int budget)
{
	struct exo_nic *nic = container_of(napi, struct exo_nic, napi);
	bool busy = test_bit(NAPI_STATE_IN_BUSY_POLL, &napi->state);
	unsigned int tx, rx = 0;
	int work = 0;

	tx = exo_nic_clean_tx(nic, budget);
	exo_nic_tx_reap_done(nic);
	if (budget)
		work = exo_nic_clean_rx(nic, budget, &rx);
	exo_nic_mode_note_poll(nic->ctl, rx, tx, busy);
	if (busy)
		exo_nic_busy_seen(nic);
	if (work >= budget)
		return budget;
	if (napi_complete_done(napi, work) && READ_ONCE(nic->running))
		exo_nic_irq_after_poll(nic);
	/*
	 * No RX buffer posted (page_pool had none): the device cannot
	 * receive, and no interrupt will say so. Rather than spin in softirq,
	 * the service work polls (and refills) again shortly.
	 */
	if (budget && !exo_nic_ring_in_flight(&nic->rx) && READ_ONCE(nic->running)) {
		set_bit(EXO_NIC_RX_STARVED, &nic->flags);
		mod_delayed_work(system_power_efficient_wq, &nic->service, 1);
	}
	return work;
}

static irqreturn_t exo_nic_irq(int irq, void *data)
{
	struct exo_nic *nic = data;
	u32 raw, icr;

	raw = exo_nic_rd(nic, EXO_E1000_ICR);	/* reading clears */
	if (raw == ~0u)			/* ours gone (surprise removal) */
		return IRQ_NONE;
	/* Causes we masked are not ours to claim: the shared line's another device's. */
	icr = raw & atomic_read(&nic->irq_enabled);
	if (!icr) {
		/*
		 * The read cleared masked RX/TX causes: a poll under way
		 * (which unmasks after it) runs again to see them.
		 */
		if ((raw & EXO_NIC_INT_RX) && READ_ONCE(nic->running) &&
		    test_bit(NAPI_STATE_SCHED, &nic->napi.state))
			napi_schedule(&nic->napi);
		return IRQ_NONE;
	}
	if (!READ_ONCE(nic->running))
		return IRQ_HANDLED;
	exo_nic_mode_note_irq(nic->ctl);
	if (icr & EXO_NIC_INT_LINK)
		mod_delayed_work(system_power_efficient_wq, &nic->service, 0);
	if ((icr & EXO_NIC_INT_RX) && napi_schedule_prep(&nic->napi)) {
		exo_nic_irq_off(nic, EXO_NIC_INT_RX);
		__napi_schedule(&nic->napi);
	}
	if (READ_ONCE(nic->policy) == EXO_NIC_POLICY_ADAPTIVE)
		exo_nic_tick_kick(nic);
	return IRQ_HANDLED;
}

static enum hrtimer_restart exo_nic_poll_timer_fn(struct hrtimer *t)
{
	struct exo_nic *nic = container_of(t, struct exo_nic, poll_timer);

	if (!READ_ONCE(nic->running) || READ_ONCE(nic->mode) != EXO_NIC_MODE_TIMER_POLL)
		return HRTIMER_NORESTART;
	WRITE_ONCE(nic->timer_polls, nic->timer_polls + 1);
	napi_schedule(&nic->napi);
	hrtimer_forward_now(t, ns_to_ktime(READ_ONCE(nic->poll_period_ns)));
	return HRTIMER_RESTART;
}

static enum hrtimer_restart exo_nic_busy_timer_fn(struct hrtimer *t)
{
	struct exo_nic *nic = container_of(t, struct exo_nic, busy_timer);
	u64 timeout = READ_ONCE(nic->busy_timeout_ns);
	u64 last = READ_ONCE(nic->busy_last_ns);

	if (!READ_ONCE(nic->running) || READ_ONCE(nic->mode) != EXO_NIC_MODE_BUSY_POLL)
		return HRTIMER_NORESTART;
	if (ktime_get_ns() - last < timeout) {
		hrtimer_set_expires(t, ns_to_ktime(last + timeout));
		return HRTIMER_RESTART;
	}
	/* Nobody busy-polls any more: the next completion unmasks. */
	WRITE_ONCE(nic->irq_suspended, false);
	WRITE_ONCE(nic->busy_timeouts, nic->busy_timeouts + 1);
	napi_schedule(&nic->napi);
	return HRTIMER_NORESTART;
}

/* The interrupt interval (mode_lock held); RADV bounds the receive delay by the same. */
static void exo_nic_set_itr(struct exo_nic *nic, unsigned int itr_ns)
{
	nic->itr_ns = itr_ns;
	exo_nic_hw_set_moderation(&nic->hw, itr_ns, 0, itr_ns);	/* RDTR stays 0 */
}

/*
 * Applies the controller's settings (mode_lock held; any context but hard
 * IRQ). Ends with a NAPI schedule: a poll that read the old mode runs again.
 */
static void exo_nic_apply(struct exo_nic *nic, const struct exo_nic_mode_settings *s)
{
	unsigned int itr = 0;

	WRITE_ONCE(nic->mode, s->mode);
	WRITE_ONCE(nic->poll_period_ns, max_t(unsigned int, s->poll_period_ns,
					      EXO_NIC_MIN_PERIOD_NS));
	WRITE_ONCE(nic->busy_timeout_ns, max_t(unsigned int, s->busy_timeout_ns,
					       EXO_NIC_MIN_PERIOD_NS));
	/*
	 * The busy timer off before the suspension ends: a busy poll that
	 * suspends after this arms it again, and one that raced the clear
	 * re-arms it at its next poll; never suspended without a timer.
	 */
	hrtimer_try_to_cancel(&nic->busy_timer);
	WRITE_ONCE(nic->irq_suspended, false);
	if (!READ_ONCE(nic->running))
		return;		/* open applies the mode */
	if (s->mode == EXO_NIC_MODE_MODERATED)
		itr = nic->itr_override_ns ? nic->itr_override_ns : s->itr_ns;
	exo_nic_set_itr(nic, itr);
	/* The link's causes in every mode (a NIC opened in timer-poll too). */
	exo_nic_irq_on(nic, EXO_NIC_INT_LINK);
	if (s->mode == EXO_NIC_MODE_TIMER_POLL) {
		exo_nic_irq_off(nic, EXO_NIC_INT_RX);
		hrtimer_start(&nic->poll_timer, ns_to_ktime(nic->poll_period_ns),
			      HRTIMER_MODE_REL);
	} else {
		hrtimer_try_to_cancel(&nic->poll_timer);
		exo_nic_irq_on(nic, EXO_NIC_INT_RX);
	}
	napi_schedule(&nic->napi);
}

/* A change the controller made (mode_lock held): traced and applied. */
static void exo_nic_mode_changed(struct exo_nic *nic, const struct exo_nic_mode_change *ch)
{
	struct exo_nic_mode_settings s;

	exo_nic_mode_settings(nic->ctl, &s);
	trace_nic_mode(nic->netdev, ch, READ_ONCE(nic->policy));
	netdev_dbg(nic->netdev, "mode %s -> %s (%s, rate %u pps, batch %u/16)\n",
		   exo_nic_mode_name(ch->from) ?: "?", exo_nic_mode_name(ch->to) ?: "?",
		   exo_nic_mode_reason_name(ch->reason) ?: "?", ch->rate_pps, ch->batch_x16);
	exo_nic_apply(nic, &s);
}

/* The same mode with another ITR (moderated's bulk interval): not a mode change. */
static void exo_nic_retune(struct exo_nic *nic)
{
	struct exo_nic_mode_settings s;

	exo_nic_mode_settings(nic->ctl, &s);
	if (s.mode != EXO_NIC_MODE_MODERATED || nic->itr_override_ns || s.itr_ns == nic->itr_ns)
		return;
	netdev_dbg(nic->netdev, "moderated: interval %u -> %u ns\n", nic->itr_ns, s.itr_ns);
	exo_nic_set_itr(nic, s.itr_ns);
}

static enum hrtimer_restart exo_nic_tick_fn(struct hrtimer *t)
{
	struct exo_nic *nic = container_of(t, struct exo_nic, tick_timer);
	struct exo_nic_mode_change ch;
	bool more;

	spin_lock(&nic->mode_lock);
	if (exo_nic_mode_tick(nic->ctl, ktime_get_ns(), &ch) == 1)
		exo_nic_mode_changed(nic, &ch);
	else if (READ_ONCE(nic->running))
		exo_nic_retune(nic);
	more = READ_ONCE(nic->running) && exo_nic_mode_wants_tick(nic->ctl);
	if (!more)
		clear_bit(EXO_NIC_TICK_ON, &nic->flags);
	spin_unlock(&nic->mode_lock);
	if (!more)
		return HRTIMER_NORESTART;	/* the next interrupt restarts it */
	hrtimer_forward_now(t, ns_to_ktime(nic->tick_ns));
	return HRTIMER_RESTART;
}

unsigned int exo_nic_policy(struct exo_nic *nic)
{
	return READ_ONCE(nic->policy);
}

/*
 * Policy (a mode or EXO_NIC_POLICY_ADAPTIVE) and, for a fixed moderated
 * one, the ITR ethtool asked for (0: the controller's). 0 or -EINVAL.
 */
int exo_nic_set_policy(struct exo_nic *nic, unsigned int policy, unsigned int itr_ns)
{
	struct exo_nic_mode_settings s;
	struct exo_nic_mode_change ch;
	int ret;

	spin_lock_bh(&nic->mode_lock);
	ret = exo_nic_mode_set_policy(nic->ctl, policy, ktime_get_ns(), &ch);
	if (ret >= 0) {
		WRITE_ONCE(nic->policy, policy);
		nic->itr_override_ns = policy == EXO_NIC_MODE_MODERATED ? itr_ns : 0;
		if (ret == 1) {
			exo_nic_mode_changed(nic, &ch);
		} else {
			exo_nic_mode_settings(nic->ctl, &s);
			exo_nic_apply(nic, &s);
		}
	}
	/* Under mode_lock: down, which clears running under it, cancels after. */
	if (ret >= 0 && policy == EXO_NIC_POLICY_ADAPTIVE)
		exo_nic_tick_kick(nic);
	spin_unlock_bh(&nic->mode_lock);
	return ret < 0 ? -EINVAL : 0;
}

void exo_nic_get_mode_stats(struct exo_nic *nic, struct exo_nic_mode_stats *st)
{
	spin_lock_bh(&nic->mode_lock);
	exo_nic_mode_get_stats(nic->ctl, ktime_get_ns(), st);
	spin_unlock_bh(&nic->mode_lock);
}

/* --- link and statistics ------------------------------------------------------------ */

void exo_nic_update_hw_stats(struct exo_nic *nic)
{
	struct exo_nic_hw_stats acc;

	mutex_lock(&nic->stats_mutex);
	acc = nic->hw_stats;	/* written under stats_mutex only */
	exo_nic_hw_read_stats(&nic->hw, &acc);
	u64_stats_update_begin(&nic->hw_syncp);
	nic->hw_stats = acc;
	u64_stats_update_end(&nic->hw_syncp);
	mutex_unlock(&nic->stats_mutex);
}

void exo_nic_read_hw_stats(struct exo_nic *nic, struct exo_nic_hw_stats *out)
{
	unsigned int start;

	do {
		start = u64_stats_fetch_begin(&nic->hw_syncp);
		*out = nic->hw_stats;
	} while (u64_stats_fetch_retry(&nic->hw_syncp, start));
}

void exo_nic_read_rx_stats(struct exo_nic *nic, struct exo_nic_rx_stats *out)
{
	unsigned int start;

	do {
		start = u64_stats_fetch_begin(&nic->rx_stats.syncp);
		out->packets = nic->rx_stats.packets;
		out->bytes = nic->rx_stats.bytes;
		out->dropped = nic->rx_stats.dropped;
		out->alloc_failed = nic->rx_stats.alloc_failed;
	} while (u64_stats_fetch_retry(&nic->rx_stats.syncp, start));
}

void exo_nic_read_tx_stats(struct exo_nic *nic, struct exo_nic_tx_stats *out)
{
	unsigned int start;

	do {
		start = u64_stats_fetch_begin(&nic->tx_stats.syncp);
		out->dropped = nic->tx_stats.dropped;
		out->map_failed = nic->tx_stats.map_failed;
	} while (u64_stats_fetch_retry(&nic->tx_stats.syncp, start));
	do {
		start = u64_stats_fetch_begin(&nic->tx_stats.done_syncp);
		out->packets = nic->tx_stats.packets;
		out->bytes = nic->tx_stats.bytes;
		out->restarts = nic->tx_stats.restarts;
	} while (u64_stats_fetch_retry(&nic->tx_stats.done_syncp, start));
}

/* The RX ring's error counters, with those of rings earlier downs freed (rtnl). */
void exo_nic_rx_errors(struct exo_nic *nic, struct exo_nic_ring_errors *out)
{
	*out = nic->rx_errors_before;
	if (!nic->rx_bufs)
		return;
	out->bad_length += READ_ONCE(nic->rx.errors.bad_length);
	out->chained += READ_ONCE(nic->rx.errors.chained);
	out->rx_errors += READ_ONCE(nic->rx.errors.rx_errors);
}

static void exo_nic_check_link(struct exo_nic *nic)
{
	struct net_device *netdev = nic->netdev;
	bool up = exo_nic_hw_link_up(&nic->hw);

	if (up && !netif_carrier_ok(netdev)) {
		netdev_info(netdev, "link up, %u Mb/s\n", exo_nic_hw_link_speed(&nic->hw));
		netif_carrier_on(netdev);
		local_bh_disable();	/* the poll runs at local_bh_enable() */
		napi_schedule(&nic->napi);	/* reaps what waited for the link */
		local_bh_enable();
	} else if (!up && netif_carrier_ok(netdev)) {
		netdev_info(netdev, "link down\n");
		netif_carrier_off(netdev);
	}
}

/* Link (after LSC, and as a watchdog) and the device's counters, while up. */
static void exo_nic_service_fn(struct work_struct *work)
{
	struct exo_nic *nic = container_of(to_delayed_work(work), struct exo_nic, service);

	if (!READ_ONCE(nic->running))
		return;
	if (test_and_clear_bit(EXO_NIC_RX_STARVED, &nic->flags)) {
		local_bh_disable();	/* the poll runs at local_bh_enable() */
		napi_schedule(&nic->napi);	/* it refills the RX ring */
		local_bh_enable();
	}
	exo_nic_check_link(nic);
	exo_nic_update_hw_stats(nic);
	queue_delayed_work(system_power_efficient_wq, &nic->service,
			   round_jiffies_relative(EXO_NIC_SERVICE_PERIOD));
}

/* --- up and down ----------------------------------------------------------------- */

static int exo_nic_alloc_ring(struct exo_nic *nic, struct exo_nic_ring *r, dma_addr_t *dma,
			      unsigned int count, unsigned int buf_len)
{
	void *desc;
	int err;

	desc = dma_alloc_coherent(&nic->pdev->dev, count * EXO_E1000_DESC_SIZE, dma, GFP_KERNEL);
	if (!desc)
		return -ENOMEM;
	err = exo_nic_ring_init(r, desc, count, buf_len);
	if (err) {
		dma_free_coherent(&nic->pdev->dev, count * EXO_E1000_DESC_SIZE, desc, *dma);
		return err;
	}
	return 0;
}

static void exo_nic_free_ring(struct exo_nic *nic, struct exo_nic_ring *r, dma_addr_t dma)
{
	dma_free_coherent(&nic->pdev->dev, r->count * EXO_E1000_DESC_SIZE, r->desc, dma);
	r->desc = NULL;
}

static int exo_nic_create_pool(struct exo_nic *nic)
{
	struct page_pool_params pp = {
		.order = 0,	/* no PP_FLAG_DMA_MAP: struct exo_nic_rx_buf says why */
		.pool_size = nic->rx_count,
		.nid = dev_to_node(&nic->pdev->dev),
		.dev = &nic->pdev->dev,
	};

	nic->pool = page_pool_create(&pp);
	if (IS_ERR(nic->pool)) {
		int err = PTR_ERR(nic->pool);

		nic->pool = NULL;
		return err;
	}
	return 0;
}

static int exo_nic_alloc_all(struct exo_nic *nic)
{
	int err;

	nic->rx_bufs = kcalloc(nic->rx_count, sizeof(*nic->rx_bufs), GFP_KERNEL);
	nic->tx_bufs = kcalloc(nic->tx_count, sizeof(*nic->tx_bufs), GFP_KERNEL);
	err = -ENOMEM;
	if (!nic->rx_bufs || !nic->tx_bufs)
		goto out_arrays;
	err = exo_nic_alloc_ring(nic, &nic->rx, &nic->rx_desc_dma, nic->rx_count,
				 EXO_E1000_RX_BUF_LEN);
	if (err)
		goto out_arrays;
	err = exo_nic_alloc_ring(nic, &nic->tx, &nic->tx_desc_dma, nic->tx_count, 0);
	if (err)
		goto out_rx;
	err = exo_nic_create_pool(nic);
	if (err)
		goto out_tx;
	return 0;

out_tx:
	exo_nic_free_ring(nic, &nic->tx, nic->tx_desc_dma);
out_rx:
	exo_nic_free_ring(nic, &nic->rx, nic->rx_desc_dma);
out_arrays:
	kfree(nic->tx_bufs);
	kfree(nic->rx_bufs);
	nic->tx_bufs = NULL;
	nic->rx_bufs = NULL;
	return err;
}

static void exo_nic_free_all(struct exo_nic *nic)
{
	exo_nic_free_rx_bufs(nic);
	exo_nic_free_tx_bufs(nic);
	nic->rx_errors_before.bad_length += nic->rx.errors.bad_length;
	nic->rx_errors_before.chained += nic->rx.errors.chained;
	nic->rx_errors_before.rx_errors += nic->rx.errors.rx_errors;
	page_pool_destroy(nic->pool);
	nic->pool = NULL;
	exo_nic_free_ring(nic, &nic->tx, nic->tx_desc_dma);
	exo_nic_free_ring(nic, &nic->rx, nic->rx_desc_dma);
	kfree(nic->tx_bufs);
	kfree(nic->rx_bufs);
	nic->tx_bufs = NULL;
	nic->rx_bufs = NULL;
}

/* The filters the netdev asks for, and its multicast table in nic->mta (addr lock). */
static unsigned int exo_nic_filters(struct exo_nic *nic)
{
	struct net_device *netdev = nic->netdev;
	unsigned int filters = EXO_NIC_FILTER_BROADCAST;
	struct netdev_hw_addr *ha;

	if ((netdev->flags & IFF_PROMISC) || netdev_uc_count(netdev))
		filters |= EXO_NIC_FILTER_PROMISC;
	else if (netdev->flags & IFF_ALLMULTI)
		filters |= EXO_NIC_FILTER_ALLMULTI;
	/* Frames over 1522 bytes are dropped by the device without RCTL.LPE. */
	if (READ_ONCE(netdev->mtu) > ETH_DATA_LEN)
		filters |= EXO_NIC_FILTER_LONG;
	memset(nic->mta, 0, sizeof(nic->mta));
	netdev_for_each_mc_addr(ha, netdev)
		exo_nic_mta_set(nic->mta, ha->addr);
	return filters;
}

static void exo_nic_set_rx_mode(struct net_device *netdev)
{
	struct exo_nic *nic = netdev_priv(netdev);

	nic->filters = exo_nic_filters(nic);
	if (nic->rx_on)
		exo_nic_hw_set_filters(&nic->hw, nic->filters, nic->mta);
}

/* Brings the device up (rtnl): rings, buffers, IRQ, NAPI, the mode. */
int exo_nic_up(struct exo_nic *nic)
{
	struct net_device *netdev = nic->netdev;
	struct exo_nic_mode_settings s;
	int err;

	err = exo_nic_alloc_all(nic);
	if (err)
		return err;
	if (!exo_nic_rx_refill(nic, false)) {
		err = -ENOMEM;
		goto out_free;
	}
	atomic_set(&nic->irq_enabled, 0);	/* reset or down masked every cause */
	err = request_irq(nic->pdev->irq, exo_nic_irq, IRQF_SHARED, netdev->name, nic);
	if (err)
		goto out_free;
	exo_nic_hw_link_setup(&nic->hw);
	/* Serialised with set_rx_mode, which writes RCTL only while rx_on. */
	netif_addr_lock_bh(netdev);
	nic->filters = exo_nic_filters(nic);
	exo_nic_hw_set_filters(&nic->hw, nic->filters, nic->mta);
	exo_nic_hw_start_rx(&nic->hw, nic->rx_desc_dma, nic->rx.count, nic->filters);
	nic->rx_on = true;
	netif_addr_unlock_bh(netdev);
	exo_nic_wr(nic, EXO_E1000_RDT, exo_nic_ring_tail(&nic->rx));
	exo_nic_hw_start_tx(&nic->hw, nic->tx_desc_dma, nic->tx.count);
	netdev_reset_queue(netdev);
	napi_enable(&nic->napi);
	spin_lock_bh(&nic->mode_lock);
	WRITE_ONCE(nic->running, true);
	exo_nic_mode_settings(nic->ctl, &s);
	exo_nic_apply(nic, &s);
	if (exo_nic_policy(nic) == EXO_NIC_POLICY_ADAPTIVE)
		exo_nic_tick_kick(nic);
	spin_unlock_bh(&nic->mode_lock);
	/* Wake, not start: after a reset or -G the qdisc has frames waiting. */
	netif_wake_queue(netdev);
	mod_delayed_work(system_power_efficient_wq, &nic->service, 0);
	return 0;

out_free:
	exo_nic_free_all(nic);
	return err;
}

/* Down (rtnl): nothing runs on the device any more, every buffer freed. */
void exo_nic_down(struct exo_nic *nic)
{
	struct net_device *netdev = nic->netdev;

	if (!nic->rx_bufs)
		return;		/* an up that failed after a reset */
	/* Under mode_lock: a mode being applied now is either done or sees it. */
	spin_lock_bh(&nic->mode_lock);
	WRITE_ONCE(nic->running, false);
	spin_unlock_bh(&nic->mode_lock);
	/* A link check under way would turn the carrier on again after us. */
	cancel_delayed_work_sync(&nic->service);
	netif_carrier_off(netdev);
	netif_tx_disable(netdev);
	netif_addr_lock_bh(netdev);
	nic->rx_on = false;
	exo_nic_hw_stop(&nic->hw);
	netif_addr_unlock_bh(netdev);
	napi_disable(&nic->napi);
	/* A poll that read running before it was cleared may have unmasked. */
	exo_nic_wr(nic, EXO_E1000_IMC, ~0u);
	atomic_set(&nic->irq_enabled, 0);
	free_irq(nic->pdev->irq, nic);
	hrtimer_cancel(&nic->poll_timer);
	hrtimer_cancel(&nic->busy_timer);
	hrtimer_cancel(&nic->tick_timer);
	clear_bit(EXO_NIC_TICK_ON, &nic->flags);
	hrtimer_cancel(&nic->tx_reap_timer);	/* xmit and NAPI, which arm it, are off */
	clear_bit(EXO_NIC_TX_REAP_ON, &nic->flags);
	cancel_delayed_work_sync(&nic->service);
	clear_bit(EXO_NIC_RX_STARVED, &nic->flags);
	/* What the device started before receive and transmit were off. */
	usleep_range(10000, 20000);
	exo_nic_update_hw_stats(nic);
	exo_nic_free_all(nic);
}

static int exo_nic_open(struct net_device *netdev)
{
	return exo_nic_up(netdev_priv(netdev));
}

static int exo_nic_stop(struct net_device *netdev)
{
	exo_nic_down(netdev_priv(netdev));
	return 0;
}

static void exo_nic_reset_fn(struct work_struct *work)
{
	struct exo_nic *nic = container_of(work, struct exo_nic, reset_work);
	int err;

	rtnl_lock();
	if (netif_running(nic->netdev)) {
		exo_nic_down(nic);
		err = exo_nic_up(nic);
		if (err) {
			netdev_err(nic->netdev, "reset: up failed (%d), closing\n", err);
			dev_close(nic->netdev);
		}
	}
	rtnl_unlock();
}

static void exo_nic_tx_timeout(struct net_device *netdev, unsigned int txqueue)
{
	struct exo_nic *nic = netdev_priv(netdev);

	netdev_warn(netdev, "transmit timed out (queue %u): resetting\n", txqueue);
	schedule_work(&nic->reset_work);
}

static void exo_nic_get_stats64(struct net_device *netdev, struct rtnl_link_stats64 *st)
{
	struct exo_nic *nic = netdev_priv(netdev);
	struct exo_nic_rx_stats rx;
	struct exo_nic_tx_stats tx;
	struct exo_nic_hw_stats hw;

	exo_nic_read_rx_stats(nic, &rx);
	exo_nic_read_tx_stats(nic, &tx);
	exo_nic_read_hw_stats(nic, &hw);
	st->rx_packets = rx.packets;
	st->rx_bytes = rx.bytes;
	st->rx_dropped = rx.dropped;	/* alloc_failed drops nothing: ethtool -S */
	st->tx_packets = tx.packets;
	st->tx_bytes = tx.bytes;
	st->tx_dropped = tx.dropped;
	st->multicast = hw.multicast_rx;
	st->collisions = hw.collisions;
	st->rx_crc_errors = hw.crc_errors;
	st->rx_frame_errors = hw.align_errors;
	st->rx_length_errors = hw.undersize + hw.oversize;
	st->rx_missed_errors = hw.missed;
	st->rx_errors = hw.rx_errors + hw.crc_errors + hw.align_errors + hw.undersize +
			hw.oversize;
}

static int exo_nic_set_mac_address(struct net_device *netdev, void *p)
{
	struct exo_nic *nic = netdev_priv(netdev);
	int err;

	err = eth_prepare_mac_addr_change(netdev, p);
	if (err)
		return err;
	eth_commit_mac_addr_change(netdev, p);
	exo_nic_hw_set_mac(&nic->hw, netdev->dev_addr);
	return 0;
}

/*
 * Any MTU of min_mtu..max_mtu: a frame always fits one 2048-byte buffer;
 * over 1500, the filters take long frames (RCTL.LPE).
 */
static int exo_nic_change_mtu(struct net_device *netdev, int new_mtu)
{
	WRITE_ONCE(netdev->mtu, new_mtu);
	if (netif_running(netdev)) {
		netif_addr_lock_bh(netdev);
		exo_nic_set_rx_mode(netdev);
		netif_addr_unlock_bh(netdev);
	}
	return 0;
}

static const struct net_device_ops exo_nic_netdev_ops = {
	.ndo_open = exo_nic_open,
	.ndo_stop = exo_nic_stop,
	.ndo_start_xmit = exo_nic_xmit,
	.ndo_get_stats64 = exo_nic_get_stats64,
	.ndo_set_rx_mode = exo_nic_set_rx_mode,
	.ndo_set_mac_address = exo_nic_set_mac_address,
	.ndo_validate_addr = eth_validate_addr,
	.ndo_change_mtu = exo_nic_change_mtu,
	.ndo_tx_timeout = exo_nic_tx_timeout,
};

/* --- sysfs: /sys/class/net/<if>/exofusion/ ------------------------------------------ */

static struct exo_nic *exo_nic_of_dev(struct device *dev)
{
	return netdev_priv(to_net_dev(dev));
}

static const char *exo_nic_name_of(unsigned int mode_or_policy)
{
	return exo_nic_mode_name(mode_or_policy) ?: "?";
}

static ssize_t policy_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%s\n", exo_nic_name_of(exo_nic_policy(exo_nic_of_dev(dev))));
}

/* A policy's number from its name, or -EINVAL. */
static int exo_nic_parse_policy(const char *name)
{
	unsigned int p;

	for (p = 0; p <= EXO_NIC_POLICY_ADAPTIVE; p++)
		if (exo_nic_mode_name(p) && sysfs_streq(name, exo_nic_mode_name(p)))
			return p;
	return -EINVAL;
}

static ssize_t policy_store(struct device *dev, struct device_attribute *attr,
			    const char *buf, size_t len)
{
	int policy = exo_nic_parse_policy(buf);
	int err;

	if (policy < 0) {
		/* Its first 32 bytes, escaped: the writer's string is hostile. */
		netdev_info(to_net_dev(dev), "policy \"%*pE\" rejected: not adaptive, interrupt, moderated, timer-poll or busy-poll\n",
			    (int)min_t(size_t, strcspn(buf, "\n"), 32), buf);
		return policy;
	}
	err = exo_nic_set_policy(exo_nic_of_dev(dev), policy, 0);
	return err ? err : len;
}
static DEVICE_ATTR_RW(policy);

/* The read-only files: one field of the controller's stats each. */
enum exo_nic_stat_field {
	EXO_NIC_ST_MODE, EXO_NIC_ST_RATE, EXO_NIC_ST_BATCH, EXO_NIC_ST_IRQ_RATE,
	EXO_NIC_ST_CHANGES, EXO_NIC_ST_IRQS, EXO_NIC_ST_POLLS, EXO_NIC_ST_BUSY_POLLS,
};

static ssize_t exo_nic_stat_show(struct device *dev, char *buf, enum exo_nic_stat_field f)
{
	struct exo_nic *nic = exo_nic_of_dev(dev);
	struct exo_nic_mode_stats *st;
	u64 v = 0;

	st = kmalloc(sizeof(*st), GFP_KERNEL);
	if (!st)
		return -ENOMEM;
	exo_nic_get_mode_stats(nic, st);
	switch (f) {
	case EXO_NIC_ST_MODE:
		kfree(st);
		return sysfs_emit(buf, "%s\n", exo_nic_name_of(READ_ONCE(nic->mode)));
	case EXO_NIC_ST_RATE:
		v = st->rate_pps;
		break;
	case EXO_NIC_ST_BATCH:
		v = st->batch_x16;
		break;
	case EXO_NIC_ST_IRQ_RATE:
		v = st->irq_rate;
		break;
	case EXO_NIC_ST_CHANGES:
		v = st->changes;
		break;
	case EXO_NIC_ST_IRQS:
		v = st->irqs;
		break;
	case EXO_NIC_ST_POLLS:
		v = st->polls;
		break;
	case EXO_NIC_ST_BUSY_POLLS:
		v = st->busy_polls;
		break;
	}
	kfree(st);
	return sysfs_emit(buf, "%llu\n", v);
}

#define EXO_NIC_STAT_ATTR(_name, _field)						\
static ssize_t _name##_show(struct device *dev, struct device_attribute *attr, char *buf) \
{											\
	return exo_nic_stat_show(dev, buf, _field);					\
}											\
static DEVICE_ATTR_RO(_name)

EXO_NIC_STAT_ATTR(mode, EXO_NIC_ST_MODE);
EXO_NIC_STAT_ATTR(rate_pps, EXO_NIC_ST_RATE);
EXO_NIC_STAT_ATTR(batch_x16, EXO_NIC_ST_BATCH);
EXO_NIC_STAT_ATTR(irq_rate, EXO_NIC_ST_IRQ_RATE);
EXO_NIC_STAT_ATTR(mode_changes, EXO_NIC_ST_CHANGES);
EXO_NIC_STAT_ATTR(irqs, EXO_NIC_ST_IRQS);
EXO_NIC_STAT_ATTR(polls, EXO_NIC_ST_POLLS);
EXO_NIC_STAT_ATTR(busy_polls, EXO_NIC_ST_BUSY_POLLS);

static ssize_t timer_polls_show(struct device *dev, struct device_attribute *attr, char *buf)
{
	return sysfs_emit(buf, "%llu\n", READ_ONCE(exo_nic_of_dev(dev)->timer_polls));
}
static DEVICE_ATTR_RO(timer_polls);

static struct attribute *exo_nic_attrs[] = {
	&dev_attr_policy.attr,
	&dev_attr_mode.attr,
	&dev_attr_rate_pps.attr,
	&dev_attr_batch_x16.attr,
	&dev_attr_irq_rate.attr,
	&dev_attr_mode_changes.attr,
	&dev_attr_irqs.attr,
	&dev_attr_polls.attr,
	&dev_attr_busy_polls.attr,
	&dev_attr_timer_polls.attr,
	NULL,
};

static const struct attribute_group exo_nic_group = {
	.name = KBUILD_MODNAME,
	.attrs = exo_nic_attrs,
};

/* --- debugfs: exofusion/nicinfo ------------------------------------------------------ */

static void exo_nicinfo_one(struct seq_file *m, struct exo_nic *nic, struct exo_nic_mode_stats *st)
{
	unsigned int i, n;

	exo_nic_get_mode_stats(nic, st);
	seq_printf(m, "nic %s pci %s policy %s mode %s rate_pps %u batch_x16 %u irq_rate %u changes %llu irqs %llu polls %llu busy_polls %llu timer_polls %llu\n",
		   nic->netdev->name, pci_name(nic->pdev), exo_nic_name_of(st->policy),
		   exo_nic_name_of(st->mode), st->rate_pps, st->batch_x16, st->irq_rate,
		   st->changes, st->irqs, st->polls, st->busy_polls, READ_ONCE(nic->timer_polls));
	n = min_t(unsigned int, st->history_len, EXO_NIC_MODE_HISTORY);
	for (i = 0; i < n; i++) {
		const struct exo_nic_mode_change *c = &st->history[i];

		seq_printf(m, "  change time_ns %llu from %s to %s reason %s rate_pps %u batch_x16 %u\n",
			   c->time_ns, exo_nic_name_of(c->from), exo_nic_name_of(c->to),
			   exo_nic_mode_reason_name(c->reason) ?: "?", c->rate_pps, c->batch_x16);
	}
}

static int exo_nicinfo_show(struct seq_file *m, void *unused)
{
	struct exo_nic_mode_stats *st;
	struct exo_nic *nic;

	st = kmalloc(sizeof(*st), GFP_KERNEL);
	if (!st)
		return -ENOMEM;
	mutex_lock(&exo_nics_lock);
	list_for_each_entry(nic, &exo_nics, node)
		exo_nicinfo_one(m, nic, st);
	mutex_unlock(&exo_nics_lock);
	kfree(st);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(exo_nicinfo);

/* --- PCI ------------------------------------------------------------------------------ */

/*
 * Whether this device was asked for: its driver_override (the PCI core then
 * matched an override-only entry of exo_nic_ids, or none: PCI_ANY_ID), or
 * its slot in nic_slots.
 */
static bool exo_nic_wanted(struct pci_dev *pdev, const struct pci_device_id *id)
{
	const char *slot = pci_name(pdev);
	size_t len = strlen(slot);
	const char *p = nic_slots;
	const char *end;

	if (id->override_only || id->vendor == PCI_ANY_ID)
		return true;
	while (p && *p) {
		end = strchrnul(p, ',');
		if (end - p == len && !strncmp(p, slot, len))
			return true;
		p = *end ? end + 1 : end;
	}
	return false;
}

static void exo_nic_mode_params(struct exo_nic_mode_params *p)
{
	exo_nic_mode_default_params(p);
	p->tick_us = nic_tick_us ?: p->tick_us;
	p->ema_shift = nic_ema_shift ?: p->ema_shift;
	p->moderated_up_pps = nic_moderated_up_pps ?: p->moderated_up_pps;
	p->moderated_down_pps = nic_moderated_down_pps ?: p->moderated_down_pps;
	p->poll_up_pps = nic_poll_up_pps ?: p->poll_up_pps;
	p->poll_down_pps = nic_poll_down_pps ?: p->poll_down_pps;
	p->dwell_ms = nic_dwell_ms ?: p->dwell_ms;
	p->itr_ns = nic_itr_ns ?: p->itr_ns;
	p->poll_period_us = nic_poll_period_us ?: p->poll_period_us;
	p->busy_timeout_us = nic_busy_timeout_us ?: p->busy_timeout_us;
	p->bulk_itr_ns = nic_bulk_itr_ns ?: p->bulk_itr_ns;
}

/* The controller, its timers and the works: everything up/down uses but rings. */
static int exo_nic_init_modes(struct exo_nic *nic)
{
	struct exo_nic_mode_change ch;
	struct exo_nic_mode_params p;
	int ret;

	exo_nic_mode_params(&p);
	nic->tick_ns = max_t(u64, (u64)p.tick_us * NSEC_PER_USEC, 100 * NSEC_PER_USEC);
	nic->ctl = exo_nic_mode_create(&p, ktime_get_ns());
	if (!nic->ctl)
		return -ENOMEM;
	ret = exo_nic_mode_set_policy(nic->ctl, exo_nic_default_policy, ktime_get_ns(), &ch);
	if (ret < 0) {
		exo_nic_mode_destroy(nic->ctl);
		return -EINVAL;
	}
	nic->policy = exo_nic_default_policy;
	spin_lock_init(&nic->mode_lock);
	hrtimer_init(&nic->poll_timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	nic->poll_timer.function = exo_nic_poll_timer_fn;
	hrtimer_init(&nic->busy_timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	nic->busy_timer.function = exo_nic_busy_timer_fn;
	hrtimer_init(&nic->tx_reap_timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	nic->tx_reap_timer.function = exo_nic_tx_reap_timer_fn;
	hrtimer_init(&nic->tick_timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_SOFT);
	nic->tick_timer.function = exo_nic_tick_fn;
	INIT_DELAYED_WORK(&nic->service, exo_nic_service_fn);
	INIT_WORK(&nic->reset_work, exo_nic_reset_fn);
	mutex_init(&nic->stats_mutex);
	u64_stats_init(&nic->hw_syncp);
	u64_stats_init(&nic->rx_stats.syncp);
	u64_stats_init(&nic->tx_stats.syncp);
	u64_stats_init(&nic->tx_stats.done_syncp);
	return 0;
}

/* The MAC from the EEPROM, or a random one (with a warning) if it has none valid. */
static void exo_nic_init_mac(struct exo_nic *nic)
{
	struct net_device *netdev = nic->netdev;
	u8 mac[ETH_ALEN];
	int err;

	err = exo_nic_hw_read_mac(&nic->hw, mac);
	if (!err && is_valid_ether_addr(mac)) {
		eth_hw_addr_set(netdev, mac);
	} else {
		eth_hw_addr_random(netdev);
		dev_warn(&nic->pdev->dev, "no valid MAC address in the EEPROM (%d): random %pM\n",
			 err, netdev->dev_addr);
	}
	exo_nic_hw_set_mac(&nic->hw, netdev->dev_addr);
}

static void exo_nic_init_netdev(struct exo_nic *nic, bool dma64)
{
	struct net_device *netdev = nic->netdev;

	netdev->netdev_ops = &exo_nic_netdev_ops;
	netdev->ethtool_ops = &exo_nic_ethtool_ops;
	netdev->watchdog_timeo = 5 * HZ;
	netdev->min_mtu = ETH_MIN_MTU;
	netdev->max_mtu = EXO_E1000_RX_BUF_LEN - ETH_HLEN - VLAN_HLEN;
	netdev->hw_features = NETIF_F_SG | NETIF_F_RXCSUM;
	netdev->features = netdev->hw_features | (dma64 ? NETIF_F_HIGHDMA : 0);
	netdev->sysfs_groups[0] = &exo_nic_group;
	netif_napi_add(netdev, &nic->napi, exo_nic_poll);
	nic->headroom = NET_SKB_PAD + NET_IP_ALIGN;
	nic->rx_count = EXO_NIC_RING_DEFAULT;
	nic->tx_count = EXO_NIC_RING_DEFAULT;
}

/* BAR 0 mapped, DMA mask set, bus master; 0 or -errno (everything undone). */
static int exo_nic_pci_setup(struct exo_nic *nic, bool *dma64)
{
	struct pci_dev *pdev = nic->pdev;
	int err;

	err = pci_enable_device_mem(pdev);
	if (err)
		return err;
	err = pci_request_mem_regions(pdev, KBUILD_MODNAME);
	if (err)
		goto out_disable;
	err = -ENODEV;
	if (!(pci_resource_flags(pdev, 0) & IORESOURCE_MEM) ||
	    pci_resource_len(pdev, 0) < EXO_E1000_REG_END)
		goto out_release;
	err = -ENOMEM;
	nic->regs = pci_ioremap_bar(pdev, 0);
	if (!nic->regs)
		goto out_release;
	/* As Linux's e1000: 64-bit addresses but on the 82540 (a 32-bit PCI part). */
	*dma64 = nic->hw.model != EXO_NIC_82540EM &&
		 !dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (!*dma64) {
		err = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(32));
		if (err)
			goto out_unmap;
	}
	pci_set_master(pdev);
	return 0;

out_unmap:
	iounmap(nic->regs);
out_release:
	pci_release_mem_regions(pdev);
out_disable:
	pci_disable_device(pdev);
	return err;
}

static void exo_nic_pci_teardown(struct exo_nic *nic)
{
	pci_clear_master(nic->pdev);
	iounmap(nic->regs);
	pci_release_mem_regions(nic->pdev);
	pci_disable_device(nic->pdev);
}

static int exo_nic_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct net_device *netdev;
	struct exo_nic *nic;
	bool dma64;
	int model, err;

	model = exo_nic_model_of(pdev->device);
	if (pdev->vendor != EXO_E1000_VENDOR_INTEL || model < 0 || !exo_nic_wanted(pdev, id))
		return -ENODEV;
	netdev = alloc_etherdev(sizeof(*nic));
	if (!netdev)
		return -ENOMEM;
	SET_NETDEV_DEV(netdev, &pdev->dev);
	nic = netdev_priv(netdev);
	nic->netdev = netdev;
	nic->pdev = pdev;
	nic->hw = (struct exo_nic_hw){
		.ctx = nic,
		.read32 = exo_nic_hw_read32,
		.write32 = exo_nic_hw_write32,
		.udelay = exo_nic_hw_udelay,
		.model = model,
	};
	pci_set_drvdata(pdev, nic);
	err = exo_nic_pci_setup(nic, &dma64);
	if (err)
		goto out_free;
	err = exo_nic_hw_reset(&nic->hw);
	if (err) {
		dev_err(&pdev->dev, "reset did not complete (%d)\n", err);
		goto out_pci;
	}
	err = exo_nic_init_modes(nic);
	if (err)
		goto out_pci;
	exo_nic_init_mac(nic);
	exo_nic_hw_link_setup(&nic->hw);
	exo_nic_init_netdev(nic, dma64);
	netif_carrier_off(netdev);	/* until the link is seen up */
	err = register_netdev(netdev);
	if (err)
		goto out_napi;
	mutex_lock(&exo_nics_lock);
	list_add_tail(&nic->node, &exo_nics);
	mutex_unlock(&exo_nics_lock);
	netdev_info(netdev, "%s %s, %pM, IRQ %d, %d-bit DMA, policy %s\n",
		    model == EXO_NIC_82540EM ? "82540EM" : model == EXO_NIC_82544GC ?
		    "82544GC" : "82545EM", pci_name(pdev), netdev->dev_addr, pdev->irq,
		    dma64 ? 64 : 32, exo_nic_name_of(nic->policy));
	return 0;

out_napi:
	netif_napi_del(&nic->napi);
	exo_nic_mode_destroy(nic->ctl);
out_pci:
	exo_nic_pci_teardown(nic);
out_free:
	free_netdev(netdev);
	return err;
}

static void exo_nic_remove(struct pci_dev *pdev)
{
	struct exo_nic *nic = pci_get_drvdata(pdev);

	mutex_lock(&exo_nics_lock);
	list_del(&nic->node);
	mutex_unlock(&exo_nics_lock);
	unregister_netdev(nic->netdev);	/* closes it: exo_nic_down() */
	cancel_work_sync(&nic->reset_work);
	cancel_delayed_work_sync(&nic->service);
	/* Whatever armed a timer since down (never while down): gone before ctl. */
	hrtimer_cancel(&nic->poll_timer);
	hrtimer_cancel(&nic->busy_timer);
	hrtimer_cancel(&nic->tick_timer);
	hrtimer_cancel(&nic->tx_reap_timer);
	netif_napi_del(&nic->napi);
	if (exo_nic_hw_reset(&nic->hw))
		dev_warn(&pdev->dev, "reset at removal did not complete\n");
	exo_nic_mode_destroy(nic->ctl);
	exo_nic_pci_teardown(nic);
	free_netdev(nic->netdev);
}

/*
 * The override-only entries first: the PCI core returns the first entry that
 * matches, and those match only a device whose driver_override is ours.
 */
#define EXO_NIC_ID(dev, override) \
	{ PCI_DEVICE_DRIVER_OVERRIDE(EXO_E1000_VENDOR_INTEL, dev, override) }
static const struct pci_device_id exo_nic_ids[] = {
	EXO_NIC_ID(EXO_E1000_DEV_82540EM, 1),
	EXO_NIC_ID(EXO_E1000_DEV_82544GC, 1),
	EXO_NIC_ID(EXO_E1000_DEV_82545EM, 1),
	EXO_NIC_ID(EXO_E1000_DEV_82540EM, 0),
	EXO_NIC_ID(EXO_E1000_DEV_82544GC, 0),
	EXO_NIC_ID(EXO_E1000_DEV_82545EM, 0),
	{ }
};

/*
 * No MODULE_DEVICE_TABLE: udev must not load the module for every e1000;
 * it drives only the devices asked for.
 */

static struct pci_driver exo_nic_driver = {
	.name = KBUILD_MODNAME,
	.id_table = exo_nic_ids,
	.probe = exo_nic_probe,
	.remove = exo_nic_remove,
};

int exo_nic_init(void)
{
	int policy = exo_nic_parse_policy(nic_policy);
	int err;

	if (policy < 0) {
		pr_err("nic_policy=%s: not a policy\n", nic_policy);
		return -EINVAL;
	}
	exo_nic_default_policy = policy;
	exo_nicinfo_file = debugfs_create_file("nicinfo", 0400, exo_debugfs_dir, NULL,
					       &exo_nicinfo_fops);
	err = pci_register_driver(&exo_nic_driver);
	if (err)
		debugfs_remove(exo_nicinfo_file);
	return err;
}

void exo_nic_exit(void)
{
	pci_unregister_driver(&exo_nic_driver);
	debugfs_remove(exo_nicinfo_file);
}
