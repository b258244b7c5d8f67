// SPDX-License-Identifier: GPL-2.0
// Debug mode (EXO_SLAB_DEBUG): red zones, poisoning and free checks. Each
// misuse is reported once, with the cache's name, through the platform's
// report (counted by the hosted one) and the cache's debug_reports; a
// free that must not happen (double, foreign) does not.
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "module/core/slab/debug_checks.h"
#include "module/core/slab/slab_api.h"
#include "tests/core/slab_test_base.h"
#include "userspace/hosted/hosted.h"

namespace exo_test {
namespace {

using exo::slab::DebugChecks;

class SlabDebugTest : public SlabTestBase {
 protected:
  void TearDown() override {
    for (exo_slab_cache* cache : caches_) {
      // Every object went back exactly once, misuse or not.
      exo_slab_drain_local(cache);
      exo_slab_shrink(cache, 0);
      exo_slab_stats s = stats(cache);
      EXPECT_EQ(s.objects_in_use, 0u) << s.name;
      EXPECT_EQ(s.slab_allocs, s.slab_frees) << s.name;
      EXPECT_EQ(exo_slab_destroy(cache), 0u) << s.name;
    }
    EXPECT_EQ(exo_hosted_pages_in_use(), pages_);
  }

  exo_slab_cache* create(const char* name, u32 size, u32 flags = EXO_SLAB_DEBUG, u32 align = 0) {
    return create_cache({name, size, align, flags, nullptr});
  }

