// SPDX-License-Identifier: GPL-2.0
/*
 * ethtool for the module's 8254x driver (nic.c): -i, link, -g/-G (ring
 * sizes, applied by a down and up), -c/-C (adaptive-rx/adaptive-tx switch
 * the adaptive policy; with it off, rx-usecs 0 is the interrupt mode and N
 * the moderated one with an ITR of N us), -S (the device's counters, the
 * RX ring's error counters, the driver's and the mode controller's).
 * Every op runs under rtnl.
 */
#include <linux/ethtool.h>
#include <linux/netdevice.h>
#include <linux/pci.h>

#include "module/shim/nic.h"

/* ITR counts 256 ns units in 16 bits. */
#define EXO_NIC_MAX_RX_USECS	16000

static void exo_nic_get_drvinfo(struct net_device *netdev, struct ethtool_drvinfo *info)
{
	struct exo_nic *nic = netdev_priv(netdev);

	strscpy(info->driver, KBUILD_MODNAME, sizeof(info->driver));
	strscpy(info->bus_info, pci_name(nic->pdev), sizeof(info->bus_info));
}

static int exo_nic_get_link_ksettings(struct net_device *netdev,
				      struct ethtool_link_ksettings *cmd)
{
	struct exo_nic *nic = netdev_priv(netdev);
	unsigned int speed = netif_carrier_ok(netdev) ? exo_nic_hw_link_speed(&nic->hw) : 0;

	cmd->base.speed = speed ? speed : SPEED_UNKNOWN;
	cmd->base.duplex = speed ? DUPLEX_FULL : DUPLEX_UNKNOWN;
	cmd->base.port = PORT_TP;
	cmd->base.autoneg = AUTONEG_ENABLE;
	return 0;
}

static void exo_nic_get_ringparam(struct net_device *netdev, struct ethtool_ringparam *ring,
				  struct kernel_ethtool_ringparam *kring,
				  struct netlink_ext_ack *extack)
{
	struct exo_nic *nic = netdev_priv(netdev);

	ring->rx_max_pending = EXO_NIC_RING_MAX;
	ring->tx_max_pending = EXO_NIC_RING_MAX;
	ring->rx_pending = nic->rx_count;
	ring->tx_pending = nic->tx_count;
}

static int exo_nic_set_ringparam(struct net_device *netdev, struct ethtool_ringparam *ring,
				 struct kernel_ethtool_ringparam *kring,
				 struct netlink_ext_ack *extack)
{
	struct exo_nic *nic = netdev_priv(netdev);
	unsigned int old_rx = nic->rx_count, old_tx = nic->tx_count;
	unsigned int rx, tx;
	int err;

	if (ring->rx_mini_pending || ring->rx_jumbo_pending) {
		NL_SET_ERR_MSG(extack, "rx-mini and rx-jumbo rings are not supported");
		return -EINVAL;
	}
	if (!ring->rx_pending) {
		NL_SET_ERR_MSG(extack, "rx ring needs at least one descriptor");
		return -EINVAL;
	}
	if (!ring->tx_pending) {
		NL_SET_ERR_MSG(extack, "tx ring needs at least one descriptor");
		return -EINVAL;
	}
	rx = exo_nic_ring_count_for(ring->rx_pending);
	tx = exo_nic_ring_count_for(ring->tx_pending);
	if (rx == old_rx && tx == old_tx)
		return 0;
	if (!netif_running(netdev)) {
		nic->rx_count = rx;
		nic->tx_count = tx;
		return 0;
	}
	exo_nic_down(nic);
	nic->rx_count = rx;
	nic->tx_count = tx;
	err = exo_nic_up(nic);
	if (!err)
		return 0;
	NL_SET_ERR_MSG(extack, "rings of that size could not be set up");
	nic->rx_count = old_rx;
	nic->tx_count = old_tx;
	if (exo_nic_up(nic)) {
		/* IFF_UP without rings: closed, as the reset work does. */
		netdev_err(netdev, "the old rings could not be set up again either: closing\n");
		dev_close(netdev);
	}
	return err;
}

