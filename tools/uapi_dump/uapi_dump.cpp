// SPDX-License-Identifier: GPL-2.0
// Prints the ABI of uapi/exofusion.h as JSON (ioctl numbers, constants,
// struct sizes and offsets), so scripts and tests take it from the header
// instead of keeping a copy that could drift.
#include <stddef.h>
#include <stdio.h>

#include "uapi/exofusion.h"

#define NUM(name) printf("  \"%s\": %llu,\n", #name, (unsigned long long)(name))
#define OFF(type, member) \
  printf("  \"offsetof_%s_%s\": %zu,\n", #type, #member, offsetof(struct type, member))

int main() {
  printf("{\n");
  NUM(EXO_IOC_CREATE);
  NUM(EXO_IOC_DESTROY);
  NUM(EXO_RING_IOC_INFO);
  NUM(EXO_RING_IOC_WAIT);
  NUM(EXO_RING_IOC_WAKE);
  NUM(EXO_RING_IOC_STATS);
  NUM(EXO_RING_IOC_WAKE_WAIT);
  NUM(EXO_RING_MAGIC);
  NUM(EXO_ABI_VERSION);
  NUM(EXO_NAME_MAX);
  NUM(EXO_INLINE_MAX);
  NUM(EXO_SLOT_SIZE);
  NUM(EXO_PAGE_SIZE);
  NUM(EXO_MSG_INLINE);
  NUM(EXO_MSG_ZEROCOPY);
  NUM(EXO_WAIT_DATA);
  NUM(EXO_WAIT_SPACE);
  NUM(EXO_WAIT_BUFFER);
  NUM(sizeof(struct exo_create_req));
  NUM(sizeof(struct exo_ring_info));
  NUM(sizeof(struct exo_ring_stats));
  NUM(sizeof(struct exo_wait_req));
  NUM(sizeof(struct exo_wake_wait_req));
  OFF(exo_ring_header, prod);
  OFF(exo_ring_header, cons);
  OFF(exo_ring_header, waiters);
  OFF(exo_ring_info, slots_offset);
  OFF(exo_ring_info, region_size);
  OFF(exo_ring_info, owner_uid);
  OFF(exo_ring_stats, owner_uid);
  printf("  \"end\": 0\n}\n");
  return 0;
}
