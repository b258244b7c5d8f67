// SPDX-License-Identifier: GPL-2.0
// A simulated 8254x for the hosted tests of the NIC core: the register
// file nic_api.h touches (read-clear ICR and statistics, IMS/IMC mask
// semantics, ITR and the timers stored), a Microwire EEPROM of 64 words,
// reset, and descriptor DMA in user memory (a "DMA address" is a pointer
// value; the device reaches only the windows the test allowed, as an IOMMU
// would, so a hostile or confused device never scribbles on the heap).
//
// RX: deliver() writes a frame into the buffers of the descriptors between
// RDH and RDT and raises RXT0. TX: a write of TDT processes TDH..TDT,
// records the frames (buffers concatenated up to EOP) and writes DD where
// RS asked for it. Hostile knobs: written lengths past the buffer, DD
// without EOP, error bits, DD ahead of the oldest, write-backs on slots
// never posted, head jumps, an EEPROM that never grants or never answers,
// a reset that never ends.
#ifndef EXO_TESTS_CORE_NIC_SIM_E1000_H
#define EXO_TESTS_CORE_NIC_SIM_E1000_H

#include <vector>

#include "module/core/nic/nic_api.h"
#include "module/core/types.h"

namespace exo_test {

class SimE1000 {
 public:
  static constexpr u32 kBufLen = 2048;  // RCTL.BSIZE 00
  static constexpr u8 kDefaultMac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

  explicit SimE1000(exo_nic_model model = EXO_NIC_82540EM);
  SimE1000(const SimE1000&) = delete;
  SimE1000& operator=(const SimE1000&) = delete;

  // The callbacks the core is given (ctx is this object).
  const exo_nic_hw* hw() const { return &hw_; }

  // Every register access of the callbacks goes through here.
  u32 access(bool write, u32 reg, u32 val);
  // The stored value, without side effects (tests' eyes only).
  u32 peek(u32 reg) const { return regs_[reg / 4]; }
  u32 ims() const { return ims_; }
  u32 icr() const { return icr_; }
  bool irq_asserted() const { return (icr_ & ims_) != 0; }

  // --- EEPROM ---
  u16 eeprom(u32 i) const { return eeprom_[i]; }
  void set_eeprom(u32 i, u16 v) { eeprom_[i] = v; }
  // Word 63 such that the words 0..63 sum to 0xbaba.
  void fix_checksum();
  void set_eeprom_mac(const u8 mac[6]);  // and fixes the checksum
  bool never_grant = false;   // REQ is never answered by GNT
  int stuck_do = -1;          // 0 or 1: DO never follows the clock
  u32 eeprom_reads = 0;       // READ commands decoded

  // --- reset, link ---
  bool reset_stuck = false;   // CTRL.RST never clears
  u32 resets = 0;
  void set_link(bool up, u32 speed_mbps = 1000, bool full_duplex = true);

  // --- DMA ---
  void allow_dma(const void* base, usize len);
  u64 dma_faults = 0;         // accesses outside every window

  // --- RX ---
  struct RxOptions {
    u32 length = 0;           // written instead of the true length when non-zero
    bool drop_eop = false;    // DD without EOP
    u8 errors = 0;
    u8 status_or = 0;         // e.g. IXSM, TCPCS, IPCS
  };
  enum Delivery { kDelivered, kFiltered, kNoBuffer, kOff };
  Delivery deliver(const void* frame, u32 len, const RxOptions& opt);
  Delivery deliver(const void* frame, u32 len) { return deliver(frame, len, RxOptions()); }
  // Hostile write-backs, anywhere: a descriptor ahead of RDH, one never posted.
  void write_rx_writeback(u32 slot, u16 length, u8 status, u8 errors);
  void write_tx_status(u32 slot, u8 status);
  // Head jumps.
  void set_rdh(u32 v) { regs_[0x2810 / 4] = v; }
  void set_tdh(u32 v) { regs_[0x3810 / 4] = v; }

  // --- TX ---
  bool tx_hold = false;       // TDT writes do not process (process_tx() does)
  void process_tx();
  struct TxFrame {
    std::vector<u8> bytes;
    bool fcs;                 // IFCS on its last descriptor
  };
  std::vector<TxFrame> tx_frames;

