// SPDX-License-Identifier: GPL-2.0
#include "tests/core/checked_ring.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <memory>
#include <vector>

namespace exo_test {
namespace {

constexpr unsigned int kAllKinds = (1u << EXO_WAIT_NR) - 1;

unsigned int bit(unsigned int which) { return 1u << which; }

// Message bytes derived from the message's id: a message delivered in the
// wrong place, or one mixing two messages, does not compare equal.
void fill(u64 id, u8* p, u32 len) {
  u64 x = (id + 1) * 0x9e3779b97f4a7c15ull;
  for (u32 i = 0; i < len; ++i) {
    x ^= x >> 29;
    x *= 0xbf58476d1ce4e5b9ull;
    p[i] = static_cast<u8>(x >> 56);
  }
}

// What a read buffer holds where the core wrote nothing.
constexpr u8 kUnwritten = 0xa5;

// An exact-size heap buffer: ASan reports a copy of one byte too many.
std::unique_ptr<u8[]> exact_buffer(u32 len) { return std::unique_ptr<u8[]>(new u8[len]); }

// Applies a scribble to a |width|-byte field.
void scribble(void* field, unsigned width, u64 value, bool nudge) {
  u64 old = 0;
  memcpy(&old, field, width);  // little-endian: the low bytes
  u64 v = nudge ? old + static_cast<u64>(static_cast<s64>(static_cast<signed char>(value)))
                : value;
  memcpy(field, &v, width);
}

}  // namespace

CheckedRing::CheckedRing(const RingParams& params) : region_(params), params_(params) {
  reset();
}

void CheckedRing::set_model_free(u32 buf, bool free) {
  u64 bit = 1ull << (buf % 64);
  if (free)
    model_free_bits_[buf / 64] |= bit;
  else
    model_free_bits_[buf / 64] &= ~bit;
}

u32 CheckedRing::model_free_count() const {
  u32 n = 0;
  for (u64 w : model_free_bits_) n += static_cast<u32>(__builtin_popcountll(w));
  return n;
}

void CheckedRing::fail(const char* fmt, ...) {
  if (failed()) return;
  char text[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof(text), fmt, ap);
  va_end(ap);
  char where[128];
  snprintf(where, sizeof(where), " (op #%llu, ring %s cap %u pool %ux%u, %s)",
           static_cast<unsigned long long>(ops_), params_.mode == EXO_MODE_MPMC ? "MPMC" : "SPSC",
           params_.capacity, params_.buf_count, params_.buf_size,
           clean_ ? "clean" : "scribbled on");
  failure_ = std::string(text) + where;
}

CheckedRing::Outcome CheckedRing::outcome_of(long ret) {
  switch (ret) {
    case -EAGAIN: return kEAGAIN;
    case -EMSGSIZE: return kEMSGSIZE;
    case -EFAULT: return kEFAULT;
    case -EBADMSG: return kEBADMSG;
    default: return kOk;
  }
}

unsigned int CheckedRing::announced(unsigned int kinds) const {
  unsigned int due = 0;
  for (unsigned int which = 0; which < EXO_WAIT_NR; ++which)
    if (need_wakeup_[which]) due |= bit(which);
  return due & kinds;
}

void CheckedRing::check_info_line_untouched(const exo_ring_info& before, const char* op) {
  if (memcmp(&before, &region_.header()->info, sizeof(before)) != 0)
    fail("%s wrote the shared info line", op);
}

void CheckedRing::check_positions_match_model(const char* op) {
  if (!clean_) return;
  if (region_.queued_messages() != queue_.size())
    fail("after %s: positions say %llu messages queued, model %zu", op,
         static_cast<unsigned long long>(region_.queued_messages()), queue_.size());
  if (region_.free_buffers() != model_free_count())
    fail("after %s: %llu buffers free, model %u", op,
         static_cast<unsigned long long>(region_.free_buffers()), model_free_count());
  for (u32 w = 0; w < model_free_bits_.size(); ++w)
    if (region_.free_bits()[w] != model_free_bits_[w])
      return fail("after %s: free bitmap word %u is %#llx, model %#llx", op, w,
                  static_cast<unsigned long long>(region_.free_bits()[w]),
                  static_cast<unsigned long long>(model_free_bits_[w]));
}

void CheckedRing::write(u32 len, bool fault) {
  if (failed()) return;
  ++ops_;
  std::unique_ptr<u8[]> src = exact_buffer(len);
  u64 id = next_id_++;
  fill(id, src.get(), len);
  exo_ring_info info = region_.header()->info;
  unsigned int wake = ~0u;
  long ret = region_.write(fault ? kFaultingPointer : src.get(), len, &wake);
  ++writes_[outcome_of(ret)];

  bool zerocopy = len > EXO_INLINE_MAX;
  bool never_fits = zerocopy && (params_.buf_count == 0 || len > params_.buf_size);
  // -EBADMSG: positions or sequences no honest party makes (a corrupted
  // ring must not look merely full, or a blocking writer waits for ever).
  if (ret != len && ret != -EAGAIN && ret != -EMSGSIZE && ret != -EFAULT && ret != -EBADMSG)
    return fail("write(%u) returned %ld", len, ret);
  if ((ret == -EMSGSIZE) != never_fits)
    return fail("write(%u) returned %ld: -EMSGSIZE is for messages that never fit (pool %ux%u)",
                len, ret, params_.buf_count, params_.buf_size);
  if (ret == -EFAULT && !fault) return fail("write(%u) faulted on a valid buffer", len);
  if (fault && len > 0 && ret >= 0) return fail("write(%u) from a faulting pointer succeeded", len);
  if (wake & ~kAllKinds) return fail("write(%u) reported wake kinds %#x", len, wake);
  check_info_line_untouched(info, "write");
  if (!clean_ || failed()) return;

  // The model: the checks in the order exo_core_write() makes them. An
  // inline message is copied in before a slot is claimed; a zero-copy one
  // into the buffer it took, which goes back if the copy faults. Copying 0
  // bytes cannot fault.
  bool full = queue_.size() == params_.capacity;
  bool faults = fault && len > 0;
  long expect;
  unsigned int expect_wake = 0;
  if (never_fits) {
    expect = -EMSGSIZE;
  } else if (!zerocopy && faults) {
    expect = -EFAULT;
  } else if (full || (zerocopy && model_free_count() == 0)) {
    expect = -EAGAIN;
  } else if (faults) {
    expect = -EFAULT;
    expect_wake = announced(bit(EXO_WAIT_BUFFER));
  } else {
    expect = len;
    expect_wake = announced(bit(EXO_WAIT_DATA));
  }
  if (ret != expect)
    return fail("write(%u%s) returned %ld, model %ld", len, fault ? ", fault" : "", ret, expect);
  if (wake != expect_wake) return fail("write(%u) woke %#x, model %#x", len, wake, expect_wake);
  if (ret >= 0) {
    u32 buf = ~0u;
    if (zerocopy) {
      // Which free buffer a write takes is the core's choice; it must be
      // one the model holds free, named by the descriptor it wrote.
      const exo_slot& slot = region_.slot_at(region_.header()->prod.pos - 1);
      exo_zc_desc desc;
      memcpy(&desc, slot.data, sizeof(desc));
      buf = desc.buf;
      if (buf >= params_.buf_count || !model_free(buf))
        return fail("write(%u) took buffer %u, not a free one of the pool (%u)", len, buf,
                    params_.buf_count);
      set_model_free(buf, false);
    }
    queue_.push_back({id, len, zerocopy, buf});
  }
  check_positions_match_model("write");
}

u32 CheckedRing::largest_message() const {
  u32 pool = params_.buf_count ? params_.buf_size : 0;
  return pool > EXO_INLINE_MAX ? pool : EXO_INLINE_MAX;
}

void CheckedRing::read(u32 len, bool fault) {
  if (failed()) return;
  ++ops_;
  std::unique_ptr<u8[]> dst = exact_buffer(len);
  memset(dst.get(), kUnwritten, len);
  const u32 largest = largest_message();
  // Like mq_receive(): a buffer shorter than the ring's largest message is
  // refused before anything is claimed, looked at or written.
  const bool short_buffer = len < largest;
  std::vector<u8> before;
  if (short_buffer) before.assign(region_.bytes(), region_.bytes() + region_.size());
  exo_ring_info info = region_.header()->info;
  unsigned int wake = ~0u;
  long ret = region_.read(fault ? kFaultingPointer : dst.get(), len, &wake);
  ++reads_[outcome_of(ret)];

  // A faulting copy used to come back as 4294967282 (-EFAULT through a u32):
  // out of range here.
  bool in_range = ret >= 0 && static_cast<unsigned long>(ret) <= len;
  if (!in_range && ret != -EAGAIN && ret != -EMSGSIZE && ret != -EFAULT && ret != -EBADMSG)
    return fail("read(%u) returned %ld", len, ret);
  if (ret > static_cast<long>(largest))
    return fail("read(%u) returned %ld, more than the ring's largest message (%u)", len, ret,
                largest);
  if ((ret == -EMSGSIZE) != short_buffer)
    return fail("read(%u) returned %ld: -EMSGSIZE is for buffers shorter than the ring's "
                "largest message (%u)",
                len, ret, largest);
  if (ret == -EFAULT && !fault) return fail("read(%u) faulted on a valid buffer", len);
  if (fault && ret > 0) return fail("read(%u) into a faulting pointer returned %ld", len, ret);
  if (wake & ~kAllKinds) return fail("read(%u) reported wake kinds %#x", len, wake);
  if (!fault) {
    u32 written = ret > 0 ? static_cast<u32>(ret) : 0;
    for (u32 i = written; i < len; ++i)
      if (dst[i] != kUnwritten)
        return fail("read(%u) returned %ld but wrote byte %u of the buffer", len, ret, i);
  }
  if (short_buffer) {
    if (wake != 0) return fail("read(%u) with a short buffer woke %#x", len, wake);
    if (memcmp(before.data(), region_.bytes(), before.size()) != 0)
      return fail("read(%u) with a short buffer wrote to the region", len);
  }
  check_info_line_untouched(info, "read");
  if (!clean_ || failed()) return;

  long expect;
  unsigned int expect_wake = 0;
  if (short_buffer) {
    expect = -EMSGSIZE;  // even on an empty ring; a queued message stays
  } else if (queue_.empty()) {
    expect = -EAGAIN;
  } else {
    const Message& m = queue_.front();
    // Copying 0 bytes cannot fault. A faulting copy takes nothing: the
    // message stays queued and nobody is woken.
    expect = fault && m.len > 0 ? -EFAULT : static_cast<long>(m.len);
    if (expect >= 0)
      expect_wake = announced(bit(EXO_WAIT_SPACE) | (m.zerocopy ? bit(EXO_WAIT_BUFFER) : 0));
  }
  if (ret != expect)
    return fail("read(%u%s) returned %ld, model %ld", len, fault ? ", fault" : "", ret, expect);
  if (wake != expect_wake) return fail("read(%u) woke %#x, model %#x", len, wake, expect_wake);
  if (expect < 0) return check_positions_match_model("read");

  Message m = queue_.front();
  queue_.pop_front();
  if (m.zerocopy) set_model_free(m.buf, true);
  if (ret >= 0) {
    std::vector<u8> want(m.len);
    fill(m.id, want.data(), m.len);
    if (m.len > 0 && memcmp(want.data(), dst.get(), m.len) != 0)
      return fail("read(%u) delivered wrong bytes for message %llu (%u bytes)", len,
                  static_cast<unsigned long long>(m.id), m.len);
  }
  check_positions_match_model("read");
}

void CheckedRing::ready(u32 which) {
  if (failed()) return;
  ++ops_;
  unsigned int fault;
  int ret = exo_core_ready(region_.base(), &region_.info(), which, &fault);
  if ((ret == -EBADMSG) != (fault != EXO_FAULT_NONE))
    return fail("ready(%u) returned %d with fault %u", which, ret, fault);
  if (ret != 0 && ret != 1 && ret != -EBADMSG) return fail("ready(%u) returned %d", which, ret);
  if (which >= EXO_WAIT_NR && ret) return fail("ready(%u) of no such kind returned %d", which, ret);
  // Readiness and the calls agree: not ready makes a read -EAGAIN and
  // corrupt makes it -EBADMSG, never the other (a caller that waits for
  // "ready" while its call keeps failing spins). The read is undone.
  if (which == EXO_WAIT_DATA && ret <= 0) {
    std::vector<u8> before(region_.bytes(), region_.bytes() + region_.size());
    std::unique_ptr<u8[]> buf = exact_buffer(largest_message());
    unsigned int wake;
    long call = region_.read(buf.get(), largest_message(), &wake);
    memcpy(region_.bytes(), before.data(), before.size());
    if (call != (ret == 0 ? -EAGAIN : -EBADMSG))
      return fail("ready(DATA) returned %d but a read returned %ld", ret, call);
  }
  if (!clean_) return;
  if (ret < 0) return fail("ready(%u) of a clean ring returned %d", which, ret);
  bool expect = false;
  switch (which) {
    case EXO_WAIT_DATA: expect = !queue_.empty(); break;
    case EXO_WAIT_SPACE: expect = queue_.size() < params_.capacity; break;
    case EXO_WAIT_BUFFER: expect = model_free_count() != 0; break;
  }
  if (ret != expect) fail("ready(%u) returned %d, model %d", which, ret, expect);
}

void CheckedRing::announce(u32 which) {
  if (failed()) return;
  ++ops_;
  std::vector<u8> before(region_.bytes(), region_.bytes() + region_.size());
  exo_core_announce_sleep(region_.base(), &region_.info(), which);
  if (which >= EXO_WAIT_NR) {
    if (memcmp(before.data(), region_.bytes(), before.size()) != 0)
      fail("announce_sleep(%u) of no such kind wrote to the region", which);
    return;
  }
  if (region_.header()->waiters[which].need_wakeup != 1)
    return fail("announce_sleep(%u) left need_wakeup %u", which,
                region_.header()->waiters[which].need_wakeup);
  need_wakeup_[which] = true;
}

void CheckedRing::note_wake(u32 which) {
  if (failed()) return;
  ++ops_;
  std::vector<u8> before(region_.bytes(), region_.bytes() + region_.size());
  exo_core_note_wake(region_.base(), &region_.info(), which);
  if (which >= EXO_WAIT_NR) {
    if (memcmp(before.data(), region_.bytes(), before.size()) != 0)
      fail("note_wake(%u) of no such kind wrote to the region", which);
    return;
  }
  const exo_ring_waiter& w = region_.header()->waiters[which];
  u32 old_seq;
  memcpy(&old_seq,
         before.data() + offsetof(exo_ring_header, waiters) + which * sizeof(exo_ring_waiter) +
             offsetof(exo_ring_waiter, wake_seq),
         sizeof(old_seq));
  if (w.need_wakeup != 0 || w.wake_seq != old_seq + 1)
    return fail("note_wake(%u): need_wakeup %u, wake_seq %u -> %u", which, w.need_wakeup,
                old_seq, w.wake_seq);
  need_wakeup_[which] = false;
}

void CheckedRing::pending_wakeups(u32 kinds) {
  if (failed()) return;
  ++ops_;
  unsigned int due = exo_core_pending_wakeups(region_.base(), &region_.info(), kinds);
  if (due & ~(kinds & kAllKinds)) return fail("pending_wakeups(%#x) returned %#x", kinds, due);
  if (clean_ && due != announced(kinds))
    fail("pending_wakeups(%#x) returned %#x, model %#x", kinds, due, announced(kinds));
}

void CheckedRing::scribble_bytes(u64 offset, const u8* bytes, u32 n) {
  if (n == 0) return;
  offset %= region_.size();
  if (n > region_.size() - offset) n = static_cast<u32>(region_.size() - offset);
  memcpy(region_.bytes() + offset, bytes, n);
  clean_ = false;
}

void CheckedRing::scribble_field(Field field, u32 index, u64 value, bool nudge) {
  exo_ring_header* h = region_.header();
  exo_slot& slot = region_.slots()[index % params_.capacity];
  // A slot's data holds an exo_zc_desc in a zero-copy message.
  u8* desc = slot.data;
  u64* free_word =
      params_.buf_count ? &region_.free_bits()[index % region_.info().free_words] : nullptr;
  exo_ring_side* sides[] = {&h->prod, &h->cons, &h->reserved_side, &h->free_cons};
  switch (field) {
    case kSidePos:
      scribble(&sides[index % 4]->pos, 8, value, nudge);
      // The reserved side is unused and free_cons.pos is only a search hint.
      if (index % 4 >= 2) return;
      break;
    case kSlotSeq: scribble(&slot.seq, 4, value, nudge); break;
    case kSlotType: scribble(&slot.type, 1, value, nudge); break;
    case kSlotLen: scribble(&slot.len, 2, value, nudge); break;
    case kZcDescBuf: scribble(desc + offsetof(exo_zc_desc, buf), 4, value, nudge); break;
    case kZcDescOffset: scribble(desc + offsetof(exo_zc_desc, offset), 4, value, nudge); break;
    case kZcDescLen: scribble(desc + offsetof(exo_zc_desc, len), 4, value, nudge); break;
    case kFreeBits: if (free_word) scribble(free_word, 8, value, nudge); break;
    case kFreeHint:
      // Only where the next search starts: the model stays exact.
      scribble(&h->free_cons.pos, 8, value, nudge);
      return;
    case kNeedWakeup:
      scribble(&h->waiters[index % EXO_WAIT_NR].need_wakeup, 4, value, nudge);
      break;
    case kFields: break;
  }
  clean_ = false;
}

void CheckedRing::reset(u64 msg_pos, u64 free_pos) {
  region_.rebase(msg_pos, free_pos);
  queue_.clear();
  // Every buffer free: bits 0..buf_count-1.
  model_free_bits_.assign(region_.info().free_words, 0);
  for (u32 buf = 0; buf < params_.buf_count; ++buf) set_model_free(buf, true);
  for (bool& w : need_wakeup_) w = false;
  clean_ = true;
}

}  // namespace exo_test
