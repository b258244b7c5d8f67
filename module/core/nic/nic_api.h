/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The 8254x driver core's C interface, for the shim (module/shim/nic.c) and
 * the hosted simulated device. The core owns the rules: the reset and
 * EEPROM sequences, register values, descriptor-ring bookkeeping and the
 * checks of everything the device writes. The shim owns kernel objects:
 * PCI, MMIO mappings, DMA mappings, page_pool pages, skbs, NAPI, IRQs.
 *
 * Nothing the device writes is trusted: a descriptor's length, status and
 * error bits are checked before use, a completion is only looked for where
 * the driver gave the device work, and every wait on a register is bounded.
 *
 * Concurrency: one ring is used by one context at a time (the shim holds
 * NAPI or its own lock); the hw calls are process context, except
 * exo_nic_hw_set_moderation(), which may run in softirq context.
 */
#ifndef EXO_CORE_NIC_API_H
#define EXO_CORE_NIC_API_H

#include "module/core/nic/e1000_regs.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- registers ---------------------------------------------------------------- */

/* The models, from the PCI device id (what differs between them). */
enum exo_nic_model { EXO_NIC_82540EM, EXO_NIC_82544GC, EXO_NIC_82545EM };

/*
 * Register access and delays, supplied by the shim (readl/writel on BAR 0,
 * udelay) or the simulated device. Off the fast path only: the shim's
 * interrupt handler, NAPI poll and xmit touch ICR/IMS/IMC/RDT/TDT directly.
 */
struct exo_nic_hw {
	void *ctx;
	unsigned int (*read32)(void *ctx, unsigned int reg);
	void (*write32)(void *ctx, unsigned int reg, unsigned int val);
	void (*udelay)(void *ctx, unsigned int us);	/* busy-waits, never sleeps */
	enum exo_nic_model model;
};

/* The model for a PCI device id; -ENODEV (negative) for an id not driven. */
int exo_nic_model_of(unsigned int pci_device_id);

/*
 * Global reset: every interrupt masked, receive and transmit off, waits
 * (bounded) for the reset to end. 0 or -ETIMEDOUT.
 */
int exo_nic_hw_reset(const struct exo_nic_hw *hw);

/*
 * The station address from the EEPROM (words 0-2) over EECD's Microwire.
 * 0, -EIO (the words 0..63 do not sum to 0xbaba, or the EEPROM never
 * answered) or -EADDRNOTAVAIL (zero, broadcast or multicast address).
 */
int exo_nic_hw_read_mac(const struct exo_nic_hw *hw, unsigned char mac[6]);

/* Receive address 0 (RAL0/RAH0, valid bit set). */
void exo_nic_hw_set_mac(const struct exo_nic_hw *hw, const unsigned char mac[6]);

/* Link set up (CTRL.SLU, auto speed); whether STATUS says it is up. */
void exo_nic_hw_link_setup(const struct exo_nic_hw *hw);
int exo_nic_hw_link_up(const struct exo_nic_hw *hw);
/* Mb/s the link runs at (10, 100, 1000), 0 when down. */
unsigned int exo_nic_hw_link_speed(const struct exo_nic_hw *hw);

/*
 * Receive and transmit rings given to the device and switched on (RDBA,
 * RDLEN, RDH = RDT = 0, RCTL with 2048-byte buffers and the CRC stripped;
 * TDBA, TDLEN, TDH = TDT = 0, TCTL, TIPG). |count| descriptors, as
 * exo_nic_ring_init() accepted. The filters of exo_nic_hw_set_filters().
 */
void exo_nic_hw_start_rx(const struct exo_nic_hw *hw, unsigned long long ring_dma,
			 unsigned int count, unsigned int filters);
void exo_nic_hw_start_tx(const struct exo_nic_hw *hw, unsigned long long ring_dma,
			 unsigned int count);
/* Receive and transmit off, every interrupt masked. */
void exo_nic_hw_stop(const struct exo_nic_hw *hw);

/* Filters (RCTL): exo_nic_hw_start_rx()'s and exo_nic_hw_set_filters()'s. */
#define EXO_NIC_FILTER_PROMISC	(1u << 0)	/* every unicast and multicast */
#define EXO_NIC_FILTER_ALLMULTI	(1u << 1)	/* every multicast */
#define EXO_NIC_FILTER_BROADCAST (1u << 2)
/* Frames over 1522 bytes (RCTL.LPE): an MTU over 1500 needs it. */
#define EXO_NIC_FILTER_LONG	(1u << 3)
/*
 * Filters, and the multicast hash table: |mta| is EXO_E1000_MTA_WORDS words
 * (bits set with exo_nic_mta_set()), or NULL to leave the table as is.
 */
void exo_nic_hw_set_filters(const struct exo_nic_hw *hw, unsigned int filters,
			    const unsigned int *mta);
/* Sets the hash bit of multicast address |mac| in |mta|. */
void exo_nic_mta_set(unsigned int *mta, const unsigned char mac[6]);

/*
 * Interrupt moderation: ITR's minimum interval between interrupts and the
 * receive timers (RDTR packet timer, RADV absolute), in ns, rounded to the
 * registers' units and clamped to their range; 0 turns each off.
 */
