// SPDX-License-Identifier: GPL-2.0
// The simulated 8254x (sim_e1000.h).
#include "tests/core/nic/sim_e1000.h"

#include <string.h>

namespace exo_test {

namespace {

constexpr u32 kEecdWritable = EXO_E1000_EECD_SK | EXO_E1000_EECD_CS | EXO_E1000_EECD_DI |
                              EXO_E1000_EECD_REQ;
constexpr u32 kEecdPres = 1u << 8;

bool is_stat(u32 reg) { return reg >= 0x4000 && reg < 0x4100; }

}  // namespace

constexpr u8 SimE1000::kDefaultMac[6];

SimE1000::SimE1000(exo_nic_model model) : regs_(EXO_E1000_REG_END / 4, 0) {
  hw_.ctx = this;
  hw_.read32 = cb_read;
  hw_.write32 = cb_write;
  hw_.udelay = cb_udelay;
  hw_.model = model;
  // Some content besides the address (the checksum covers it all).
  for (u32 i = 3; i < 63; ++i) eeprom_[i] = static_cast<u16>(0x1000 + i * 0x0101);
  set_eeprom_mac(kDefaultMac);
}

u32 SimE1000::cb_read(void* ctx, u32 reg) { return static_cast<SimE1000*>(ctx)->access(false, reg, 0); }
void SimE1000::cb_write(void* ctx, u32 reg, u32 val) {
  static_cast<SimE1000*>(ctx)->access(true, reg, val);
}
void SimE1000::cb_udelay(void* ctx, u32 us) { static_cast<SimE1000*>(ctx)->elapsed_us += us; }

u32 SimE1000::access(bool write, u32 reg, u32 val) {
  ++reg_accesses;
  if ((reg & 3) || reg >= EXO_E1000_REG_END) {
    ++bad_accesses;
    return ~0u;
  }
  if (write) {
    write_reg(reg, val);
  } else {
    val = read_reg(reg);
  }
  if (log_accesses) log.push_back({write, reg, val});
  return val;
}

void SimE1000::fix_checksum() {
  u32 sum = 0;
  for (u32 i = 0; i < 63; ++i) sum += eeprom_[i];
  eeprom_[63] = static_cast<u16>(EXO_E1000_EEPROM_SUM - sum);
}

void SimE1000::set_eeprom_mac(const u8 mac[6]) {
  for (u32 i = 0; i < 3; ++i) eeprom_[i] = static_cast<u16>(mac[2 * i] | mac[2 * i + 1] << 8);
  fix_checksum();
}

void SimE1000::set_link(bool up, u32 speed_mbps, bool full_duplex) {
  bool was = status() & EXO_E1000_STATUS_LU;
  link_ = up;
  speed_ = speed_mbps;
  fd_ = full_duplex;
  if (was != static_cast<bool>(status() & EXO_E1000_STATUS_LU)) icr_ |= EXO_E1000_INT_LSC;
}

void SimE1000::allow_dma(const void* base, usize len) {
  windows_.push_back({reinterpret_cast<uptr>(base), len});
}

void* SimE1000::dma(u64 addr, usize len) {
  for (const Window& w : windows_) {
    if (addr >= w.base && len <= w.len && addr - w.base <= w.len - len)
      return reinterpret_cast<void*>(static_cast<uptr>(addr));
  }
  ++dma_faults;
  return nullptr;
}

void SimE1000::set_counter(u32 reg, u64 v) {
  if (reg == EXO_E1000_GORCL) {
    gorc_ = v;
  } else if (reg == EXO_E1000_GOTCL) {
    gotc_ = v;
  } else {
    regs_[reg / 4] = static_cast<u32>(v);
  }
}

void SimE1000::reset() {
  ++resets;
  for (u32& r : regs_) r = 0;
  ims_ = icr_ = 0;
  gorc_ = gotc_ = 0;
  mw_ = Microwire();
  tx_partial_.clear();
  if (reset_stuck) regs_[EXO_E1000_CTRL / 4] = EXO_E1000_CTRL_RST;
}

u32 SimE1000::status() const {
  u32 s = 0;
  if (link_ && (regs_[EXO_E1000_CTRL / 4] & EXO_E1000_CTRL_SLU)) {
    s |= EXO_E1000_STATUS_LU;
    if (fd_) s |= EXO_E1000_STATUS_FD;
    u32 code = speed_ >= 1000 ? 2 : speed_ >= 100 ? 1 : 0;
    s |= code << EXO_E1000_STATUS_SPEED_SHIFT;
  }
  return s;
}

// --- EEPROM -------------------------------------------------------------------

// The 82544 has no arbitration: the pins are the software's. The others
// give them only after REQ, with GNT.
bool SimE1000::granted() const {
  if (hw_.model == EXO_NIC_82544GC) return true;
  return (regs_[EXO_E1000_EECD / 4] & EXO_E1000_EECD_REQ) && !never_grant;
}

u32 SimE1000::eecd_read() const {
  u32 v = (regs_[EXO_E1000_EECD / 4] & kEecdWritable) | kEecdPres;
  if (hw_.model != EXO_NIC_82544GC && granted()) v |= EXO_E1000_EECD_GNT;
  bool out = stuck_do >= 0 ? stuck_do != 0 : mw_.out;
  if (out) v |= EXO_E1000_EECD_DO;
  return v;
}

// A 93C46 in 16-bit mode: leading zeros, a start bit, two opcode bits, six
// address bits, then (READ) a dummy 0 and the data, MSB first, one bit per
// rising clock edge, on into the next words while the clock runs.
void SimE1000::eecd_write(u32 val) {
  regs_[EXO_E1000_EECD / 4] = val & kEecdWritable;
  if (!granted()) return;
  bool cs = val & EXO_E1000_EECD_CS, sk = val & EXO_E1000_EECD_SK;
  bool di = val & EXO_E1000_EECD_DI;
  if (!cs || !mw_.cs) {
    // Deselected, or just selected: a new command starts.
    bool keep_sk = mw_.sk;
    mw_ = Microwire();
    mw_.sk = keep_sk;
    mw_.cs = cs;
    if (!cs) {
      mw_.sk = sk;
      return;
    }
  }
  bool rising = sk && !mw_.sk;
  mw_.sk = sk;
  if (!rising || mw_.done) return;
  if (mw_.reading) {
    ++mw_.out_pos;
    u16 word = eeprom_[(mw_.out_pos >> 4) & 63];
    mw_.out = (word >> (15 - (mw_.out_pos & 15))) & 1;
    return;
  }
  if (!mw_.started) {
    mw_.started = di;
    return;
  }
  mw_.cmd = mw_.cmd << 1 | (di ? 1 : 0);
  if (++mw_.bits < 8) return;
  if ((mw_.cmd >> 6) == 0x2) {
    ++eeprom_reads;
    mw_.reading = true;
    mw_.out_pos = (mw_.cmd & 0x3f) * 16 - 1;
    mw_.out = false;  // the dummy bit
  } else {
    mw_.done = true;
  }
}

// --- registers ----------------------------------------------------------------

u32 SimE1000::read_reg(u32 reg) {
  switch (reg) {
    case EXO_E1000_STATUS: return status();
    case EXO_E1000_EECD: return eecd_read();
    case EXO_E1000_ICR: {
      u32 v = icr_;
      icr_ = 0;
      return v;
    }
    case EXO_E1000_IMS: return ims_;
    case EXO_E1000_IMC: return 0;
    case EXO_E1000_GORCL: return static_cast<u32>(gorc_);
    case EXO_E1000_GORCH: {
      u32 v = static_cast<u32>(gorc_ >> 32);
      gorc_ = 0;
      return v;
    }
    case EXO_E1000_GOTCL: return static_cast<u32>(gotc_);
    case EXO_E1000_GOTCH: {
      u32 v = static_cast<u32>(gotc_ >> 32);
      gotc_ = 0;
      return v;
    }
    default: break;
  }
  u32 v = regs_[reg / 4];
  if (is_stat(reg)) regs_[reg / 4] = 0;
  return v;
}

void SimE1000::write_reg(u32 reg, u32 val) {
  switch (reg) {
    case EXO_E1000_CTRL:
      if (val & EXO_E1000_CTRL_RST) {
        reset();
      } else if (!reset_stuck || !(regs_[reg / 4] & EXO_E1000_CTRL_RST)) {
        regs_[reg / 4] = val;
      }
      return;
    case EXO_E1000_STATUS: return;
    case EXO_E1000_EECD: eecd_write(val); return;
    case EXO_E1000_ICR: icr_ &= ~val; return;
    case EXO_E1000_ICS: icr_ |= val; return;
    case EXO_E1000_IMS: ims_ |= val; return;
    case EXO_E1000_IMC: ims_ &= ~val; return;
    case EXO_E1000_RDH:
    case EXO_E1000_RDT:
    case EXO_E1000_TDH:
      regs_[reg / 4] = val & 0xffff;
      return;
    case EXO_E1000_TDT:
      regs_[reg / 4] = val & 0xffff;
      if (!tx_hold) process_tx();
      return;
    default: break;
  }
  if (is_stat(reg)) return;
  regs_[reg / 4] = val;
}

// --- RX -----------------------------------------------------------------------

bool SimE1000::accepts(const u8* frame, u32 len) const {
  if (len < 6) return false;
  u32 rctl = regs_[EXO_E1000_RCTL / 4];
  static const u8 kBroadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  if (!memcmp(frame, kBroadcast, 6)) return rctl & EXO_E1000_RCTL_BAM;
  if (frame[0] & 1) {
    if (rctl & EXO_E1000_RCTL_MPE) return true;
    u32 hash = ((frame[4] >> 4) | (static_cast<u32>(frame[5]) << 4)) & 0xfff;
    return (regs_[EXO_E1000_MTA / 4 + (hash >> 5)] >> (hash & 31)) & 1;
  }
  if (rctl & EXO_E1000_RCTL_UPE) return true;
  u32 rah = regs_[EXO_E1000_RAH0 / 4], ral = regs_[EXO_E1000_RAL0 / 4];
  if (!(rah & EXO_E1000_RAH_AV)) return false;
  u8 mine[6] = {static_cast<u8>(ral), static_cast<u8>(ral >> 8), static_cast<u8>(ral >> 16),
                static_cast<u8>(ral >> 24), static_cast<u8>(rah), static_cast<u8>(rah >> 8)};
  return !memcmp(frame, mine, 6);
}

void SimE1000::count_rx(const u8* frame, u32 len) {
  regs_[EXO_E1000_GPRC / 4]++;
  regs_[EXO_E1000_TPR / 4]++;
  gorc_ += len;
  if (frame[0] & 1) {
    bool bcast = true;
    for (int i = 0; i < 6; ++i) bcast = bcast && frame[i] == 0xff;
    regs_[(bcast ? EXO_E1000_BPRC : EXO_E1000_MPRC) / 4]++;
  }
}

SimE1000::Delivery SimE1000::deliver(const void* frame_v, u32 len, const RxOptions& opt) {
  const u8* frame = static_cast<const u8*>(frame_v);
  if (!(regs_[EXO_E1000_RCTL / 4] & EXO_E1000_RCTL_EN)) return kOff;
  if (!accepts(frame, len)) return kFiltered;
  u32 count = ring_count(EXO_E1000_RDLEN);
  u32 head = regs_[EXO_E1000_RDH / 4], tail = regs_[EXO_E1000_RDT / 4];
  u32 needed = len ? (len + kBufLen - 1) / kBufLen : 1;
  u32 avail = count && head < count && tail < count ? (tail + count - head) % count : 0;
  if (avail < needed) {
    regs_[EXO_E1000_MPC / 4]++;
    regs_[EXO_E1000_RNBC / 4]++;
    icr_ |= EXO_E1000_INT_RXO;
    return kNoBuffer;
  }
  u64 base = static_cast<u64>(regs_[EXO_E1000_RDBAH / 4]) << 32 | regs_[EXO_E1000_RDBAL / 4];
  for (u32 done = 0, n = 0; n < needed; ++n) {
    u32 piece = len - done < kBufLen ? len - done : kBufLen;
    bool last = n + 1 == needed;
    auto* d = static_cast<exo_e1000_rx_desc*>(dma(base + head * 16ull, 16));
    if (d) {
      void* buf = dma(d->addr, piece);
      if (buf) memcpy(buf, frame + done, piece);
      d->length = static_cast<u16>(opt.length && last ? opt.length : piece);
      d->csum = 0;
      d->errors = last ? opt.errors : 0;
      d->special = 0;
      u8 st = EXO_E1000_RXD_DD | (last && !opt.drop_eop ? EXO_E1000_RXD_EOP : 0);
      d->status = static_cast<u8>(st | (last ? opt.status_or : 0));
    }
    done += piece;
    head = (head + 1) % count;
  }
  regs_[EXO_E1000_RDH / 4] = head;
  count_rx(frame, len);
  icr_ |= EXO_E1000_INT_RXT0;
  return kDelivered;
}

void SimE1000::write_rx_writeback(u32 slot, u16 length, u8 status, u8 errors) {
  u32 count = ring_count(EXO_E1000_RDLEN);
  if (!count) return;
  u64 base = static_cast<u64>(regs_[EXO_E1000_RDBAH / 4]) << 32 | regs_[EXO_E1000_RDBAL / 4];
  auto* d = static_cast<exo_e1000_rx_desc*>(dma(base + (slot % count) * 16ull, 16));
  if (!d) return;
  d->length = length;
  d->csum = 0;
  d->status = status;
  d->errors = errors;
  icr_ |= EXO_E1000_INT_RXT0;
}

void SimE1000::write_tx_status(u32 slot, u8 status) {
  u32 count = ring_count(EXO_E1000_TDLEN);
  if (!count) return;
  u64 base = static_cast<u64>(regs_[EXO_E1000_TDBAH / 4]) << 32 | regs_[EXO_E1000_TDBAL / 4];
  auto* d = static_cast<exo_e1000_tx_desc*>(dma(base + (slot % count) * 16ull, 16));
  if (d) d->status = status;
}

// --- TX -----------------------------------------------------------------------

void SimE1000::process_tx() {
  if (!(regs_[EXO_E1000_TCTL / 4] & EXO_E1000_TCTL_EN)) return;
  u32 count = ring_count(EXO_E1000_TDLEN);
  u32& head = regs_[EXO_E1000_TDH / 4];
  u32 tail = regs_[EXO_E1000_TDT / 4];
  if (!count || head >= count || tail >= count) return;
  u64 base = static_cast<u64>(regs_[EXO_E1000_TDBAH / 4]) << 32 | regs_[EXO_E1000_TDBAL / 4];
  bool wrote_back = false;
  for (u32 n = 0; n < count && head != tail; ++n) {
    auto* d = static_cast<exo_e1000_tx_desc*>(dma(base + head * 16ull, 16));
    if (d) {
      const u8* src = static_cast<const u8*>(dma(d->addr, d->length));
      if (src) tx_partial_.insert(tx_partial_.end(), src, src + d->length);
      if (d->cmd & EXO_E1000_TXD_EOP) {
        regs_[EXO_E1000_GPTC / 4]++;
        regs_[EXO_E1000_TPT / 4]++;
        gotc_ += tx_partial_.size();
        tx_frames.push_back({tx_partial_, (d->cmd & EXO_E1000_TXD_IFCS) != 0});
        tx_partial_.clear();
      }
      if (d->cmd & EXO_E1000_TXD_RS) {
        d->status |= EXO_E1000_TXD_STAT_DD;
        wrote_back = true;
      }
    }
    head = (head + 1) % count;
  }
  if (wrote_back) icr_ |= EXO_E1000_INT_TXDW;
  if (head == tail) icr_ |= EXO_E1000_INT_TXQE;
}

// --- the bed ------------------------------------------------------------------

NicBed::NicBed(u32 n, exo_nic_model model)
    : sim(model), count(n), rx_mem_(n * 2, 0), tx_mem_(n * 2, 0),
      bufs_(2ull * n * SimE1000::kBufLen, 0) {
  sim.allow_dma(rx_mem_.data(), rx_mem_.size() * 8);
  sim.allow_dma(tx_mem_.data(), tx_mem_.size() * 8);
  sim.allow_dma(bufs_.data(), bufs_.size());
}

void NicBed::start(u32 filters) {
  if (exo_nic_ring_init(&rx, rx_mem_.data(), count, EXO_E1000_RX_BUF_LEN) ||
      exo_nic_ring_init(&tx, tx_mem_.data(), count, 0))
    __builtin_trap();
  exo_nic_hw_link_setup(hw());
  u8 mac[6];
  if (exo_nic_hw_read_mac(hw(), mac) == 0) exo_nic_hw_set_mac(hw(), mac);
  exo_nic_hw_start_rx(hw(), reinterpret_cast<uptr>(rx_mem_.data()), count, filters);
  exo_nic_hw_start_tx(hw(), reinterpret_cast<uptr>(tx_mem_.data()), count);
}

void NicBed::refill_rx() {
  while (exo_nic_ring_space(&rx) > 0) {
    u32 slot = rx.next_to_use & (count - 1);
    exo_nic_rx_post(&rx, rx_buf(slot));
  }
  write_rdt();
}

std::vector<u8> make_frame(const u8* dst, u32 len, u32 seed) {
  std::vector<u8> f(len);
  for (u32 i = 0; i < len; ++i) f[i] = static_cast<u8>(seed * 131 + i * 7 + (i >> 8));
  for (u32 i = 0; i < 6 && i < len; ++i) f[i] = dst[i];
  return f;
}

}  // namespace exo_test