/* The rx-usecs -c reports: the moderated mode's ITR, else 0. */
static unsigned int exo_nic_rx_usecs(struct exo_nic *nic)
{
	struct exo_nic_mode_settings s;

	spin_lock_bh(&nic->mode_lock);
	exo_nic_mode_settings(nic->ctl, &s);
	if (s.mode == EXO_NIC_MODE_MODERATED && nic->itr_override_ns)
		s.itr_ns = nic->itr_override_ns;
	spin_unlock_bh(&nic->mode_lock);
	return s.mode == EXO_NIC_MODE_MODERATED ? DIV_ROUND_UP(s.itr_ns, NSEC_PER_USEC) : 0;
}

static int exo_nic_get_coalesce(struct net_device *netdev, struct ethtool_coalesce *ec,
				struct kernel_ethtool_coalesce *kec,
				struct netlink_ext_ack *extack)
{
	struct exo_nic *nic = netdev_priv(netdev);
	unsigned int policy = exo_nic_policy(nic);

	ec->use_adaptive_rx_coalesce = policy == EXO_NIC_POLICY_ADAPTIVE;
	ec->use_adaptive_tx_coalesce = policy == EXO_NIC_POLICY_ADAPTIVE;
	ec->rx_coalesce_usecs = exo_nic_rx_usecs(nic);
	return 0;
}

static int exo_nic_set_coalesce(struct net_device *netdev, struct ethtool_coalesce *ec,
				struct kernel_ethtool_coalesce *kec,
				struct netlink_ext_ack *extack)
{
	struct exo_nic *nic = netdev_priv(netdev);
	bool adaptive = exo_nic_policy(nic) == EXO_NIC_POLICY_ADAPTIVE;

	/*
	 * Both flags report the one policy: either turned on switches it on,
	 * either turned off (ethtool -C adaptive-rx off leaves tx as read) off.
	 */
	if (adaptive ? ec->use_adaptive_rx_coalesce && ec->use_adaptive_tx_coalesce :
	    ec->use_adaptive_rx_coalesce || ec->use_adaptive_tx_coalesce) {
		/*
		 * ethtool passes rx-usecs as -c read it unless given: another
		 * value was asked for, which the adaptive policy would ignore.
		 */
		if (ec->rx_coalesce_usecs && ec->rx_coalesce_usecs != exo_nic_rx_usecs(nic)) {
			NL_SET_ERR_MSG(extack, "rx-usecs needs adaptive-rx off");
			return -EINVAL;
		}
		return exo_nic_set_policy(nic, EXO_NIC_POLICY_ADAPTIVE, 0);
	}
	if (!ec->rx_coalesce_usecs)
		return exo_nic_set_policy(nic, EXO_NIC_MODE_INTERRUPT, 0);
	if (ec->rx_coalesce_usecs > EXO_NIC_MAX_RX_USECS) {
		NL_SET_ERR_MSG(extack, "rx-usecs over 16000");
		return -EINVAL;
	}
	return exo_nic_set_policy(nic, EXO_NIC_MODE_MODERATED,
				  ec->rx_coalesce_usecs * NSEC_PER_USEC);
}

/* -S: the names, in the order exo_nic_get_ethtool_stats() writes the values. */
static const char exo_nic_hw_stat_names[][ETH_GSTRING_LEN] = {
	"hw_crc_errors", "hw_align_errors", "hw_symbol_errors", "hw_rx_errors",
	"hw_missed", "hw_no_buffer", "hw_undersize", "hw_oversize", "hw_collisions",
	"hw_good_rx", "hw_good_tx", "hw_broadcast_rx", "hw_multicast_rx",
	"hw_good_rx_bytes", "hw_good_tx_bytes", "hw_total_rx", "hw_total_tx",
};

static_assert(sizeof(struct exo_nic_hw_stats) == ARRAY_SIZE(exo_nic_hw_stat_names) * sizeof(u64));

