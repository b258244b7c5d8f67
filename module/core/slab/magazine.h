// SPDX-License-Identifier: GPL-2.0
// A magazine is a stack of object pointers (Bonwick and Adams, "Magazines
// and Vmem", 2001): a CPU allocates by popping and frees by pushing, so the
// per-CPU level never touches the objects' slabs.
#ifndef EXO_CORE_SLAB_MAGAZINE_H
#define EXO_CORE_SLAB_MAGAZINE_H

#include "module/core/types.h"

namespace exo::slab {

struct Magazine {
  Magazine* next;    // in a depot list
  u32 rounds;        // objects held, at objs[0..rounds)
  u32 capacity;      // 0 only for a cache's placeholder (never in a list)
  void* objs[];

  bool empty() const { return rounds == 0; }
  bool full() const { return rounds == capacity; }
  static usize bytes(u32 capacity) { return sizeof(Magazine) + capacity * sizeof(void*); }
};

// A LIFO list of magazines that remembers its low-water mark since the
// last reset: what the list never dipped into was not needed.
class MagazineList {
 public:
  void push(Magazine* m) {
    m->next = head_;
    head_ = m;
    ++count_;
  }
  Magazine* pop() {
    Magazine* m = head_;
    if (!m) return nullptr;
    head_ = m->next;
    m->next = nullptr;
    if (--count_ < low_) low_ = count_;
    return m;
  }
  u32 count() const { return count_; }
  u32 low() const { return low_; }
  void reset_low() { low_ = count_; }

 private:
  Magazine* head_ = nullptr;
  u32 count_ = 0;
  u32 low_ = 0;
};

}  // namespace exo::slab

#endif  // EXO_CORE_SLAB_MAGAZINE_H
