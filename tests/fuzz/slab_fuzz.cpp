// SPDX-License-Identifier: GPL-2.0
// libFuzzer target: the slab cache's C API on one or two caches (sizes,
// alignments, debug mode and constructors from the input), driven by a
// sequence of operations read from the input: allocs and frees, single and
// in bulk, shrinks, ticks, drains, writes and checks of live objects, and
// in debug caches the misuses debug mode must catch (double free, red zone
// overrun, write after free). SlabModel (tests/core/slab_model.h) checks
// every object handed out (aligned, overlapping no live object, contents
// kept); drained and shrunk, the stats must count exactly the live objects.
// At the end every cache is destroyed: leaks counted exactly, every page
// back. ASan and UBSan check the rest.
#include <stdio.h>
#include <stdlib.h>

#include <string>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include "module/core/slab/slab_api.h"
#include "tests/core/slab_model.h"
#include "userspace/hosted/hosted.h"

namespace {

using exo_test::kConstructedSeed;
using exo_test::SlabModel;

enum Op { kAlloc, kFree, kAllocBulk, kFreeBulk, kShrink, kTick, kDrainLocal, kRewrite, kCheck,
          kStats, kQuiesce, kDoubleFree, kOverrun, kWriteAfterFree, kReclaim, kOps };

constexpr int kMaxCaches = 2;

// A constructor per cache slot: it must know its cache's object size.
u32 ctor_size[kMaxCaches];
void construct0(void* obj) { exo_test::slab_fill(obj, ctor_size[0], kConstructedSeed); }
void construct1(void* obj) { exo_test::slab_fill(obj, ctor_size[1], kConstructedSeed); }
void (*const kCtors[kMaxCaches])(void*) = {construct0, construct1};

[[noreturn]] void fail(const std::string& what) {
  fprintf(stderr, "slab_fuzz: %s\n", what.c_str());
  abort();
}

void expect(bool ok, const std::string& what) {
  if (!ok) fail(what);
}

unsigned long reports() { return exo_hosted_reports(nullptr, 0); }

struct TestCache {
  exo_slab_cache* cache = nullptr;
  exo_slab_cache_params params{};
  int index = 0;  // in the model
  u64 debug_reports = 0;  // expected

  bool debug() const { return params.flags & EXO_SLAB_DEBUG; }
  u32 size() const { return params.size; }
  // The red zone a debug object has after it: up to the next word, plus 8.
  u32 red_zone() const { return ((size() + 7) & ~7u) + 8 - size(); }
};

// Small sizes mostly, every size sometimes; alignments 8..4096 sometimes.
exo_slab_cache_params cache_params(FuzzedDataProvider& in, int slot) {
  exo_slab_cache_params p{};
  p.name = slot ? "fuzz1" : "fuzz0";
  p.size = in.ConsumeBool() ? in.ConsumeIntegralInRange<u32>(8, 256)
                            : in.ConsumeIntegralInRange<u32>(8, EXO_SLAB_MAX_SIZE);
  p.align = in.ConsumeBool() ? 0 : 8u << in.ConsumeIntegralInRange(0, 9);
  p.flags = in.ConsumeBool() ? EXO_SLAB_DEBUG : 0;
  if (in.ConsumeIntegralInRange(0, 3) == 0) {
    ctor_size[slot] = p.size;
    p.ctor = kCtors[slot];
  }
  return p;
}

class Run {
 public:
  explicit Run(FuzzedDataProvider& in) : in_(in) {}

  void setup() {
    int n = in_.ConsumeBool() ? 2 : 1;
    for (int slot = 0; slot < n; ++slot) {
      TestCache c;
      c.params = cache_params(in_, slot);
      const char* why = nullptr;
      int err = exo_slab_create(&c.params, &c.cache, &why);
      expect(err == 0, std::string("create failed: ") + (why ? why : "?"));
      c.index = model_.add_cache(c.params.size, c.params.align, c.params.ctor != nullptr);
      caches_.push_back(c);
    }
  }

