// SPDX-License-Identifier: GPL-2.0
#include "tests/core/test_region.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

namespace exo_test {

exo_create_req make_request(const RingParams& params, const char* name) {
  exo_create_req req{};
  strncpy(req.name, name, sizeof(req.name) - 1);
  req.capacity = params.capacity;
  req.mode = params.mode;
  req.buf_size = params.buf_size;
  req.buf_count = params.buf_count;
  req.perm = 0600;
  return req;
}

TestRegion::TestRegion(const RingParams& params) {
  exo_create_req req = make_request(params);
  const char* why = nullptr;
  if (exo_core_plan_ring(&req, &info_, &why) != 0) {
    fprintf(stderr, "TestRegion: core rejected the ring: %s\n", why);
    abort();
  }
  // region_size is a multiple of the page size, as aligned_alloc wants.
  base_ = aligned_alloc(EXO_PAGE_SIZE, info_.region_size);
  if (!base_) abort();
  reset();
}

TestRegion::~TestRegion() { free(base_); }

void TestRegion::reset() {
  memset(base_, 0, info_.region_size);
  exo_core_init_ring(base_, &info_);
}

void TestRegion::rebase(u64 msg_pos, u64 free_pos) {
  reset();
  exo_ring_header* h = header();
  h->prod.pos = h->cons.pos = msg_pos;
  // The cell of each position p of the coming lap awaits its producer.
  for (u64 p = msg_pos; p < msg_pos + info_.capacity; ++p)
    slot_at(p).seq = static_cast<u32>(p);

  if (info_.buf_count == 0) return;
  h->free_cons.pos = free_pos;  // a search hint: any value must work
}

long TestRegion::write(const void* buf, unsigned long len, unsigned int* wake,
                       unsigned int* fault) {
  unsigned int ignored_wake, ignored_fault;
  return exo_core_write(base_, &info_, buf, len, wake ? wake : &ignored_wake,
                        fault ? fault : &ignored_fault);
}

long TestRegion::read(void* buf, unsigned long len, unsigned int* wake, unsigned int* fault) {
  unsigned int ignored_wake, ignored_fault;
  return exo_core_read(base_, &info_, buf, len, wake ? wake : &ignored_wake,
                       fault ? fault : &ignored_fault);
}

}  // namespace exo_test
