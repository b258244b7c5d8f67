// SPDX-License-Identifier: GPL-2.0
// The C++ face (exofusion.hpp) over a memfd ring: the owner closes its
// handle once, moves hand it over, and the calls reach the C API.
#include <gtest/gtest.h>
#include <string.h>

#include <string>
#include <utility>

#include "userspace/include/exofusion/exofusion.hpp"

namespace {

exofusion::Ring make_ring(uint32_t mode) {
  exo_ring_params params{};
  params.name = "cpp";
  params.capacity = 8;
  params.mode = mode;
  exofusion::Ring ring;
  EXPECT_EQ(exofusion::Ring::create(params, EXO_BACKEND_MEMFD, &ring), 0) << exo_last_error();
  return ring;
}

TEST(CppApi, CopyingCallsAndMovesOfTheOwner) {
  exofusion::Ring ring = make_ring(EXO_MODE_SPSC);
  ASSERT_TRUE(ring);
  ASSERT_EQ(ring.send("one", 3), 0);
  exofusion::Ring moved = std::move(ring);
  EXPECT_FALSE(ring);
  exo_msg m;
  ASSERT_EQ(moved.recv(&m), 0);
  EXPECT_EQ(std::string(static_cast<const char*>(m.data), m.len), "one");
  EXPECT_EQ(moved.recv(&m, EXO_NONBLOCK), -EAGAIN);
}

TEST(CppApi, SlotsInPlaceThroughTheWrappers) {
  for (uint32_t mode : {uint32_t{EXO_MODE_SPSC}, uint32_t{EXO_MODE_MPMC}}) {
    exofusion::Ring ring = make_ring(mode);
    exo_slots run;
    ASSERT_EQ(ring.reserve(2, &run), 2);
    for (uint32_t i = 0; i < 2; ++i) {
      memcpy(exo_slots_at(&run, i)->data, i ? "b" : "a", 1);
      exo_slots_set(&run, i, 1, 0);
    }
    ASSERT_EQ(ring.commit(run), 0);
    ASSERT_EQ(ring.borrow(2, &run), 2);
    exo_msg m;
    ASSERT_EQ(ring.msg(run, 1, &m), 0);
    EXPECT_EQ(std::string(static_cast<const char*>(m.data), m.len), "b");
    ASSERT_EQ(ring.release(run), 0);
    EXPECT_EQ(ring.release(run), -EINVAL) << "a run released twice";
    exofusion::Ring::flush_wakeups();
    EXPECT_EQ(ring.wait(EXO_WAIT_SPACE, 0), 0);
  }
}

}  // namespace