  void step() {
    TestCache& c = caches_[in_.ConsumeIntegralInRange<size_t>(0, caches_.size() - 1)];
    switch (in_.ConsumeIntegralInRange<int>(0, kOps - 1)) {
      case kAlloc: alloc(c); break;
      case kFree:
        if (void* obj = pick(c)) free(c, obj);
        break;
      case kAllocBulk: alloc_bulk(c); break;
      case kFreeBulk: free_bulk(c); break;
      case kShrink: exo_slab_shrink(c.cache, in_.ConsumeBool()); break;
      case kTick: exo_slab_tick(c.cache); break;
      case kDrainLocal: exo_slab_drain_local(c.cache); break;
      case kRewrite:
        if (void* obj = pick(c)) model_.rewrite(obj);
        break;
      case kCheck:
        if (void* obj = pick(c)) model_.check(obj);
        break;
      case kStats: check_stats(c); break;
      case kQuiesce: quiesce(c); break;
      case kDoubleFree: double_free(c); break;
      case kOverrun: overrun(c); break;
      case kWriteAfterFree: write_after_free(c); break;
      case kReclaim: reclaim(c); break;
    }
    if (model_.failed()) fail(model_.failure());
  }

  // Destroys every cache: with the live objects freed (no leak) or not
  // (exactly those leak, with one report a cache that leaks).
  void finish(unsigned long pages_at_start) {
    model_.check_all();
    if (model_.failed()) fail(model_.failure());
    bool leak = in_.ConsumeBool();
    if (!leak) {
      while (model_.live()) free(cache_of(model_.at(0)), model_.at(0));
    }
    for (TestCache& c : caches_) {
      exo_slab_stats s;
      exo_slab_get_stats(c.cache, &s);
      expect(s.debug_reports == c.debug_reports,
             std::string(s.name) + ": debug_reports " + std::to_string(s.debug_reports) +
                 ", expected " + std::to_string(c.debug_reports));
      u64 live = model_.live_in(c.index);
      unsigned long before = reports();
      unsigned long leaked = exo_slab_destroy(c.cache);
      expect(leaked == live, std::string(c.params.name) + ": destroy counted " +
                                 std::to_string(leaked) + " leaks of " + std::to_string(live));
      expect(reports() - before == (live ? 1u : 0u), "leak report count");
    }
    expect(exo_hosted_pages_in_use() == pages_at_start,
           "pages not returned: " + std::to_string(exo_hosted_pages_in_use() - pages_at_start));
  }

 private:
  TestCache& cache_of(void* obj) { return caches_[model_.cache_of(obj)]; }

  // A live object of |c|, or nullptr when it has none.
  void* pick(TestCache& c) {
    u64 n = model_.live();
    if (!n) return nullptr;
    u64 start = in_.ConsumeIntegralInRange<u64>(0, n - 1);
    for (u64 i = 0; i < n; ++i) {
      void* obj = model_.at((start + i) % n);
      if (model_.cache_of(obj) == c.index) return obj;
    }
    return nullptr;
  }

  void alloc(TestCache& c) {
    void* obj = exo_slab_alloc(c.cache, in_.ConsumeBool() ? EXO_SLAB_NOWAIT : 0);
    model_.on_alloc(c.index, obj);
  }

  void free(TestCache& c, void* obj) {
    model_.on_free(obj);
    exo_slab_free(c.cache, obj);
  }

  void alloc_bulk(TestCache& c) {
    u32 n = in_.ConsumeBool() ? in_.ConsumeIntegralInRange<u32>(0, 40)
                              : in_.ConsumeIntegralInRange<u32>(0, 300);
    std::vector<void*> objs(n + 1, nullptr);
    u32 got = exo_slab_alloc_bulk(c.cache, 0, n, objs.data());
    expect(got == n, "bulk alloc of " + std::to_string(n) + " got " + std::to_string(got));
    expect(objs[n] == nullptr, "bulk alloc wrote past the array");
    for (u32 i = 0; i < n; ++i) model_.on_alloc(c.index, objs[i]);
  }

  void free_bulk(TestCache& c) {
    std::vector<void*> objs;
    for (u32 n = in_.ConsumeIntegralInRange<u32>(0, 64); n; --n) {
      void* obj = pick(c);
      if (!obj) break;
      model_.on_free(obj);
      objs.push_back(obj);
    }
    exo_slab_free_bulk(c.cache, objs.size(), objs.data());
  }