  // Reports since the test started.
  unsigned long new_reports() const { return reports() - reports_; }
  // The last report names the cache and says |what|.
  static void expect_report(const char* cache, const char* what) {
    std::string r = last_report();
    EXPECT_NE(r.find(std::string("cache ") + cache + ":"), std::string::npos) << r;
    EXPECT_NE(r.find(what), std::string::npos) << r;
  }
};

bool poisoned(const void* obj, u32 size) {
  const u8* b = static_cast<const u8*>(obj);
  for (u32 i = 0; i + 1 < size; ++i)
    if (b[i] != DebugChecks::kPoison) return false;
  return b[size - 1] == DebugChecks::kPoisonEnd;
}

TEST_F(SlabDebugTest, ObjectsCarryARedZoneAndATag) {
  const u32 sizes[] = {8, 20, 24, 100, 4096};
  for (u32 size : sizes) {
    exo_slab_stats s = stats(create("layout", size));
    EXPECT_EQ(s.debug, 1u);
    EXPECT_GE(s.stride, align_up(size, 8) + exo::slab::kRedZone + sizeof(exo::slab::DebugTag))
        << size;
  }
}

// Free objects hold poison, so a new object shows no earlier contents.
TEST_F(SlabDebugTest, FreeObjectsArePoisoned) {
  exo_slab_cache* cache = create("poison", 50);
  std::vector<void*> objs(40);
  for (void*& obj : objs) {
    obj = exo_slab_alloc(cache, 0);
    EXPECT_TRUE(poisoned(obj, 50)) << "fresh from its slab";
    memset(obj, 0x11, 50);
  }
  for (void* obj : objs) exo_slab_free(cache, obj);
  for (void*& obj : objs) {
    obj = exo_slab_alloc(cache, 0);
    EXPECT_TRUE(poisoned(obj, 50)) << "reused";
  }
  for (void* obj : objs) exo_slab_free(cache, obj);
  EXPECT_EQ(new_reports(), 0u);
  EXPECT_EQ(stats(cache).debug_reports, 0u);
}

TEST_F(SlabDebugTest, DoubleFreeIsReportedAndNotFreedTwice) {
  exo_slab_cache* cache = create("dbl", 40);
  void* a = exo_slab_alloc(cache, 0);
  exo_slab_free(cache, a);
  exo_slab_stats before = stats(cache);
  exo_slab_free(cache, a);
  EXPECT_EQ(new_reports(), 1u);
  expect_report("dbl", "double free");
  exo_slab_stats s = stats(cache);
  EXPECT_EQ(s.debug_reports, 1u);
  EXPECT_EQ(s.cpu_free_hits + s.cpu_free_misses, before.cpu_free_hits + before.cpu_free_misses)
      << "the second free went nowhere";
  // Had it been freed twice, the next two allocs would both return it.
  void* x = exo_slab_alloc(cache, 0);
  void* y = exo_slab_alloc(cache, 0);
  EXPECT_EQ(x, a);
  EXPECT_NE(y, a);
  exo_slab_free(cache, x);
  exo_slab_free(cache, y);
  EXPECT_EQ(new_reports(), 1u);
}

TEST_F(SlabDebugTest, DoubleFreeInABulkFreeIsReportedAndSkipped) {
  exo_slab_cache* cache = create("bulk", 64);
  void* objs[6];
  ASSERT_EQ(exo_slab_alloc_bulk(cache, 0, 4, objs), 4u);
  objs[4] = objs[1];
  objs[5] = objs[3];
  exo_slab_free_bulk(cache, 6, objs);
  EXPECT_EQ(new_reports(), 2u);
  expect_report("bulk", "double free");
  // The four came back once each: four allocs, four distinct objects.
  void* again[5];
  ASSERT_EQ(exo_slab_alloc_bulk(cache, 0, 5, again), 5u);
  std::sort(again, again + 5);
  EXPECT_EQ(std::adjacent_find(again, again + 5), again + 5);
  exo_slab_free_bulk(cache, 5, again);
  EXPECT_EQ(new_reports(), 2u);
}

// The tag, not the magazine, knows an object is free: a double free is
// caught after the object went back to its slab too.
TEST_F(SlabDebugTest, DoubleFreeOfAnObjectBackInItsSlabIsReported) {
  exo_slab_cache* cache = create("slabbed", 64);
  void* keeper = exo_slab_alloc(cache, 0);  // keeps the slab (and its pages)
  void* a = exo_slab_alloc(cache, 0);
  exo_slab_free(cache, a);
  exo_slab_drain_local(cache);
  exo_slab_shrink(cache, 0);  // the magazines' objects back to the slab
  ASSERT_EQ(stats(cache).objects_in_use, 1u);
  exo_slab_free(cache, a);
  EXPECT_EQ(new_reports(), 1u);
  expect_report("slabbed", "double free");
  EXPECT_EQ(stats(cache).objects_in_use, 1u);
  exo_slab_free(cache, keeper);
}

TEST_F(SlabDebugTest, RedZoneOverrunIsReportedAtFreeOnce) {
  // Every byte of the red zone, for sizes on and off a word boundary.
  for (u32 size : {20u, 24u}) {
    exo_slab_cache* cache = create("overrun", size);
    u32 red_end = align_up(size, 8) + exo::slab::kRedZone;
    unsigned long expected = new_reports();
    for (u32 at = size; at < red_end; ++at) {
      u8* obj = static_cast<u8*>(exo_slab_alloc(cache, 0));
      memset(obj, 0, size);  // the whole object is fine
      obj[at] ^= 0xff;       // one byte past it is not
      exo_slab_free(cache, obj);
      EXPECT_EQ(new_reports(), ++expected) << "size " << size << " byte " << at;
      expect_report("overrun", "red zone");
      // Freed all the same, with the red zone restored: no second report.
      EXPECT_EQ(exo_slab_alloc(cache, 0), obj);
      exo_slab_free(cache, obj);
      EXPECT_EQ(new_reports(), expected);
    }
    EXPECT_EQ(stats(cache).debug_reports, red_end - size);
  }
}

TEST_F(SlabDebugTest, WriteAfterFreeIsReportedAtTheNextAlloc) {
  exo_slab_cache* cache = create("uaf", 33);
  for (u32 at : {0u, 16u, 32u}) {  // first, middle, last (POISON_END) byte
    u8* obj = static_cast<u8*>(exo_slab_alloc(cache, 0));
    unsigned long before = new_reports();
    exo_slab_free(cache, obj);
    obj[at] = 0;
    EXPECT_EQ(new_reports(), before) << "not seen until the object is handed out";
    EXPECT_EQ(exo_slab_alloc(cache, 0), obj);
    EXPECT_EQ(new_reports(), before + 1) << "byte " << at;
    expect_report("uaf", "write after free");
    exo_slab_free(cache, obj);
  }
}

// Through the slab's free list as well: the poison stays while the object
// sits there, and the alloc that hands it out again checks it.
TEST_F(SlabDebugTest, WriteAfterFreeIsReportedFromTheSlabToo) {
  exo_slab_cache* cache = create("uaf-slab", 64);
  void* keeper = exo_slab_alloc(cache, 0);
  u8* obj = static_cast<u8*>(exo_slab_alloc(cache, 0));
  exo_slab_free(cache, obj);
  exo_slab_drain_local(cache);
  exo_slab_shrink(cache, 0);
  obj[7] = 0x42;
  std::vector<void*> objs(16);
  for (void*& o : objs) o = exo_slab_alloc(cache, 0);
  EXPECT_NE(std::find(objs.begin(), objs.end(), obj), objs.end());
  EXPECT_EQ(new_reports(), 1u);
  expect_report("uaf-slab", "write after free");
  for (void* o : objs) exo_slab_free(cache, o);
  exo_slab_free(cache, keeper);
}

TEST_F(SlabDebugTest, FreeOfAnotherCachesObjectIsReportedAndIgnored) {
  exo_slab_cache* mine = create("mine", 64);
  exo_slab_cache* other = create("other", 64);
  exo_slab_cache* plain = create("plain", 64, 0);
  void* own = exo_slab_alloc(mine, 0);
  void* foreign = exo_slab_alloc(other, 0);
  void* undebugged = exo_slab_alloc(plain, 0);
  exo_slab_stats before = stats(mine);

  exo_slab_free(mine, foreign);
  EXPECT_EQ(new_reports(), 1u);
  expect_report("mine", "does not own");
  exo_slab_free(mine, undebugged);
  EXPECT_EQ(new_reports(), 2u);
  // Not the start of an object of ours either.
  exo_slab_free(mine, static_cast<u8*>(own) + 8);
  EXPECT_EQ(new_reports(), 3u);
  expect_report("mine", "does not own");

  exo_slab_stats s = stats(mine);
  EXPECT_EQ(s.debug_reports, 3u);
  EXPECT_EQ(s.cpu_free_hits + s.cpu_free_misses, before.cpu_free_hits + before.cpu_free_misses);
  EXPECT_EQ(stats(other).debug_reports, 0u);
  // Each object is still its owner's, to free once without a report.
  exo_slab_free(other, foreign);
  exo_slab_free(plain, undebugged);
  exo_slab_free(mine, own);
  EXPECT_EQ(new_reports(), 3u);
}

TEST_F(SlabDebugTest, LeaksAreReportedAtDestroy) {
  exo_slab_cache_params params = {"leaky-debug", 32, 0, EXO_SLAB_DEBUG, nullptr};
  exo_slab_cache* cache = nullptr;
  const char* why = "";
  ASSERT_EQ(exo_slab_create(&params, &cache, &why), 0) << why;
  for (int i = 0; i < 3; ++i) exo_slab_alloc(cache, 0);
  EXPECT_EQ(exo_slab_destroy(cache), 3u);
  EXPECT_EQ(new_reports(), 1u);
  expect_report("leaky-debug", "3 objects leaked");
}

}  // namespace
}  // namespace exo_test
