// SPDX-License-Identifier: GPL-2.0
// Ring parameters, layout and initial state: check_name, plan_ring,
// init_ring and validate_info.
#include <errno.h>
#include <string.h>

#include <string>

#include <gtest/gtest.h>

#include "module/core/ring/ring_layout.h"
#include "module/core/ring/ring_view.h"
#include "tests/core/test_region.h"

namespace exo_test {

// Parameters print by their label in failure messages, not as raw bytes.
void PrintTo(const RingParams& p, std::ostream* os) {
  *os << "capacity " << p.capacity << (p.mode == EXO_MODE_MPMC ? " MPMC" : " SPSC") << " pool "
      << p.buf_count << "x" << p.buf_size;
}

namespace {

constexpr u32 kMiB = 1u << 20;

// --- check_name -------------------------------------------------------------

struct NameCase {
  const char* label;
  std::string name;  // may hold NULs: the checked bytes are name[0..size)
  usize size;
  int err;             // expected return: 0 or -errno
  const char* reason;  // a word the reason must contain, when rejected
};

// A name of |len| 'a's, NUL-terminated.
std::string name_of_length(usize len) { return std::string(len, 'a') + '\0'; }

void PrintTo(const NameCase& c, std::ostream* os) { *os << c.label; }

class CheckName : public testing::TestWithParam<NameCase> {};

TEST_P(CheckName, ReturnsExpectedErrnoAndReason) {
  const NameCase& c = GetParam();
  const char* why = nullptr;
  EXPECT_EQ(exo::check_name(c.name.data(), c.size, &why), c.err);
  if (c.err == 0) return;
  ASSERT_NE(why, nullptr);
  EXPECT_NE(strstr(why, c.reason), nullptr) << "reason: " << why;
}

std::string sized(const char* s) { return std::string(s) + '\0'; }

// size == sizeof(exo_create_req::name) unless the case is about the size.
const NameCase kNameCases[] = {
    {"Empty", sized(""), EXO_NAME_MAX, -EINVAL, "empty"},
    {"ZeroSizeBuffer", sized("abc"), 0, -EINVAL, "empty"},
    {"ThirtyTwoCharsWithoutNul", std::string(32, 'a'), 32, -ENAMETOOLONG, "longer"},
    {"ThirtyTwoCharsInLargerBuffer", name_of_length(32), 33, -ENAMETOOLONG, "longer"},
    {"UnterminatedWithinSize", sized("abc"), 3, -ENAMETOOLONG, "longer"},
    {"Slash", sized("a/b"), EXO_NAME_MAX, -EINVAL, "[A-Za-z0-9._-]"},
    {"LeadingSlash", sized("/x"), EXO_NAME_MAX, -EINVAL, "[A-Za-z0-9._-]"},
    {"Dot", sized("."), EXO_NAME_MAX, -EINVAL, ". or .."},
    {"DotDot", sized(".."), EXO_NAME_MAX, -EINVAL, ". or .."},
    {"Control", sized("control"), EXO_NAME_MAX, -EINVAL, "reserved"},
    {"Space", sized("a b"), EXO_NAME_MAX, -EINVAL, "[A-Za-z0-9._-]"},
    {"Newline", sized("a\n"), EXO_NAME_MAX, -EINVAL, "[A-Za-z0-9._-]"},
    {"Backslash", sized("a\\b"), EXO_NAME_MAX, -EINVAL, "[A-Za-z0-9._-]"},
    {"Colon", sized("a:b"), EXO_NAME_MAX, -EINVAL, "[A-Za-z0-9._-]"},
    {"Asterisk", sized("*"), EXO_NAME_MAX, -EINVAL, "[A-Za-z0-9._-]"},
    {"HighByte", sized("caf\xc3\xa9"), EXO_NAME_MAX, -EINVAL, "[A-Za-z0-9._-]"},
    {"OneChar", sized("a"), EXO_NAME_MAX, 0, nullptr},
    {"ThirtyOneChars", name_of_length(31), 32, 0, nullptr},
    {"EveryAllowedClass", sized("aZ09._-"), EXO_NAME_MAX, 0, nullptr},
    {"DotsWithMore", sized("...a"), EXO_NAME_MAX, 0, nullptr},
    {"ThreeDots", sized("..."), EXO_NAME_MAX, 0, nullptr},
    {"ControlPrefix", sized("controls"), EXO_NAME_MAX, 0, nullptr},
    {"ControlSuffix", sized("xcontrol"), EXO_NAME_MAX, 0, nullptr},
    {"BytesAfterNulIgnored", std::string("ok\0/ /", 6), 6, 0, nullptr},
};

INSTANTIATE_TEST_SUITE_P(Names, CheckName, testing::ValuesIn(kNameCases),
                         [](const testing::TestParamInfo<NameCase>& p) { return p.param.label; });

// --- plan_ring: rejected parameters -----------------------------------------

struct PlanCase {
  const char* label;
  void (*change)(exo_create_req&);  // applied to a valid request
  int err;
  const char* reason;  // a word the reason must contain
};

exo_create_req valid_request() { return make_request({64, EXO_MODE_SPSC, 4096, 16}); }

void PrintTo(const PlanCase& c, std::ostream* os) { *os << c.label; }

class PlanRingRejects : public testing::TestWithParam<PlanCase> {};

TEST_P(PlanRingRejects, WithExpectedErrnoAndReason) {
  exo_create_req req = valid_request();
  GetParam().change(req);
  exo_ring_info info;
  const char* why = nullptr;
  EXPECT_EQ(exo::plan_ring(req, &info, &why), GetParam().err);
  ASSERT_NE(why, nullptr);
  EXPECT_NE(strstr(why, GetParam().reason), nullptr) << "reason: " << why;
}

const PlanCase kBadRequests[] = {
    {"EmptyName", [](exo_create_req& r) { r.name[0] = '\0'; }, -EINVAL, "name"},
    {"NameOf32Chars", [](exo_create_req& r) { memset(r.name, 'a', sizeof(r.name)); },
     -ENAMETOOLONG, "name"},
    {"NameWithSlash", [](exo_create_req& r) { strcpy(r.name, "a/b"); }, -EINVAL, "name"},
    {"NameDotDot", [](exo_create_req& r) { strcpy(r.name, ".."); }, -EINVAL, "name"},
    {"NameControl", [](exo_create_req& r) { strcpy(r.name, "control"); }, -EINVAL, "name"},
    {"CapacityZero", [](exo_create_req& r) { r.capacity = 0; }, -EINVAL, "capacity"},
    {"CapacityOne", [](exo_create_req& r) { r.capacity = 1; }, -EINVAL, "capacity"},
    {"CapacityThree", [](exo_create_req& r) { r.capacity = 3; }, -EINVAL, "capacity"},
    {"CapacityNotPowerOfTwo", [](exo_create_req& r) { r.capacity = 96; }, -EINVAL, "capacity"},
    {"CapacityAboveMax", [](exo_create_req& r) { r.capacity = EXO_RING_MAX_CAPACITY * 2; },
     -EINVAL, "capacity"},
    {"CapacityTopBit", [](exo_create_req& r) { r.capacity = 1u << 31; }, -EINVAL, "capacity"},
    {"CapacityAllOnes", [](exo_create_req& r) { r.capacity = ~0u; }, -EINVAL, "capacity"},
    {"ModeTwo", [](exo_create_req& r) { r.mode = 2; }, -EINVAL, "mode"},
    {"ModeAllOnes", [](exo_create_req& r) { r.mode = ~0u; }, -EINVAL, "mode"},
    {"FlagsLowBit", [](exo_create_req& r) { r.flags = 1; }, -EINVAL, "flags"},
    {"FlagsTopBit", [](exo_create_req& r) { r.flags = 1u << 31; }, -EINVAL, "flags"},
    {"PermSticky", [](exo_create_req& r) { r.perm = 01777; }, -EINVAL, "perm"},
    {"PermSetuid", [](exo_create_req& r) { r.perm = 04600; }, -EINVAL, "perm"},
    {"PermFileType", [](exo_create_req& r) { r.perm = 0100600; }, -EINVAL, "perm"},
    {"BufSizeWithoutCount", [](exo_create_req& r) { r.buf_count = 0; }, -EINVAL, "buf_count"},
    {"BufCountWithoutSize", [](exo_create_req& r) { r.buf_size = 0; }, -EINVAL, "buf_size"},
    {"BufSizeBelowMin", [](exo_create_req& r) { r.buf_size = EXO_BUF_MIN_SIZE / 2; }, -EINVAL,
     "buf_size"},
    {"BufSizeNotCacheLineMultiple", [](exo_create_req& r) { r.buf_size = 100; }, -EINVAL,
     "buf_size"},
    {"BufSizeAboveMax", [](exo_create_req& r) { r.buf_size = EXO_BUF_MAX_SIZE + 64; }, -EINVAL,
     "buf_size"},
    {"BufSizeAllOnes", [](exo_create_req& r) { r.buf_size = ~0u; }, -EINVAL, "buf_size"},
    {"BufCountAboveMax", [](exo_create_req& r) { r.buf_count = EXO_BUF_MAX_COUNT + 1; }, -EINVAL,
     "buf_count"},
    {"BufCountAllOnes", [](exo_create_req& r) { r.buf_count = ~0u; }, -EINVAL, "buf_count"},
    // 256 x 4 MiB is 1 GiB on its own; the header, slots and free bitmap
    // push the region past it.
    {"RegionJustAbove1GiB",
     [](exo_create_req& r) { r.capacity = 2, r.buf_size = 4 * kMiB, r.buf_count = 256; },
     -EINVAL, "1 GiB"},
    {"RegionOfMaxCapacityAndBigPool",
     [](exo_create_req& r) {
       r.capacity = EXO_RING_MAX_CAPACITY, r.buf_size = 4 * kMiB, r.buf_count = 250;
     },
     -EINVAL, "1 GiB"},
    {"RegionOfMaxEverything",
     [](exo_create_req& r) {
       r.capacity = EXO_RING_MAX_CAPACITY, r.buf_size = EXO_BUF_MAX_SIZE,
       r.buf_count = EXO_BUF_MAX_COUNT;
     },
     -EINVAL, "1 GiB"},
};

INSTANTIATE_TEST_SUITE_P(Requests, PlanRingRejects, testing::ValuesIn(kBadRequests),
                         [](const testing::TestParamInfo<PlanCase>& p) { return p.param.label; });

// --- plan_ring: accepted parameters and their layout ------------------------

class PlanRingLayout : public testing::TestWithParam<RingParams> {
 protected:
  exo_ring_info plan() {
    exo_create_req req = make_request(GetParam());
    exo_ring_info info{};
    const char* why = nullptr;
    int err = exo::plan_ring(req, &info, &why);
    EXPECT_EQ(err, 0) << (why ? why : "");
    return info;
  }
};

bool page_aligned(u64 v) { return v % EXO_PAGE_SIZE == 0; }

TEST_P(PlanRingLayout, CopiesParametersIntoInfo) {
  const RingParams& p = GetParam();
  exo_ring_info info = plan();
  EXPECT_EQ(info.magic, EXO_RING_MAGIC);
  EXPECT_EQ(info.abi_version, static_cast<u32>(EXO_ABI_VERSION));
  EXPECT_EQ(info.mode, p.mode);
  EXPECT_EQ(info.capacity, p.capacity);
  EXPECT_EQ(info.buf_size, p.buf_size);
  EXPECT_EQ(info.buf_count, p.buf_count);
}

// One bit per buffer, in whole 64-bit words.
TEST_P(PlanRingLayout, FreeBitmapHasOneBitPerBufferInWholeWords) {
  exo_ring_info info = plan();
  EXPECT_EQ(info.free_words, (u64{info.buf_count} + 63) / 64);
}

TEST(PlanRing, FreeWordsOfPoolSizes) {
  const u32 kCases[][2] = {{1, 1}, {63, 1}, {64, 1}, {65, 2}, {EXO_BUF_MAX_COUNT, 1024}};
  for (const auto& c : kCases) {
    exo_create_req req = make_request({2, EXO_MODE_SPSC, EXO_BUF_MIN_SIZE, c[0]});
    exo_ring_info info{};
    const char* why = nullptr;
    ASSERT_EQ(exo::plan_ring(req, &info, &why), 0) << c[0] << " buffers: " << (why ? why : "");
    EXPECT_EQ(info.free_words, c[1]) << c[0] << " buffers";
  }
}

TEST_P(PlanRingLayout, SectionsArePageAlignedInOrderAndDoNotOverlap) {
  exo_ring_info info = plan();
  EXPECT_TRUE(page_aligned(info.slots_offset));
  EXPECT_TRUE(page_aligned(info.free_offset));
  EXPECT_TRUE(page_aligned(info.pool_offset));
  EXPECT_TRUE(page_aligned(info.region_size));

  u64 slots_end = info.slots_offset + u64{info.capacity} * sizeof(exo_slot);
  u64 free_end = info.free_offset + u64{info.free_words} * sizeof(u64);
  u64 pool_end = info.pool_offset + u64{info.buf_size} * info.buf_count;
  EXPECT_GE(info.slots_offset, sizeof(exo_ring_header));
  EXPECT_LE(slots_end, info.free_offset);
  EXPECT_LE(free_end, info.pool_offset);
  EXPECT_LE(pool_end, info.region_size);
  // No section wastes a page: each starts on the page after the last ends.
  EXPECT_EQ(info.slots_offset, u64{EXO_PAGE_SIZE});
  EXPECT_LT(info.free_offset - slots_end, u64{EXO_PAGE_SIZE});
  EXPECT_LT(info.pool_offset - free_end, u64{EXO_PAGE_SIZE});
  EXPECT_LT(info.region_size - pool_end, u64{EXO_PAGE_SIZE});
  EXPECT_LE(info.region_size, exo::kMaxRegionSize);
}

TEST_P(PlanRingLayout, PlannedInfoPassesValidation) {
  exo_ring_info info = plan();
  const char* why = nullptr;
  EXPECT_EQ(exo::validate_info(info, info.region_size, &why), 0) << (why ? why : "");
}

const RingParams kValidParams[] = {
    {EXO_RING_MIN_CAPACITY, EXO_MODE_SPSC},
    {EXO_RING_MAX_CAPACITY, EXO_MODE_MPMC},
    {64, EXO_MODE_SPSC},  // slots fill exactly one page
    {128, EXO_MODE_MPMC, EXO_BUF_MIN_SIZE, 1},
    {8, EXO_MODE_SPSC, 256, 5},          // one bitmap word, mostly past the pool
    {1024, EXO_MODE_MPMC, 4096, 256},    // four bitmap words
    {8, EXO_MODE_MPMC, 64, 63},          // free_words 1
    {8, EXO_MODE_MPMC, 64, 64},          // free_words 1, every bit a buffer
    {8, EXO_MODE_MPMC, 64, 65},          // free_words 2
    {2, EXO_MODE_SPSC, EXO_BUF_MIN_SIZE, EXO_BUF_MAX_COUNT},  // 1024 words: two pages
    {2, EXO_MODE_SPSC, EXO_BUF_MAX_SIZE, 1},
    {2, EXO_MODE_SPSC, 4 * kMiB, 255},   // the largest 4 MiB pool under 1 GiB
    {EXO_RING_MAX_CAPACITY, EXO_MODE_MPMC, 4 * kMiB, 239},
};

INSTANTIATE_TEST_SUITE_P(Params, PlanRingLayout, testing::ValuesIn(kValidParams),
                         [](const testing::TestParamInfo<RingParams>& p) {
                           return "Cap" + std::to_string(p.param.capacity) +
                                  (p.param.mode == EXO_MODE_MPMC ? "Mpmc" : "Spsc") + "Pool" +
                                  std::to_string(p.param.buf_count) + "x" +
                                  std::to_string(p.param.buf_size);
                         });

TEST(PlanRing, AcceptsPermissionBitsUpTo0777) {
  for (u32 perm : {0u, 0600u, 0777u}) {
    exo_create_req req = valid_request();
    req.perm = perm;
    exo_ring_info info;
    const char* why = nullptr;
    EXPECT_EQ(exo::plan_ring(req, &info, &why), 0) << "perm " << perm;
  }
}

// --- init_ring ----------------------------------------------------------------

TEST(InitRing, WritesInfoIntoHeaderAndZeroPositions) {
  TestRegion ring({8, EXO_MODE_MPMC, 256, 5});
  const exo_ring_header* h = ring.header();
  EXPECT_EQ(memcmp(&h->info, &ring.info(), sizeof(exo_ring_info)), 0);
  EXPECT_EQ(h->prod.pos, 0u);
  EXPECT_EQ(h->cons.pos, 0u);
  EXPECT_EQ(h->free_cons.pos, 0u);
  EXPECT_EQ(h->reserved_side.pos, 0u);
}

TEST(InitRing, SlotSequencesStartAtTheirIndex) {
  TestRegion ring({16, EXO_MODE_SPSC});
  for (u32 i = 0; i < 16; ++i) EXPECT_EQ(ring.slots()[i].seq, i) << "slot " << i;
}

TEST(InitRing, FreeBitmapHasExactlyThePoolsBitsSet) {
  for (u32 count : {1u, 5u, 63u, 64u, 65u, 130u, EXO_BUF_MAX_COUNT}) {
    TestRegion ring({8, EXO_MODE_SPSC, 64, count});
    ASSERT_EQ(ring.info().free_words, (count + 63) / 64);
    for (u32 bit = 0; bit < ring.info().free_words * 64; ++bit) {
      bool set = ring.free_bits()[bit / 64] >> (bit % 64) & 1;
      EXPECT_EQ(set, bit < count) << count << " buffers, bit " << bit;
    }
    EXPECT_EQ(ring.free_buffers(), count);
  }
}

TEST(InitRing, EveryBufferCanBeTakenOnceThenNone) {
  TestRegion ring({8, EXO_MODE_SPSC, 256, 5});
  exo::RingView view = ring.view();
  for (u32 i = 0; i < 5; ++i) {
    u32 buf = ~0u;
    ASSERT_TRUE(view.take_buffer(&buf));
    EXPECT_EQ(buf, i);
  }
  u32 buf;
  EXPECT_FALSE(view.take_buffer(&buf));
}

// --- validate_info ----------------------------------------------------------

struct TamperCase {
  const char* label;
  void (*change)(exo_ring_info&);
};

void PrintTo(const TamperCase& c, std::ostream* os) { *os << c.label; }

class ValidateInfoRejects : public testing::TestWithParam<TamperCase> {};

// 64 slots fill one page exactly, so doubling the capacity moves the free
// ring: the layout no longer matches.
exo_ring_info valid_info() {
  exo_create_req req = make_request({64, EXO_MODE_MPMC, 256, 5});
  exo_ring_info info{};
  const char* why;
  EXPECT_EQ(exo::plan_ring(req, &info, &why), 0);
  return info;
}

TEST_P(ValidateInfoRejects, TamperedField) {
  exo_ring_info info = valid_info();
  GetParam().change(info);
  const char* why = nullptr;
  EXPECT_EQ(exo::validate_info(info, u64{1} << 31, &why), -EINVAL);
  EXPECT_NE(why, nullptr);
}

const TamperCase kTampered[] = {
    {"Magic", [](exo_ring_info& i) { i.magic ^= 1; }},
    {"AbiVersion", [](exo_ring_info& i) { i.abi_version += 1; }},
    {"Mode", [](exo_ring_info& i) { i.mode = 2; }},
    {"CapacityNotPowerOfTwo", [](exo_ring_info& i) { i.capacity = 65; }},
    {"CapacityDoubled", [](exo_ring_info& i) { i.capacity *= 2; }},
    {"CapacityZero", [](exo_ring_info& i) { i.capacity = 0; }},
    {"FreeWordsDoubled", [](exo_ring_info& i) { i.free_words *= 2; }},
    {"FreeWordsZero", [](exo_ring_info& i) { i.free_words = 0; }},
    {"BufSizeNotCacheLineMultiple", [](exo_ring_info& i) { i.buf_size = 257; }},
    {"BufCountZeroWithSize", [](exo_ring_info& i) { i.buf_count = 0; }},
    {"BufCountGrownPastRegion", [](exo_ring_info& i) { i.buf_count = 1000; }},
    {"SlotsOffsetMoved", [](exo_ring_info& i) { i.slots_offset += EXO_PAGE_SIZE; }},
    {"SlotsOffsetInHeader", [](exo_ring_info& i) { i.slots_offset = 0; }},
    {"FreeOffsetMoved", [](exo_ring_info& i) { i.free_offset += 64; }},
    {"PoolOffsetMoved", [](exo_ring_info& i) { i.pool_offset -= EXO_PAGE_SIZE; }},
    {"RegionSizeGrown", [](exo_ring_info& i) { i.region_size += EXO_PAGE_SIZE; }},
    {"RegionSizeShrunk", [](exo_ring_info& i) { i.region_size -= EXO_PAGE_SIZE; }},
};

INSTANTIATE_TEST_SUITE_P(Fields, ValidateInfoRejects, testing::ValuesIn(kTampered),
                         [](const testing::TestParamInfo<TamperCase>& p) { return p.param.label; });

TEST(ValidateInfo, AcceptsMappingOfExactlyOrMoreThanRegionSize) {
  exo_ring_info info = valid_info();
  const char* why = nullptr;
  EXPECT_EQ(exo::validate_info(info, info.region_size, &why), 0) << (why ? why : "");
  EXPECT_EQ(exo::validate_info(info, info.region_size + EXO_PAGE_SIZE, &why), 0);
}

TEST(ValidateInfo, RejectsMappingSmallerThanRegion) {
  exo_ring_info info = valid_info();
  const char* why = nullptr;
  EXPECT_EQ(exo::validate_info(info, info.region_size - 1, &why), -EINVAL);
  ASSERT_NE(why, nullptr);
  EXPECT_NE(strstr(why, "mapping"), nullptr) << why;
}

}  // namespace
}  // namespace exo_test
