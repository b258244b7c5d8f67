// SPDX-License-Identifier: GPL-2.0
// A model of what a slab cache's user may rely on, for the slab unit tests'
// random runs and the slab fuzz target: the live objects it was handed,
// each aligned as asked, overlapping no other live object of any cache and
// holding the bytes its holder last wrote; objects of a cache with a
// constructor come in their constructed state and go back in it. Also the
// stats rules that hold once a cache is drained and shrunk. Header-only and
// without GoogleTest: the fuzz target is built from its own file alone.
#ifndef EXO_TESTS_CORE_SLAB_MODEL_H
#define EXO_TESTS_CORE_SLAB_MODEL_H

#include <stdio.h>
#include <string.h>

#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "module/core/slab/slab_api.h"
#include "module/core/types.h"

namespace exo_test {

// Word |w| of an object filled for |seed|: every word depends on both, so
// a swapped, shifted or stale object shows. Words, not bytes, to keep the
// sanitizer builds fast on 4 KiB objects.
inline u64 slab_pattern_word(u64 seed, u32 w) {
  u64 x = (seed + 1) * 0x9e3779b97f4a7c15ull ^ (w + 1) * 0xff51afd7ed558ccdull;
  return x ^ (x >> 29);
}

inline void slab_fill(void* obj, u32 size, u64 seed) {
  u8* bytes = static_cast<u8*>(obj);
  for (u32 i = 0; i < size; i += 8) {
    u64 word = slab_pattern_word(seed, i / 8);
    memcpy(bytes + i, &word, size - i < 8 ? size - i : 8);
  }
}

// The first byte that differs from the pattern of |seed|, or -1.
inline long slab_mismatch(const void* obj, u32 size, u64 seed) {
  const u8* bytes = static_cast<const u8*>(obj);
  for (u32 i = 0; i < size; i += 8) {
    u64 word = slab_pattern_word(seed, i / 8);
    u32 n = size - i < 8 ? size - i : 8;
    if (memcmp(bytes + i, &word, n) == 0) continue;
    for (u32 k = 0; k < n; ++k)
      if (bytes[i + k] != reinterpret_cast<const u8*>(&word)[k]) return i + k;
  }
  return -1;
}

// What the test constructors write: the pattern of this seed over the
// whole object (the constructor of a cache of N bytes fills N).
constexpr u64 kConstructedSeed = 0xc0257ec7edull;

class SlabModel {
 public:
  // Registers a cache; returns its index for the calls below.
  int add_cache(u32 size, u32 align, bool ctor) {
    caches_.push_back({size, align ? align : 8, ctor});
    return static_cast<int>(caches_.size() - 1);
  }

  // A new object from |cache|: checks it, then fills it with a fresh pattern.
  void on_alloc(int cache, void* obj) {
    if (failed()) return;
    const CacheInfo& c = caches_[cache];
    uptr a = reinterpret_cast<uptr>(obj);
    if (!obj) return fail("cache " + std::to_string(cache) + ": alloc returned NULL");
    if (a % c.align) return fail("object " + hex(a) + " not aligned to " + std::to_string(c.align));
    if (live_.count(a)) return fail("object " + hex(a) + " handed out twice");
    auto next = live_.lower_bound(a);
    if (next != live_.end() && a + c.size > next->first)
      return fail("object " + hex(a) + " overlaps live object " + hex(next->first));
    if (next != live_.begin()) {
      auto prev = std::prev(next);
      if (prev->first + caches_[prev->second.cache].size > a)
        return fail("object " + hex(a) + " overlaps live object " + hex(prev->first));
    }
    if (c.ctor) {
      long at = slab_mismatch(obj, c.size, kConstructedSeed);
      if (at >= 0)
        return fail("object " + hex(a) + " not in its constructed state at byte " +
                    std::to_string(at));
    }
    Live l{cache, next_seed_++, static_cast<u32>(order_.size())};
    slab_fill(obj, c.size, l.seed);
    live_.emplace(a, l);
    order_.push_back(obj);
  }

