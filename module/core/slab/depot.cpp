// SPDX-License-Identifier: GPL-2.0
#include "module/core/slab/depot.h"

#include "module/core/atomic.h"
#include "module/core/errno.h"

namespace exo::slab {

int Depot::init() {
  lock_ = exo_plat_lock_create(EXO_LOCK_DEPOT);
  return lock_ ? 0 : -kENOMEM;
}

void Depot::destroy() {
  if (lock_) exo_plat_lock_destroy(lock_);
  lock_ = nullptr;
}

// Contention is counted as Bonwick counts it, without a trylock: whoever
// arrives while another is inside (holding or waiting) had to wait.
void Depot::lock() {
  bool busy = fetch_add(&inside_, 1u) != 0;
  exo_plat_lock(lock_);
  if (busy) ++contended_;
}

void Depot::unlock() {
  fetch_add(&inside_, ~0u);  // minus one
  exo_plat_unlock(lock_);
}

Depot::Trade Depot::trade_for_loaded(Magazine* give, Magazine** got) {
  lock();
  Magazine* m = loaded_.pop();
  if (m) {
    cached_ -= m->rounds;
    if (give) empty_.push(give);
    ++exchanges_;
  }
  unlock();
  *got = m;
  return m ? Trade::kDone : Trade::kNone;
}

Depot::Trade Depot::trade_for_empty(Magazine* give, Magazine** got) {
  lock();
  Trade t = Trade::kNone;
  *got = nullptr;
  if (give && loaded_.count() >= kMaxFull) {
    t = Trade::kAtCap;
  } else if (Magazine* m = empty_.pop()) {
    if (give) {
      loaded_.push(give);
      cached_ += give->rounds;
    }
    ++exchanges_;
    *got = m;
    t = Trade::kDone;
  }
  unlock();
  return t;
}

void Depot::put(Magazine* m) {
  lock();
  if (m->empty()) {
    empty_.push(m);
  } else {
    loaded_.push(m);
    cached_ += m->rounds;
  }
  unlock();
}

Magazine* Depot::take(MagazineList* list, u32 n) {
  Magazine* chain = nullptr;
  lock();
  for (; n; --n) {
    Magazine* m = list->pop();
    if (!m) break;
    cached_ -= m->rounds;
    m->next = chain;
    chain = m;
  }
  unlock();
  return chain;
}

void Depot::unused_since_last(u32* loaded, u32* empty) {
  lock();
  *loaded = loaded_.low();
  *empty = empty_.low();
  loaded_.reset_low();
  empty_.reset_low();
  unlock();
}

DepotCounters Depot::counters() {
  lock();
  DepotCounters c{loaded_.count(), empty_.count(), cached_, exchanges_, contended_};
  unlock();
  return c;
}

}  // namespace exo::slab
