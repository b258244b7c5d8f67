// SPDX-License-Identifier: GPL-2.0
// The core's C interface (core_api.h): ring planning, readiness, sleep
// bookkeeping and the kernel acting as a ring peer. Everything read from
// the ring region is shared with user space and is validated before use.
#include "module/core/core_api.h"

#include "module/core/errno.h"
#include "module/core/platform.h"
#include "module/core/ring/ring_layout.h"
#include "module/core/ring/ring_view.h"

namespace exo {
namespace {

constexpr u32 kind_bit(u32 which) { return 1u << which; }

// One read of a slot that user space may be scribbling on: later checks
// and uses see the same values.
exo_slot snapshot(const exo_slot& shared) {
  exo_slot copy;
  const u64* from = reinterpret_cast<const u64*>(&shared);
  u64* to = reinterpret_cast<u64*>(&copy);
  for (usize i = 0; i < sizeof(exo_slot) / sizeof(u64); ++i) to[i] = load_relaxed(&from[i]);
  return copy;
}

// Fills a claimed slot with word stores, the mirror of snapshot(): a reader
// that peeked at this slot before another reader won it may still be copying
// it (its copy is thrown away), as user space may be. The seq word is the
// caller's to publish.
void fill_slot(exo_slot& shared, u8 type, const void* data, u16 len) {
  exo_slot value = {};
  value.type = type;
  value.len = len;
  __builtin_memcpy(value.data, data, len);
  const u32* head = reinterpret_cast<const u32*>(&value);
  store_relaxed(reinterpret_cast<u32*>(&shared) + 1, head[1]);
  const u64* from = reinterpret_cast<const u64*>(&value);
  u64* to = reinterpret_cast<u64*>(&shared);
  for (usize i = 1; i < sizeof(exo_slot) / sizeof(u64); ++i) store_relaxed(&to[i], from[i]);
}
static_assert(EXO_OFFSET(exo_slot, type) == sizeof(u32) && EXO_OFFSET(exo_slot, data) == sizeof(u64),
              "fill_slot: seq alone in the first half-word, the payload word-aligned");

exo_zc_desc zc_desc_of(const exo_slot& slot) {
  exo_zc_desc desc;
  __builtin_memcpy(&desc, slot.data, sizeof(desc));
  return desc;
}

// The largest message a ring can carry: what a reader's buffer must hold.
unsigned long max_message_size(const RingView& view) {
  u32 pool = view.has_pool() ? view.info().buf_size : 0;
  return pool > EXO_INLINE_MAX ? pool : EXO_INLINE_MAX;
}

// Kinds among |kinds| whose sleepers announced themselves. The full
// barrier orders our publication before the need_wakeup loads.
u32 pending_wakeups(RingView& view, u32 kinds) {
  full_barrier();
  u32 due = 0;
  for (u32 which = 0; which < EXO_WAIT_NR; ++which) {
    if ((kinds & kind_bit(which)) && load_relaxed(&view.waiter(which).need_wakeup))
      due |= kind_bit(which);
  }
  return due;
}

// What a kCorrupt state of kind |which| means: an SPSC producer compares
// the two positions (single_room), every other party a cell's sequence
// with its position (classify, or a claim whose retries ran out).
u32 corruption_of(const RingView& view, u32 which) {
  return which == EXO_WAIT_SPACE && view.info().mode == EXO_MODE_SPSC ? EXO_FAULT_POSITIONS
                                                                       : EXO_FAULT_SEQUENCE;
}

long bad_message(u32 what, u32* fault) {
  *fault = what;
  return -kEBADMSG;
}

// What a call of kind |which| that found the ring not ready returns: -EAGAIN
// to wait for the peer, -EBADMSG (and *fault) when waiting would be for a
// state that cannot come.
long not_ready(const RingView& view, RingState state, u32 which, u32* fault) {
  return state == RingState::kCorrupt ? bad_message(corruption_of(view, which), fault) : -kEAGAIN;
}

// Copies the message of |slot| (a snapshot) to the caller: its length,
// -EFAULT, or -EBADMSG (and *fault) for a malformed slot.
long copy_message(RingView& view, const exo_slot& slot, void* ubuf, u32* fault) {
  if (slot.type == EXO_MSG_ZEROCOPY) {
    exo_zc_desc desc = zc_desc_of(slot);
    const u8* payload = view.zc_payload(desc);
    if (!payload) return bad_message(EXO_FAULT_ZC_DESC, fault);
    return exo_plat_copy_to_user(ubuf, payload, desc.len) ? -kEFAULT : static_cast<long>(desc.len);
  }
  if (slot.type != EXO_MSG_INLINE) return bad_message(EXO_FAULT_SLOT_TYPE, fault);
  if (slot.len > EXO_INLINE_MAX) return bad_message(EXO_FAULT_INLINE_LEN, fault);
  return exo_plat_copy_to_user(ubuf, slot.data, slot.len) ? -kEFAULT : slot.len;
}

// Attempts of a read that other consumers keep beating to the message.
constexpr u32 kReadAttempts = 64;

// Like mq_receive(), a buffer must hold the ring's largest message, checked
// before anything is looked at. The message is copied out before it is
// claimed: a buffer that faults gets -EFAULT and the message stays queued
// for the next read. (An MPMC claim can then lose to another consumer: the
// copy was of a message that is not ours, and we try the next one.) A
// malformed message is claimed and dropped, or it would jam the ring.
long read_message(RingView& view, void* ubuf, unsigned long len, u32* kinds, u32* fault) {
  if (len < max_message_size(view)) return -kEMSGSIZE;
  SeqRing<exo_slot>& ring = view.messages();
  for (u32 attempt = 0; attempt < kReadAttempts; ++attempt) {
    u64 pos = 0;
    RingState state = ring.peek_consume(&pos);
    if (state != RingState::kReady) return not_ready(view, state, EXO_WAIT_DATA, fault);
    exo_slot slot = snapshot(ring.at(pos));
    long ret = copy_message(view, slot, ubuf, fault);
    if (ret == -kEFAULT) return ret;
    if (!ring.claim_consumed_at(pos)) continue;
    ring.release(pos);
    *kinds |= kind_bit(EXO_WAIT_SPACE);
    if (slot.type == EXO_MSG_ZEROCOPY) {
      u32 buf = zc_desc_of(slot).buf;
      if (buf < view.info().buf_count && view.return_buffer(buf))
        *kinds |= kind_bit(EXO_WAIT_BUFFER);
    }
    return ret;
  }
  return -kEAGAIN;  // others took every message we looked at: they make progress
}

long write_inline(RingView& view, const void* ubuf, unsigned long len, u32* fault) {
  u8 data[EXO_INLINE_MAX];
  if (exo_plat_copy_from_user(data, ubuf, len)) return -kEFAULT;
  u64 pos = 0;
  RingState state;
  if (view.messages().claim_produce(1, &pos, &state) == 0)
    return not_ready(view, state, EXO_WAIT_SPACE, fault);
  fill_slot(view.messages().at(pos), EXO_MSG_INLINE, data, static_cast<u16>(len));
  view.messages().publish(pos);
  return static_cast<long>(len);
}

long write_zerocopy(RingView& view, const void* ubuf, unsigned long len, u32* kinds,
                    u32* fault) {
  if (!view.has_pool() || len > view.info().buf_size) return -kEMSGSIZE;
  // Best effort: do not take a buffer for a message that has no slot.
  RingState state = view.messages().produce_state();
  if (state != RingState::kReady) return not_ready(view, state, EXO_WAIT_SPACE, fault);
  u32 buf;
  if (!view.take_buffer(&buf)) return -kEAGAIN;
  long ret = -kEFAULT;
  u64 pos = 0;
  if (exo_plat_copy_from_user(view.buffer(buf), ubuf, len) == 0) {
    ret = view.messages().claim_produce(1, &pos, &state) != 0
              ? static_cast<long>(len)
              : not_ready(view, state, EXO_WAIT_SPACE, fault);
  }
  if (ret < 0) {
    if (view.return_buffer(buf)) *kinds |= kind_bit(EXO_WAIT_BUFFER);
    return ret;
  }
  exo_zc_desc desc = {buf, 0, static_cast<u32>(len), 0};
  fill_slot(view.messages().at(pos), EXO_MSG_ZEROCOPY, &desc, sizeof(desc));
  view.messages().publish(pos);
  return ret;
}

}  // namespace
}  // namespace exo