  // --- bookkeeping ---
  u64 elapsed_us = 0;         // sum of the udelay()s
  u64 reg_accesses = 0;
  u64 bad_accesses = 0;       // unaligned or past BAR 0
  struct Access {
    bool write;
    u32 reg;
    u32 val;
  };
  bool log_accesses = false;
  std::vector<Access> log;
  // Sets a statistics register (for the 64-bit pairs, the low address sets all 64 bits).
  void set_counter(u32 reg, u64 v);

 private:
  static u32 cb_read(void* ctx, u32 reg);
  static void cb_write(void* ctx, u32 reg, u32 val);
  static void cb_udelay(void* ctx, u32 us);

  u32 read_reg(u32 reg);
  void write_reg(u32 reg, u32 val);
  void reset();
  u32 status() const;
  bool granted() const;
  void eecd_write(u32 val);
  u32 eecd_read() const;
  bool accepts(const u8* frame, u32 len) const;
  void* dma(u64 addr, usize len);
  u32 ring_count(u32 len_reg) const { return regs_[len_reg / 4] / 16; }
  void count_rx(const u8* frame, u32 len);

  exo_nic_hw hw_;
  std::vector<u32> regs_;
  u32 ims_ = 0, icr_ = 0;
  u64 gorc_ = 0, gotc_ = 0;
  bool link_ = true, fd_ = true;
  u32 speed_ = 1000;

  u16 eeprom_[64] = {};
  struct Microwire {
    bool cs = false, sk = false;
    bool started = false;     // start bit seen
    bool done = false;        // a command other than READ: ignore until CS drops
    bool reading = false;
    u32 bits = 0, cmd = 0;
    u32 out_pos = 0;
    bool out = true;
  } mw_;

  struct Window {
    uptr base;
    usize len;
  };
  std::vector<Window> windows_;
  std::vector<u8> tx_partial_;
};

// The bed of the ring tests: a simulated device and host memory for one RX
// and one TX ring (descriptors and buffers), both allowed for its DMA.
class NicBed {
 public:
  explicit NicBed(u32 count, exo_nic_model model = EXO_NIC_82540EM);
  SimE1000 sim;
  const exo_nic_hw* hw() const { return sim.hw(); }
  exo_nic_ring rx{}, tx{};
  u32 count;
  // The DMA address of buffer i (RX buffers 0..count-1, TX count..2*count-1).
  u64 rx_buf(u32 i) { return reinterpret_cast<uptr>(&bufs_[i * SimE1000::kBufLen]); }
  u64 tx_buf(u32 i) { return reinterpret_cast<uptr>(&bufs_[(count + i) * SimE1000::kBufLen]); }
  u8* rx_data(u32 i) { return &bufs_[i * SimE1000::kBufLen]; }
  u8* tx_data(u32 i) { return &bufs_[(count + i) * SimE1000::kBufLen]; }
  exo_e1000_rx_desc* rx_desc() { return reinterpret_cast<exo_e1000_rx_desc*>(rx_mem_.data()); }
  exo_e1000_tx_desc* tx_desc() { return reinterpret_cast<exo_e1000_tx_desc*>(tx_mem_.data()); }
  // Rings initialised and started; no buffer posted yet.
  void start(u32 filters = EXO_NIC_FILTER_BROADCAST);
  // Posts RX buffer |slot's| own buffer into each free slot, then RDT.
  void refill_rx();
  void write_rdt() { sim.access(true, EXO_E1000_RDT, exo_nic_ring_tail(&rx)); }
  void write_tdt() { sim.access(true, EXO_E1000_TDT, exo_nic_ring_tail(&tx)); }

 private:
  // u64 elements: descriptors 8-byte aligned (the core loads them as u64).
  std::vector<u64> rx_mem_, tx_mem_;
  std::vector<u8> bufs_;
};

// A frame of |len| bytes to |dst| (6 bytes), the payload a pattern from |seed|.
std::vector<u8> make_frame(const u8* dst, u32 len, u32 seed);

}  // namespace exo_test

#endif  // EXO_TESTS_CORE_NIC_SIM_E1000_H
