/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Intel 8254x (82540EM, 82544GC, 82545EM) registers and legacy descriptor
 * formats, from the PCI/PCI-X Family of Gigabit Ethernet Controllers
 * Software Developer's Manual. Shared by the C++ core, the C shim and the
 * hosted simulated device. Plain C: no kernel or libc header.
 */
#ifndef EXO_CORE_NIC_E1000_REGS_H
#define EXO_CORE_NIC_E1000_REGS_H

/* PCI device ids (vendor 0x8086) the driver takes. */
#define EXO_E1000_VENDOR_INTEL	0x8086
#define EXO_E1000_DEV_82540EM	0x100e
#define EXO_E1000_DEV_82544GC	0x100c
#define EXO_E1000_DEV_82545EM	0x100f

/* Register offsets in BAR 0. */
#define EXO_E1000_CTRL		0x0000
#define EXO_E1000_STATUS	0x0008
#define EXO_E1000_EECD		0x0010
#define EXO_E1000_CTRL_EXT	0x0018
#define EXO_E1000_MDIC		0x0020
#define EXO_E1000_ICR		0x00c0	/* read clears */
#define EXO_E1000_ITR		0x00c4	/* minimum interval, 256 ns units */
#define EXO_E1000_ICS		0x00c8
#define EXO_E1000_IMS		0x00d0
#define EXO_E1000_IMC		0x00d8
#define EXO_E1000_RCTL		0x0100
#define EXO_E1000_TCTL		0x0400
#define EXO_E1000_TIPG		0x0410
#define EXO_E1000_RDBAL		0x2800
#define EXO_E1000_RDBAH		0x2804
#define EXO_E1000_RDLEN		0x2808
#define EXO_E1000_RDH		0x2810
#define EXO_E1000_RDT		0x2818
#define EXO_E1000_RDTR		0x2820	/* RX packet timer, 1.024 us units */
#define EXO_E1000_RADV		0x282c	/* RX absolute timer, 1.024 us units */
#define EXO_E1000_TDBAL		0x3800
#define EXO_E1000_TDBAH		0x3804
#define EXO_E1000_TDLEN		0x3808
#define EXO_E1000_TDH		0x3810
#define EXO_E1000_TDT		0x3818
#define EXO_E1000_TIDV		0x3820
#define EXO_E1000_TADV		0x382c
#define EXO_E1000_MTA		0x5200	/* 128 words: multicast hash table */
#define EXO_E1000_MTA_WORDS	128
#define EXO_E1000_RAL0		0x5400
#define EXO_E1000_RAH0		0x5404

/* Statistics: clear on read, 0x4000-0x40ff. */
#define EXO_E1000_CRCERRS	0x4000
#define EXO_E1000_ALGNERRC	0x4004
#define EXO_E1000_SYMERRS	0x4008
#define EXO_E1000_RXERRC	0x400c
#define EXO_E1000_MPC		0x4010	/* missed: no RX buffer */
#define EXO_E1000_COLC		0x4028
#define EXO_E1000_GPRC		0x4074
#define EXO_E1000_BPRC		0x4078
#define EXO_E1000_MPRC		0x407c
#define EXO_E1000_GPTC		0x4080
#define EXO_E1000_GORCL		0x4088
#define EXO_E1000_GORCH		0x408c
#define EXO_E1000_GOTCL		0x4090
#define EXO_E1000_GOTCH		0x4094
#define EXO_E1000_RNBC		0x40a0
#define EXO_E1000_RUC		0x40a4
#define EXO_E1000_ROC		0x40ac
#define EXO_E1000_TPR		0x40d0
#define EXO_E1000_TPT		0x40d4
#define EXO_E1000_REG_END	0x20000	/* BAR 0 is 128 KiB */

