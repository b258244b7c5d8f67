// SPDX-License-Identifier: LGPL-2.1 OR GPL-2.0
// The scheduling policy, free of threads and clocks so that tests drive it
// with a fake clock: a fiber's run-length predictor, and a worker's run
// queues (hot, normal, cold) with the rules of which fiber runs next and
// which one a thief may take.
#ifndef EXOFIBER_RUN_QUEUE_H
#define EXOFIBER_RUN_QUEUE_H

#include <stdint.h>

#include <atomic>

namespace exo::fiber {

enum class Policy : uint8_t {
  kFifo,        // one FIFO per worker, thieves take any fiber (the baseline)
  kPredictive,  // hot first, then shortest predicted, with aging
};

// An EMA of a fiber's run lengths (weight 1/4), in ns scaled by 16 so that
// small runs keep precision in integer arithmetic.
class RunPredictor {
 public:
  static constexpr unsigned kShift = 2;  // EMA weight 1/2^kShift
  uint64_t predicted_ns() const { return scaled_ >> 4; }
  bool has_history() const { return samples_ != 0; }
  uint32_t samples() const { return samples_; }
  void seed(uint64_t ns) { scaled_ = ns << 4; }
  // Records a run; true if the prediction made before it was within 20%
  // of it (the seed's accuracy figure). The first run is not scored.
  bool record(uint64_t run_ns);

 private:
  uint64_t scaled_ = 0;
  uint32_t samples_ = 0;
};

enum class QueueKind : uint8_t { kNone, kHot, kNormal, kCold };

// What the queues keep of a fiber (embedded in it).
struct RunNode {
  RunNode* prev = nullptr;  // in its bucket
  RunNode* next = nullptr;
  RunNode* age_prev = nullptr;  // in its queue's age order
  RunNode* age_next = nullptr;
  uint64_t enqueued_ns = 0;
  uint64_t last_ran_ns = 0;   // when it last stopped running
  uint64_t predicted_ns = 0;  // its predictor's figure, set by the caller
  int32_t last_worker = -1;   // where it last ran (-1: never)
  QueueKind queue = QueueKind::kNone;
  uint8_t bucket = 0;
};

struct QueueParams {
  Policy policy = Policy::kPredictive;
  uint64_t hot_window_ns = 100'000;      // ran here this recently: hot
  uint64_t normal_window_ns = 2'000'000; // ran here this recently: normal, else cold
  uint64_t aging_bound_ns = 10'000'000;  // waited this long: runs next
  // At most one aged fiber per this much time (0: aging_bound_ns / 8).
  // Unspaced, aging turns a backlog older than the bound into FIFO order:
  // every old fiber starts before any new one (skynet-1M then had 100k+
  // fibers, and stacks, alive at once instead of a few hundred).
  uint64_t aged_spacing_ns = 0;
};

// One queue: buckets of predicted run length (FIFO or LIFO within one) and
// the order of arrival, for aging and for thieves.
class ClassQueue {
 public:
  static constexpr unsigned kBuckets = 8;
  // Buckets grow by 4x from 1 us: <1, <4, <16, <64, <256 us, <1, <4 ms, more.
  static unsigned bucket_for(uint64_t predicted_ns);

  void push(RunNode* node, uint64_t now);
  void remove(RunNode* node);
  RunNode* oldest() const { return age_head_; }
  // The lowest bucket's first (FIFO) or last (LIFO) node, or null.
  RunNode* shortest(bool lifo) const;
  unsigned lowest_bucket() const;  // kBuckets when empty
  unsigned size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  struct List {
    RunNode* head = nullptr;
    RunNode* tail = nullptr;
  };
  List buckets_[kBuckets];
  uint32_t nonempty_ = 0;  // bit b: bucket b has nodes
  RunNode* age_head_ = nullptr;
  RunNode* age_tail_ = nullptr;
  unsigned size_ = 0;
};

// A worker's run queues. Not thread-safe: the worker's lock guards them;
// the counts may be read without it (a thief's or a sleeper's peek).
class RunQueues {
 public:
  enum class StealLevel { kColdOnly, kNormalToo, kAny };

  RunQueues(int32_t worker, const QueueParams& params) : worker_(worker), params_(params) {
    if (!params_.aged_spacing_ns) params_.aged_spacing_ns = params_.aging_bound_ns / 8;
  }

  // |woken_here|: made runnable by a fiber running on this worker (spawned,
  // or woken through a mutex, channel or join), whose data it likely shares.
  QueueKind push(RunNode* node, uint64_t now, bool woken_here);
  // The fiber to run next here, or null; *aged tells whether it was taken
  // because it had waited past the aging bound.
  RunNode* pop(uint64_t now, bool* aged);
  // What a thief on another worker may take at |level|, oldest first;
  // *from says which queue it was in. Whatever the level, a hot or normal
  // fiber that has waited |waited_ns| or more (at |now|) may go too: its
  // worker is busy, and a CPU idles while it waits.
  RunNode* steal(StealLevel level, uint64_t now, uint64_t waited_ns, QueueKind* from);

  unsigned size() const { return total_.load(std::memory_order_relaxed); }
  // What steal() could find, without the lock (a hint).
  bool has_stealable(StealLevel level, uint64_t now, uint64_t waited_ns) const;
  const QueueParams& params() const { return params_; }

 private:
  ClassQueue& queue(QueueKind kind);
  void take(RunNode* node);
  void publish_counts();

  int32_t worker_;
  QueueParams params_;
  uint64_t last_aged_ns_ = 0;
  bool aged_before_ = false;
  ClassQueue hot_, normal_, cold_;
  std::atomic<unsigned> total_{0};
  std::atomic<uint64_t> oldest_warm_ns_{UINT64_MAX};  // hot and normal
  std::atomic<unsigned> cold_count_{0};
  std::atomic<unsigned> normal_count_{0};
};

}  // namespace exo::fiber

#endif  // EXOFIBER_RUN_QUEUE_H