  // Checks the object's bytes and forgets it; call before freeing it.
  // Objects of a cache with a constructor go back constructed.
  void on_free(void* obj) {
    if (failed()) return;
    auto it = live_.find(reinterpret_cast<uptr>(obj));
    if (it == live_.end()) return fail("freeing " + hex(reinterpret_cast<uptr>(obj)) + ", not live");
    check(obj);
    const CacheInfo& c = caches_[it->second.cache];
    if (c.ctor) slab_fill(obj, c.size, kConstructedSeed);
    u32 pos = it->second.pos;
    order_[pos] = order_.back();
    live_.find(reinterpret_cast<uptr>(order_[pos]))->second.pos = pos;
    order_.pop_back();
    live_.erase(it);
  }

  // The object still holds what its holder last wrote.
  void check(void* obj) {
    if (failed()) return;
    const Live& l = live_.at(reinterpret_cast<uptr>(obj));
    long at = slab_mismatch(obj, caches_[l.cache].size, l.seed);
    if (at >= 0)
      fail("object " + hex(reinterpret_cast<uptr>(obj)) + " changed while live, at byte " +
           std::to_string(at));
  }

  // The holder writes new contents.
  void rewrite(void* obj) {
    Live& l = live_.at(reinterpret_cast<uptr>(obj));
    l.seed = next_seed_++;
    slab_fill(obj, caches_[l.cache].size, l.seed);
  }

  void check_all() {
    for (void* obj : order_) check(obj);
  }

  // Live objects of every cache, by an index in 0..live()-1 (which moves).
  u64 live() const { return order_.size(); }
  void* at(u64 index) const { return order_[index]; }
  int cache_of(void* obj) const { return live_.at(reinterpret_cast<uptr>(obj)).cache; }
  u64 live_in(int cache) const {
    u64 n = 0;
    for (const auto& [addr, l] : live_) n += l.cache == cache;
    return n;
  }

  // The rules the stats of a cache follow once this thread (the only one
  // that used it) drained its magazines and the cache shrank: the slabs
  // hold exactly the live objects, and nothing is parked anywhere.
  void check_quiesced(int cache, const exo_slab_stats& s) {
    if (failed()) return;
    u64 live = live_in(cache);
    std::string where = "cache " + std::to_string(cache) + " drained and shrunk: ";
    if (s.objects_in_use != live)
      return fail(where + "objects_in_use " + std::to_string(s.objects_in_use) + ", live " +
                  std::to_string(live));
    if (s.slab_allocs - s.slab_frees != s.objects_in_use)
      return fail(where + "slab_allocs - slab_frees != objects_in_use");
    if (s.depot_cached || s.depot_full_magazines || s.depot_empty_magazines)
      return fail(where + "the depot still holds magazines");
    if (s.slabs_empty) return fail(where + "empty slabs kept");
    // Every slab left holds a live object; none holds more than fit.
    if (s.slabs > live || s.objects_in_use > s.slabs * s.objects_per_slab)
      return fail(where + std::to_string(s.slabs) + " slabs for " + std::to_string(live) +
                  " objects");
    if (s.pages != s.slabs << s.slab_order || s.pages_allocated - s.pages_freed != s.pages)
      return fail(where + "page counts disagree");
  }

  bool failed() const { return !failure_.empty(); }
  const std::string& failure() const { return failure_; }
  void fail(const std::string& what) {
    if (failure_.empty()) failure_ = what;
  }

 private:
  struct CacheInfo {
    u32 size, align;
    bool ctor;
  };
  struct Live {
    int cache;
    u64 seed;
    u32 pos;  // in order_
  };

  static std::string hex(uptr a) {
    char buf[24];
    snprintf(buf, sizeof(buf), "%#lx", static_cast<unsigned long>(a));
    return buf;
  }

  std::vector<CacheInfo> caches_;
  std::map<uptr, Live> live_;
  std::vector<void*> order_;
  u64 next_seed_ = 1;
  std::string failure_;
};

}  // namespace exo_test

#endif  // EXO_TESTS_CORE_SLAB_MODEL_H
