// SPDX-License-Identifier: GPL-2.0
// nic_api.h's register calls over exo::nic::Hw, and the Microwire EEPROM
// (the sequences of Linux's drivers/net/ethernet/intel/e1000/e1000_hw.c).
#include "module/core/nic/hw.h"

namespace exo::nic {

void Regs::delay(u32 us) const {
  while (us > 0) {
    u32 piece = us > 1000 ? 1000 : us;
    hw_->udelay(hw_->ctx, piece);
    us -= piece;
  }
}

// --- EEPROM -----------------------------------------------------------------

void MicrowireEeprom::put(u32 eecd) {
  eecd_ = eecd;
  regs_.write(EXO_E1000_EECD, eecd_);
  regs_.flush();
  regs_.delay(kDelayUs);
}

void MicrowireEeprom::raise_clock() { put(eecd_ | EXO_E1000_EECD_SK); }
void MicrowireEeprom::lower_clock() { put(eecd_ & ~EXO_E1000_EECD_SK); }

bool MicrowireEeprom::acquire() {
  u32 eecd = regs_.read(EXO_E1000_EECD);
  if (has_grant_protocol()) {
    eecd |= EXO_E1000_EECD_REQ;
    regs_.write(EXO_E1000_EECD, eecd);
    u32 i = 0;
    while (!(regs_.read(EXO_E1000_EECD) & EXO_E1000_EECD_GNT)) {
      if (++i >= kGrantAttempts) {
        regs_.write(EXO_E1000_EECD, eecd & ~EXO_E1000_EECD_REQ);
        return false;
      }
      regs_.delay(5);
    }
  }
  // Clock and data low, then select the part.
  eecd &= ~(EXO_E1000_EECD_DI | EXO_E1000_EECD_SK | EXO_E1000_EECD_DO | EXO_E1000_EECD_GNT);
  eecd_ = eecd;
  regs_.write(EXO_E1000_EECD, eecd_);
  eecd_ |= EXO_E1000_EECD_CS;
  regs_.write(EXO_E1000_EECD, eecd_);
  return true;
}

// Between two commands: deselect, one clock, select again.
void MicrowireEeprom::standby() {
  put(eecd_ & ~(EXO_E1000_EECD_CS | EXO_E1000_EECD_SK));
  put(eecd_ | EXO_E1000_EECD_SK);
  put(eecd_ | EXO_E1000_EECD_CS);
  put(eecd_ & ~EXO_E1000_EECD_SK);
}

void MicrowireEeprom::release() {
  eecd_ &= ~(EXO_E1000_EECD_CS | EXO_E1000_EECD_DI);
  regs_.write(EXO_E1000_EECD, eecd_);
  raise_clock();
  lower_clock();
  if (has_grant_protocol()) {
    eecd_ &= ~EXO_E1000_EECD_REQ;
    regs_.write(EXO_E1000_EECD, eecd_);
  }
}

// MSB first: DI set up, then a clock pulse per bit.
void MicrowireEeprom::shift_out(u32 data, u32 count) {
  for (u32 mask = 1u << (count - 1); mask; mask >>= 1) {
    u32 eecd = eecd_ & ~EXO_E1000_EECD_DI;
    if (data & mask) eecd |= EXO_E1000_EECD_DI;
    put(eecd);
    raise_clock();
    lower_clock();
  }
  eecd_ &= ~EXO_E1000_EECD_DI;
  regs_.write(EXO_E1000_EECD, eecd_);
}

// 16 bits, MSB first: DO is sampled with the clock high.
u16 MicrowireEeprom::shift_in() {
  u32 data = 0;
  for (u32 i = 0; i < 16; ++i) {
    data <<= 1;
    raise_clock();
    if (regs_.read(EXO_E1000_EECD) & EXO_E1000_EECD_DO) data |= 1;
    lower_clock();
  }
  return static_cast<u16>(data);
}

int MicrowireEeprom::read(u32 first, u32 n, u16* out) {
  if (first >= EXO_E1000_EEPROM_WORDS || n > EXO_E1000_EEPROM_WORDS - first) return -kEINVAL;
  if (!acquire()) return -kEIO;
  for (u32 i = 0; i < n; ++i) {
    shift_out(kOpcodeRead, kOpcodeBits);
    shift_out(first + i, kAddressBits);
    out[i] = shift_in();
    standby();
  }
  release();
  return 0;
}

bool mac_valid(const u8 mac[6]) {
  u32 any = 0;
  for (int i = 0; i < 6; ++i) any |= mac[i];
  // Multicast includes broadcast (ff:ff:ff:ff:ff:ff).
  return any != 0 && !(mac[0] & 1);
}

bool eeprom_checksum_ok(const u16* words) {
  u32 sum = 0;
  for (u32 i = 0; i < EXO_E1000_EEPROM_WORDS; ++i) sum += words[i];
  return (sum & 0xffff) == EXO_E1000_EEPROM_SUM;
}

// --- the device -------------------------------------------------------------

void Hw::mask_all() { regs_.write(EXO_E1000_IMC, ~0u); }

int Hw::reset() {
  // Quiesce first (Linux's e1000_reset_hw): interrupts masked, RX and TX
  // off, pending bus transactions given time to end.
  mask_all();
  regs_.write(EXO_E1000_RCTL, 0);
  regs_.write(EXO_E1000_TCTL, EXO_E1000_TCTL_PSP);
  regs_.flush();
  regs_.delay(kResetQuiesceUs);

  regs_.write(EXO_E1000_CTRL, regs_.read(EXO_E1000_CTRL) | EXO_E1000_CTRL_RST);
  // RST clears itself when the reset is done.
  u32 polls = 0;
  for (;;) {
    regs_.delay(10);
    if (!(regs_.read(EXO_E1000_CTRL) & EXO_E1000_CTRL_RST)) break;
    if (++polls >= kResetPolls) return -kETIMEDOUT;
  }
  // Reload the EEPROM's settings, as Linux does on these models.
  regs_.write(EXO_E1000_CTRL_EXT, regs_.read(EXO_E1000_CTRL_EXT) | kCtrlExtEeRst);
  regs_.flush();
  regs_.delay(kEepromReloadUs);

  mask_all();
  (void)regs_.read(EXO_E1000_ICR);
  return 0;
}

int Hw::read_mac(u8 mac[6]) {
  u16 words[EXO_E1000_EEPROM_WORDS];
  MicrowireEeprom eeprom(regs_);
  if (eeprom.read(0, EXO_E1000_EEPROM_WORDS, words)) return -kEIO;
  if (!eeprom_checksum_ok(words)) return -kEIO;
  u8 addr[6];
  for (u32 i = 0; i < 3; ++i) {
    addr[2 * i] = static_cast<u8>(words[i] & 0xff);
    addr[2 * i + 1] = static_cast<u8>(words[i] >> 8);
  }
  if (!mac_valid(addr)) return -kEADDRNOTAVAIL;
  for (u32 i = 0; i < 6; ++i) mac[i] = addr[i];
  return 0;
}

void Hw::set_mac(const u8 mac[6]) {
  u32 ral = static_cast<u32>(mac[0]) | static_cast<u32>(mac[1]) << 8 |
            static_cast<u32>(mac[2]) << 16 | static_cast<u32>(mac[3]) << 24;
  u32 rah = static_cast<u32>(mac[4]) | static_cast<u32>(mac[5]) << 8 | EXO_E1000_RAH_AV;
  regs_.write(EXO_E1000_RAL0, ral);
  regs_.flush();
  regs_.write(EXO_E1000_RAH0, rah);
  regs_.flush();
}

void Hw::link_setup() {
  u32 ctrl = regs_.read(EXO_E1000_CTRL);
  ctrl |= EXO_E1000_CTRL_SLU | EXO_E1000_CTRL_ASDE;
  ctrl &= ~(kCtrlFrcspd | kCtrlFrcdpx | kCtrlIlos | kCtrlLrst | EXO_E1000_CTRL_RST);
  regs_.write(EXO_E1000_CTRL, ctrl);
  regs_.flush();
}

bool Hw::link_up() { return regs_.read(EXO_E1000_STATUS) & EXO_E1000_STATUS_LU; }

u32 Hw::link_speed() {
  u32 status = regs_.read(EXO_E1000_STATUS);
  if (!(status & EXO_E1000_STATUS_LU)) return 0;
  switch ((status >> EXO_E1000_STATUS_SPEED_SHIFT) & 3) {
    case 0: return 10;
    case 1: return 100;
    default: return 1000;
  }
}

u32 Hw::rctl_filter_bits(u32 filters) {
  u32 bits = 0;
  if (filters & EXO_NIC_FILTER_PROMISC)
    bits |= EXO_E1000_RCTL_UPE | EXO_E1000_RCTL_MPE | EXO_E1000_RCTL_BAM;
  if (filters & EXO_NIC_FILTER_ALLMULTI) bits |= EXO_E1000_RCTL_MPE;
  if (filters & EXO_NIC_FILTER_BROADCAST) bits |= EXO_E1000_RCTL_BAM;
  if (filters & EXO_NIC_FILTER_LONG) bits |= EXO_E1000_RCTL_LPE;
  return bits;
}

// The receive and transmit rings' registers have one layout from their
// base (RDBAL, TDBAL): address low and high, length, head, tail.
static_assert(EXO_E1000_RDBAH - EXO_E1000_RDBAL == EXO_E1000_TDBAH - EXO_E1000_TDBAL &&
              EXO_E1000_RDLEN - EXO_E1000_RDBAL == EXO_E1000_TDLEN - EXO_E1000_TDBAL &&
              EXO_E1000_RDH - EXO_E1000_RDBAL == EXO_E1000_TDH - EXO_E1000_TDBAL &&
              EXO_E1000_RDT - EXO_E1000_RDBAL == EXO_E1000_TDT - EXO_E1000_TDBAL,
              "RX and TX ring registers share a layout");

void Hw::give_ring(u32 base, u64 ring_dma, u32 count) {
  regs_.write(base, static_cast<u32>(ring_dma));
  regs_.write(base + (EXO_E1000_RDBAH - EXO_E1000_RDBAL), static_cast<u32>(ring_dma >> 32));
  regs_.write(base + (EXO_E1000_RDLEN - EXO_E1000_RDBAL), count * EXO_E1000_DESC_SIZE);
  regs_.write(base + (EXO_E1000_RDH - EXO_E1000_RDBAL), 0);
  regs_.write(base + (EXO_E1000_RDT - EXO_E1000_RDBAL), 0);
}

void Hw::start_rx(u64 ring_dma, u32 count, u32 filters) {
  regs_.write(EXO_E1000_RCTL, regs_.read(EXO_E1000_RCTL) & ~EXO_E1000_RCTL_EN);
  give_ring(EXO_E1000_RDBAL, ring_dma, count);
  regs_.write(EXO_E1000_RCTL, EXO_E1000_RCTL_EN | EXO_E1000_RCTL_BSIZE_2048 |
                                  EXO_E1000_RCTL_SECRC | rctl_filter_bits(filters));
  regs_.flush();
}

void Hw::start_tx(u64 ring_dma, u32 count) {
  regs_.write(EXO_E1000_TCTL, regs_.read(EXO_E1000_TCTL) & ~EXO_E1000_TCTL_EN);
  give_ring(EXO_E1000_TDBAL, ring_dma, count);
  regs_.write(EXO_E1000_TIPG, EXO_E1000_TIPG_COPPER);
  regs_.write(EXO_E1000_TIDV, 0);
  regs_.write(EXO_E1000_TADV, 0);
  regs_.write(EXO_E1000_TCTL, EXO_E1000_TCTL_EN | EXO_E1000_TCTL_PSP |
                                  kTctlCt << EXO_E1000_TCTL_CT_SHIFT |
                                  kTctlCold << EXO_E1000_TCTL_COLD_SHIFT);
  regs_.flush();
}

void Hw::stop() {
  mask_all();
  regs_.write(EXO_E1000_RCTL, regs_.read(EXO_E1000_RCTL) & ~EXO_E1000_RCTL_EN);
  regs_.write(EXO_E1000_TCTL, regs_.read(EXO_E1000_TCTL) & ~EXO_E1000_TCTL_EN);
  regs_.flush();
  // DMA already under way may still land: the caller lets it end before
  // it frees the buffers (Linux's e1000_down sleeps 10 ms; sleeping is the
  // shim's to do, the core only busy-waits).
  (void)regs_.read(EXO_E1000_ICR);
}

void Hw::set_filters(u32 filters, const u32* mta) {
  if (mta) {
    for (u32 i = 0; i < EXO_E1000_MTA_WORDS; ++i) regs_.write(EXO_E1000_MTA + 4 * i, mta[i]);
  }
  u32 rctl = regs_.read(EXO_E1000_RCTL);
  rctl &= ~(EXO_E1000_RCTL_UPE | EXO_E1000_RCTL_MPE | EXO_E1000_RCTL_BAM | EXO_E1000_RCTL_LPE);
  regs_.write(EXO_E1000_RCTL, rctl | rctl_filter_bits(filters));
  regs_.flush();
}

void Hw::set_moderation(u32 itr_ns, u32 rx_delay_ns, u32 rx_abs_ns) {
  regs_.write(EXO_E1000_RADV, ns_to_units(rx_abs_ns, kTimerUnitNs));
  regs_.write(EXO_E1000_RDTR, ns_to_units(rx_delay_ns, kTimerUnitNs));
  regs_.write(EXO_E1000_ITR, ns_to_units(itr_ns, kItrUnitNs));
}

// Low then high: reading the high half clears the counter.
u64 Hw::read_counter64(u32 low) {
  u64 lo = regs_.read(low);
  u64 hi = regs_.read(low + 4);
  return hi << 32 | lo;
}

void Hw::read_stats(exo_nic_hw_stats* acc) {
  acc->crc_errors += regs_.read(EXO_E1000_CRCERRS);
  acc->align_errors += regs_.read(EXO_E1000_ALGNERRC);
  acc->symbol_errors += regs_.read(EXO_E1000_SYMERRS);
  acc->rx_errors += regs_.read(EXO_E1000_RXERRC);
  acc->missed += regs_.read(EXO_E1000_MPC);
  acc->collisions += regs_.read(EXO_E1000_COLC);
  acc->good_rx += regs_.read(EXO_E1000_GPRC);
  acc->broadcast_rx += regs_.read(EXO_E1000_BPRC);
  acc->multicast_rx += regs_.read(EXO_E1000_MPRC);
  acc->good_tx += regs_.read(EXO_E1000_GPTC);
  acc->good_rx_bytes += read_counter64(EXO_E1000_GORCL);
  acc->good_tx_bytes += read_counter64(EXO_E1000_GOTCL);
  acc->no_buffer += regs_.read(EXO_E1000_RNBC);
  acc->undersize += regs_.read(EXO_E1000_RUC);
  acc->oversize += regs_.read(EXO_E1000_ROC);
  acc->total_rx += regs_.read(EXO_E1000_TPR);
  acc->total_tx += regs_.read(EXO_E1000_TPT);
}

}  // namespace exo::nic