using exo::RingView;

extern "C" {

int exo_core_check_name(const char* name, unsigned long size, const char** why) {
  return exo::check_name(name, size, why);
}

int exo_core_plan_ring(const exo_create_req* req, exo_ring_info* info, const char** why) {
  return exo::plan_ring(*req, info, why);
}

void exo_core_init_ring(void* region, const exo_ring_info* info) { exo::init_ring(region, *info); }

int exo_core_ready(void* region, const exo_ring_info* info, unsigned int which,
                   unsigned int* fault) {
  EXO_NO_AUTO_INIT RingView view(region, *info);
  *fault = EXO_FAULT_NONE;
  switch (view.state(which)) {
    case exo::RingState::kReady:
      return 1;
    case exo::RingState::kBlocked:
      return 0;
    default:
      return static_cast<int>(exo::bad_message(exo::corruption_of(view, which), fault));
  }
}

void exo_core_announce_sleep(void* region, const exo_ring_info* info, unsigned int which) {
  EXO_NO_AUTO_INIT RingView view(region, *info);
  if (which >= EXO_WAIT_NR) return;
  // Wakers read this line on every publish: write it only when it changes.
  u32* need = &view.waiter(which).need_wakeup;
  if (exo::load_relaxed(need) != 1u) exo::store_relaxed(need, 1u);
}

void exo_core_note_wake(void* region, const exo_ring_info* info, unsigned int which) {
  EXO_NO_AUTO_INIT RingView view(region, *info);
  if (which >= EXO_WAIT_NR) return;
  exo_ring_waiter& waiter = view.waiter(which);
  exo::store_relaxed(&waiter.need_wakeup, 0u);
  exo::fetch_add(&waiter.wake_seq, 1u);
}

unsigned int exo_core_pending_wakeups(void* region, const exo_ring_info* info, unsigned int kinds) {
  EXO_NO_AUTO_INIT RingView view(region, *info);
  return exo::pending_wakeups(view, kinds);
}

long exo_core_read(void* region, const exo_ring_info* info, void* ubuf, unsigned long len,
                   unsigned int* wake, unsigned int* fault) {
  EXO_NO_AUTO_INIT RingView view(region, *info);
  u32 kinds = 0;
  *fault = EXO_FAULT_NONE;
  long ret = exo::read_message(view, ubuf, len, &kinds, fault);
  *wake = kinds ? exo::pending_wakeups(view, kinds) : 0;
  return ret;
}

long exo_core_write(void* region, const exo_ring_info* info, const void* ubuf, unsigned long len,
                    unsigned int* wake, unsigned int* fault) {
  EXO_NO_AUTO_INIT RingView view(region, *info);
  u32 kinds = 0;
  *fault = EXO_FAULT_NONE;
  long ret = len <= EXO_INLINE_MAX ? exo::write_inline(view, ubuf, len, fault)
                                   : exo::write_zerocopy(view, ubuf, len, &kinds, fault);
  if (ret >= 0) kinds |= exo::kind_bit(EXO_WAIT_DATA);
  *wake = kinds ? exo::pending_wakeups(view, kinds) : 0;
  return ret;
}

void exo_core_stats(void* region, const exo_ring_info* info, exo_ring_stats* out) {
  EXO_NO_AUTO_INIT RingView view(region, *info);
  const exo_ring_header* h = view.header();
  *out = exo_ring_stats{};
  out->messages = exo::load_relaxed(&h->prod.pos);
  out->received = exo::load_relaxed(&h->cons.pos);
  out->batches = exo::load_relaxed(&h->prod.batches) + exo::load_relaxed(&h->cons.batches);
  out->full_events = exo::load_relaxed(&h->prod.stalls);
  out->empty_events = exo::load_relaxed(&h->cons.stalls);
  for (u32 which = 0; which < EXO_WAIT_NR; ++which) {
    out->sleeps += exo::load_relaxed(&h->waiters[which].sleeps);
    out->wakeups += exo::load_relaxed(&h->waiters[which].wakes);
  }
  out->region_size = info->region_size;
  out->capacity = info->capacity;
  out->mode = info->mode;
  out->buf_size = info->buf_size;
  out->buf_count = info->buf_count;
}

}  // extern "C"
