// SPDX-License-Identifier: GPL-2.0
#include "module/core/ring_view.h"

#include "module/core/errno.h"
#include "module/core/ring_layout.h"

namespace exo {

RingView::RingView(void* region, const exo_ring_info& info)
    : header_(static_cast<exo_ring_header*>(region)), info_(info) {
  u8* base = static_cast<u8*>(region);
  bool multi = info.mode == EXO_MODE_MPMC;
  messages_ = SeqRing<exo_slot>(reinterpret_cast<exo_slot*>(base + info.slots_offset),
                                info.capacity, &header_->prod, &header_->cons, multi);
  if (info.buf_count != 0) {
    // Buffers are taken and returned by any sender and any receiver.
    free_ = SeqRing<exo_free_cell>(reinterpret_cast<exo_free_cell*>(base + info.free_offset),
                                   info.free_capacity, &header_->free_prod,
                                   &header_->free_cons, /*multi=*/true);
    pool_ = base + info.pool_offset;
  }
}

u8* RingView::zc_payload(const exo_zc_desc& desc) const {
  if (desc.buf >= info_.buf_count) return nullptr;
  // offset + len may not wrap: both are checked against the size alone.
  if (desc.offset > info_.buf_size || desc.len > info_.buf_size - desc.offset) return nullptr;
  return buffer(desc.buf) + desc.offset;
}

bool RingView::ready(u32 which) {
  switch (which) {
    case EXO_WAIT_DATA:
      return messages_.can_consume();
    case EXO_WAIT_SPACE:
      return messages_.can_produce();
    case EXO_WAIT_BUFFER:
      return has_pool() && free_.can_consume();
    default:
      return false;
  }
}

bool RingView::take_buffer(u32* buf) {
  u64 pos;
  if (!has_pool() || free_.claim_consume(1, &pos) == 0) return false;
  u32 index = load_relaxed(&free_.at(pos).buf);
  free_.release(pos);
  if (index >= info_.buf_count) return false;
  *buf = index;
  return true;
}

bool RingView::return_buffer(u32 buf) {
  u64 pos;
  if (buf >= info_.buf_count || free_.claim_produce(1, &pos) == 0) return false;
  store_relaxed(&free_.at(pos).buf, buf);
  free_.publish(pos);
  return true;
}

int validate_info(const exo_ring_info& info, u64 mapped_size, const char** why) {
  exo_create_req req{};
  req.name[0] = 'x';
  req.capacity = info.capacity;
  req.mode = info.mode;
  req.buf_size = info.buf_size;
  req.buf_count = info.buf_count;
  exo_ring_info expected;
  int err = plan_ring(req, &expected, why);
  if (err) return err;
  if (info.magic != EXO_RING_MAGIC || info.abi_version != EXO_ABI_VERSION) {
    *why = "not an exofusion ring of this ABI version";
    return -kEINVAL;
  }
  if (info.slots_offset != expected.slots_offset || info.free_offset != expected.free_offset ||
      info.pool_offset != expected.pool_offset || info.region_size != expected.region_size ||
      info.free_capacity != expected.free_capacity) {
    *why = "ring layout does not match its parameters";
    return -kEINVAL;
  }
  if (info.region_size > mapped_size) {
    *why = "ring region is larger than the mapping";
    return -kEINVAL;
  }
  return 0;
}

}  // namespace exo
