// SPDX-License-Identifier: LGPL-2.1 OR GPL-2.0
// Workers and the scheduler. A worker is a pinned thread with its own run
// queues (run_queue.h), timer heap and epoll set; it runs fibers, switching
// from one straight to the next, and when its queues are empty it fires
// timers, polls fds, steals, and at last sleeps.
#ifndef EXOFIBER_SCHEDULER_H
#define EXOFIBER_SCHEDULER_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <atomic>

#include "userspace/fibers/annotations.h"
#include "userspace/fibers/clock.h"
#include "userspace/fibers/fiber.h"
#include "userspace/fibers/run_queue.h"
#include "userspace/fibers/spinlock.h"
#include "userspace/fibers/stack_pool.h"
#include "userspace/include/exofiber/exofiber.h"

struct exo_slab_cache;

namespace exo::fiber {

struct SchedulerOptions {
  unsigned workers = 0;  // 0: one per online CPU
  bool pin = true;
  size_t stack_size = 64 * 1024;
  QueueParams queues;
  uint64_t steal_any_after_ns = 50'000;
  bool steal_cold_only = false;
};

// Counters only their worker writes, read by anyone for statistics: a
// plain load and store (no locked read-modify-write on the hot path).
class WorkerCounter {
 public:
  void inc() { v_.store(v_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }
  uint64_t get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

struct WorkerStats {
  WorkerCounter switches, steals_cold, steals_other, migrations, aged, predictions, within_20pct,
      sleeps, io_polls, spawned, finished;
};

class Worker {
 public:
  Worker(Scheduler* sched, int32_t id, const QueueParams& params)
      : sched_(sched), id_(id), queues_(id, params) {}
  [[nodiscard]] int start(bool pin);
  void join_thread();

  // In a fiber running on this worker: leaves it, running the next fiber
  // (or the worker's own loop) and then |then|.
  enum class Then { kRequeue, kPark, kExit };
  void leave(Fiber* self, Then then, SpinLock* unlock = nullptr);
  // Makes |f| runnable here. |woken_here|: by a fiber of this worker.
  // |now|: the clock if the caller has it, else 0.
  void push(Fiber* f, bool woken_here, uint64_t now = 0) EXO_EXCLUDES(qlock_);
  // Wakes this worker if it sleeps; true if it did.
  bool wake();
  // Timer and fd waits of the fiber running here (then leave(kPark)).
  [[nodiscard]] int add_timer(Fiber* f, uint64_t deadline_ns);
  [[nodiscard]] int add_fd_wait(Fiber* f, int fd, uint32_t events);
  void cancel_fd_wait(Fiber* f) { drop_fd_wait(f); }

  Fiber* current() const { return current_; }
  // Fibers waiting for this worker (a hint: read without the lock).
  unsigned runnable() const EXO_NO_TSA { return queues_.size(); }
  int32_t id() const { return id_; }
  const WorkerStats& stats() const { return stats_; }
  bool sleeping() const { return sleep_state_.load(std::memory_order_relaxed) != kAwake; }
  Scheduler* scheduler() const { return sched_; }
  bool has_stealable(RunQueues::StealLevel level, uint64_t now, uint64_t waited_ns) const
      EXO_NO_TSA {
    return queues_.has_stealable(level, now, waited_ns);
  }
  Fiber* steal_from(RunQueues::StealLevel level, uint64_t now, uint64_t waited_ns,
                    QueueKind* from) EXO_EXCLUDES(qlock_);
  // The run-next fiber, if this worker has been busy |waited_ns| without
  // running it; null otherwise. can_steal_runnext() is the lock-free peek.
  Fiber* steal_runnext(uint64_t now, uint64_t waited_ns);
  bool can_steal_runnext(uint64_t now, uint64_t waited_ns) const;
  bool busy() const { return busy_since_.load(std::memory_order_relaxed) != 0; }
  // Out of the lock analysis: the lock a parked fiber held is released here,
  // by the context that runs next.
  void finish_switch() EXO_NO_TSA;

 private:
  static constexpr uint32_t kAwake = 0, kSleepFutex = 1, kSleepEpoll = 2;
  static void* thread_main(void* self);
  void loop();
  Fiber* next_to_run(uint64_t now) EXO_EXCLUDES(qlock_);
  Fiber* steal(uint64_t now);
  // What a thief here may take now: the level (by how long it has idled)
  // and how long warm work must have waited elsewhere.
  RunQueues::StealLevel steal_level(uint64_t now, uint64_t* waited_ns) const;
  // Whether steal() could find something now, or will once warm work
  // elsewhere has waited long enough (*soon).
  bool stealable_work(uint64_t now, bool* soon) const;
  void start_running(Fiber* f, uint64_t now);
  void stop_running(Fiber* f, uint64_t now);
  void idle(uint64_t now);
  void fire_timers(uint64_t now);
  void poll_io(int timeout_ms);
  void wake_waiter(Fiber* f);
  void remove_timer(Fiber* f);
  void drop_fd_wait(Fiber* f);
  void heap_swap(unsigned a, unsigned b);
  void heap_up(unsigned i);
  void heap_down(unsigned i);

  Scheduler* sched_;
  int32_t id_;
  pthread_t thread_{};
  bool started_ = false;
  int cpu_ = -1;
  Context home_;            // the thread's own context: the idle loop
  Fiber* current_ = nullptr;
  uint64_t now_ = 0;        // the clock at the last switch
  uint64_t idle_since_ = 0; // 0: not idle
  unsigned poll_tick_ = 0;

  // What to do with the fiber just left, once off its stack.
  Then then_ = Then::kRequeue;
  Fiber* left_ = nullptr;
  SpinLock* unlock_ = nullptr;
  // A timer or fd of the fiber being parked fired before it was off its
  // stack (leave() polls while choosing the next fiber): push it then.
  bool left_woken_ = false;

  SpinLock qlock_;
  RunQueues queues_ EXO_GUARDED_BY(qlock_);
  // The fiber a fiber here readied last (predictive policy): it runs next
  // without a queue operation. A thief may take it (compare-and-swap) once
  // this worker's current fiber has run |waited| without giving it a turn.
  static constexpr unsigned kRunnextStreak = 16;
  std::atomic<Fiber*> runnext_{nullptr};
  unsigned runnext_streak_ = 0;
  std::atomic<uint64_t> busy_since_{0};  // the current fiber's start, 0 if none

  Fiber** timers_ = nullptr;  // a binary min-heap by deadline
  unsigned ntimers_ = 0, timers_cap_ = 0;
  int epfd_ = -1, evfd_ = -1;
  unsigned io_waiters_ = 0;
  std::atomic<uint32_t> sleep_state_{kAwake};

  WorkerStats stats_;
  StackPool::Local stacks_;  // spawns and exits here reuse these first
  friend class Scheduler;
};

class Scheduler {
 public:
  static constexpr unsigned kMaxWorkers = 256;
  // 0 and *out, or -EINVAL (with a message naming the parameter) or -ENOMEM.
  [[nodiscard]] static int create(const SchedulerOptions& options, Scheduler** out);
  // Waits for every fiber, stops the workers and frees everything.
  void destroy();

  // 0 and *handle (if non-null: joinable), or -EINVAL, -ENOMEM.
  [[nodiscard]] int spawn(void (*fn)(void*), void* arg, size_t stack_size, Fiber** handle);
  void get_stats(exo_fiber_stats* out) const;
  Policy policy() const { return options_.queues.policy; }

  // Scheduler-internal, used by workers and the primitives.
  static uint64_t now() { return Clock::now_ns(); }
  void finish(Fiber* f);   // a fiber's function returned: wakes its joiner
  void on_exit(Fiber* f);  // a fiber is off its stack for good
  void release(Fiber* f);  // drops a reference
  void wake_idle_worker(Worker* except);
  uint64_t class_prediction(void (*fn)(void*)) const;
  void record_class_run(void (*fn)(void*), uint64_t run_ns);
  const SchedulerOptions& options() const { return options_; }
  unsigned workers() const { return nworkers_; }
  Worker* worker(unsigned i) const { return workers_[i]; }
  bool stopping() const { return stopping_.load(std::memory_order_acquire); }
  bool any_busy_worker(const Worker* except) const;
  // Brackets a wake-up from a thread that is not one of the workers.
  void outside_waker_enter() { outside_wakers_.fetch_add(1); }
  void outside_waker_exit() { outside_wakers_.fetch_sub(1); }
  std::atomic<unsigned> sleepers{0};

 private:
  Scheduler() = default;
  void wait_all_done();
  bool all_finished() const;

  SchedulerOptions options_;
  Worker* workers_[kMaxWorkers] = {};
  unsigned nworkers_ = 0;
  exo_slab_cache* fibers_ = nullptr;  // control blocks
  StackPool stacks_;
  std::atomic<unsigned> next_worker_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> spawned_outside_{0};  // by threads that are not its workers
  // Threads (not its workers) inside ready() or spawn(): they still touch a
  // worker after the fiber they made runnable may have finished, so
  // destroy() waits for them too.
  std::atomic<unsigned> outside_wakers_{0};

  // New fibers start with the EMA of earlier fibers of the same entry
  // function (a fiber has no history of its own yet).
  static constexpr unsigned kClasses = 64;
  struct ClassPrediction {
    std::atomic<uintptr_t> fn{0};
    std::atomic<uint64_t> scaled_ns{0};
  };
  ClassPrediction classes_[kClasses];
  friend class Worker;
};

// The worker the calling thread runs, or null (not a worker thread). Read
// through a call the compiler cannot fold: a fiber may resume on another
// thread, so a cached TLS address would name the old worker.
Worker* current_worker();
// The fiber running on the calling thread, or null.
Fiber* current_fiber();
// Makes a parked fiber runnable (from any thread).
void ready(Fiber* f);
// Parks the calling fiber until ready() (a timer or fd wait it set up).
void park();
// Parks the calling fiber holding |lock| (the wait list it joined), which
// the next context releases once the fiber is off its stack: a waker that
// takes the lock cannot ready a half-saved context.
void park_unlocking(SpinLock& lock) EXO_RELEASE(lock);

}  // namespace exo::fiber

#endif  // EXOFIBER_SCHEDULER_H
