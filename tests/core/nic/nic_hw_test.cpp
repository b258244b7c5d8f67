// SPDX-License-Identifier: GPL-2.0
// The 8254x register calls (nic_api.h, module/core/nic/hw.cpp) against the
// simulated device: model ids, reset, the Microwire EEPROM and the station
// address, link, rings on and off, filters and the multicast hash,
// moderation units, statistics.
#include <string.h>

#include <gtest/gtest.h>

#include "module/core/nic/hw.h"
#include "tests/core/nic/sim_e1000.h"

namespace exo_test {
namespace {

TEST(NicModel, FromPciId) {
  EXPECT_EQ(exo_nic_model_of(0x100e), EXO_NIC_82540EM);
  EXPECT_EQ(exo_nic_model_of(0x100c), EXO_NIC_82544GC);
  EXPECT_EQ(exo_nic_model_of(0x100f), EXO_NIC_82545EM);
  EXPECT_EQ(exo_nic_model_of(0x10d3), -19);  // an e1000e part: -ENODEV
  EXPECT_EQ(exo_nic_model_of(0), -19);
}

// The simulated device's own register semantics, which the other tests rely on.
TEST(SimE1000Registers, MaskReadClearAndStoredRegisters) {
  SimE1000 sim;
  sim.access(true, EXO_E1000_IMS, EXO_E1000_INT_RXT0 | EXO_E1000_INT_TXDW);
  sim.access(true, EXO_E1000_IMS, EXO_E1000_INT_LSC);
  sim.access(true, EXO_E1000_IMC, EXO_E1000_INT_TXDW);
  EXPECT_EQ(sim.access(false, EXO_E1000_IMS, 0), EXO_E1000_INT_RXT0 | EXO_E1000_INT_LSC);
  sim.access(true, EXO_E1000_ICS, EXO_E1000_INT_TXDW);
  EXPECT_FALSE(sim.irq_asserted());  // TXDW masked
  sim.access(true, EXO_E1000_ICS, EXO_E1000_INT_RXT0);
  EXPECT_TRUE(sim.irq_asserted());
  EXPECT_EQ(sim.access(false, EXO_E1000_ICR, 0), EXO_E1000_INT_TXDW | EXO_E1000_INT_RXT0);
  EXPECT_EQ(sim.access(false, EXO_E1000_ICR, 0), 0u);  // read clears
  EXPECT_FALSE(sim.irq_asserted());
  sim.access(true, EXO_E1000_ITR, 1234);
  EXPECT_EQ(sim.access(false, EXO_E1000_ITR, 0), 1234u);
  sim.set_counter(EXO_E1000_GPRC, 7);
  EXPECT_EQ(sim.access(false, EXO_E1000_GPRC, 0), 7u);
  EXPECT_EQ(sim.access(false, EXO_E1000_GPRC, 0), 0u);
  sim.set_counter(EXO_E1000_GORCL, 0x100000002ull);
  EXPECT_EQ(sim.access(false, EXO_E1000_GORCL, 0), 2u);
  EXPECT_EQ(sim.access(false, EXO_E1000_GORCH, 0), 1u);  // the high half clears both
  EXPECT_EQ(sim.access(false, EXO_E1000_GORCL, 0), 0u);
  EXPECT_EQ(sim.bad_accesses, 0u);
  sim.access(false, EXO_E1000_REG_END, 0);
  sim.access(true, 0x2, 0);
  EXPECT_EQ(sim.bad_accesses, 2u);
}

TEST(NicReset, MasksInterruptsAndStopsRxTx) {
  SimE1000 sim;
  sim.access(true, EXO_E1000_IMS, EXO_E1000_INT_RXT0 | EXO_E1000_INT_LSC);
  sim.access(true, EXO_E1000_RCTL, EXO_E1000_RCTL_EN);
  sim.access(true, EXO_E1000_TCTL, EXO_E1000_TCTL_EN);
  sim.access(true, EXO_E1000_ICS, EXO_E1000_INT_TXDW);
  ASSERT_EQ(exo_nic_hw_reset(sim.hw()), 0);
  EXPECT_EQ(sim.resets, 1u);
  EXPECT_EQ(sim.ims(), 0u);
  EXPECT_EQ(sim.icr(), 0u);
  EXPECT_FALSE(sim.peek(EXO_E1000_RCTL) & EXO_E1000_RCTL_EN);
  EXPECT_FALSE(sim.peek(EXO_E1000_TCTL) & EXO_E1000_TCTL_EN);
  EXPECT_EQ(sim.bad_accesses, 0u);
}

TEST(NicReset, NeverEndingResetTimesOutBounded) {
  SimE1000 sim;
  sim.reset_stuck = true;
  EXPECT_EQ(exo_nic_hw_reset(sim.hw()), -110);
  // 1000 polls 10 us apart, and the 10 ms quiesce before.
  EXPECT_LE(sim.elapsed_us, 25000u);
  EXPECT_LE(sim.reg_accesses, 1100u);
}

class NicEeprom : public testing::TestWithParam<exo_nic_model> {};

TEST_P(NicEeprom, ReadsTheMacOfAGoodEeprom) {
  SimE1000 sim(GetParam());
  const u8 want[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
  sim.set_eeprom_mac(want);
  u8 mac[6] = {};
  ASSERT_EQ(exo_nic_hw_read_mac(sim.hw(), mac), 0);
  EXPECT_EQ(memcmp(mac, want, 6), 0);
  EXPECT_EQ(sim.eeprom_reads, 64u);  // every word, for the checksum
  // The arbitration was released (the models with it) and CS dropped.
  EXPECT_FALSE(sim.peek(EXO_E1000_EECD) & EXO_E1000_EECD_REQ);
  EXPECT_FALSE(sim.peek(EXO_E1000_EECD) & EXO_E1000_EECD_CS);
}

TEST_P(NicEeprom, BadChecksumIsEio) {
  SimE1000 sim(GetParam());
  sim.set_eeprom(10, static_cast<u16>(sim.eeprom(10) + 1));
  u8 mac[6] = {1, 2, 3, 4, 5, 6};
  EXPECT_EQ(exo_nic_hw_read_mac(sim.hw(), mac), -5);
  EXPECT_EQ(mac[0], 1);  // untouched
}

TEST_P(NicEeprom, UnusableAddressesAreRefused) {
  const u8 bad[][6] = {{0x01, 0x00, 0x5e, 0x00, 0x00, 0x01},   // multicast
                       {0xff, 0xff, 0xff, 0xff, 0xff, 0xff},   // broadcast
                       {0, 0, 0, 0, 0, 0}};                    // zero
  for (const auto& m : bad) {
    SimE1000 sim(GetParam());
    sim.set_eeprom_mac(m);
    u8 mac[6];
    EXPECT_EQ(exo_nic_hw_read_mac(sim.hw(), mac), -99);
  }
}

TEST_P(NicEeprom, SilentEepromIsEio) {
  for (int level : {0, 1}) {
    SimE1000 sim(GetParam());
    sim.stuck_do = level;
    u8 mac[6];
    EXPECT_EQ(exo_nic_hw_read_mac(sim.hw(), mac), -5) << "DO stuck at " << level;
  }
}

INSTANTIATE_TEST_SUITE_P(Models, NicEeprom,
                         testing::Values(EXO_NIC_82540EM, EXO_NIC_82544GC, EXO_NIC_82545EM));

TEST(NicEepromGrant, NoGrantIsEioWithinBoundedTime) {
  SimE1000 sim(EXO_NIC_82540EM);
  sim.never_grant = true;
  u8 mac[6];
  EXPECT_EQ(exo_nic_hw_read_mac(sim.hw(), mac), -5);
  EXPECT_LE(sim.elapsed_us, 5000u + 10);
  EXPECT_LE(sim.reg_accesses, 1100u);
  EXPECT_FALSE(sim.peek(EXO_E1000_EECD) & EXO_E1000_EECD_REQ);  // request withdrawn
  EXPECT_EQ(sim.eeprom_reads, 0u);
}

// The 82544 has no REQ/GNT: a driver that waited for GNT there would time out.
TEST(NicEepromGrant, The82544IsReadWithoutArbitration) {
  SimE1000 sim(EXO_NIC_82544GC);
  sim.never_grant = true;  // no effect on this model
  sim.log_accesses = true;
  u8 mac[6];
  ASSERT_EQ(exo_nic_hw_read_mac(sim.hw(), mac), 0);
  EXPECT_EQ(memcmp(mac, SimE1000::kDefaultMac, 6), 0);
  for (const auto& a : sim.log) {
    if (a.write && a.reg == EXO_E1000_EECD) {
      EXPECT_FALSE(a.val & EXO_E1000_EECD_REQ);
    }
  }
}

TEST(NicEepromGrant, ChecksumHelper) {
  u16 words[64] = {};
  words[63] = 0xbaba;
  EXPECT_TRUE(exo::nic::eeprom_checksum_ok(words));
  words[0] = 1;
  EXPECT_FALSE(exo::nic::eeprom_checksum_ok(words));
  words[63] = 0xbab9;
  EXPECT_TRUE(exo::nic::eeprom_checksum_ok(words));
  // The sum wraps at 16 bits.
  for (auto& w : words) w = 0xffff;
  words[63] = static_cast<u16>(0xbaba + 63);
  EXPECT_TRUE(exo::nic::eeprom_checksum_ok(words));
}

TEST(NicMac, ReceiveAddressRegisters) {
  SimE1000 sim;
  const u8 mac[6] = {0x52, 0x54, 0x00, 0xab, 0xcd, 0xef};
  exo_nic_hw_set_mac(sim.hw(), mac);
  EXPECT_EQ(sim.peek(EXO_E1000_RAL0), 0xab005452u);
  EXPECT_EQ(sim.peek(EXO_E1000_RAH0), 0x8000efcdu);
}

TEST(NicLink, SetupSpeedAndDown) {
  SimE1000 sim;
  EXPECT_EQ(exo_nic_hw_link_up(sim.hw()), 0);  // no SLU yet
  EXPECT_EQ(exo_nic_hw_link_speed(sim.hw()), 0u);
  exo_nic_hw_link_setup(sim.hw());
  EXPECT_TRUE(sim.peek(EXO_E1000_CTRL) & EXO_E1000_CTRL_SLU);
  EXPECT_TRUE(sim.peek(EXO_E1000_CTRL) & EXO_E1000_CTRL_ASDE);
  EXPECT_EQ(exo_nic_hw_link_up(sim.hw()), 1);
  EXPECT_EQ(exo_nic_hw_link_speed(sim.hw()), 1000u);
  sim.set_link(true, 100);
  EXPECT_EQ(exo_nic_hw_link_speed(sim.hw()), 100u);
  sim.set_link(true, 10);
  EXPECT_EQ(exo_nic_hw_link_speed(sim.hw()), 10u);
  sim.set_link(false);
  EXPECT_EQ(exo_nic_hw_link_up(sim.hw()), 0);
  EXPECT_EQ(exo_nic_hw_link_speed(sim.hw()), 0u);
}

TEST(NicStart, RingRegisters) {
  SimE1000 sim;
  exo_nic_hw_start_rx(sim.hw(), 0x123456789000ull, 256, EXO_NIC_FILTER_BROADCAST);
  EXPECT_EQ(sim.peek(EXO_E1000_RDBAL), 0x56789000u);
  EXPECT_EQ(sim.peek(EXO_E1000_RDBAH), 0x1234u);
  EXPECT_EQ(sim.peek(EXO_E1000_RDLEN), 256u * 16);
  EXPECT_EQ(sim.peek(EXO_E1000_RDH), 0u);
  EXPECT_EQ(sim.peek(EXO_E1000_RDT), 0u);
  EXPECT_EQ(sim.peek(EXO_E1000_RCTL), EXO_E1000_RCTL_EN | EXO_E1000_RCTL_SECRC |
                                          EXO_E1000_RCTL_BAM | EXO_E1000_RCTL_BSIZE_2048);
  exo_nic_hw_start_tx(sim.hw(), 0xfedc0000ull, 64);
  EXPECT_EQ(sim.peek(EXO_E1000_TDBAL), 0xfedc0000u);
  EXPECT_EQ(sim.peek(EXO_E1000_TDBAH), 0u);
  EXPECT_EQ(sim.peek(EXO_E1000_TDLEN), 1024u);
  EXPECT_EQ(sim.peek(EXO_E1000_TDH), 0u);
  EXPECT_EQ(sim.peek(EXO_E1000_TDT), 0u);
  EXPECT_EQ(sim.peek(EXO_E1000_TCTL), 0x000400fau);  // EN | PSP | CT 0x0f << 4 | COLD 0x40 << 12
  EXPECT_EQ(sim.peek(EXO_E1000_TIPG), 10u | 8u << 10 | 6u << 20);

  sim.access(true, EXO_E1000_IMS, ~0u);
  exo_nic_hw_stop(sim.hw());
  EXPECT_EQ(sim.ims(), 0u);
  EXPECT_FALSE(sim.peek(EXO_E1000_RCTL) & EXO_E1000_RCTL_EN);
  EXPECT_FALSE(sim.peek(EXO_E1000_TCTL) & EXO_E1000_TCTL_EN);
}

// --- filters ------------------------------------------------------------------

TEST(NicMta, HashOfKnownAddresses) {
  // 01:00:5e:00:00:01: (mac[4] >> 4) | (mac[5] << 4) = 0 | 0x010 = 0x010:
  // word 0x010 >> 5 = 0, bit 0x010 & 31 = 16.
  const u8 all_hosts[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0x01};
  EXPECT_EQ(exo::nic::mta_hash(all_hosts), 0x010u);
  u32 mta[EXO_E1000_MTA_WORDS] = {};
  exo_nic_mta_set(mta, all_hosts);
  EXPECT_EQ(mta[0], 1u << 16);
  for (u32 i = 1; i < EXO_E1000_MTA_WORDS; ++i) ASSERT_EQ(mta[i], 0u) << i;

  // 01:00:5e:7f:ff:fa (SSDP): 0xff >> 4 = 0x00f, 0xfa << 4 = 0xfa0: 0xfaf,
  // word 0x7d, bit 15.
  const u8 ssdp[6] = {0x01, 0x00, 0x5e, 0x7f, 0xff, 0xfa};
  EXPECT_EQ(exo::nic::mta_hash(ssdp), 0xfafu);
  exo_nic_mta_set(mta, ssdp);
  EXPECT_EQ(mta[0x7d], 1u << 15);
  // 33:33:ff:12:34:56: 0x34 >> 4 = 3, 0x56 << 4 = 0x560: 0x563, word 0x2b, bit 3.
  const u8 v6[6] = {0x33, 0x33, 0xff, 0x12, 0x34, 0x56};
  EXPECT_EQ(exo::nic::mta_hash(v6), 0x563u);
  exo_nic_mta_set(mta, v6);
  EXPECT_EQ(mta[0x2b], 1u << 3);
  EXPECT_EQ(mta[0], 1u << 16);  // the others kept
}

TEST(NicFilters, RctlBitsAndTable) {
  SimE1000 sim;
  exo_nic_hw_start_rx(sim.hw(), 0, 64, 0);
  u32 keep = EXO_E1000_RCTL_EN | EXO_E1000_RCTL_SECRC;
  exo_nic_hw_set_filters(sim.hw(), EXO_NIC_FILTER_PROMISC, nullptr);
  EXPECT_EQ(sim.peek(EXO_E1000_RCTL), keep | EXO_E1000_RCTL_UPE | EXO_E1000_RCTL_MPE |
                                          EXO_E1000_RCTL_BAM);
  exo_nic_hw_set_filters(sim.hw(), EXO_NIC_FILTER_ALLMULTI, nullptr);
  EXPECT_EQ(sim.peek(EXO_E1000_RCTL), keep | EXO_E1000_RCTL_MPE);
  exo_nic_hw_set_filters(sim.hw(), EXO_NIC_FILTER_BROADCAST, nullptr);
  EXPECT_EQ(sim.peek(EXO_E1000_RCTL), keep | EXO_E1000_RCTL_BAM);

  u32 mta[EXO_E1000_MTA_WORDS] = {};
  for (u32 i = 0; i < EXO_E1000_MTA_WORDS; ++i) mta[i] = i * 0x01010101u;
  exo_nic_hw_set_filters(sim.hw(), 0, mta);
  for (u32 i = 0; i < EXO_E1000_MTA_WORDS; ++i)
    ASSERT_EQ(sim.peek(EXO_E1000_MTA + 4 * i), mta[i]) << i;
  EXPECT_EQ(sim.peek(EXO_E1000_RCTL), keep);
  // NULL leaves the table.
  exo_nic_hw_set_filters(sim.hw(), EXO_NIC_FILTER_BROADCAST, nullptr);
  EXPECT_EQ(sim.peek(EXO_E1000_MTA + 4 * 5), mta[5]);
}

// An MTU over 1500: frames over 1522 bytes need RCTL.LPE, at start and after.
TEST(NicFilters, LongFramesSetAndClearLpe) {
  SimE1000 sim;
  exo_nic_hw_start_rx(sim.hw(), 0, 64, EXO_NIC_FILTER_BROADCAST | EXO_NIC_FILTER_LONG);
  EXPECT_EQ(sim.peek(EXO_E1000_RCTL), EXO_E1000_RCTL_EN | EXO_E1000_RCTL_SECRC |
                                          EXO_E1000_RCTL_BAM | EXO_E1000_RCTL_LPE);
  exo_nic_hw_set_filters(sim.hw(), EXO_NIC_FILTER_BROADCAST, nullptr);
  EXPECT_EQ(sim.peek(EXO_E1000_RCTL), EXO_E1000_RCTL_EN | EXO_E1000_RCTL_SECRC |
                                          EXO_E1000_RCTL_BAM);
  exo_nic_hw_set_filters(sim.hw(), EXO_NIC_FILTER_PROMISC | EXO_NIC_FILTER_LONG, nullptr);
  EXPECT_EQ(sim.peek(EXO_E1000_RCTL), EXO_E1000_RCTL_EN | EXO_E1000_RCTL_SECRC |
                                          EXO_E1000_RCTL_UPE | EXO_E1000_RCTL_MPE |
                                          EXO_E1000_RCTL_BAM | EXO_E1000_RCTL_LPE);
}

// The hash the core computes is the one the (simulated) device filters on.
TEST(NicFilters, MulticastReachesTheRingOnlyWhenHashed) {
  NicBed bed(64);
  bed.start(EXO_NIC_FILTER_BROADCAST);
  bed.refill_rx();
  const u8 group[6] = {0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb};
  const u8 other[6] = {0x01, 0x00, 0x5e, 0x00, 0x01, 0x00};
  auto f = make_frame(group, 60, 1);
  auto g = make_frame(other, 60, 2);
  EXPECT_EQ(bed.sim.deliver(f.data(), 60), SimE1000::kFiltered);
  u32 mta[EXO_E1000_MTA_WORDS] = {};
  exo_nic_mta_set(mta, group);
  exo_nic_hw_set_filters(bed.hw(), EXO_NIC_FILTER_BROADCAST, mta);
  EXPECT_EQ(bed.sim.deliver(f.data(), 60), SimE1000::kDelivered);
  EXPECT_EQ(bed.sim.deliver(g.data(), 60), SimE1000::kFiltered);
  exo_nic_hw_set_filters(bed.hw(), EXO_NIC_FILTER_ALLMULTI, nullptr);
  EXPECT_EQ(bed.sim.deliver(g.data(), 60), SimE1000::kDelivered);
  // Unicast: only the station address (set from the EEPROM) or promiscuous.
  const u8 stranger[6] = {0x02, 0, 0, 0, 0, 9};
  auto u = make_frame(stranger, 60, 3);
  auto mine = make_frame(SimE1000::kDefaultMac, 60, 4);
  EXPECT_EQ(bed.sim.deliver(u.data(), 60), SimE1000::kFiltered);
  EXPECT_EQ(bed.sim.deliver(mine.data(), 60), SimE1000::kDelivered);
  exo_nic_hw_set_filters(bed.hw(), EXO_NIC_FILTER_PROMISC, nullptr);
  EXPECT_EQ(bed.sim.deliver(u.data(), 60), SimE1000::kDelivered);
}

// --- moderation ---------------------------------------------------------------

TEST(NicModeration, RoundsToUnitsAndClamps) {
  SimE1000 sim;
  struct Case {
    u32 ns, itr, timer;
  };
  const Case cases[] = {
      {0, 0, 0},                 // off
      {1, 1, 1},                 // never rounded to off
      {127, 1, 1},
      {128, 1, 1},               // 0.5 ITR units: nearest is 1 (and never 0)
      {383, 1, 1},               // 1.496 units
      {384, 2, 1},               // 1.5 units: up
      {1000, 4, 1},              // 3.9 -> 4; 0.977 -> 1
      {1536, 6, 2},              // 1.5 timer units: up
      {50000, 195, 49},          // 195.3 -> 195; 48.8 -> 49
      {16776960, 0xffff, 16384}, // ITR's largest (16383.75 timer units)
      {16777216, 0xffff, 16384}, // past it: clamped
      {67107840, 0xffff, 0xffff},   // the timers' largest
      {0xffffffffu, 0xffff, 0xffff},  // no overflow on the way
  };
  for (const Case& c : cases) {
    exo_nic_hw_set_moderation(sim.hw(), c.ns, c.ns, c.ns);
    EXPECT_EQ(sim.peek(EXO_E1000_ITR), c.itr) << c.ns;
    EXPECT_EQ(sim.peek(EXO_E1000_RDTR), c.timer) << c.ns;
    EXPECT_EQ(sim.peek(EXO_E1000_RADV), c.timer) << c.ns;
  }
  exo_nic_hw_set_moderation(sim.hw(), 2560, 0, 10240);
  EXPECT_EQ(sim.peek(EXO_E1000_ITR), 10u);
  EXPECT_EQ(sim.peek(EXO_E1000_RDTR), 0u);
  EXPECT_EQ(sim.peek(EXO_E1000_RADV), 10u);
}

// --- statistics ---------------------------------------------------------------

TEST(NicStats, AccumulatesClearOnReadCounters) {
  SimE1000 sim;
  const struct {
    u32 reg;
    unsigned long long exo_nic_hw_stats::*field;
  } map[] = {
      {EXO_E1000_CRCERRS, &exo_nic_hw_stats::crc_errors},
      {EXO_E1000_ALGNERRC, &exo_nic_hw_stats::align_errors},
      {EXO_E1000_SYMERRS, &exo_nic_hw_stats::symbol_errors},
      {EXO_E1000_RXERRC, &exo_nic_hw_stats::rx_errors},
      {EXO_E1000_MPC, &exo_nic_hw_stats::missed},
      {EXO_E1000_RNBC, &exo_nic_hw_stats::no_buffer},
      {EXO_E1000_RUC, &exo_nic_hw_stats::undersize},
      {EXO_E1000_ROC, &exo_nic_hw_stats::oversize},
      {EXO_E1000_COLC, &exo_nic_hw_stats::collisions},
      {EXO_E1000_GPRC, &exo_nic_hw_stats::good_rx},
      {EXO_E1000_GPTC, &exo_nic_hw_stats::good_tx},
      {EXO_E1000_BPRC, &exo_nic_hw_stats::broadcast_rx},
      {EXO_E1000_MPRC, &exo_nic_hw_stats::multicast_rx},
      {EXO_E1000_TPR, &exo_nic_hw_stats::total_rx},
      {EXO_E1000_TPT, &exo_nic_hw_stats::total_tx},
  };
  u32 v = 100;
  for (const auto& m : map) sim.set_counter(m.reg, v++);
  // 64-bit byte counters with bits above 32: reading the high half first
  // would clear the counter and lose the low half.
  sim.set_counter(EXO_E1000_GORCL, 0x0000000512345678ull);
  sim.set_counter(EXO_E1000_GOTCL, 0x00000007deadbeefull);
  exo_nic_hw_stats acc{};
  acc.good_rx = 1000;  // accumulated, not replaced
  exo_nic_hw_read_stats(sim.hw(), &acc);
  v = 100;
  for (const auto& m : map) {
    u64 want = v++ + (m.field == &exo_nic_hw_stats::good_rx ? 1000 : 0);
    EXPECT_EQ(acc.*m.field, want) << std::hex << m.reg;
  }
  EXPECT_EQ(acc.good_rx_bytes, 0x0000000512345678ull);
  EXPECT_EQ(acc.good_tx_bytes, 0x00000007deadbeefull);
  // Read-clear: a second read adds only what came since.
  sim.set_counter(EXO_E1000_GPRC, 3);
  exo_nic_hw_read_stats(sim.hw(), &acc);
  EXPECT_EQ(acc.good_rx, 1000u + 109 + 3);
  EXPECT_EQ(acc.crc_errors, 100u);
  EXPECT_EQ(acc.good_rx_bytes, 0x0000000512345678ull);
}

TEST(NicStats, CountsWhatTheDeviceSaw) {
  NicBed bed(64);
  bed.start();
  bed.refill_rx();
  auto f = make_frame(SimE1000::kDefaultMac, 100, 1);
  const u8 bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  auto b = make_frame(bcast, 60, 2);
  ASSERT_EQ(bed.sim.deliver(f.data(), 100), SimE1000::kDelivered);
  ASSERT_EQ(bed.sim.deliver(b.data(), 60), SimE1000::kDelivered);
  exo_nic_hw_stats acc{};
  exo_nic_hw_read_stats(bed.hw(), &acc);
  EXPECT_EQ(acc.good_rx, 2u);
  EXPECT_EQ(acc.broadcast_rx, 1u);
  EXPECT_EQ(acc.good_rx_bytes, 160u);
}

}  // namespace
}  // namespace exo_test
