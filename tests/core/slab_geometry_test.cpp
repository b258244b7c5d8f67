// SPDX-License-Identifier: GPL-2.0
// The slab cache's parameters and layout: what exo_slab_create() rejects
// and why, and where plan_geometry() puts objects (alignment, objects per
// slab, the slab order it picks), checked for every size and alignment and
// against the objects a cache really hands out.
#include <errno.h>
#include <string.h>

#include <string>

#include <gtest/gtest.h>

#include "module/core/slab/geometry.h"
#include "module/core/slab/slab_api.h"
#include "module/core/slab/slab_layer.h"
#include "tests/core/slab_test_base.h"
#include "userspace/hosted/hosted.h"

namespace exo_test {
namespace {

using exo::slab::Geometry;
using exo::slab::kMaxOrder;
using exo::slab::kMinObjectsPerSlab;
using exo::slab::kPageSize;
using exo::slab::kRedZone;
using exo::slab::plan_geometry;

void noop_ctor(void*) {}

// --- exo_slab_create(): rejected parameters ---------------------------------

struct BadParams {
  const char* label;
  const char* name;
  u32 size, align, flags;
  const char* parameter;  // what *why must start with
};

void PrintTo(const BadParams& c, std::ostream* os) { *os << c.label; }

const std::string kName31(31, 'n');
const std::string kName32(32, 'n');

const BadParams kBadParams[] = {
    {"NullName", nullptr, 64, 0, 0, "name"},
    {"EmptyName", "", 64, 0, 0, "name"},
    {"NameOf32Chars", kName32.c_str(), 64, 0, 0, "name"},
    {"UnknownFlag", "c", 64, 0, 1u << 2, "flags"},
    {"HighFlag", "c", 64, 0, 1u << 31, "flags"},
    {"SizeZero", "c", 0, 0, 0, "size"},
    {"SizeBelowMin", "c", EXO_SLAB_MIN_SIZE - 1, 0, 0, "size"},
    {"SizeAboveMax", "c", EXO_SLAB_MAX_SIZE + 1, 0, 0, "size"},
    {"SizeHuge", "c", ~0u, 0, EXO_SLAB_DEBUG, "size"},
    {"AlignNotPowerOfTwo", "c", 64, 24, 0, "align"},
    {"AlignOdd", "c", 64, 3, 0, "align"},
    {"AlignBelowEight", "c", 64, 4, 0, "align"},
    {"AlignAboveMax", "c", 64, EXO_SLAB_MAX_ALIGN * 2, 0, "align"},
    {"AlignTopBit", "c", 64, 1u << 31, EXO_SLAB_DEBUG, "align"},
};

class CreateRejects : public testing::TestWithParam<BadParams> {};

TEST_P(CreateRejects, WithEinvalAndAReasonNamingTheParameter) {
  const BadParams& c = GetParam();
  exo_slab_cache_params params = {c.name, c.size, c.align, c.flags, nullptr};
  auto* const untouched = reinterpret_cast<exo_slab_cache*>(0x1234);
  exo_slab_cache* cache = untouched;
  const char* why = nullptr;
  unsigned long pages = exo_hosted_pages_in_use();
  EXPECT_EQ(exo_slab_create(&params, &cache, &why), -EINVAL);
  ASSERT_NE(why, nullptr);
  EXPECT_EQ(strncmp(why, c.parameter, strlen(c.parameter)), 0) << "why: " << why;
  EXPECT_EQ(cache, untouched);
  EXPECT_EQ(exo_hosted_pages_in_use(), pages);
}

INSTANTIATE_TEST_SUITE_P(Slab, CreateRejects, testing::ValuesIn(kBadParams),
                         [](const auto& info) { return std::string(info.param.label); });

// The edges of every range are accepted, and the name is copied.
TEST(SlabCreate, AcceptsTheEdgesOfEveryRange) {
  struct Case {
    std::string name;
    u32 size, align, flags;
  };
  const Case cases[] = {
      {"a", EXO_SLAB_MIN_SIZE, 0, 0},
      {kName31, EXO_SLAB_MAX_SIZE, 0, 0},
      {"big-aligned", EXO_SLAB_MAX_SIZE, EXO_SLAB_MAX_ALIGN, 0},
      {"big-aligned-debug", EXO_SLAB_MAX_SIZE, EXO_SLAB_MAX_ALIGN, EXO_SLAB_DEBUG},
      {"small-aligned", EXO_SLAB_MIN_SIZE, EXO_SLAB_MAX_ALIGN, 0},
      {"align8", 8, 8, EXO_SLAB_DEBUG},
  };
  for (const Case& c : cases) {
    std::string name = c.name;
    exo_slab_cache_params params = {name.c_str(), c.size, c.align, c.flags, nullptr};
    exo_slab_cache* cache = nullptr;
    const char* why = nullptr;
    ASSERT_EQ(exo_slab_create(&params, &cache, &why), 0) << c.name << ": " << why;
    name.assign(name.size(), 'x');  // the cache keeps its own copy
    EXPECT_STREQ(exo_slab_name(cache), c.name.c_str());
    exo_slab_stats stats;
    exo_slab_get_stats(cache, &stats);
    EXPECT_STREQ(stats.name, c.name.c_str());
    EXPECT_EQ(stats.object_size, c.size);
    EXPECT_EQ(stats.debug, c.flags == EXO_SLAB_DEBUG);
    void* obj = exo_slab_alloc(cache, 0);
    ASSERT_NE(obj, nullptr);
    EXPECT_EQ(reinterpret_cast<uptr>(obj) % (c.align ? c.align : 8), 0u);
    memset(obj, 0x5a, c.size);
    exo_slab_free(cache, obj);
    EXPECT_EQ(exo_slab_destroy(cache), 0u);
  }
}

// --- plan_geometry() ------------------------------------------------------

// The rules of a layout, for one (size, align, debug, ctor).
void check_layout(u32 size, u32 align, bool debug, bool ctor) {
  SCOPED_TRACE(testing::Message() << "size " << size << " align " << align << " debug " << debug
                                  << " ctor " << ctor);
  Geometry g;
  const char* why = nullptr;
  ASSERT_EQ(plan_geometry(size, align, debug, ctor, &g, &why), 0) << why;
  u32 a = align ? align : 8;
  EXPECT_EQ(g.size, size);
  EXPECT_EQ(g.align, a);
  EXPECT_EQ(g.debug, debug);
  // Every object aligned: the first one and the stride.
  EXPECT_EQ(g.first % a, 0u);
  EXPECT_EQ(g.stride % a, 0u);
  EXPECT_GE(g.first, sizeof(exo::slab::Slab));
  if (debug) {
    // object | red zone of at least kRedZone bytes | tag, the link inside it
    EXPECT_GE(g.tag, size + kRedZone);
    EXPECT_EQ(g.tag % 8, 0u);
    EXPECT_GE(g.stride, g.tag + sizeof(exo::slab::DebugTag));
    EXPECT_EQ(g.free_next, g.tag + 8);
  } else if (ctor) {
    // The link after the object, so that the constructed bytes stay.
    EXPECT_GE(g.free_next, size);
    EXPECT_EQ(g.free_next % 8, 0u);
    EXPECT_GE(g.stride, g.free_next + 8);
    EXPECT_LT(g.stride, align_up(g.free_next + 8, a) + 1);
  } else {
    // Nothing but the object and its alignment padding.
    EXPECT_EQ(g.stride, align_up(size, a));
    EXPECT_EQ(g.free_next, 0u);
  }
  // As many objects as fit after the header, and at least one.
  u64 bytes = g.slab_bytes();
  EXPECT_EQ(bytes, u64{kPageSize} << g.order);
  ASSERT_LE(g.order, kMaxOrder);
  EXPECT_GE(g.per_slab, 1u);
  EXPECT_EQ(g.per_slab, (bytes - g.first) / g.stride);
  // The smallest order with enough objects and at most 1/8 wasted, or the
  // largest there is.
  auto good = [&](u32 order) {
    u64 b = u64{kPageSize} << order;
    u64 n = b > g.first ? (b - g.first) / g.stride : 0;
    return n >= kMinObjectsPerSlab && (b - n * g.stride) * 8 <= b;
  };
  if (g.order < kMaxOrder) {
    EXPECT_TRUE(good(g.order));
  }
  for (u32 o = 0; o < g.order; ++o) EXPECT_FALSE(good(o)) << "order " << o << " would do";
}

TEST(SlabGeometry, EverySizeAndAlignmentFollowsTheLayoutRules) {
  const u32 aligns[] = {0, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096};
  for (u32 size = EXO_SLAB_MIN_SIZE; size <= EXO_SLAB_MAX_SIZE; ++size) {
    // Every size at the common alignments, a sample at the large ones.
    for (u32 align : aligns) {
      if (align > 64 && size % 61 != 0 && size != EXO_SLAB_MAX_SIZE) continue;
      for (int variant = 0; variant < 3; ++variant) {
        check_layout(size, align, variant == 1, variant == 2);
        if (testing::Test::HasFailure()) return;  // one layout's failures are enough
      }
    }
  }
}

TEST(SlabGeometry, PicksTheSmallestGoodOrder) {
  struct Case {
    u32 size, align;
    bool debug;
    u32 order, per_slab, stride;
  };
  const Case cases[] = {
      {8, 0, false, 0, 507, 8},        // (4096 - 40) / 8
      {64, 0, false, 0, 63, 64},
      {100, 0, false, 0, 39, 104},     // rounded to 8
      {100, 64, false, 0, 31, 128},    // the header padded to 64 too
      {512, 0, false, 1, 15, 512},     // 7 in a page waste 1/8 + 40 bytes
      {512, 512, false, 1, 15, 512},
      {1024, 0, false, 2, 15, 1024},   // 3, then 7, then 15
      {4096, 0, false, 3, 7, 4096},    // never 8: the largest order
      {4096, 4096, false, 3, 7, 4096},
      {24, 0, true, 0, 84, 48},        // 24 | 8 red zone | 16 tag
      {4096, 4096, true, 3, 3, 8192},
  };
  for (const Case& c : cases) {
    Geometry g;
    const char* why = nullptr;
    ASSERT_EQ(plan_geometry(c.size, c.align, c.debug, false, &g, &why), 0) << why;
    EXPECT_EQ(g.order, c.order) << "size " << c.size << " align " << c.align;
    EXPECT_EQ(g.per_slab, c.per_slab) << "size " << c.size << " align " << c.align;
    EXPECT_EQ(g.stride, c.stride) << "size " << c.size << " align " << c.align;
  }
}

// The stats tell the layout plan_geometry() chose, and the objects a cache
// hands out sit exactly where that layout says, slab by slab.
TEST(SlabGeometry, ObjectsSitWhereTheLayoutSays) {
  struct Case {
    u32 size, align, flags;
    bool ctor;
  };
  const Case cases[] = {
      {8, 0, 0, false},      {40, 0, 0, false},   {100, 64, 0, false},
      {700, 0, 0, false},    {4096, 0, 0, false}, {200, 256, EXO_SLAB_DEBUG, false},
      {30, 0, 0, true},      {16, 16, EXO_SLAB_DEBUG, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << "size " << c.size << " align " << c.align << " flags "
                                    << c.flags << " ctor " << c.ctor);
    Geometry g;
    const char* why = nullptr;
    ASSERT_EQ(plan_geometry(c.size, c.align, c.flags & EXO_SLAB_DEBUG, c.ctor, &g, &why), 0);
    exo_slab_cache_params params = {"layout", c.size, c.align, c.flags,
                                    c.ctor ? noop_ctor : nullptr};
    exo_slab_cache* cache = nullptr;
    ASSERT_EQ(exo_slab_create(&params, &cache, &why), 0) << why;
    exo_slab_stats s;
    exo_slab_get_stats(cache, &s);
    EXPECT_EQ(s.stride, g.stride);
    EXPECT_EQ(s.objects_per_slab, g.per_slab);
    EXPECT_EQ(s.slab_order, g.order);
    // Three slabs' worth: each object at first + i * stride in its slab,
    // with room for its size before the slab ends.
    std::vector<void*> objs(3 * g.per_slab);
    ASSERT_EQ(exo_slab_alloc_bulk(cache, 0, objs.size(), objs.data()), objs.size());
    for (void* obj : objs) {
      uptr offset = reinterpret_cast<uptr>(obj) & (g.slab_bytes() - 1);
      ASSERT_GE(offset, g.first);
      EXPECT_EQ((offset - g.first) % g.stride, 0u);
      EXPECT_LT((offset - g.first) / g.stride, g.per_slab);
      EXPECT_LE(offset + c.size, g.slab_bytes());
    }
    exo_slab_get_stats(cache, &s);
    EXPECT_GE(s.slabs, 3u);
    EXPECT_EQ(s.pages, s.slabs << g.order);
    exo_slab_free_bulk(cache, objs.size(), objs.data());
    EXPECT_EQ(exo_slab_destroy(cache), 0u);
  }
}

}  // namespace
}  // namespace exo_test
