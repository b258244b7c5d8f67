// SPDX-License-Identifier: LGPL-2.1 OR GPL-2.0
#include "userspace/fibers/run_queue.h"

#include <initializer_list>

namespace exo::fiber {

bool RunPredictor::record(uint64_t run_ns) {
  bool within = false;
  if (samples_) {
    uint64_t predicted = predicted_ns();
    uint64_t diff = predicted > run_ns ? predicted - run_ns : run_ns - predicted;
    within = diff * 5 <= run_ns;
    int64_t delta = static_cast<int64_t>(run_ns << 4) - static_cast<int64_t>(scaled_);
    scaled_ = static_cast<uint64_t>(static_cast<int64_t>(scaled_) + (delta >> kShift));
  } else {
    scaled_ = run_ns << 4;  // the first run is the best guess there is
  }
  if (samples_ != UINT32_MAX) ++samples_;
  return within;
}

unsigned ClassQueue::bucket_for(uint64_t predicted_ns) {
  uint64_t us = predicted_ns >> 10;  // ~microseconds
  if (!us) return 0;
  unsigned bits = 64 - __builtin_clzll(us);  // 1 us -> 1, 4 us -> 3, 16 us -> 5
  unsigned b = (bits + 1) / 2;
  return b < kBuckets ? b : kBuckets - 1;
}

void ClassQueue::push(RunNode* node, uint64_t now) {
  unsigned b = bucket_for(node->predicted_ns);
  node->bucket = static_cast<uint8_t>(b);
  node->enqueued_ns = now;
  List& list = buckets_[b];
  node->next = nullptr;
  node->prev = list.tail;
  (list.tail ? list.tail->next : list.head) = node;
  list.tail = node;
  nonempty_ |= 1u << b;
  node->age_next = nullptr;
  node->age_prev = age_tail_;
  (age_tail_ ? age_tail_->age_next : age_head_) = node;
  age_tail_ = node;
  ++size_;
}

void ClassQueue::remove(RunNode* node) {
  List& list = buckets_[node->bucket];
  (node->prev ? node->prev->next : list.head) = node->next;
  (node->next ? node->next->prev : list.tail) = node->prev;
  if (!list.head) nonempty_ &= ~(1u << node->bucket);
  (node->age_prev ? node->age_prev->age_next : age_head_) = node->age_next;
  (node->age_next ? node->age_next->age_prev : age_tail_) = node->age_prev;
  node->prev = node->next = node->age_prev = node->age_next = nullptr;
  --size_;
}

unsigned ClassQueue::lowest_bucket() const {
  return nonempty_ ? static_cast<unsigned>(__builtin_ctz(nonempty_)) : kBuckets;
}

RunNode* ClassQueue::shortest(bool lifo) const {
  unsigned b = lowest_bucket();
  if (b == kBuckets) return nullptr;
  return lifo ? buckets_[b].tail : buckets_[b].head;
}

ClassQueue& RunQueues::queue(QueueKind kind) {
  switch (kind) {
    case QueueKind::kHot:
      return hot_;
    case QueueKind::kCold:
      return cold_;
    default:
      return normal_;
  }
}

void RunQueues::publish_counts() {
  uint64_t oldest = UINT64_MAX;
  for (const ClassQueue* q : {&hot_, &normal_})
    if (q->oldest() && q->oldest()->enqueued_ns < oldest) oldest = q->oldest()->enqueued_ns;
  oldest_warm_ns_.store(oldest, std::memory_order_relaxed);
  total_.store(hot_.size() + normal_.size() + cold_.size(), std::memory_order_relaxed);
  cold_count_.store(cold_.size(), std::memory_order_relaxed);
  normal_count_.store(normal_.size(), std::memory_order_relaxed);
}

QueueKind RunQueues::push(RunNode* node, uint64_t now, bool woken_here) {
  QueueKind kind = QueueKind::kNormal;
  if (params_.policy == Policy::kFifo) {
    node->predicted_ns = 0;  // one bucket: plain FIFO
  } else {
    bool ran_here = node->last_worker == worker_;
    // A clock read on another worker may be a little ahead of |now|.
    uint64_t since = now > node->last_ran_ns ? now - node->last_ran_ns : 0;
    if (woken_here || (ran_here && since <= params_.hot_window_ns))
      kind = QueueKind::kHot;
    else if (!ran_here || since > params_.normal_window_ns)
      kind = QueueKind::kCold;
  }
  node->queue = kind;
  queue(kind).push(node, now);
  publish_counts();
  return kind;
}

void RunQueues::take(RunNode* node) {
  queue(node->queue).remove(node);
  node->queue = QueueKind::kNone;
  publish_counts();
}

RunNode* RunQueues::pop(uint64_t now, bool* aged) {
  *aged = false;
  RunNode* next;
  if (params_.policy == Policy::kFifo) {
    next = normal_.oldest();
  } else {
    // Aging first: whatever waited past the bound runs, oldest first.
    RunNode* oldest = nullptr;
    for (ClassQueue* q : {&hot_, &normal_, &cold_}) {
      RunNode* n = q->oldest();
      if (n && (!oldest || n->enqueued_ns < oldest->enqueued_ns)) oldest = n;
    }
    // A push stamped by another thread's clock may be a little after |now|.
    if (oldest && now > oldest->enqueued_ns && now - oldest->enqueued_ns >= params_.aging_bound_ns &&
        (!aged_before_ || now - last_aged_ns_ >= params_.aged_spacing_ns)) {
      *aged = true;
      aged_before_ = true;
      last_aged_ns_ = now;
      next = oldest;
    } else if (!hot_.empty()) {
      // The most recently readied hot fiber has the warmest cache (and
      // spawn-then-join trees run depth first, keeping few stacks alive).
      next = hot_.shortest(true);
    } else if (normal_.lowest_bucket() <= cold_.lowest_bucket()) {
      next = normal_.shortest(false);
    } else {
      next = cold_.shortest(false);
    }
  }
  if (next) take(next);
  return next;
}

RunNode* RunQueues::steal(StealLevel level, uint64_t now, uint64_t waited_ns, QueueKind* from) {
  RunNode* victim = nullptr;
  if (params_.policy == Policy::kFifo) {
    victim = normal_.oldest();
  } else if (!cold_.empty()) {
    victim = cold_.oldest();
  } else if (level != StealLevel::kColdOnly && !normal_.empty()) {
    victim = normal_.oldest();
  } else if (level == StealLevel::kAny) {
    victim = hot_.oldest();
  } else {
    // Cold only, but warm work that has waited long enough goes too.
    for (ClassQueue* q : {&hot_, &normal_}) {
      RunNode* n = q->oldest();
      if (n && now - n->enqueued_ns >= waited_ns && now >= n->enqueued_ns &&
          (!victim || n->enqueued_ns < victim->enqueued_ns))
        victim = n;
    }
  }
  *from = victim ? victim->queue : QueueKind::kNone;
  if (victim) take(victim);
  return victim;
}

bool RunQueues::has_stealable(StealLevel level, uint64_t now, uint64_t waited_ns) const {
  if (params_.policy == Policy::kFifo || level == StealLevel::kAny)
    return total_.load(std::memory_order_relaxed) != 0;
  if (cold_count_.load(std::memory_order_relaxed)) return true;
  if (level == StealLevel::kNormalToo && normal_count_.load(std::memory_order_relaxed))
    return true;
  uint64_t oldest = oldest_warm_ns_.load(std::memory_order_relaxed);
  return oldest <= now && now - oldest >= waited_ns;
}

}  // namespace exo::fiber
