// SPDX-License-Identifier: GPL-2.0
// The legacy descriptor rings' bookkeeping over struct exo_nic_ring
// (nic_api.h): DescRing the positions and accounting both share, RxRing
// posting buffers and checking what the device wrote back, TxRing posting
// buffers and reaping completions. Each is a view of the C struct the shim
// embeds, made for one call.
//
// Only the oldest descriptor in flight is ever looked at, and only after
// the driver gave it to the device: status bits set ahead of it, on slots
// never posted, or a head register that jumps change nothing here. A
// descriptor's write-back is read once (one 8-byte load of its bytes
// 8..15) and every field checked before use.
#ifndef EXO_CORE_NIC_DESC_RING_H
#define EXO_CORE_NIC_DESC_RING_H

#include "module/core/atomic.h"
#include "module/core/nic/nic_api.h"
#include "module/core/types.h"

namespace exo::nic {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "descriptors are little-endian; the write-back is decoded from one u64");
static_assert(__builtin_offsetof(exo_e1000_rx_desc, length) == 8, "RX write-back at byte 8");
static_assert(__builtin_offsetof(exo_e1000_rx_desc, errors) == 13, "RX errors at byte 13");
static_assert(__builtin_offsetof(exo_e1000_tx_desc, length) == 8, "TX length at byte 8");
static_assert(__builtin_offsetof(exo_e1000_tx_desc, cmd) == 11, "TX cmd at byte 11");

// The RX write-back qword (bytes 8..15), decoded.
struct RxWriteback {
  u32 length;
  u32 status;
  u32 errors;

  static RxWriteback decode(u64 q) {
    return {static_cast<u32>(q & 0xffff), static_cast<u32>((q >> 32) & 0xff),
            static_cast<u32>((q >> 40) & 0xff)};
  }
};

// The errors that make a frame unusable (Linux's E1000_RXD_ERR_FRAME_ERR_MASK);
// TCPE and IPE only mean the checksum is not vouched for.
constexpr u32 kRxFrameErrors = EXO_E1000_RXE_CE | EXO_E1000_RXE_SE | EXO_E1000_RXE_SEQ |
                               EXO_E1000_RXE_CXE | EXO_E1000_RXE_RXE;
constexpr u32 kMinFrameLen = 14;  // an Ethernet header

class DescRing {
 public:
  explicit DescRing(exo_nic_ring* r) : r_(r) {}

  [[nodiscard]] static int init(exo_nic_ring* r, void* desc, u32 count, u32 buf_len);
  static u32 count_for(u32 wanted);
  static bool count_valid(u32 count) {
    return count >= EXO_NIC_RING_MIN && count <= EXO_NIC_RING_MAX && !(count & (count - 1));
  }

  u32 slot(u32 pos) const { return pos & (r_->count - 1); }
  u32 tail() const { return slot(r_->next_to_use); }
  // The TX ring's ends move on two CPUs (xmit claims, NAPI reaps) and
  // either may read the other's: single-copy atomic loads.
  u32 in_flight() const {
    return load_relaxed(&r_->next_to_use) - load_relaxed(&r_->next_to_clean);
  }
  u32 space() const {
    u32 busy = in_flight();
    return busy >= r_->count - 1 ? 0 : r_->count - 1 - busy;
  }
  // The oldest in flight, taken back whatever its status; r_->count (no
  // slot) when nothing is in flight.
  u32 take_oldest();

 protected:
  u8* desc_bytes(u32 slot) const { return static_cast<u8*>(r_->desc) + slot * EXO_E1000_DESC_SIZE; }
  u64* addr_word(u32 slot) const { return reinterpret_cast<u64*>(desc_bytes(slot)); }
  u64* writeback_word(u32 slot) const { return reinterpret_cast<u64*>(desc_bytes(slot) + 8); }
  // The next free slot, now in flight.
  u32 claim() {
    u32 pos = r_->next_to_use;
    store_relaxed(&r_->next_to_use, pos + 1);
    return slot(pos);
  }

  exo_nic_ring* r_;
};

class RxRing : public DescRing {
 public:
  using DescRing::DescRing;
  u32 post(u64 dma);
  exo_nic_rx_result next(exo_nic_rx_frame* f);

  // The checksum flag of a good frame's write-back.
  static u32 csum_flags(const RxWriteback& wb);
};

class TxRing : public DescRing {
 public:
  using DescRing::DescRing;
  u32 post(u64 dma, u32 len, bool last);
  [[nodiscard]] bool reap(u32* slot);
};

}  // namespace exo::nic

#endif  // EXO_CORE_NIC_DESC_RING_H
