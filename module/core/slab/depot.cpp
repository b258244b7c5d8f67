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

bool Depot::lock() {
  if (exo_plat_trylock(lock_)) return false;
  exo_plat_lock(lock_);
  // Read racily by counters(): a statistic, written only under the lock.
  store_relaxed(&contended_, contended_ + 1);
  return true;
}

Depot::Trade Depot::trade_for_loaded(Magazine* give, Magazine** got) {
  lock();
  Magazine* m = loaded_.pop();
  if (m) {
    cached_ -= m->rounds;
    if (give) empty_.push(give);
    ++exchanges_;
  }
  exo_plat_unlock(lock_);
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
  exo_plat_unlock(lock_);
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
  exo_plat_unlock(lock_);
}

Magazine* Depot::take_loaded(u32 n) {
  Magazine* chain = nullptr;
  lock();
  for (; n; --n) {
    Magazine* m = loaded_.pop();
    if (!m) break;
    cached_ -= m->rounds;
    m->next = chain;
    chain = m;
  }
  exo_plat_unlock(lock_);
  return chain;
}

Magazine* Depot::take_empty(u32 n) {
  Magazine* chain = nullptr;
  lock();
  for (; n; --n) {
    Magazine* m = empty_.pop();
    if (!m) break;
    m->next = chain;
    chain = m;
  }
  exo_plat_unlock(lock_);
  return chain;
}

void Depot::unused_since_last(u32* loaded, u32* empty) {
  lock();
  *loaded = loaded_.low();
  *empty = empty_.low();
  loaded_.reset_low();
  empty_.reset_low();
  exo_plat_unlock(lock_);
}

DepotCounters Depot::counters() {
  exo_plat_lock(lock_);
  DepotCounters c{loaded_.count(), empty_.count(), cached_, exchanges_, contended_};
  exo_plat_unlock(lock_);
  return c;
}

}  // namespace exo::slab
