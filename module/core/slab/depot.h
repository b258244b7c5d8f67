// SPDX-License-Identifier: GPL-2.0
// Level 2 of the cache: magazines that no CPU holds, under one lock. A CPU
// trades whole magazines here, never single objects: an empty one for a
// loaded one when it runs dry, a full one for an empty one when it fills.
#ifndef EXO_CORE_SLAB_DEPOT_H
#define EXO_CORE_SLAB_DEPOT_H

#include "module/core/platform.h"
#include "module/core/slab/magazine.h"

namespace exo::slab {

struct DepotCounters {
  u64 full, empty;    // magazines held now
  u64 cached;         // objects in them
  u64 exchanges;      // trades with CPUs
  u64 contended;      // lock acquisitions that had to wait
};

class Depot {
 public:
  // More loaded magazines than this and frees go back to the slabs.
  static constexpr u32 kMaxFull = 64;

  enum class Trade { kDone, kNone, kAtCap };

  int init();
  void destroy();  // the lists must be empty (see take_*)

  // Gives a loaded magazine for |give| (empty, or nullptr): kDone with
  // *got set and |give| kept, or kNone and nothing changes hands.
  Trade trade_for_loaded(Magazine* give, Magazine** got);
  // Gives an empty magazine for |give| (full, or nullptr): kDone; kNone
  // when it holds no empty one; kAtCap when it would hold too many loaded.
  Trade trade_for_empty(Magazine* give, Magazine** got);
  void put(Magazine* m);  // by its rounds, onto the loaded or empty list

  // Takes up to |n| loaded / empty magazines off the lists, linked by next.
  Magazine* take_loaded(u32 n) { return take(&loaded_, n); }
  Magazine* take_empty(u32 n) { return take(&empty_, n); }
  // How many magazines of each list went unused since the last call.
  void unused_since_last(u32* loaded, u32* empty);

  DepotCounters counters();

 private:
  void lock();
  void unlock();
  Magazine* take(MagazineList* list, u32 n);
  exo_lock* lock_ = nullptr;
  u32 inside_ = 0;  // holders and waiters of lock_, for contention
  MagazineList loaded_, empty_;
  u64 cached_ = 0;
  u64 exchanges_ = 0;
  u64 contended_ = 0;
};

}  // namespace exo::slab

#endif  // EXO_CORE_SLAB_DEPOT_H
