// SPDX-License-Identifier: GPL-2.0
// The slab cache through its C API, on one thread: objects handed out
// (distinct, aligned, writable, constructed once, reused last in first
// out), bulk calls, what the stats count at each level, draining, the
// tick's trim of the depot, shrinking and destroying (every page back,
// leaks counted), and random runs checked against SlabModel. The debug
// checks, the magazine sizer and the threaded runs have files of their own.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "module/core/platform.h"
#include "module/core/slab/slab_api.h"
#include "tests/core/slab_model.h"
#include "tests/core/slab_test_base.h"
#include "userspace/hosted/hosted.h"

namespace exo_test {
namespace {

// Every cache a test makes is destroyed by the end, without leaks, and
// gives back every page it took.
class SlabCacheTest : public SlabTestBase {
 protected:
  void TearDown() override {
    for (exo_slab_cache* cache : caches_) EXPECT_EQ(exo_slab_destroy(cache), 0u) << "leaks";
    EXPECT_EQ(exo_hosted_pages_in_use(), pages_) << "pages not returned";
  }

  exo_slab_cache* create(u32 size, u32 align = 0, u32 flags = 0,
                         void (*ctor)(void*) = nullptr, const char* name = "test") {
    return create_cache({name, size, align, flags, ctor});
  }

  unsigned long destroy(exo_slab_cache* cache) {
    caches_.erase(std::find(caches_.begin(), caches_.end(), cache));
    return exo_slab_destroy(cache);
  }

  // Pages that caches hold beyond what the test started with.
  unsigned long pages_held() const { return exo_hosted_pages_in_use() - pages_; }

