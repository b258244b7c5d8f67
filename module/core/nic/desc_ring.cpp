// SPDX-License-Identifier: GPL-2.0
// nic_api.h's ring calls over exo::nic::{DescRing,RxRing,TxRing}.
#include "module/core/nic/desc_ring.h"

#include "module/core/atomic.h"
#include "module/core/nic/hw.h"

namespace exo::nic {

int DescRing::init(exo_nic_ring* r, void* desc, u32 count, u32 buf_len) {
  if (!desc || !count_valid(count)) return -kEINVAL;
  if (buf_len != 0 && buf_len != EXO_E1000_RX_BUF_LEN) return -kEINVAL;
  u64* words = static_cast<u64*>(desc);
  for (u32 i = 0; i < count * (EXO_E1000_DESC_SIZE / 8); ++i) store_relaxed(&words[i], u64{0});
  r->desc = desc;
  r->count = count;
  r->next_to_use = 0;
  r->next_to_clean = 0;
  r->buf_len = buf_len;
  r->discarding = 0;
  r->errors = exo_nic_ring_errors{};
  return 0;
}

u32 DescRing::count_for(u32 wanted) {
  if (wanted <= EXO_NIC_RING_MIN) return EXO_NIC_RING_MIN;
  if (wanted >= EXO_NIC_RING_MAX) return EXO_NIC_RING_MAX;
  u32 count = EXO_NIC_RING_MIN;
  while (count < wanted) count <<= 1;
  return count;
}

u32 DescRing::take_oldest() {
  if (in_flight() == 0) return r_->count;
  return slot(r_->next_to_clean++);
}

// --- RX ---------------------------------------------------------------------

u32 RxRing::post(u64 dma) {
  u32 s = claim();
  store_relaxed(addr_word(s), dma);
  store_relaxed(writeback_word(s), u64{0});
  return s;
}

u32 RxRing::csum_flags(const RxWriteback& wb) {
  if (wb.status & EXO_E1000_RXD_IXSM) return 0;  // the device did not check
  const u32 checked = EXO_E1000_RXD_TCPCS | EXO_E1000_RXD_IPCS;
  if ((wb.status & checked) != checked) return 0;
  if (wb.errors & (EXO_E1000_RXE_TCPE | EXO_E1000_RXE_IPE)) return 0;
  return EXO_NIC_RX_CSUM_OK;
}

exo_nic_rx_result RxRing::next(exo_nic_rx_frame* f) {
  if (in_flight() == 0) return EXO_NIC_RX_NONE;
  u32 s = slot(r_->next_to_clean);
  // One load: what DD vouches for is read with it. Acquire: the buffer's
  // contents are read after it.
  RxWriteback wb = RxWriteback::decode(load_acquire(writeback_word(s)));
  if (!(wb.status & EXO_E1000_RXD_DD)) return EXO_NIC_RX_NONE;
  r_->next_to_clean++;
  f->slot = s;
  f->len = 0;
  f->flags = 0;

  // Every frame fits one buffer: a frame over several is dropped to its EOP.
  if (!(wb.status & EXO_E1000_RXD_EOP)) {
    if (!r_->discarding) r_->errors.chained++;
    r_->discarding = 1;
    return EXO_NIC_RX_DROP;
  }
  if (r_->discarding) {
    r_->discarding = 0;
    return EXO_NIC_RX_DROP;
  }
  if (wb.errors & kRxFrameErrors) {
    r_->errors.rx_errors++;
    return EXO_NIC_RX_DROP;
  }
  if (wb.length < kMinFrameLen || wb.length > r_->buf_len) {
    r_->errors.bad_length++;
    return EXO_NIC_RX_DROP;
  }
  f->len = wb.length;
  f->flags = csum_flags(wb);
  return EXO_NIC_RX_FRAME;
}

// --- TX ---------------------------------------------------------------------

u32 TxRing::post(u64 dma, u32 len, bool last) {
  u32 s = claim();
  u64 cmd = EXO_E1000_TXD_RS;
  if (last) cmd |= EXO_E1000_TXD_EOP | EXO_E1000_TXD_IFCS;
  // length, cso 0, cmd, status 0 (not done), css 0, special 0.
  store_relaxed(addr_word(s), dma);
  store_relaxed(writeback_word(s), u64{len & 0xffff} | cmd << 24);
  return s;
}

bool TxRing::reap(u32* slot_out) {
  if (in_flight() == 0) return false;
  u32 s = slot(r_->next_to_clean);
  const u8* status = desc_bytes(s) + __builtin_offsetof(exo_e1000_tx_desc, status);
  if (!(load_acquire(status) & EXO_E1000_TXD_STAT_DD)) return false;
  // DD cleared before the slot is free: a reap racing a post (the driver
  // completes without the xmit lock) never takes a claimed slot, not yet
  // written, for done on the stale status of its previous frame.
  store_relaxed(writeback_word(s), u64{0});
  store_release(&r_->next_to_clean, r_->next_to_clean + 1);
  *slot_out = s;
  return true;
}

}  // namespace exo::nic

using exo::nic::DescRing;
using exo::nic::RxRing;
using exo::nic::TxRing;

extern "C" {

int exo_nic_ring_init(struct exo_nic_ring* r, void* desc, unsigned int count,
                      unsigned int buf_len) {
  return DescRing::init(r, desc, count, buf_len);
}

unsigned int exo_nic_ring_count_for(unsigned int wanted) { return DescRing::count_for(wanted); }
unsigned int exo_nic_ring_tail(const struct exo_nic_ring* r) {
  return DescRing(const_cast<exo_nic_ring*>(r)).tail();
}
unsigned int exo_nic_ring_in_flight(const struct exo_nic_ring* r) {
  return DescRing(const_cast<exo_nic_ring*>(r)).in_flight();
}
unsigned int exo_nic_ring_space(const struct exo_nic_ring* r) {
  return DescRing(const_cast<exo_nic_ring*>(r)).space();
}
unsigned int exo_nic_ring_take_oldest(struct exo_nic_ring* r) { return DescRing(r).take_oldest(); }

unsigned int exo_nic_rx_post(struct exo_nic_ring* r, unsigned long long dma) {
  return RxRing(r).post(dma);
}

enum exo_nic_rx_result exo_nic_rx_next(struct exo_nic_ring* r, struct exo_nic_rx_frame* f) {
  return RxRing(r).next(f);
}

unsigned int exo_nic_tx_post(struct exo_nic_ring* r, unsigned long long dma, unsigned int len,
                             int last) {
  return TxRing(r).post(dma, len, last != 0);
}

int exo_nic_tx_reap(struct exo_nic_ring* r, unsigned int* slot) {
  return TxRing(r).reap(slot) ? 1 : 0;
}

}  // extern "C"