  // The rules that hold at any time: the slabs' objects in use are the
  // live ones plus those parked in magazines.
  // A shrinker's scan: nothing for nr 0, never more than count said, and
  // short of nr only when the depot has no loaded magazine left.
  void reclaim(TestCache& c) {
    unsigned long nr = in_.ConsumeIntegralInRange<unsigned long>(0, 300), pages = 0;
    unsigned long before = exo_slab_reclaimable(c.cache);
    unsigned long freed = exo_slab_reclaim(c.cache, nr, in_.ConsumeBool(), &pages);
    if (nr == 0) expect(freed == 0 && pages == 0, "a scan of 0 freed something");
    expect(freed <= before, "a scan freed more than count reported");
    if (freed < nr) {
      exo_slab_stats s;
      exo_slab_get_stats(c.cache, &s);
      expect(s.depot_full_magazines == 0, "a short scan left loaded magazines in the depot");
    }
  }

  void check_stats(TestCache& c) {
    exo_slab_stats s;
    exo_slab_get_stats(c.cache, &s);
    u64 live = model_.live_in(c.index);
    expect(s.objects_in_use >= live + s.depot_cached,
           "objects_in_use " + std::to_string(s.objects_in_use) + " < live " +
               std::to_string(live) + " + depot " + std::to_string(s.depot_cached));
    expect(s.objects_in_use == s.slab_allocs - s.slab_frees, "slab_allocs - slab_frees");
    expect(s.pages == s.slabs << s.slab_order, "pages != slabs << order");
    expect(s.objects_in_use <= s.slabs * s.objects_per_slab, "more objects than slabs hold");
    expect(s.object_size == c.size(), "object_size");
    expect(s.debug == (c.debug() ? 1u : 0u), "debug");
    expect(s.magazine_size >= 8 && s.magazine_size <= 256, "magazine size out of range");
  }

  // Drained and shrunk (this is the only thread), the cache holds exactly
  // the live objects, and nothing is left to reclaim.
  void quiesce(TestCache& c) {
    exo_slab_drain_local(c.cache);
    exo_slab_shrink(c.cache, in_.ConsumeBool());
    exo_slab_stats s;
    exo_slab_get_stats(c.cache, &s);
    model_.check_quiesced(c.index, s);
    expect(exo_slab_reclaimable(c.cache) == 0, "reclaimable after a shrink");
  }

  // Reports since |before|: exactly one, and the cache counts it.
  void expect_one_report(TestCache& c, unsigned long before, const char* what) {
    ++c.debug_reports;
    expect(reports() == before + 1, std::string(what) + " reported " +
                                        std::to_string(reports() - before) + " times");
  }

  // Right after its free the object sits in a magazine and its slab lives:
  // the second free must be reported, and not free it again (the model
  // would see it handed out twice).
  void double_free(TestCache& c) {
    void* obj = c.debug() ? pick(c) : nullptr;
    if (!obj) return;
    free(c, obj);
    unsigned long before = reports();
    exo_slab_free(c.cache, obj);
    expect_one_report(c, before, "double free");
  }

  void overrun(TestCache& c) {
    void* obj = c.debug() ? pick(c) : nullptr;
    if (!obj) return;
    u8* bytes = static_cast<u8*>(obj);
    u32 at = c.size() + in_.ConsumeIntegralInRange<u32>(0, c.red_zone() - 1);
    bytes[at] ^= static_cast<u8>(in_.ConsumeIntegralInRange(1, 255));
    unsigned long before = reports();
    free(c, obj);
    expect_one_report(c, before, "red zone overrun");
  }

  // A free object is poisoned unless a constructor's state must stay: a
  // write to it shows at the next alloc, which (last in, first out)
  // hands out that very object.
  void write_after_free(TestCache& c) {
    void* obj = c.debug() && !c.params.ctor ? pick(c) : nullptr;
    if (!obj) return;
    free(c, obj);
    u32 at = in_.ConsumeIntegralInRange<u32>(0, c.size() - 1);
    static_cast<u8*>(obj)[at] ^= static_cast<u8>(in_.ConsumeIntegralInRange(1, 255));
    unsigned long before = reports();
    void* again = exo_slab_alloc(c.cache, 0);
    expect(again == obj, "the next alloc did not return the object just freed");
    expect_one_report(c, before, "write after free");
    model_.on_alloc(c.index, again);
  }

  FuzzedDataProvider& in_;
  SlabModel model_;
  std::vector<TestCache> caches_;
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Misuse reports are expected by the hundred: count them, do not print.
  setenv("EXO_HOSTED_QUIET_REPORTS", "1", 1);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  unsigned long pages_at_start = exo_hosted_pages_in_use();
  Run run(in);
  run.setup();
  // A few bytes go to the end: whether the live objects leak.
  while (in.remaining_bytes() > 1) run.step();
  run.finish(pages_at_start);
  return 0;
}