  std::vector<void*> alloc_n(exo_slab_cache* cache, u32 n) {
    std::vector<void*> objs(n);
    for (void*& obj : objs) {
      obj = exo_slab_alloc(cache, 0);
      EXPECT_NE(obj, nullptr);
    }
    return objs;
  }
  static void free_all(exo_slab_cache* cache, const std::vector<void*>& objs) {
    for (void* obj : objs) exo_slab_free(cache, obj);
  }
};

// --- objects ------------------------------------------------------------------

struct Shape {
  u32 size, align, flags;
};

void PrintTo(const Shape& s, std::ostream* os) {
  *os << s.size << "B align " << s.align << (s.flags & EXO_SLAB_DEBUG ? " debug" : "");
}

class SlabObjects : public SlabCacheTest, public testing::WithParamInterface<Shape> {};

TEST_P(SlabObjects, AreDistinctAlignedAndKeepWhatIsWritten) {
  const Shape& shape = GetParam();
  exo_slab_cache* cache = create(shape.size, shape.align, shape.flags);
  SlabModel model;
  int c = model.add_cache(shape.size, shape.align, false);
  // Enough for several slabs and magazines, freed in two rounds so that
  // the second allocations reuse the first ones' objects.
  for (int round = 0; round < 2; ++round) {
    std::vector<void*> objs = alloc_n(cache, 600);
    for (void* obj : objs) model.on_alloc(c, obj);
    model.check_all();
    for (size_t i = 0; i < objs.size(); i += 2) model.on_free(objs[i]);
    for (size_t i = 0; i < objs.size(); i += 2) exo_slab_free(cache, objs[i]);
    for (size_t i = 1; i < objs.size(); i += 2) model.check(objs[i]);
    for (size_t i = 1; i < objs.size(); i += 2) model.on_free(objs[i]);
    for (size_t i = 1; i < objs.size(); i += 2) exo_slab_free(cache, objs[i]);
    ASSERT_FALSE(model.failed()) << model.failure();
  }
  exo_slab_drain_local(cache);
  exo_slab_shrink(cache, 0);
  model.check_quiesced(c, stats(cache));
  EXPECT_FALSE(model.failed()) << model.failure();
  EXPECT_EQ(pages_held(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Slab, SlabObjects,
                         testing::Values(Shape{8, 0, 0}, Shape{13, 0, 0}, Shape{64, 64, 0},
                                         Shape{200, 32, 0}, Shape{1000, 0, 0},
                                         Shape{4096, 0, 0}, Shape{8, 4096, 0},
                                         Shape{24, 0, EXO_SLAB_DEBUG},
                                         Shape{333, 128, EXO_SLAB_DEBUG}));

// Without debug mode an object takes its size rounded to its alignment:
// no header, no red zone, no free-list word of its own.
TEST_F(SlabCacheTest, NonDebugStrideIsTheSizeRoundedToTheAlignment) {
  const u32 sizes[] = {8, 9, 24, 100, 1000, 4095, 4096};
  const u32 aligns[] = {0, 8, 16, 64, 512, 4096};
  for (u32 size : sizes) {
    for (u32 align : aligns) {
      exo_slab_cache* cache = create(size, align);
      exo_slab_stats s = stats(cache);
      EXPECT_EQ(s.stride, align_up(size, align ? align : 8)) << size << " align " << align;
      EXPECT_EQ(s.debug, 0u);
      EXPECT_EQ(destroy(cache), 0u);
    }
  }
}

TEST_F(SlabCacheTest, FreedObjectsComeBackLastInFirstOut) {
  exo_slab_cache* cache = create(64);
  std::vector<void*> objs = alloc_n(cache, 5);
  free_all(cache, objs);
  for (size_t i = objs.size(); i-- > 0;) EXPECT_EQ(exo_slab_alloc(cache, 0), objs[i]);
  // And across magazines: more than two magazines' worth.
  std::vector<void*> many = alloc_n(cache, 100);
  free_all(cache, many);
  for (size_t i = many.size(); i-- > 0;) EXPECT_EQ(exo_slab_alloc(cache, 0), many[i]);
  free_all(cache, many);
  free_all(cache, objs);
}

TEST_F(SlabCacheTest, AllocReturnsNullForNoObjectAndFreeOfNullIsANoOp) {
  exo_slab_cache* cache = create(64);
  exo_slab_free(cache, nullptr);
  exo_slab_stats s = stats(cache);
  EXPECT_EQ(s.cpu_free_hits + s.cpu_free_misses, 0u);
  EXPECT_EQ(pages_held(), 0u);
}

// --- constructors -------------------------------------------------------------

// Counts calls per object address (a slab made again at the same address
// counts again: it is a new object).
std::map<void*, int> constructed;
u64 ctor_calls = 0;

template <u32 kSize>
void construct(void* obj) {
  slab_fill(obj, kSize, kConstructedSeed);
  ++constructed[obj];
  ++ctor_calls;
}

class SlabCtorTest : public SlabCacheTest {
 protected:
  void SetUp() override {
    SlabCacheTest::SetUp();
    constructed.clear();
    ctor_calls = 0;
  }
  // The constructor ran once for each object of each slab ever made.
  static void expect_one_call_per_object_made(const exo_slab_stats& s) {
    EXPECT_EQ(ctor_calls, (s.pages_allocated >> s.slab_order) * s.objects_per_slab);
  }
};

TEST_F(SlabCtorTest, RunsOncePerObjectAndItsStateSurvivesReuse) {
  constexpr u32 kSize = 48;
  exo_slab_cache* cache = create(kSize, 0, 0, construct<kSize>);
  SlabModel model;
  int c = model.add_cache(kSize, 0, /*ctor=*/true);
  exo_slab_stats s = stats(cache);
  // The free-list link lies past the object, so its constructed bytes stay.
  EXPECT_GT(s.stride, kSize);

  // Fresh objects: constructed when their slab was made, once each.
  std::vector<void*> objs = alloc_n(cache, 3 * s.objects_per_slab);
  for (void* obj : objs) model.on_alloc(c, obj);
  ASSERT_FALSE(model.failed()) << model.failure();
  for (const auto& [obj, calls] : constructed) EXPECT_EQ(calls, 1) << obj;
  expect_one_call_per_object_made(stats(cache));
  u64 calls_before = ctor_calls;

  // Back in their constructed state (the model restores it) through the
  // magazines, then through the slabs' free lists: one object stays live
  // so that its slab, and the free list in it, stay.
  void* keeper = objs[0];
  for (size_t i = 1; i < objs.size(); ++i) model.on_free(objs[i]);
  for (size_t i = 1; i < objs.size(); ++i) exo_slab_free(cache, objs[i]);
  std::vector<void*> again = alloc_n(cache, 10);  // from the magazines
  for (void* obj : again) model.on_alloc(c, obj);
  ASSERT_FALSE(model.failed()) << model.failure();
  EXPECT_EQ(ctor_calls, calls_before);
  for (void* obj : again) model.on_free(obj);
  free_all(cache, again);
  exo_slab_drain_local(cache);
  exo_slab_shrink(cache, 0);
  s = stats(cache);
  EXPECT_EQ(s.objects_in_use, 1u);
  EXPECT_EQ(s.slabs, 1u);
  // Three magazines' worth, all from the one slab left.
  ASSERT_LT(3 * s.magazine_size, s.objects_per_slab);
  std::vector<void*> from_slab = alloc_n(cache, 3 * s.magazine_size);
  for (void* obj : from_slab) model.on_alloc(c, obj);
  ASSERT_FALSE(model.failed()) << model.failure();
  EXPECT_EQ(ctor_calls, calls_before) << "objects from a live slab are constructed already";
  for (void* obj : from_slab) model.on_free(obj);
  free_all(cache, from_slab);
  model.on_free(keeper);
  exo_slab_free(cache, keeper);
  expect_one_call_per_object_made(stats(cache));
}

TEST_F(SlabCtorTest, DebugCachesKeepTheConstructedStateToo) {
  constexpr u32 kSize = 20;
  exo_slab_cache* cache = create(kSize, 0, EXO_SLAB_DEBUG, construct<kSize>);
  SlabModel model;
  int c = model.add_cache(kSize, 0, /*ctor=*/true);
  for (int round = 0; round < 3; ++round) {
    std::vector<void*> objs = alloc_n(cache, 300);
    for (void* obj : objs) model.on_alloc(c, obj);
    for (void* obj : objs) model.on_free(obj);
    free_all(cache, objs);
    exo_slab_drain_local(cache);
    exo_slab_tick(cache);
    exo_slab_tick(cache);  // the depot's magazines go back to the slabs
  }
  EXPECT_FALSE(model.failed()) << model.failure();
  exo_slab_stats s = stats(cache);
  expect_one_call_per_object_made(s);
  EXPECT_EQ(s.debug_reports, 0u);
  EXPECT_EQ(reports(), reports_);
}

// --- bulk ----------------------------------------------------------------------

TEST_F(SlabCacheTest, BulkAllocHandsOutDistinctObjectsAndBulkFreeTakesThemBack) {
  exo_slab_cache* cache = create(96, 32);
  SlabModel model;
  int c = model.add_cache(96, 32, false);
  // Around the magazine size, and past several slabs.
  const u32 counts[] = {1, 15, 16, 17, 33, 100, 1000};
  std::vector<std::vector<void*>> held;
  for (u32 n : counts) {
    std::vector<void*> objs(n);
    ASSERT_EQ(exo_slab_alloc_bulk(cache, 0, n, objs.data()), n);
    for (void* obj : objs) model.on_alloc(c, obj);
    held.push_back(objs);
  }
  ASSERT_FALSE(model.failed()) << model.failure();
  // Freed in bulk in other groupings than they came in.
  std::vector<void*> all;
  for (auto& objs : held)
    for (void* obj : objs) all.push_back(obj);
  std::mt19937 rng(1);
  std::shuffle(all.begin(), all.end(), rng);
  for (size_t i = 0; i < all.size();) {
    u32 n = std::min<size_t>(1 + rng() % 70, all.size() - i);
    for (u32 k = 0; k < n; ++k) model.on_free(all[i + k]);
    exo_slab_free_bulk(cache, n, all.data() + i);
    i += n;
  }
  ASSERT_FALSE(model.failed()) << model.failure();
  void* none[1] = {nullptr};
  EXPECT_EQ(exo_slab_alloc_bulk(cache, 0, 0, none), 0u);
  exo_slab_free_bulk(cache, 0, none);
  exo_slab_drain_local(cache);
  exo_slab_shrink(cache, 0);
  model.check_quiesced(c, stats(cache));
  EXPECT_FALSE(model.failed()) << model.failure();
  EXPECT_EQ(pages_held(), 0u);
}

// Caps the address space a little above what the process maps now, so that
// the page allocator (mmap) fails; restored at the end of the scope.
class AddressSpaceCap {
 public:
  explicit AddressSpaceCap(unsigned long extra_bytes) {
    getrlimit(RLIMIT_AS, &saved_);
    unsigned long vm_pages = 0;
    FILE* f = fopen("/proc/self/statm", "r");
    if (f) {
      if (fscanf(f, "%lu", &vm_pages) != 1) vm_pages = 0;
      fclose(f);
    }
    rlimit cap = saved_;
    cap.rlim_cur = vm_pages * 4096 + extra_bytes;
    ok_ = vm_pages && setrlimit(RLIMIT_AS, &cap) == 0;
  }
  ~AddressSpaceCap() { setrlimit(RLIMIT_AS, &saved_); }
  bool ok() const { return ok_; }

 private:
  rlimit saved_;
  bool ok_ = false;
};

// All or nothing: when pages run out midway, the objects gathered so far
// go back and the caller gets none (and no pointer is lost: the cache
// empties and shrinks to nothing afterwards).
TEST_F(SlabCacheTest, BulkAllocIsAllOrNothingWhenPagesRunOut) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "sanitizer runtimes need their address space";
#else
  exo_slab_cache* cache = create(4096);
  constexpr u32 kWanted = 40000;  // 160 MiB of objects
  std::vector<void*> objs(kWanted, nullptr);
  // A single alloc that finds no page gets NULL.
  exo_slab_cache* fresh = create(2048);
  void* single;
  {
    AddressSpaceCap cap(0);
    if (!cap.ok()) GTEST_SKIP() << "cannot cap the address space";
    single = exo_slab_alloc(fresh, EXO_SLAB_NOWAIT);
  }
  EXPECT_EQ(single, nullptr);
  exo_slab_free(fresh, single);

  void* held = exo_slab_alloc(cache, 0);  // a few objects come from magazines
  ASSERT_NE(held, nullptr);
  unsigned int got;
  {
    AddressSpaceCap cap(32ul << 20);
    got = exo_slab_alloc_bulk(cache, 0, kWanted, objs.data());
  }
  EXPECT_EQ(got, 0u);
  exo_slab_free(cache, held);
  exo_slab_drain_local(cache);
  exo_slab_shrink(cache, 0);
  exo_slab_stats s = stats(cache);
  EXPECT_EQ(s.objects_in_use, 0u);
  EXPECT_GT(s.slab_allocs, 1000u) << "the cap came too early to test anything";
  EXPECT_EQ(s.slab_allocs, s.slab_frees);
  EXPECT_EQ(s.pages, 0u);
  // And the cache works once pages are back.
  ASSERT_EQ(exo_slab_alloc_bulk(cache, 0, 100, objs.data()), 100u);
  exo_slab_free_bulk(cache, 100, objs.data());
#endif
}

// --- stats ---------------------------------------------------------------------

// One thread on a fresh cache of 64-byte objects (63 a slab, magazines of
// 16): every counter follows from the Bonwick design step by step.
TEST_F(SlabCacheTest, StatsCountEachLevel) {
  exo_slab_cache* cache = create(64);
  exo_slab_stats s = stats(cache);
  ASSERT_EQ(s.magazine_size, 16u);
  ASSERT_EQ(s.objects_per_slab, 63u);
  EXPECT_EQ(s.pages, 0u);
  EXPECT_EQ(s.magazines_allocated, 0u);

  // The first alloc misses (no magazine yet) and fills a magazine from a
  // new slab: 16 objects leave the slab, one for the caller.
  std::vector<void*> objs = alloc_n(cache, 1);
  s = stats(cache);
  EXPECT_EQ(s.cpu_alloc_misses, 1u);
  EXPECT_EQ(s.cpu_alloc_hits, 0u);
  EXPECT_EQ(s.slab_allocs, 16u);
  EXPECT_EQ(s.objects_in_use, 16u);
  EXPECT_EQ(s.magazines_allocated, 1u);
  EXPECT_EQ(s.slabs, 1u);
  EXPECT_EQ(s.pages, 1u);
  EXPECT_EQ(s.pages_allocated, 1u);

  // 15 hits empty it; the 17th alloc misses (the depot has nothing
  // loaded) and refills a new magazine; the empty one goes to the depot.
  for (void* obj : alloc_n(cache, 16)) objs.push_back(obj);
  s = stats(cache);
  EXPECT_EQ(s.cpu_alloc_hits, 15u);
  EXPECT_EQ(s.cpu_alloc_misses, 2u);
  EXPECT_EQ(s.slab_allocs, 32u);
  EXPECT_EQ(s.magazines_allocated, 2u);
  EXPECT_EQ(s.depot_empty_magazines, 1u);
  EXPECT_EQ(s.depot_full_magazines, 0u);
  EXPECT_EQ(s.depot_exchanges, 0u);

  // 17 frees: one fills the loaded magazine, the next trades nothing for
  // the depot's empty magazine (a miss and an exchange), 15 more fill it.
  free_all(cache, objs);
  s = stats(cache);
  EXPECT_EQ(s.cpu_free_hits, 16u);
  EXPECT_EQ(s.cpu_free_misses, 1u);
  EXPECT_EQ(s.depot_exchanges, 1u);
  EXPECT_EQ(s.depot_empty_magazines, 0u);
  EXPECT_EQ(s.slab_frees, 0u) << "frees stay in the magazines";

  // 40 allocs: two full magazines serve 32 (the swap between them is no
  // miss), then a miss with nothing in the depot refills from the slabs.
  objs = alloc_n(cache, 40);
  s = stats(cache);
  EXPECT_EQ(s.cpu_alloc_hits, 15u + 39u);
  EXPECT_EQ(s.cpu_alloc_misses, 3u);
  EXPECT_EQ(s.slab_allocs, 48u);
  EXPECT_EQ(s.magazines_allocated, 3u);
  EXPECT_EQ(s.depot_empty_magazines, 1u);

  // 40 frees: 8 fill the loaded magazine, 16 the previous one after a
  // swap, then both are full: the previous one goes to the depot for its
  // empty magazine, which takes the last 16.
  free_all(cache, objs);
  s = stats(cache);
  EXPECT_EQ(s.cpu_free_hits, 16u + 39u);
  EXPECT_EQ(s.cpu_free_misses, 2u);
  EXPECT_EQ(s.depot_exchanges, 2u);
  EXPECT_EQ(s.depot_full_magazines, 1u);
  EXPECT_EQ(s.depot_cached, 16u);
  EXPECT_EQ(s.depot_empty_magazines, 0u);
  EXPECT_EQ(s.objects_in_use, 48u) << "all in magazines: 16 + 16 in the CPU, 16 in the depot";
  EXPECT_EQ(exo_slab_reclaimable(cache), 16u);

  // 33 allocs: 32 from the CPU's magazines, then the depot's full
  // magazine for an empty one, without going near the slabs.
  objs = alloc_n(cache, 33);
  s = stats(cache);
  EXPECT_EQ(s.cpu_alloc_hits, 54u + 32u);
  EXPECT_EQ(s.cpu_alloc_misses, 4u);
  EXPECT_EQ(s.depot_exchanges, 3u);
  EXPECT_EQ(s.depot_full_magazines, 0u);
  EXPECT_EQ(s.depot_cached, 0u);
  EXPECT_EQ(s.depot_empty_magazines, 1u);
  EXPECT_EQ(s.slab_allocs, 48u);
  EXPECT_EQ(s.slab_frees, 0u);

  free_all(cache, objs);
  exo_slab_drain_local(cache);
  EXPECT_EQ(exo_slab_shrink(cache, 0), 1u);
  s = stats(cache);
  EXPECT_EQ(s.slab_frees, 48u);
  EXPECT_EQ(s.objects_in_use, 0u);
  EXPECT_EQ(s.pages, 0u);
  EXPECT_EQ(s.pages_freed, 1u);
  EXPECT_EQ(s.depot_full_magazines + s.depot_empty_magazines, 0u);
  EXPECT_EQ(s.magazine_size, 16u) << "no tick, no pressure: no resize";
  EXPECT_EQ(s.trace_len, 0u);
}

// --- draining, shrinking, destroying ---------------------------------------------

TEST_F(SlabCacheTest, DrainLocalMovesThisCpusMagazinesToTheDepot) {
  exo_slab_cache* cache = create(64);
  free_all(cache, alloc_n(cache, 40));
  exo_slab_stats before = stats(cache);
  ASSERT_LT(before.depot_cached, before.objects_in_use) << "some objects sit in the CPU";
  exo_slab_drain_local(cache);
  exo_slab_stats s = stats(cache);
  EXPECT_EQ(s.depot_cached, s.objects_in_use);
  EXPECT_EQ(s.depot_full_magazines, before.depot_full_magazines + 2);
  EXPECT_EQ(s.slab_frees, before.slab_frees) << "draining frees nothing";
  EXPECT_EQ(exo_slab_reclaimable(cache), s.objects_in_use);
  exo_slab_drain_local(cache);  // nothing left to move
  exo_slab_stats again = stats(cache);
  EXPECT_EQ(again.depot_full_magazines, s.depot_full_magazines);
  EXPECT_EQ(again.depot_empty_magazines, s.depot_empty_magazines);
  // The next alloc misses the CPU and takes a magazine from the depot.
  void* obj = exo_slab_alloc(cache, 0);
  s = stats(cache);
  EXPECT_EQ(s.cpu_alloc_misses, before.cpu_alloc_misses + 1);
  EXPECT_EQ(s.depot_exchanges, before.depot_exchanges + 1);
  EXPECT_EQ(s.slab_allocs, before.slab_allocs);
  exo_slab_free(cache, obj);
}

// A CPU outlives the threads that ran on it: a thread that exited leaves
// its magazines in its CPU until something drains it.
TEST_F(SlabCacheTest, DrainCpuMovesAnIdleCpusMagazinesToTheDepot) {
  exo_slab_cache* cache = create(128);
  unsigned int cpu = ~0u;
  std::thread([&] {
    cpu = exo_plat_cpu_enter();
    exo_plat_cpu_exit();
    std::vector<void*> objs(50);
    for (void*& obj : objs) obj = exo_slab_alloc(cache, 0);
    for (void* obj : objs) exo_slab_free(cache, obj);
  }).join();
  unsigned int mine = exo_plat_cpu_enter();
  exo_plat_cpu_exit();
  ASSERT_NE(cpu, mine);
  exo_slab_stats before = stats(cache);
  ASSERT_LT(before.depot_cached, before.objects_in_use);
  exo_slab_drain_cpu(cache, mine);  // ours holds nothing: no change
  EXPECT_EQ(stats(cache).depot_cached, before.depot_cached);
  exo_slab_drain_cpu(cache, cpu);
  exo_slab_stats s = stats(cache);
  EXPECT_EQ(s.depot_cached, s.objects_in_use);
  EXPECT_EQ(exo_slab_shrink(cache, 0), before.pages);
  EXPECT_EQ(pages_held(), 0u);
}

// A shrinker's scan (exo_slab_reclaim) frees what nr_to_scan asks, not
// everything, and says what it freed in count's unit; nothing left: 0
// (the shim's SHRINK_STOP). The old scan shrank every cache whole and
// reported the count taken before.
TEST_F(SlabCacheTest, ShrinkerScanHonoursNrToScanAndReportsWhatItFreed) {
  exo_slab_cache* cache = create(256);
  free_all(cache, alloc_n(cache, 1000));
  exo_slab_drain_local(cache);
  exo_slab_stats s = stats(cache);
  const unsigned long per_slab = s.objects_per_slab, mag = s.magazine_size;
  auto count = [&] {
    exo_slab_stats st = stats(cache);
    return st.depot_cached + st.slabs_empty * per_slab;
  };
  ASSERT_EQ(exo_slab_reclaimable(cache), count());
  ASSERT_EQ(exo_slab_reclaimable(cache), s.objects_in_use + s.slabs_empty * per_slab);

  unsigned long pages = 99;
  EXPECT_EQ(exo_slab_reclaim(cache, 0, 0, &pages), 0u);
  EXPECT_EQ(pages, 0u);
  EXPECT_EQ(stats(cache).objects_in_use, s.objects_in_use) << "nr_to_scan 0 frees nothing";

  unsigned long before = exo_slab_reclaimable(cache), held = pages_held();
  unsigned long freed = exo_slab_reclaim(cache, 10, 0, &pages);
  EXPECT_GE(freed, 10u);
  EXPECT_LT(freed, 10u + std::max(mag, per_slab)) << "one magazine or slab past the ask, at most";
  EXPECT_EQ(pages, held - pages_held()) << "the pages it says went back did";
  exo_slab_stats after = stats(cache);
  EXPECT_GE(after.objects_in_use, s.objects_in_use - freed) << "most of the cache is still there";
  EXPECT_GT(exo_slab_reclaimable(cache), before / 2);

  // Scans of 128 (the kernel's SHRINK_BATCH) until nothing is left.
  unsigned long total = freed, calls = 0;
  while ((freed = exo_slab_reclaim(cache, 128, 0, &pages)) != 0) {
    EXPECT_LT(freed, 128u + std::max(mag, per_slab));
    total += freed;
    ASSERT_LT(++calls, 1000u);
  }
  EXPECT_GT(calls, 3u) << "1000 objects need several batches of 128";
  EXPECT_EQ(exo_slab_reclaimable(cache), 0u);
  EXPECT_EQ(pages_held(), 0u) << "drained first, so everything goes";
  EXPECT_GE(total, before);
  EXPECT_EQ(exo_slab_reclaim(cache, 128, 0, &pages), 0u);
  EXPECT_EQ(pages, 0u);
  EXPECT_EQ(stats(cache).magazine_size, mag) << "no pressure: no resize";
  exo_slab_reclaim(cache, 1, 1, &pages);
  EXPECT_LT(stats(cache).magazine_size, mag) << "pressure steps the magazine size down";
}

TEST_F(SlabCacheTest, ShrinkReturnsThePagesOfEverythingNotInACpu) {
  exo_slab_cache* cache = create(256);
  std::vector<void*> objs = alloc_n(cache, 1000);
  exo_slab_stats s = stats(cache);
  EXPECT_EQ(pages_held(), s.pages);
  EXPECT_GE(s.pages * 4096, 1000u * 256);
  free_all(cache, objs);
  s = stats(cache);
  EXPECT_GT(exo_slab_reclaimable(cache), 0u);
  // Without a drain the CPU's two magazines keep their objects and slabs.
  unsigned long freed = exo_slab_shrink(cache, 0);
  exo_slab_stats after = stats(cache);
  EXPECT_EQ(freed, s.pages - after.pages);
  EXPECT_GT(after.pages, 0u);
  EXPECT_LE(after.objects_in_use, 2u * after.magazine_size);
  EXPECT_EQ(pages_held(), after.pages);
  EXPECT_EQ(exo_slab_reclaimable(cache), 0u);
  // Drained, everything goes.
  exo_slab_drain_local(cache);
  EXPECT_EQ(exo_slab_reclaimable(cache), after.objects_in_use);
  EXPECT_EQ(exo_slab_shrink(cache, 0), after.pages);
  EXPECT_EQ(pages_held(), 0u);
  EXPECT_EQ(exo_slab_shrink(cache, 0), 0u);
  // Shrinking without pressure leaves the magazine size.
  EXPECT_EQ(stats(cache).magazine_size, 16u);
  EXPECT_EQ(stats(cache).trace_len, 0u);
}

TEST_F(SlabCacheTest, DestroyReturnsEveryPage) {
  exo_slab_cache* cache = create(512);
  std::vector<void*> objs = alloc_n(cache, 300);
  free_all(cache, objs);  // in magazines, depot and slabs alike
  ASSERT_GT(pages_held(), 0u);
  EXPECT_EQ(destroy(cache), 0u);
  EXPECT_EQ(pages_held(), 0u);
  EXPECT_EQ(reports(), reports_) << "no leak, no report";
}

TEST_F(SlabCacheTest, DestroyCountsAndReportsLeaks) {
  exo_slab_cache* cache = create(100, 0, 0, nullptr, "leaky");
  std::vector<void*> objs = alloc_n(cache, 100);
  for (size_t i = 0; i < 60; ++i) exo_slab_free(cache, objs[i]);
  EXPECT_EQ(destroy(cache), 40u);
  EXPECT_EQ(reports(), reports_ + 1);
  std::string report = last_report();
  EXPECT_NE(report.find("leaky"), std::string::npos) << report;
  EXPECT_NE(report.find("40 objects leaked"), std::string::npos) << report;
  EXPECT_EQ(pages_held(), 0u);
}

// Objects a thread still held when it exited are leaks like any other;
// the magazines its CPU kept are not.
TEST_F(SlabCacheTest, DestroyCountsLeaksOfExitedThreads) {
  exo_slab_cache* cache = create(32, 0, EXO_SLAB_DEBUG);
  std::thread([cache] {
    for (int i = 0; i < 100; ++i) exo_slab_free(cache, exo_slab_alloc(cache, 0));
    for (int i = 0; i < 7; ++i) exo_slab_alloc(cache, 0);
  }).join();
  EXPECT_EQ(destroy(cache), 7u);
  EXPECT_EQ(reports(), reports_ + 1);
  EXPECT_EQ(pages_held(), 0u);
}

// --- the tick: the depot's working set ----------------------------------------------

// Bonwick's working set: what the depot held through a whole interval was
// not needed, and the tick returns it to the slabs; magazines that were
// taken during the interval stay.
TEST_F(SlabCacheTest, TickTrimsTheDepotToItsWorkingSet) {
  exo_slab_cache* cache = create(64);
  free_all(cache, alloc_n(cache, 100));
  exo_slab_drain_local(cache);
  exo_slab_stats s = stats(cache);
  const u64 full = s.depot_full_magazines;
  ASSERT_GE(full, 3u);
  ASSERT_EQ(s.depot_cached, s.objects_in_use);

  // The interval so far took no loaded magazine from the depot, but the
  // count starts when the first interval does: nothing goes yet.
  exo_slab_tick(cache);
  s = stats(cache);
  EXPECT_EQ(s.depot_full_magazines, full);
  EXPECT_EQ(s.ticks, 1u);

  // One magazine taken and given back during the next interval: the
  // other full - 1 were never needed.
  exo_slab_free(cache, exo_slab_alloc(cache, 0));
  exo_slab_drain_local(cache);
  exo_slab_tick(cache);
  s = stats(cache);
  EXPECT_EQ(s.depot_full_magazines, 1u);
  EXPECT_EQ(s.depot_cached, s.objects_in_use) << "the rest went back to the slabs";
  EXPECT_GT(s.slab_frees, 0u);

  // An idle interval: the last one goes too, and the slabs empty.
  exo_slab_tick(cache);
  s = stats(cache);
  EXPECT_EQ(s.depot_full_magazines, 0u);
  EXPECT_EQ(s.depot_cached, 0u);
  EXPECT_EQ(s.objects_in_use, 0u);
  EXPECT_LE(s.slabs, 1u) << "one empty slab may stay until a shrink";
  EXPECT_EQ(s.depot_empty_magazines, 0u) << "the empty magazines were unused too";
  exo_slab_shrink(cache, 0);
  EXPECT_EQ(pages_held(), 0u);
}

// --- random runs against the model -------------------------------------------------

struct RandomCase {
  const char* label;
  Shape a, b;  // two caches, used side by side
  bool ctor;   // a constructor on cache b
  u32 seed;
  int steps = 20000;
};

void PrintTo(const RandomCase& c, std::ostream* os) { *os << c.label; }

void construct_b(void* obj);
u32 ctor_b_size = 0;
void construct_b(void* obj) { slab_fill(obj, ctor_b_size, kConstructedSeed); }

class SlabRandomOps : public SlabCacheTest, public testing::WithParamInterface<RandomCase> {};

TEST_P(SlabRandomOps, MatchTheModel) {
  const RandomCase& rc = GetParam();
  ctor_b_size = rc.b.size;
  exo_slab_cache* caches[2] = {
      create(rc.a.size, rc.a.align, rc.a.flags, nullptr, "a"),
      create(rc.b.size, rc.b.align, rc.b.flags, rc.ctor ? construct_b : nullptr, "b")};
  SlabModel model;
  model.add_cache(rc.a.size, rc.a.align, false);
  model.add_cache(rc.b.size, rc.b.align, rc.ctor);
  std::mt19937 rng(rc.seed);
  auto pick = [&](u32 n) { return static_cast<u32>(rng() % n); };
  std::vector<void*> batch;
  for (int step = 0; step < rc.steps && !model.failed(); ++step) {
    int c = pick(2);
    exo_slab_cache* cache = caches[c];
    u32 op = pick(100);
    if (op < 35) {
      model.on_alloc(c, exo_slab_alloc(cache, pick(2) ? EXO_SLAB_NOWAIT : 0));
    } else if (op < 65) {
      if (!model.live()) continue;
      void* obj = model.at(pick(model.live()));
      exo_slab_cache* owner = caches[model.cache_of(obj)];
      model.on_free(obj);
      exo_slab_free(owner, obj);
    } else if (op < 72) {
      u32 n = 1 + pick(40);
      batch.assign(n, nullptr);
      if (exo_slab_alloc_bulk(cache, 0, n, batch.data()) != n) model.fail("bulk alloc failed");
      for (void* obj : batch) model.on_alloc(c, obj);
    } else if (op < 80) {
      batch.clear();
      for (u32 n = pick(40); n && model.live(); --n) {
        void* obj = model.at(pick(model.live()));
        if (model.cache_of(obj) != c) continue;
        model.on_free(obj);
        batch.push_back(obj);
      }
      exo_slab_free_bulk(cache, batch.size(), batch.data());
    } else if (op < 88) {
      if (model.live()) model.rewrite(model.at(pick(model.live())));
    } else if (op < 94) {
      if (model.live()) model.check(model.at(pick(model.live())));
    } else if (op < 96) {
      exo_slab_drain_local(cache);
    } else if (op < 98) {
      exo_slab_tick(cache);
    } else if (op < 99) {
      exo_slab_shrink(cache, pick(2));
    } else {
      exo_slab_drain_local(cache);
      exo_slab_shrink(cache, 0);
      model.check_quiesced(c, stats(cache));
    }
  }
  ASSERT_FALSE(model.failed()) << model.failure();
  model.check_all();
  while (model.live()) {
    void* obj = model.at(0);
    exo_slab_cache* owner = caches[model.cache_of(obj)];
    model.on_free(obj);
    exo_slab_free(owner, obj);
  }
  EXPECT_FALSE(model.failed()) << model.failure();
  for (exo_slab_cache* cache : caches) {
    EXPECT_EQ(stats(cache).debug_reports, 0u);
    EXPECT_EQ(destroy(cache), 0u);
  }
  EXPECT_EQ(reports(), reports_);
}

INSTANTIATE_TEST_SUITE_P(
    Slab, SlabRandomOps,
    testing::Values(
        RandomCase{"Small", {8, 0, 0}, {16, 0, 0}, false, 1},
        RandomCase{"Mixed", {100, 64, 0}, {700, 0, 0}, true, 2},
        RandomCase{"Debug", {24, 0, EXO_SLAB_DEBUG}, {130, 16, EXO_SLAB_DEBUG}, false, 3},
        RandomCase{"DebugCtor", {64, 0, 0}, {40, 0, EXO_SLAB_DEBUG}, true, 4},
        RandomCase{"Large", {4096, 0, 0}, {2000, 4096, EXO_SLAB_DEBUG}, true, 5, 8000}),
    [](const auto& info) { return std::string(info.param.label); });

}  // namespace
}  // namespace exo_test
