// SPDX-License-Identifier: GPL-2.0
#include "module/core/ring/ring_view.h"

#include "module/core/errno.h"
#include "module/core/ring/ring_layout.h"

namespace exo {
namespace {

// __builtin_popcountll would call libgcc's __popcountdi2, which the kernel
// does not have (its flags allow no POPCNT instruction).
u32 popcount64(u64 v) {
  v = v - ((v >> 1) & 0x5555555555555555ull);
  v = (v & 0x3333333333333333ull) + ((v >> 2) & 0x3333333333333333ull);
  v = (v + (v >> 4)) & 0x0f0f0f0f0f0f0f0full;
  return static_cast<u32>((v * 0x0101010101010101ull) >> 56);
}

}  // namespace

RingView::RingView(void* region, const exo_ring_info& info)
    : header_(static_cast<exo_ring_header*>(region)), info_(&info) {
  u8* base = static_cast<u8*>(region);
  bool multi = info.mode == EXO_MODE_MPMC;
  messages_ = SeqRing<exo_slot>(reinterpret_cast<exo_slot*>(base + info.slots_offset),
                                info.capacity, &header_->prod, &header_->cons, multi);
  if (info.buf_count != 0) {
    free_bits_ = reinterpret_cast<u64*>(base + info.free_offset);
    pool_ = base + info.pool_offset;
  }
}

u8* RingView::zc_payload(const exo_zc_desc& desc) const {
  if (desc.buf >= info_->buf_count) return nullptr;
  // offset + len may not wrap: both are checked against the size alone.
  if (desc.offset > info_->buf_size || desc.len > info_->buf_size - desc.offset) return nullptr;
  return buffer(desc.buf) + desc.offset;
}

// A bitmap rather than a ring of indices: a ring loses a buffer when a
// taker that claimed a cell stalls (or dies) and returns lap it; a bit is
// never lost, and a second return of the same buffer is detected.
bool RingView::take_buffer(u32* buf) {
  u32 words = info_->free_words;
  if (words == 0) return false;
  u64* hint = &header_->free_cons.pos;
  u64 start = load_relaxed(hint) % words;
  for (u32 i = 0; i < words; ++i) {
    u32 w = static_cast<u32>((start + i) % words);
    // Each pass clears at most one bit; a bound keeps a hostile party that
    // keeps setting bits from holding us here.
    for (u32 tries = 0; tries < 64; ++tries) {
      u64 bits = load_relaxed(&free_bits_[w]);
      if (bits == 0) break;
      u64 bit = bits & -bits;
      if (!(fetch_and(&free_bits_[w], ~bit) & bit)) continue;
      u32 index = w * 64 + static_cast<u32>(__builtin_ctzll(bit));
      if (index >= info_->buf_count) continue;  // a stray bit past the pool
      if (w != start) store_relaxed(hint, static_cast<u64>(w));
      *buf = index;
      return true;
    }
  }
  return false;
}

bool RingView::return_buffer(u32 buf) {
  if (buf >= info_->buf_count) return false;
  u64 bit = 1ull << (buf % 64);
  return !(fetch_or(&free_bits_[buf / 64], bit) & bit);
}

u32 RingView::free_buffer_count() const {
  u32 count = 0;
  for (u32 w = 0; w < info_->free_words; ++w) {
    u32 in_pool = info_->buf_count - w * 64;  // bits of this word that name buffers
    u64 mask = in_pool >= 64 ? ~0ull : (1ull << in_pool) - 1;
    count += popcount64(load_relaxed(&free_bits_[w]) & mask);
  }
  return count;
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
      info.free_words != expected.free_words) {
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
