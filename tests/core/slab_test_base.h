// SPDX-License-Identifier: GPL-2.0
// What the slab tests' fixtures share: the hosted platform's pages and
// reports when the test started, and the caches it made (each fixture's
// TearDown checks and destroys them).
#ifndef EXO_TESTS_CORE_SLAB_TEST_BASE_H
#define EXO_TESTS_CORE_SLAB_TEST_BASE_H

#include <stdlib.h>

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "module/core/slab/slab_api.h"
#include "module/core/types.h"
#include "userspace/hosted/hosted.h"

namespace exo_test {

inline u32 align_up(u32 v, u32 a) { return (v + a - 1) / a * a; }

class SlabTestBase : public testing::Test {
 protected:
  void SetUp() override {
    setenv("EXO_HOSTED_QUIET_REPORTS", "1", 0);  // the tests read them instead
    pages_ = exo_hosted_pages_in_use();
    reports_ = reports();
  }

  exo_slab_cache* create_cache(const exo_slab_cache_params& params) {
    exo_slab_cache* cache = nullptr;
    const char* why = "";
    EXPECT_EQ(exo_slab_create(&params, &cache, &why), 0) << why;
    if (cache) caches_.push_back(cache);
    return cache;
  }

  static exo_slab_stats stats(exo_slab_cache* cache) {
    exo_slab_stats s;
    exo_slab_get_stats(cache, &s);
    return s;
  }

  static unsigned long reports() { return exo_hosted_reports(nullptr, 0); }
  static std::string last_report() {
    char buf[256];
    exo_hosted_reports(buf, sizeof(buf));
    return buf;
  }

  unsigned long pages_ = 0;    // in use when the test started
  unsigned long reports_ = 0;  // made before the test started
  std::vector<exo_slab_cache*> caches_;
};

}  // namespace exo_test

#endif  // EXO_TESTS_CORE_SLAB_TEST_BASE_H
