// SPDX-License-Identifier: GPL-2.0
// The 8254x's registers, driven through the shim's (or the simulated
// device's) exo_nic_hw callbacks: reset, the Microwire EEPROM, the station
// address, link, rings on and off, filters, moderation and statistics.
// Every wait on the device is bounded; nothing it returns is trusted
// beyond the bits read.
#ifndef EXO_CORE_NIC_HW_H
#define EXO_CORE_NIC_HW_H

#include "module/core/errno.h"
#include "module/core/nic/nic_api.h"
#include "module/core/types.h"

namespace exo::nic {

// Bits of registers nic_api.h does not need to name.
constexpr u32 kCtrlLrst = 1u << 3;
constexpr u32 kCtrlIlos = 1u << 7;
constexpr u32 kCtrlFrcspd = 1u << 11;
constexpr u32 kCtrlFrcdpx = 1u << 12;
constexpr u32 kCtrlExtEeRst = 1u << 13;
constexpr u32 kRdtrFpd = 1u << 31;
constexpr u32 kTctlCt = 0x0f;     // collision threshold (the manual's value)
constexpr u32 kTctlCold = 0x40;   // collision distance, full duplex (64-byte time)

// Register access and delays through the callbacks.
class Regs {
 public:
  explicit Regs(const exo_nic_hw* hw) : hw_(hw) {}
  u32 read(u32 reg) const { return hw_->read32(hw_->ctx, reg); }
  void write(u32 reg, u32 val) const { hw_->write32(hw_->ctx, reg, val); }
  // Pushes posted writes to the device (a read of STATUS, Linux's E1000_WRITE_FLUSH).
  void flush() const { (void)read(EXO_E1000_STATUS); }
  // Busy-waits |us| microseconds, in pieces of at most 1000 (udelay's range).
  void delay(u32 us) const;
  exo_nic_model model() const { return hw_->model; }

 private:
  const exo_nic_hw* hw_;
};

// The Microwire EEPROM behind EECD, bit-banged as Linux's e1000_hw.c does
// for the 82540/82544/82545: request/grant where the model has it, READ
// (start bit and opcode 0b110), 6 address bits, 16 data bits MSB first.
class MicrowireEeprom {
 public:
  static constexpr u32 kOpcodeRead = 0x6;
  static constexpr u32 kOpcodeBits = 3;
  static constexpr u32 kAddressBits = 6;   // 64-word parts
  static constexpr u32 kDelayUs = 50;      // Linux's Microwire delay_usec
  static constexpr u32 kGrantAttempts = 1000;  // 5 us apart: 5 ms at most

  explicit MicrowireEeprom(Regs regs) : regs_(regs) {}
  // Reads |n| words from |first| (first + n <= EXO_E1000_EEPROM_WORDS).
  // 0, or -kEIO when the grant never came.
  [[nodiscard]] int read(u32 first, u32 n, u16* out);

 private:
  bool has_grant_protocol() const { return regs_.model() != EXO_NIC_82544GC; }
  [[nodiscard]] bool acquire();
  void release();
  void standby();
  void shift_out(u32 data, u32 count);
  u16 shift_in();
  void raise_clock();
  void lower_clock();
  void put(u32 eecd);

  Regs regs_;
  u32 eecd_ = 0;
};

// Station address checks: zero, broadcast and multicast are not usable.
bool mac_valid(const u8 mac[6]);
// The words 0..63 of a valid EEPROM sum (mod 2^16) to 0xbaba.
bool eeprom_checksum_ok(const u16* words);

// The 12-bit multicast hash (Linux's e1000_hash_mc_addr, mc_filter_type 0).
constexpr u32 mta_hash(const u8 mac[6]) {
  return ((static_cast<u32>(mac[4]) >> 4) | (static_cast<u32>(mac[5]) << 4)) & 0xfff;
}

// Moderation in register units: ITR 256 ns, RDTR/RADV 1.024 us. Rounded to
// the nearest unit, at least 1 for a non-zero time (0 would turn it off),
// clamped to the registers' 16 bits.
constexpr u32 ns_to_units(u32 ns, u32 unit_ns) {
  if (ns == 0) return 0;
  u64 units = (static_cast<u64>(ns) + unit_ns / 2) / unit_ns;
  if (units == 0) units = 1;
  return units > 0xffff ? 0xffff : static_cast<u32>(units);
}
constexpr u32 kItrUnitNs = 256;
constexpr u32 kTimerUnitNs = 1024;

// The device's registers: one object per call, over the callbacks.
class Hw {
 public:
  static constexpr u32 kResetPolls = 1000;     // 10 us apart: 10 ms at most
  static constexpr u32 kResetQuiesceUs = 10000;  // Linux's msleep(10) before RST
  static constexpr u32 kEepromReloadUs = 2000;   // Linux's msleep(2) after EE_RST

  explicit Hw(const exo_nic_hw* hw) : regs_(hw) {}

  [[nodiscard]] int reset();
  [[nodiscard]] int read_mac(u8 mac[6]);
  void set_mac(const u8 mac[6]);
  void link_setup();
  bool link_up();
  u32 link_speed();
  void start_rx(u64 ring_dma, u32 count, u32 filters);
  void start_tx(u64 ring_dma, u32 count);
  void stop();
  void set_filters(u32 filters, const u32* mta);
  void set_moderation(u32 itr_ns, u32 rx_delay_ns, u32 rx_abs_ns);
  void read_stats(exo_nic_hw_stats* acc);

  static u32 rctl_filter_bits(u32 filters);

 private:
  void mask_all();
  // Base address, length, head = tail = 0 of the ring whose registers start at |base|.
  void give_ring(u32 base, u64 ring_dma, u32 count);
  u64 read_counter64(u32 low);

  Regs regs_;
};

}  // namespace exo::nic

#endif  // EXO_CORE_NIC_HW_H
