// SPDX-License-Identifier: GPL-2.0
// Randomized operation sequences through the kernel peer's C API, checked
// by CheckedRing: against a model of the ring while it is clean, and, while
// a hostile user space scribbles on the shared region, against the rules
// that hold whatever it contains. The region is allocated at exactly its
// size, so ASan reports any access outside it. Seeds are fixed: a failure
// replays.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "tests/core/checked_ring.h"

namespace exo_test {
namespace {

struct Scenario {
  const char* label;
  RingParams params;
};

// Small rings reach full/empty/wrap often. The free bitmap of a small pool
// has bits past the pool to scribble on; 65 buffers span two words.
const Scenario kScenarios[] = {
    {"SpscCap2NoPool", {2, EXO_MODE_SPSC}},
    {"SpscCap4Pool3x128", {4, EXO_MODE_SPSC, 128, 3}},
    {"MpmcCap8Pool5x256", {8, EXO_MODE_MPMC, 256, 5}},
    {"MpmcCap16Pool1x64", {16, EXO_MODE_MPMC, 64, 1}},
    {"SpscCap4Pool65x64", {4, EXO_MODE_SPSC, 64, 65}},
};

void PrintTo(const Scenario& s, std::ostream* os) { *os << s.label; }

class RandomOps : public testing::TestWithParam<Scenario> {
 protected:
  RandomOps() : ring_(GetParam().params) {}

  // Message lengths cluster at the edges: 0, the inline limit, the buffer
  // size.
  u32 pick_len() {
    u32 buf_size = GetParam().params.buf_size;
    switch (rng_() % 8) {
      case 0: return 0;
      case 1: return EXO_INLINE_MAX + (rng_() % 2);
      case 2: return buf_size + (rng_() % 2);
      case 3: return buf_size ? buf_size - 1 : 1;
      default: return static_cast<u32>(rng_() % (buf_size + EXO_INLINE_MAX + 2));
    }
  }

  // Read buffers cluster at the ring's largest message, the least a read
  // accepts: short of it by one or more (-EMSGSIZE), exactly it, or more.
  u32 pick_read_len() {
    u32 largest = ring_.largest_message();
    switch (rng_() % 8) {
      case 0: return 0;
      case 1: return largest - 1;
      case 2: return static_cast<u32>(rng_() % largest);
      case 3: case 4: return largest;
      default: return largest + static_cast<u32>(rng_() % (largest + 1));
    }
  }

  // Starting positions: 0, or just before a 32-bit sequence wrap; the
  // free-buffer search hint 0 or far past the bitmap's words.
  void reset() {
    bool near_wrap = rng_() % 2;
    u64 msg_pos = near_wrap ? (1ull << 32) - rng_() % 64 : 0;
    u64 free_pos = near_wrap ? (3ull << 32) - rng_() % 64 : 0;
    ring_.reset(msg_pos, free_pos);
  }

  void scribble() {
    if (rng_() % 4 == 0) {
      u8 bytes[8];
      for (u8& b : bytes) b = static_cast<u8>(rng_());
      ring_.scribble_bytes(rng_(), bytes, 1 + rng_() % 8);
      return;
    }
    auto field = static_cast<CheckedRing::Field>(rng_() % CheckedRing::kFields);
    // Half the time a near miss of the current value, else anything.
    bool nudge = rng_() % 2;
    u64 value = rng_() % 4 == 0 ? rng_() % 8 : rng_();
    ring_.scribble_field(field, static_cast<u32>(rng_()), value, nudge);
  }

  // |scribble_percent| of the operations scribble; every |reset_every|
  // operations the ring starts afresh (a scribbled ring often jams).
  void run(u32 ops, u32 scribble_percent, u32 reset_every) {
    for (u32 i = 0; i < ops && !ring_.failed(); ++i) {
      if (i % reset_every == 0) reset();
      u32 roll = rng_() % 100;
      if (roll < scribble_percent) {
        scribble();
        continue;
      }
      bool fault = rng_() % 16 == 0;
      u32 which = rng_() % (EXO_WAIT_NR + 1);  // sometimes no such kind
      switch (roll % 10) {
        case 0: case 1: case 2: ring_.write(pick_len(), fault); break;
        case 3: case 4: case 5: ring_.read(pick_read_len(), fault); break;
        case 6: ring_.ready(which); break;
        case 7: ring_.announce(which); break;
        case 8: ring_.note_wake(which); break;
        case 9: ring_.pending_wakeups(static_cast<u32>(rng_()) % 16); break;
      }
    }
  }

  std::mt19937_64 rng_{42};
  CheckedRing ring_;
};

TEST_P(RandomOps, CleanRingBehavesExactlyAsModelled) {
  run(20000, 0, 2000);
  ASSERT_EQ(ring_.failure(), "");
  // The sequence reached every outcome the ring can give a clean read.
  EXPECT_GT(ring_.reads(CheckedRing::kOk), 1000u);
  EXPECT_GT(ring_.reads(CheckedRing::kEAGAIN), 0u);
  EXPECT_GT(ring_.reads(CheckedRing::kEMSGSIZE), 0u);
  EXPECT_GT(ring_.reads(CheckedRing::kEFAULT), 0u);
  EXPECT_EQ(ring_.reads(CheckedRing::kEBADMSG), 0u);
  EXPECT_EQ(ring_.writes(CheckedRing::kEBADMSG), 0u);
  EXPECT_GT(ring_.writes(CheckedRing::kEAGAIN), 0u);
}

TEST_P(RandomOps, ScribbledRingYieldsOnlyValidResultsAndStaysInBounds) {
  for (u64 seed = 1; seed <= 8 && !ring_.failed(); ++seed) {
    rng_.seed(seed);
    run(5000, 10, 250);
  }
  ASSERT_EQ(ring_.failure(), "");
  // Scribbles reached the checks for corrupted slots, and messages still
  // got through between them.
  EXPECT_GT(ring_.reads(CheckedRing::kEBADMSG), 0u);
  EXPECT_GT(ring_.writes(CheckedRing::kEBADMSG), 0u) << "corrupt positions reached the writers";
  EXPECT_GT(ring_.reads(CheckedRing::kOk), 1000u);
}

INSTANTIATE_TEST_SUITE_P(Rings, RandomOps, testing::ValuesIn(kScenarios),
                         [](const testing::TestParamInfo<Scenario>& p) { return p.param.label; });

}  // namespace
}  // namespace exo_test
