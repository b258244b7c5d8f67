/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The module's 8254x driver (nic.c, nic_ethtool.c): what its two files
 * share. The rules (registers, descriptor checks, the mode controller) are
 * the core's, reached through module/core/nic/nic_api.h and mode_api.h.
 */
#ifndef EXO_SHIM_NIC_H
#define EXO_SHIM_NIC_H

#include <linux/hrtimer.h>
#include <linux/if_vlan.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/netdevice.h>
#include <linux/pci.h>
#include <linux/spinlock.h>
#include <linux/u64_stats_sync.h>
#include <linux/workqueue.h>

#include "module/core/nic/mode_api.h"
#include "module/core/nic/nic_api.h"
#include "module/shim/compat.h"

/*
 * Interrupt causes NAPI handles, and those of the link (never masked while
 * up). Transmit completions raise none: an interrupt for them would cost one
 * per request (and, on QEMU's mitigated e1000, hold the reply's receive
 * interrupt back for 128 us); NAPI polls reap them, and tx_reap_timer
 * bounds how long a sent frame waits for a poll.
 */
#define EXO_NIC_INT_RX (EXO_E1000_INT_RXT0 | EXO_E1000_INT_RXO | EXO_E1000_INT_RXDMT0)
#define EXO_NIC_INT_LINK (EXO_E1000_INT_LSC | EXO_E1000_INT_RXSEQ)

#define EXO_NIC_RING_DEFAULT 256
/* The longest a sent frame waits for NAPI to reap it when nothing is received. */
#define EXO_NIC_TX_REAP_NS (250 * NSEC_PER_USEC)

/*
 * A receive slot's page and its mapping. The driver maps and unmaps the
 * buffer itself rather than page_pool (PP_FLAG_DMA_MAP): a page handed to
 * the stack is unmapped first, so no mapping outlives the device when it
 * is unbound while sockets still hold received pages (DMA_API_DEBUG's
 * "pending DMA allocations while released"; with an IOMMU, an unmap after
 * the domain is gone).
 */
struct exo_nic_rx_buf {
	struct page *page;
	dma_addr_t dma;			/* of the buffer, past the headroom */
};

/* A transmit descriptor's buffer: its mapping, and the skb on a frame's last one. */
struct exo_nic_tx_buf {
	struct sk_buff *skb;
	dma_addr_t dma;
	unsigned int len;
	bool page;		/* skb_frag_dma_map()ed, else dma_map_single()d */
};

/*
 * Counters of the shim's own (the device's are in hw_stats, the rings' in
 * exo_nic_ring): RX written by NAPI, TX's by xmit (its lock) or by NAPI's
 * completions, each timer's by that timer only.
 */
struct exo_nic_rx_stats {
	u64 packets, bytes, dropped, alloc_failed;
	struct u64_stats_sync syncp;
};

struct exo_nic_tx_stats {
	u64 dropped, map_failed;	/* xmit's, under the xmit lock */
	struct u64_stats_sync syncp;
	u64 packets, bytes, restarts;	/* NAPI's completions (lockless) */
	struct u64_stats_sync done_syncp;
};

/* struct exo_nic.flags bits */
enum {
	EXO_NIC_TICK_ON,	/* the controller's tick is armed */
	EXO_NIC_RX_STARVED,	/* no RX buffer posted: the service work polls again */
	EXO_NIC_TX_REAP_ON,	/* tx_reap_timer is armed */
};

struct exo_nic {
	struct net_device *netdev;
	struct pci_dev *pdev;
	void __iomem *regs;
	struct exo_nic_hw hw;
	struct list_head node;		/* in exo_nics (debugfs nicinfo) */

	/* Rings: set up by open, freed by stop (rtnl). */
	struct exo_nic_ring rx, tx;
	dma_addr_t rx_desc_dma, tx_desc_dma;
	struct exo_nic_rx_buf *rx_bufs;	/* per RX slot */
	struct exo_nic_tx_buf *tx_bufs;	/* per TX slot */
	struct page_pool *pool;
	unsigned int rx_count, tx_count;	/* what the next open sets up */
	unsigned int headroom;
	/* xmit's mappings of one skb before its descriptors are posted */
	struct exo_nic_tx_buf tx_map[MAX_SKB_FRAGS + 1];

	/*
	 * The filters and multicast table set_rx_mode last computed, and
	 * whether receive is on (RCTL may be written): all under
	 * netif_addr_lock, which up and down take around starting and
	 * stopping receive, so set_rx_mode never re-enables it during down.
	 */
	unsigned int mta[EXO_E1000_MTA_WORDS];
	unsigned int filters;
	bool rx_on;

	struct napi_struct napi;
	bool running;			/* up: interrupts, timers and NAPI may touch the device */
	unsigned long flags;

	/* The mode (mode_lock: tick, policy, settings, stats of the controller). */
	spinlock_t mode_lock;
	struct exo_nic_mode_ctl *ctl;
	unsigned int policy;		/* a mode, or EXO_NIC_POLICY_ADAPTIVE */
	unsigned int mode;		/* applied; read locklessly by IRQ, NAPI, timers */
	unsigned int itr_override_ns;	/* ethtool -C rx-usecs under a fixed moderated policy */
	unsigned int itr_ns;		/* the interval written last (ITR, RADV) */
	unsigned int poll_period_ns, busy_timeout_ns;
	atomic_t irq_enabled;		/* shadow of IMS: the causes we unmasked */
	bool irq_suspended;		/* busy-poll: interrupts kept masked after a busy poll */
	u64 busy_last_ns;		/* the last busy poll */
	unsigned int tick_ns;
	struct hrtimer poll_timer;	/* timer-poll: schedules NAPI */
	struct hrtimer busy_timer;	/* busy-poll: back to interrupts when it stops */
	struct hrtimer tick_timer;	/* the controller's tick */
	struct hrtimer tx_reap_timer;	/* frames in flight: NAPI reaps them by then */

	/* The service work: link (LSC and watchdog) and the device's statistics. */
	struct delayed_work service;
	struct work_struct reset_work;	/* tx_timeout: down and up */
	struct mutex stats_mutex;	/* exo_nic_hw_read_stats() callers */
	struct exo_nic_hw_stats hw_stats;
	struct u64_stats_sync hw_syncp;
	struct exo_nic_rx_stats rx_stats;
	struct exo_nic_tx_stats tx_stats;
	u64 timer_polls;		/* poll_timer's */
	u64 busy_timeouts;		/* busy_timer's */
	struct exo_nic_ring_errors rx_errors_before;	/* of rings freed by earlier downs */
};

/* nic.c */
int exo_nic_up(struct exo_nic *nic);
void exo_nic_down(struct exo_nic *nic);
unsigned int exo_nic_policy(struct exo_nic *nic);
int exo_nic_set_policy(struct exo_nic *nic, unsigned int policy, unsigned int itr_ns);
void exo_nic_get_mode_stats(struct exo_nic *nic, struct exo_nic_mode_stats *st);
void exo_nic_update_hw_stats(struct exo_nic *nic);
void exo_nic_read_rx_stats(struct exo_nic *nic, struct exo_nic_rx_stats *out);
void exo_nic_read_tx_stats(struct exo_nic *nic, struct exo_nic_tx_stats *out);
void exo_nic_read_hw_stats(struct exo_nic *nic, struct exo_nic_hw_stats *out);
void exo_nic_rx_errors(struct exo_nic *nic, struct exo_nic_ring_errors *out);

/* nic_ethtool.c */
extern const struct ethtool_ops exo_nic_ethtool_ops;

#endif /* EXO_SHIM_NIC_H */