using exo::nic::Hw;

extern "C" {

int exo_nic_model_of(unsigned int pci_device_id) {
  switch (pci_device_id) {
    case EXO_E1000_DEV_82540EM: return EXO_NIC_82540EM;
    case EXO_E1000_DEV_82544GC: return EXO_NIC_82544GC;
    case EXO_E1000_DEV_82545EM: return EXO_NIC_82545EM;
    default: return -exo::kENODEV;
  }
}

int exo_nic_hw_reset(const struct exo_nic_hw* hw) { return Hw(hw).reset(); }

int exo_nic_hw_read_mac(const struct exo_nic_hw* hw, unsigned char mac[6]) {
  return Hw(hw).read_mac(mac);
}

void exo_nic_hw_set_mac(const struct exo_nic_hw* hw, const unsigned char mac[6]) {
  Hw(hw).set_mac(mac);
}

void exo_nic_hw_link_setup(const struct exo_nic_hw* hw) { Hw(hw).link_setup(); }
int exo_nic_hw_link_up(const struct exo_nic_hw* hw) { return Hw(hw).link_up() ? 1 : 0; }
unsigned int exo_nic_hw_link_speed(const struct exo_nic_hw* hw) { return Hw(hw).link_speed(); }

void exo_nic_hw_start_rx(const struct exo_nic_hw* hw, unsigned long long ring_dma,
                         unsigned int count, unsigned int filters) {
  Hw(hw).start_rx(ring_dma, count, filters);
}

void exo_nic_hw_start_tx(const struct exo_nic_hw* hw, unsigned long long ring_dma,
                         unsigned int count) {
  Hw(hw).start_tx(ring_dma, count);
}

void exo_nic_hw_stop(const struct exo_nic_hw* hw) { Hw(hw).stop(); }

void exo_nic_hw_set_filters(const struct exo_nic_hw* hw, unsigned int filters,
                            const unsigned int* mta) {
  Hw(hw).set_filters(filters, mta);
}

void exo_nic_mta_set(unsigned int* mta, const unsigned char mac[6]) {
  u32 hash = exo::nic::mta_hash(mac);
  mta[(hash >> 5) & 0x7f] |= 1u << (hash & 0x1f);
}

void exo_nic_hw_set_moderation(const struct exo_nic_hw* hw, unsigned int itr_ns,
                               unsigned int rx_delay_ns, unsigned int rx_abs_ns) {
  Hw(hw).set_moderation(itr_ns, rx_delay_ns, rx_abs_ns);
}

void exo_nic_hw_read_stats(const struct exo_nic_hw* hw, struct exo_nic_hw_stats* acc) {
  Hw(hw).read_stats(acc);
}

}  // extern "C"
