// SPDX-License-Identifier: GPL-2.0
#include "module/core/ring/ring_layout.h"

#include "module/core/errno.h"

namespace exo {
namespace {

bool is_power_of_two(u32 v) { return v != 0 && (v & (v - 1)) == 0; }

u64 page_align(u64 v) { return (v + EXO_PAGE_SIZE - 1) & ~static_cast<u64>(EXO_PAGE_SIZE - 1); }

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '.' || c == '_' || c == '-';
}

bool equals(const char* a, const char* b) {
  while (*a && *a == *b) ++a, ++b;
  return *a == *b;
}

int fail(int err, const char* reason, const char** why) {
  *why = reason;
  return -err;
}

int check_pool(const exo_create_req& req, const char** why) {
  if ((req.buf_size == 0) != (req.buf_count == 0))
    return fail(kEINVAL, "buf_size and buf_count must be both zero or both set", why);
  if (req.buf_count == 0) return 0;
  if (req.buf_size < EXO_BUF_MIN_SIZE || req.buf_size > EXO_BUF_MAX_SIZE ||
      req.buf_size % EXO_CACHELINE != 0)
    return fail(kEINVAL, "buf_size must be a multiple of 64 in [64, 4 MiB]", why);
  if (req.buf_count > EXO_BUF_MAX_COUNT)
    return fail(kEINVAL, "buf_count must be at most 65536", why);
  return 0;
}

}  // namespace

int check_name(const char* name, usize size, const char** why) {
  usize len = 0;
  while (len < size && len < EXO_NAME_MAX && name[len] != '\0') {
    if (!is_name_char(name[len])) return fail(kEINVAL, "name may hold only [A-Za-z0-9._-]", why);
    ++len;
  }
  if (len == 0) return fail(kEINVAL, "name is empty", why);
  if (len >= EXO_NAME_MAX || len == size)
    return fail(kENAMETOOLONG, "name is longer than 31 characters", why);
  if (equals(name, ".") || equals(name, "..")) return fail(kEINVAL, "name may not be . or ..", why);
  if (equals(name, "control")) return fail(kEINVAL, "name 'control' is reserved", why);
  return 0;
}

int plan_ring(const exo_create_req& req, exo_ring_info* info, const char** why) {
  int err = check_name(req.name, sizeof(req.name), why);
  if (err) return err;
  if (!is_power_of_two(req.capacity) || req.capacity < EXO_RING_MIN_CAPACITY ||
      req.capacity > EXO_RING_MAX_CAPACITY)
    return fail(kEINVAL, "capacity must be a power of two in [2, 1048576]", why);
  if (req.mode != EXO_MODE_SPSC && req.mode != EXO_MODE_MPMC)
    return fail(kEINVAL, "mode must be SPSC (0) or MPMC (1)", why);
  if (req.flags != 0) return fail(kEINVAL, "flags must be 0", why);
  if (req.perm & ~0777u) return fail(kEINVAL, "perm may hold only permission bits (0777)", why);
  err = check_pool(req, why);
  if (err) return err;

  exo_ring_info out{};
  out.magic = EXO_RING_MAGIC;
  out.abi_version = EXO_ABI_VERSION;
  out.mode = req.mode;
  out.capacity = req.capacity;
  out.buf_size = req.buf_size;
  out.buf_count = req.buf_count;
  out.free_words = (req.buf_count + 63) / 64;
  out.slots_offset = EXO_PAGE_SIZE;
  out.free_offset = page_align(out.slots_offset + static_cast<u64>(req.capacity) * EXO_SLOT_SIZE);
  out.pool_offset =
      page_align(out.free_offset + static_cast<u64>(out.free_words) * sizeof(u64));
  out.region_size =
      page_align(out.pool_offset + static_cast<u64>(req.buf_size) * req.buf_count);
  if (out.region_size > kMaxRegionSize)
    return fail(kEINVAL, "ring region would exceed 1 GiB (capacity, buf_size x buf_count)", why);
  *info = out;
  return 0;
}

void init_ring(void* region, const exo_ring_info& info) {
  u8* base = static_cast<u8*>(region);
  auto* header = static_cast<exo_ring_header*>(region);
  header->info = info;

  auto* slots = reinterpret_cast<exo_slot*>(base + info.slots_offset);
  for (u32 i = 0; i < info.capacity; ++i) slots[i].seq = i;

  // Every buffer starts free.
  u64* free_bits = reinterpret_cast<u64*>(base + info.free_offset);
  for (u32 buf = 0; buf < info.buf_count; ++buf) free_bits[buf / 64] |= 1ull << (buf % 64);
  // No fence: the region reaches other parties only through a system call
  // (mmap of the device or of the memfd), which orders these stores.
}

}  // namespace exo