/* CTRL */
#define EXO_E1000_CTRL_FD	(1u << 0)
#define EXO_E1000_CTRL_ASDE	(1u << 5)
#define EXO_E1000_CTRL_SLU	(1u << 6)
#define EXO_E1000_CTRL_RST	(1u << 26)
/* STATUS */
#define EXO_E1000_STATUS_FD	(1u << 0)
#define EXO_E1000_STATUS_LU	(1u << 1)
#define EXO_E1000_STATUS_SPEED_SHIFT 6	/* 00 10, 01 100, 1x 1000 Mb/s */
/* EECD: the 82540's EEPROM is Microwire, bit-banged (no EERD on it). */
#define EXO_E1000_EECD_SK	(1u << 0)
#define EXO_E1000_EECD_CS	(1u << 1)
#define EXO_E1000_EECD_DI	(1u << 2)
#define EXO_E1000_EECD_DO	(1u << 3)
#define EXO_E1000_EECD_REQ	(1u << 6)
#define EXO_E1000_EECD_GNT	(1u << 7)
#define EXO_E1000_EEPROM_WORDS	64	/* the checksum covers words 0..63 */
#define EXO_E1000_EEPROM_SUM	0xbaba
/* Interrupt causes (ICR, IMS, IMC, ICS) */
#define EXO_E1000_INT_TXDW	(1u << 0)
#define EXO_E1000_INT_TXQE	(1u << 1)
#define EXO_E1000_INT_LSC	(1u << 2)
#define EXO_E1000_INT_RXSEQ	(1u << 3)
#define EXO_E1000_INT_RXDMT0	(1u << 4)
#define EXO_E1000_INT_RXO	(1u << 6)
#define EXO_E1000_INT_RXT0	(1u << 7)
/* RCTL */
#define EXO_E1000_RCTL_EN	(1u << 1)
#define EXO_E1000_RCTL_SBP	(1u << 2)
#define EXO_E1000_RCTL_UPE	(1u << 3)	/* unicast promiscuous */
#define EXO_E1000_RCTL_MPE	(1u << 4)	/* multicast promiscuous */
#define EXO_E1000_RCTL_LPE	(1u << 5)	/* long packets */
#define EXO_E1000_RCTL_BAM	(1u << 15)	/* accept broadcast */
#define EXO_E1000_RCTL_BSIZE_2048 (0u << 16)
#define EXO_E1000_RCTL_SECRC	(1u << 26)	/* strip the CRC */
/* TCTL */
#define EXO_E1000_TCTL_EN	(1u << 1)
#define EXO_E1000_TCTL_PSP	(1u << 3)
#define EXO_E1000_TCTL_CT_SHIFT	4
#define EXO_E1000_TCTL_COLD_SHIFT 12
#define EXO_E1000_TIPG_COPPER	(10u | (8u << 10) | (6u << 20))
/* RAH */
#define EXO_E1000_RAH_AV	(1u << 31)

/* Legacy receive descriptor: the driver writes addr, the device the rest. */
struct exo_e1000_rx_desc {
	unsigned long long addr;
	unsigned short length;
	unsigned short csum;
	unsigned char status;
	unsigned char errors;
	unsigned short special;
};
#define EXO_E1000_RXD_DD	(1u << 0)
#define EXO_E1000_RXD_EOP	(1u << 1)
#define EXO_E1000_RXD_IXSM	(1u << 2)
#define EXO_E1000_RXD_VP	(1u << 3)
#define EXO_E1000_RXD_TCPCS	(1u << 5)
#define EXO_E1000_RXD_IPCS	(1u << 6)
#define EXO_E1000_RXE_CE	(1u << 0)
#define EXO_E1000_RXE_SE	(1u << 1)
#define EXO_E1000_RXE_SEQ	(1u << 2)
#define EXO_E1000_RXE_CXE	(1u << 4)
#define EXO_E1000_RXE_TCPE	(1u << 5)
#define EXO_E1000_RXE_IPE	(1u << 6)
#define EXO_E1000_RXE_RXE	(1u << 7)
#define EXO_E1000_RX_BUF_LEN	2048	/* RCTL.BSIZE_2048 */

/* Legacy transmit descriptor. */
struct exo_e1000_tx_desc {
	unsigned long long addr;
	unsigned short length;
	unsigned char cso;
	unsigned char cmd;
	unsigned char status;
	unsigned char css;
	unsigned short special;
};
#define EXO_E1000_TXD_EOP	(1u << 0)
#define EXO_E1000_TXD_IFCS	(1u << 1)
#define EXO_E1000_TXD_RS	(1u << 3)
#define EXO_E1000_TXD_STAT_DD	(1u << 0)
#define EXO_E1000_TX_MAX_LEN	16288	/* bytes one legacy descriptor may carry */

/* Descriptor rings: RDLEN/TDLEN are multiples of 128 bytes. */
#define EXO_E1000_DESC_SIZE	16

#ifdef __cplusplus
static_assert(sizeof(struct exo_e1000_rx_desc) == EXO_E1000_DESC_SIZE, "RX descriptor is 16 bytes");
static_assert(sizeof(struct exo_e1000_tx_desc) == EXO_E1000_DESC_SIZE, "TX descriptor is 16 bytes");
static_assert(__builtin_offsetof(struct exo_e1000_rx_desc, status) == 12, "RX status at byte 12");
static_assert(__builtin_offsetof(struct exo_e1000_tx_desc, status) == 12, "TX status at byte 12");
#else
_Static_assert(sizeof(struct exo_e1000_rx_desc) == EXO_E1000_DESC_SIZE, "RX descriptor is 16 bytes");
_Static_assert(sizeof(struct exo_e1000_tx_desc) == EXO_E1000_DESC_SIZE, "TX descriptor is 16 bytes");
#endif

#endif /* EXO_CORE_NIC_E1000_REGS_H */