void exo_nic_hw_set_moderation(const struct exo_nic_hw *hw, unsigned int itr_ns,
			       unsigned int rx_delay_ns, unsigned int rx_abs_ns);

/* The device's statistics (clear on read) added to what was read before. */
struct exo_nic_hw_stats {
	unsigned long long crc_errors, align_errors, symbol_errors, rx_errors;
	unsigned long long missed, no_buffer, undersize, oversize, collisions;
	unsigned long long good_rx, good_tx, broadcast_rx, multicast_rx;
	unsigned long long good_rx_bytes, good_tx_bytes, total_rx, total_tx;
};
void exo_nic_hw_read_stats(const struct exo_nic_hw *hw, struct exo_nic_hw_stats *acc);

/* --- descriptor rings ------------------------------------------------------------ */

#define EXO_NIC_RING_MIN 64
#define EXO_NIC_RING_MAX 4096

/* What the device did wrong, per ring (the descriptor is dropped, never used). */
struct exo_nic_ring_errors {
	unsigned long long bad_length;	/* RX: 0, under 14 bytes, or past the buffer */
	unsigned long long chained;	/* RX: a frame over several buffers (no EOP) */
	unsigned long long rx_errors;	/* RX: the errors byte was set (CRC, symbol, ...) */
};

/*
 * One descriptor ring. |next_to_use| and |next_to_clean| run freely (u32,
 * wrapping); the slot of a position is position & (count - 1). The device
 * owns [next_to_clean, next_to_use); the driver never fills the last free
 * slot, so the tail never meets the head. Fields are the core's: the shim
 * reads them only through the calls below.
 */
struct exo_nic_ring {
	void *desc;		/* count descriptors, DMA-coherent memory */
	unsigned int count;	/* power of two, EXO_NIC_RING_MIN..MAX */
	unsigned int next_to_use;
	unsigned int next_to_clean;
	unsigned int buf_len;	/* RX: bytes the device may write per buffer */
	unsigned int discarding;	/* RX: inside a chained frame, dropping to its EOP */
	struct exo_nic_ring_errors errors;
};

/*
 * Sets up a ring over |desc| (count * EXO_E1000_DESC_SIZE bytes, zeroed
 * here). 0, or -EINVAL if count is not a power of two in range or an RX
 * buf_len is not EXO_E1000_RX_BUF_LEN (TX rings: 0).
 */
int exo_nic_ring_init(struct exo_nic_ring *r, void *desc, unsigned int count,
		      unsigned int buf_len);
/* The count a user's ethtool -G asks for, rounded up to a valid one. */
unsigned int exo_nic_ring_count_for(unsigned int wanted);
/* What goes in RDT/TDT: the slot of next_to_use. */
unsigned int exo_nic_ring_tail(const struct exo_nic_ring *r);
/* Descriptors the device holds (given, not yet taken back). */
unsigned int exo_nic_ring_in_flight(const struct exo_nic_ring *r);
/* Descriptors the driver may still give (count - 1 - in flight). */
unsigned int exo_nic_ring_space(const struct exo_nic_ring *r);
/*
 * After the device stopped (down, reset): takes back the oldest descriptor
 * in flight whatever its status and returns its slot, for the shim to free
 * its buffer. Call while exo_nic_ring_in_flight() is not 0.
 */
unsigned int exo_nic_ring_take_oldest(struct exo_nic_ring *r);

/* RX: gives the device the buffer at |dma| (status cleared); returns its slot. */
unsigned int exo_nic_rx_post(struct exo_nic_ring *r, unsigned long long dma);

/* exo_nic_rx_next() results */
enum exo_nic_rx_result {
	EXO_NIC_RX_NONE = 0,	/* nothing more received */
	EXO_NIC_RX_FRAME,	/* a frame of |len| bytes in |slot|'s buffer */
	EXO_NIC_RX_DROP,	/* |slot| taken back without a frame (counted):
				 * recycle its buffer */
};
#define EXO_NIC_RX_CSUM_OK	(1u << 0)	/* the device checked TCP/UDP and IP */
struct exo_nic_rx_frame {
	unsigned int slot;
	unsigned int len;
	unsigned int flags;	/* EXO_NIC_RX_* */
};
/*
 * The oldest descriptor in flight, if the device is done with it (DD): its
 * slot is taken back and the frame checked (length, EOP, errors). Reads the
 * descriptor's status word once, then what the status covers.
 */
enum exo_nic_rx_result exo_nic_rx_next(struct exo_nic_ring *r, struct exo_nic_rx_frame *f);

/*
 * TX: fills the next descriptor with |len| bytes at |dma| (1..TX_MAX_LEN),
 * |last| on a frame's last buffer (EOP, FCS inserted); status reported (RS)
 * on every descriptor. Returns its slot; the caller checked the space.
 */
unsigned int exo_nic_tx_post(struct exo_nic_ring *r, unsigned long long dma, unsigned int len,
			     int last);
/* 1 and *slot: the oldest descriptor in flight is done, taken back; 0: not yet (or none). */
int exo_nic_tx_reap(struct exo_nic_ring *r, unsigned int *slot);

#ifdef __cplusplus
}
#endif

#endif /* EXO_CORE_NIC_API_H */