static const char exo_nic_drv_stat_names[][ETH_GSTRING_LEN] = {
	"rx_bad_length", "rx_chained", "rx_desc_errors",
	"rx_packets", "rx_bytes", "rx_dropped", "rx_alloc_failed",
	"tx_packets", "tx_bytes", "tx_dropped", "tx_map_failed", "tx_restarts",
	"timer_polls", "busy_timeouts",
	"mode", "policy", "mode_rate_pps", "mode_batch_x16", "mode_changes",
	"mode_irqs", "mode_polls", "mode_busy_polls", "mode_packets", "mode_ticks",
	"time_interrupt_ns", "time_moderated_ns", "time_timer_poll_ns", "time_busy_poll_ns",
};

static_assert(EXO_NIC_MODES == 4);

#define EXO_NIC_N_STATS (ARRAY_SIZE(exo_nic_hw_stat_names) + ARRAY_SIZE(exo_nic_drv_stat_names))

static int exo_nic_get_sset_count(struct net_device *netdev, int sset)
{
	return sset == ETH_SS_STATS ? EXO_NIC_N_STATS : -EOPNOTSUPP;
}

static void exo_nic_get_strings(struct net_device *netdev, u32 sset, u8 *data)
{
	if (sset != ETH_SS_STATS)
		return;
	memcpy(data, exo_nic_hw_stat_names, sizeof(exo_nic_hw_stat_names));
	memcpy(data + sizeof(exo_nic_hw_stat_names), exo_nic_drv_stat_names,
	       sizeof(exo_nic_drv_stat_names));
}

static void exo_nic_get_ethtool_stats(struct net_device *netdev, struct ethtool_stats *stats,
				      u64 *data)
{
	struct exo_nic *nic = netdev_priv(netdev);
	struct exo_nic_mode_stats *st;
	struct exo_nic_ring_errors err;
	struct exo_nic_hw_stats hw;
	struct exo_nic_rx_stats rx;
	struct exo_nic_tx_stats tx;
	u64 *p = data;
	unsigned int i;

	memset(data, 0, EXO_NIC_N_STATS * sizeof(u64));
	exo_nic_update_hw_stats(nic);
	exo_nic_read_hw_stats(nic, &hw);
	memcpy(p, &hw, sizeof(hw));
	p += sizeof(hw) / sizeof(u64);
	exo_nic_rx_errors(nic, &err);
	*p++ = err.bad_length;
	*p++ = err.chained;
	*p++ = err.rx_errors;
	exo_nic_read_rx_stats(nic, &rx);
	*p++ = rx.packets;
	*p++ = rx.bytes;
	*p++ = rx.dropped;
	*p++ = rx.alloc_failed;
	exo_nic_read_tx_stats(nic, &tx);
	*p++ = tx.packets;
	*p++ = tx.bytes;
	*p++ = tx.dropped;
	*p++ = tx.map_failed;
	*p++ = tx.restarts;
	*p++ = READ_ONCE(nic->timer_polls);
	*p++ = READ_ONCE(nic->busy_timeouts);
	st = kmalloc(sizeof(*st), GFP_KERNEL);
	if (!st)
		return;		/* the mode's counters read 0 */
	exo_nic_get_mode_stats(nic, st);
	*p++ = st->mode;
	*p++ = st->policy;
	*p++ = st->rate_pps;
	*p++ = st->batch_x16;
	*p++ = st->changes;
	*p++ = st->irqs;
	*p++ = st->polls;
	*p++ = st->busy_polls;
	*p++ = st->packets;
	*p++ = st->ticks;
	for (i = 0; i < EXO_NIC_MODES; i++)
		*p++ = st->time_in_mode_ns[i];
	kfree(st);
}

const struct ethtool_ops exo_nic_ethtool_ops = {
	.supported_coalesce_params = ETHTOOL_COALESCE_RX_USECS | ETHTOOL_COALESCE_USE_ADAPTIVE,
	.get_drvinfo = exo_nic_get_drvinfo,
	.get_link = ethtool_op_get_link,
	.get_link_ksettings = exo_nic_get_link_ksettings,
	.get_ringparam = exo_nic_get_ringparam,
	.set_ringparam = exo_nic_set_ringparam,
	.get_coalesce = exo_nic_get_coalesce,
	.set_coalesce = exo_nic_set_coalesce,
	.get_sset_count = exo_nic_get_sset_count,
	.get_strings = exo_nic_get_strings,
	.get_ethtool_stats = exo_nic_get_ethtool_stats,
};
