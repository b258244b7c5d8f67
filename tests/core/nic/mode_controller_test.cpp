// SPDX-License-Identifier: GPL-2.0
// The NIC mode controller (module/core/nic/mode_controller.cpp) driven by
// synthetic arrival traces: Poisson arrivals (a deterministic PRNG) at many
// rates, steps, bursts and silences, with a simulated shim that turns the
// arrivals into interrupts and polls as the current mode would, ticks
// every tick_us (stopping when the controller no longer wants the tick and
// restarting at the next interrupt, as the shim does) and checks every
// change it sees against the dwell time.
#include <math.h>
#include <string.h>

#include <algorithm>
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "module/core/nic/mode_api.h"
#include "module/core/nic/mode_controller.h"

namespace exo_test {
namespace {

constexpr u64 kMs = 1000ull * 1000, kSec = 1000 * kMs;

exo_nic_mode_params defaults() {
  exo_nic_mode_params p;
  exo_nic_mode_default_params(&p);
  return p;
}

// splitmix64: the same trace on every run and machine.
class Prng {
 public:
  explicit Prng(u64 seed) : s_(seed) {}
  u64 next() {
    u64 z = (s_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform() { return ((next() >> 11) + 0.5) * (1.0 / 9007199254740992.0); }  // (0, 1)
  // Arrivals of a Poisson process of mean |mean| in an interval: by
  // exponential gaps when few, else its normal approximation.
  u64 poisson(double mean) {
    if (mean <= 0) return 0;
    if (mean < 64) {
      u64 n = 0;
      for (double t = -log(uniform()); t < mean; t += -log(uniform())) ++n;
      return n;
    }
    double g = sqrt(-2 * log(uniform())) * cos(2 * M_PI * uniform());
    double n = floor(mean + sqrt(mean) * g + 0.5);
    return n < 0 ? 0 : static_cast<u64>(n);
  }

 private:
  u64 s_;
};

// The shim, simulated, around one controller.
class Sim {
 public:
  explicit Sim(const exo_nic_mode_params& p = defaults(), u64 seed = 1)
      : p_(p), rng_(seed), now_(1000 * kSec) {
    ctl_ = exo_nic_mode_create(&p_, now_);
    eff_ = defaults();  // zeroes in p_ take these
    if (p_.tick_us) eff_.tick_us = p_.tick_us;
    if (p_.dwell_ms) eff_.dwell_ms = p_.dwell_ms;
    if (p_.itr_ns) eff_.itr_ns = p_.itr_ns;
    if (p_.poll_period_us) eff_.poll_period_us = p_.poll_period_us;
  }
  ~Sim() { exo_nic_mode_destroy(ctl_); }
  Sim(const Sim&) = delete;
  Sim& operator=(const Sim&) = delete;

  exo_nic_mode_ctl* ctl() { return ctl_; }
  u64 now() const { return now_; }
  u64 tick_ns() const { return eff_.tick_us * 1000ull; }

  // |seconds| of Poisson arrivals at |pps|; |busy|: an application
  // busy-polls the context meanwhile. |jitter|: each tick comes up to that
  // share of a period early or late.
  void run(double seconds, double pps, bool busy = false, double jitter = 0) {
    u64 end = now_ + static_cast<u64>(seconds * kSec);
    while (now_ < end) {
      u64 dt = tick_ns();
      if (jitter > 0) dt = static_cast<u64>(dt * (1 + jitter * (2 * rng_.uniform() - 1)));
      dt = std::min(dt, end - now_);
      interval(dt, rng_.poisson(pps * dt / kSec), busy);
    }
  }

  // One interval of |dt| in which |packets| arrive, then the tick if it runs.
  void interval(u64 dt, u64 packets, bool busy = false) {
    deliver(dt, packets, busy);
    now_ += dt;
    if (!ticking_ && !always_tick && irqs_in_interval_ == 0) return;  // nothing wakes it
    do_tick();
  }

  // Time passes with no tick at all (a late tick, a stopped timer); the
  // events still arrive.
  void silence(double seconds, double pps = 0) {
    u64 dt = static_cast<u64>(seconds * kSec);
    deliver(dt, rng_.poisson(pps * dt / kSec), false);
    now_ += dt;
  }

  void do_tick() {
    exo_nic_mode_change ch;
    ++ticks_;
    if (exo_nic_mode_tick(ctl_, now_, &ch) == 1) {
      EXPECT_EQ(ch.time_ns, now_);
      EXPECT_NE(ch.reason, (u32)EXO_NIC_REASON_FORCED);
      EXPECT_NE(ch.from, ch.to);
      if (!changes.empty()) {
        EXPECT_GE(ch.time_ns - changes.back().time_ns, eff_.dwell_ms * kMs)
            << "two changes within the dwell time";
      }
      changes.push_back(ch);
    }
    rates.push_back(stats().rate_pps);
    ticking_ = exo_nic_mode_wants_tick(ctl_);
  }

  int force(u32 policy) {
    exo_nic_mode_change ch;
    int r = exo_nic_mode_set_policy(ctl_, policy, now_, &ch);
    if (r == 1) changes.push_back(ch);
    ticking_ = exo_nic_mode_wants_tick(ctl_);
    return r;
  }

  exo_nic_mode_stats stats() const {
    exo_nic_mode_stats s;
    exo_nic_mode_get_stats(ctl_, now_, &s);
    return s;
  }
  u32 mode() const { return stats().mode; }
  u32 rate() const { return stats().rate_pps; }
  u64 ticks() const { return ticks_; }

  // Ticks even when the controller does not want them (to watch its EMAs
  // under a fixed policy, or counters noted by hand).
  bool always_tick = false;
  // A device that spaces interrupts at least this far apart whatever the
  // driver asks (QEMU's e1000 with mitigation=on: 128 us); 0: none.
  u64 device_irq_gap_ns = 0;
  std::vector<exo_nic_mode_change> changes;  // as tick and set_policy returned them
  std::vector<u32> rates;                    // the rate EMA after each tick

 private:
  // What the current mode makes of |packets| arrivals in |dt|.
  void deliver(u64 dt, u64 packets, bool busy) {
    struct exo_nic_mode_settings s;
    exo_nic_mode_settings(ctl_, &s);
    irqs_in_interval_ = 0;
    if (busy) {
      // The application polls every 20 us, finding what came meanwhile;
      // unless the mode masks them, a quarter of the packets still raise
      // an interrupt (NAPI then finds nothing the poller has not taken).
      u64 polls = std::max<u64>(dt / 20000, 1);
      polls_of(polls, packets, true);
      if (s.mode == EXO_NIC_MODE_BUSY_POLL || s.mode == EXO_NIC_MODE_TIMER_POLL) return;
      irqs_in_interval_ = (packets + 3) / 4;
      for (u64 i = 0; i < irqs_in_interval_; ++i) exo_nic_mode_note_irq(ctl_);
      return;
    }
    if (!packets && s.mode != EXO_NIC_MODE_TIMER_POLL) return;
    switch (s.mode) {
      case EXO_NIC_MODE_INTERRUPT: {
        u64 irqs = device_cap(packets, dt);
        for (u64 i = 0; i < irqs; ++i) exo_nic_mode_note_irq(ctl_);
        irqs_in_interval_ = irqs;
        polls_of(irqs, packets, false);
        break;
      }
      case EXO_NIC_MODE_MODERATED: {
        u64 irqs = device_cap(std::min<u64>(packets, std::max<u64>(dt / s.itr_ns, 1)), dt);
        for (u64 i = 0; i < irqs; ++i) exo_nic_mode_note_irq(ctl_);
        irqs_in_interval_ = irqs;
        polls_of(irqs, packets, false);
        break;
      }
      case EXO_NIC_MODE_TIMER_POLL:
        polls_of(std::max<u64>(dt / s.poll_period_ns, 1), packets, false);
        break;
      default:  // busy-poll with nobody polling: the shim's timeout unmasks
        for (u64 i = 0; i < packets; ++i) exo_nic_mode_note_irq(ctl_);
        irqs_in_interval_ = packets;
        polls_of(packets, packets, false);
        break;
    }
  }

  // The device's own floor between interrupts (device_irq_gap_ns), if any.
  u64 device_cap(u64 irqs, u64 dt) const {
    if (!device_irq_gap_ns || !irqs) return irqs;
    return std::min<u64>(irqs, std::max<u64>(dt / device_irq_gap_ns, 1));
  }

  void polls_of(u64 polls, u64 packets, bool busy) {
    for (u64 i = 0; i < polls; ++i) {
      u64 rx = packets / polls + (i < packets % polls);
      exo_nic_mode_note_poll(ctl_, static_cast<u32>(rx), 0, busy);
    }
  }

  exo_nic_mode_params p_, eff_;
  Prng rng_;
  u64 now_;
  exo_nic_mode_ctl* ctl_;
  bool ticking_ = false;
  u64 irqs_in_interval_ = 0;
  u64 ticks_ = 0;
};

// No mode is entered twice: a steady load may settle, never flap.
void expect_no_flap(const Sim& sim, size_t from, const char* what) {
  std::vector<u32> seen;
  for (size_t i = from; i < sim.changes.size(); ++i) {
    u32 to = sim.changes[i].to;
    EXPECT_EQ(std::count(seen.begin(), seen.end(), to), 0)
        << what << ": mode " << exo_nic_mode_name(to) << " entered twice ("
        << sim.changes.size() - from << " changes)";
    seen.push_back(sim.changes[i].from);
  }
}

// --- the EMA itself ---

TEST(NicModeEma, StepsReachTheSampleExactlyFromBothSides) {
  exo::nic::Ema e;
  int steps = 0;
  while (e.value_q8() != (100000ull << 8) && steps < 1000) e.step(100000, 1, 3), ++steps;
  EXPECT_EQ(e.value(), 100000u);
  EXPECT_GT(steps, 100);  // 1/8 of the distance a step: not in a few
  EXPECT_LT(steps, 300);
  steps = 0;
  while (e.value_q8() != 0 && steps < 1000) e.step(0, 1, 3), ++steps;
  EXPECT_EQ(e.value_q8(), 0u);
  EXPECT_LT(steps, 300);
}

TEST(NicModeEma, NPeriodsAtOnceAreNStepsInOne) {
  for (u64 n : {1ull, 2ull, 5ull, 17ull, 100ull}) {
    exo::nic::Ema one, many;
    one.step(50000, 1000, 3);  // settled at 50000
    many = one;
    one.step(0, n, 3);
    for (u64 i = 0; i < n; ++i) many.step(0, 1, 3);
    double expect = 50000 * pow(7.0 / 8, static_cast<double>(n));
    EXPECT_NEAR(one.value(), expect, expect * 0.01 + 2) << n;
    EXPECT_NEAR(one.value(), many.value(), expect * 0.01 + 2) << n;
  }
  // However many: bounded work, and nothing left.
  EXPECT_EQ(exo::nic::Ema::keep_q32(~0ull, 3), 0u);
  EXPECT_EQ(exo::nic::Ema::keep_q32(0, 3), 1ull << 32);
  exo::nic::Ema e;
  e.step(exo::nic::Ema::kMax, 1000, 1);
  e.step(0, 1ull << 40, 10);
  EXPECT_EQ(e.value_q8(), 0u);
}

// --- the rate EMA under Poisson arrivals ---

TEST(NicModeRate, ConvergesToThePoissonRate) {
  for (double pps : {50.0, 300.0, 1000.0, 5000.0, 12000.0, 30000.0, 60000.0, 100000.0,
                     200000.0}) {
    Sim sim(defaults(), static_cast<u64>(pps) + 7);
    sim.run(3, pps);
    size_t first = sim.rates.size();
    sim.run(20, pps);
    double sum = 0, worst = 0;
    for (size_t i = first; i < sim.rates.size(); ++i) {
      sum += sim.rates[i];
      worst = std::max(worst, fabs(sim.rates[i] - pps));
    }
    double mean = sum / (sim.rates.size() - first);
    // The mean within 1% plus the Poisson error of 20 s of arrivals; each
    // value within 6 standard deviations of the EMA's noise (a = 1/8 a tick).
    EXPECT_NEAR(mean, pps, pps * 0.01 + 5 * sqrt(pps * 20) / 20) << pps;
    double sd = sqrt(pps / 0.01 * (1.0 / 8) / (2 - 1.0 / 8));
    EXPECT_LE(worst, 6 * sd + pps * 0.01 + 1) << pps;
  }
}

TEST(NicModeRate, LateAndJitteredTicksStillMeasureTheRate) {
  // Ticks up to half a period early or late.
  Sim sim(defaults(), 3);
  sim.run(3, 40000, false, 0.5);
  EXPECT_NEAR(sim.rate(), 40000, 40000 * 0.05);
  // A tick three periods late sees three periods of arrivals: no spike.
  sim.silence(0.03, 40000);
  sim.do_tick();
  EXPECT_NEAR(sim.rate(), 40000, 40000 * 0.05);
}

TEST(NicModeRate, DecaysToZeroAtZeroLoadAndStopsTheTick) {
  Sim sim;
  sim.run(5, 100000);
  EXPECT_NEAR(sim.rate(), 100000, 3000);
  EXPECT_EQ(sim.mode(), (u32)EXO_NIC_MODE_TIMER_POLL);
  EXPECT_TRUE(exo_nic_mode_wants_tick(sim.ctl()));
  sim.run(3, 0);
  EXPECT_EQ(sim.rate(), 0u);
  EXPECT_EQ(sim.stats().batch_x16, 0u);
  EXPECT_EQ(sim.mode(), (u32)EXO_NIC_MODE_INTERRUPT);
  EXPECT_FALSE(exo_nic_mode_wants_tick(sim.ctl()));
  // An idle NIC wakes no CPU: no tick for a minute of silence.
  u64 ticks = sim.ticks();
  sim.run(60, 0);
  EXPECT_EQ(sim.ticks(), ticks);
}

TEST(NicModeRate, OneTickAfterTenSecondsOfSilenceDecaysToZero) {
  exo_nic_mode_params p = defaults();
  Sim sim(p);
  sim.always_tick = true;
  sim.force(EXO_NIC_MODE_TIMER_POLL);  // fixed: only the EMA moves
  sim.run(5, 150000);
  u32 before = sim.rate();
  EXPECT_NEAR(before, 150000, 5000);
  sim.silence(10);
  sim.do_tick();
  EXPECT_EQ(sim.rate(), 0u);
  // And a tick 5 periods late decays by 5 steps, not one.
  sim.run(5, 150000);
  before = sim.rate();
  sim.silence(0.05);
  sim.do_tick();
  double expect = before * pow(7.0 / 8, 5);
  EXPECT_NEAR(sim.rate(), expect, expect * 0.02);
}

TEST(NicModeRate, BatchIsPacketsPerPollTimesSixteen) {
  Sim sim;
  sim.always_tick = true;
  sim.force(EXO_NIC_MODE_TIMER_POLL);
  // 100k pps, a poll every 50 us: 5 packets a poll.
  sim.run(5, 100000);
  EXPECT_NEAR(sim.stats().batch_x16, 5 * 16, 3);
  sim.force(EXO_NIC_MODE_INTERRUPT);
  sim.run(5, 1000);
  EXPECT_EQ(sim.stats().batch_x16, 16u);
}

// --- hysteresis and dwell ---

struct Threshold {
  const char* name;
  u32 pps;
  bool up;  // an up threshold (approached from below) or a down one
};

std::vector<Threshold> thresholds() {
  exo_nic_mode_params p = defaults();
  return {{"moderated_up", p.moderated_up_pps, true},
          {"moderated_down", p.moderated_down_pps, false},
          {"poll_up", p.poll_up_pps, true},
          {"poll_down", p.poll_down_pps, false}};
}

// Reaches the side of |t| a steady load at it starts from: the mode below
// an up threshold, the mode above a down one.
void approach(Sim& sim, const Threshold& t) {
  exo_nic_mode_params p = defaults();
  if (!strcmp(t.name, "moderated_up")) sim.run(2, p.moderated_down_pps / 2);
  if (!strcmp(t.name, "moderated_down")) sim.run(2, (p.moderated_up_pps + p.poll_up_pps) / 2);
  if (!strcmp(t.name, "poll_up")) sim.run(2, (p.moderated_up_pps + p.poll_down_pps) / 2);
  if (!strcmp(t.name, "poll_down")) sim.run(2, p.poll_up_pps * 2);
}

TEST(NicModeHysteresis, SteadyLoadAtAndAroundEachThresholdNeverFlaps) {
  for (const Threshold& t : thresholds()) {
    for (double f : {0.9, 0.97, 1.0, 1.03, 1.1}) {
      Sim sim(defaults(), static_cast<u64>(t.pps * f * 31));
      approach(sim, t);
      size_t start = sim.changes.size();
      size_t first_rate = sim.rates.size();
      sim.run(180, t.pps * f);  // three minutes
      std::string what = std::string(t.name) + " x" + std::to_string(f);
      expect_no_flap(sim, start, what.c_str());
      EXPECT_LE(sim.changes.size() - start, 1u) << what;

      // The same EMA trace under one threshold (the seed's controller,
      // even given our dwell time) flaps: the trace is a real test.
      if (f == 1.0) {
        bool above = sim.rates[first_rate] >= t.pps;
        u64 single = 0, last = 0;
        for (size_t i = first_rate; i < sim.rates.size(); ++i) {
          u64 at = i * sim.tick_ns();
          bool now_above = sim.rates[i] >= t.pps;
          if (now_above != above && (single == 0 || at - last >= 250 * kMs)) {
            above = now_above;
            ++single;
            last = at;
          }
        }
        EXPECT_GE(single, 20u) << what << ": a single threshold would have changed " << single
                               << " times";
      }
    }
  }
}

TEST(NicModeHysteresis, LoadInsideTheBandsNeverChanges) {
  // 25% inside each band: many standard deviations of the EMA away from
  // both thresholds; after the approach, zero changes.
  exo_nic_mode_params p = defaults();
  struct Case {
    void (*approach)(Sim&);
    double pps;
    u32 mode;
  } cases[] = {
      {[](Sim& s) { s.run(2, 0); }, p.moderated_up_pps * 0.75, EXO_NIC_MODE_INTERRUPT},
      {[](Sim& s) { s.run(2, 30000); }, p.moderated_down_pps * 1.25, EXO_NIC_MODE_MODERATED},
      {[](Sim& s) { s.run(2, 30000); }, p.poll_up_pps * 0.75, EXO_NIC_MODE_MODERATED},
      {[](Sim& s) { s.run(2, 100000); }, p.poll_down_pps * 1.25, EXO_NIC_MODE_TIMER_POLL},
      {[](Sim& s) { s.run(2, 100000); }, 200000, EXO_NIC_MODE_TIMER_POLL},
      {[](Sim& s) { s.run(2, 100); }, 100, EXO_NIC_MODE_INTERRUPT},
  };
  for (const Case& c : cases) {
    Sim sim(defaults(), static_cast<u64>(c.pps));
    c.approach(sim);
    sim.run(1, c.pps);
    size_t start = sim.changes.size();
    sim.run(180, c.pps);
    EXPECT_EQ(sim.changes.size(), start) << c.pps;
    EXPECT_EQ(sim.mode(), c.mode) << c.pps;
  }
}

TEST(NicModeHysteresis, BetweenDownAndUpTheModeDependsOnWhereItCameFrom) {
  exo_nic_mode_params p = defaults();
  ASSERT_LT(p.moderated_down_pps, p.moderated_up_pps);
  ASSERT_LT(p.poll_down_pps, p.poll_up_pps);
  ASSERT_LE(p.moderated_up_pps, p.poll_up_pps);
  double mid = (p.moderated_down_pps + p.moderated_up_pps) / 2.0;
  Sim from_below;
  from_below.run(5, mid);
  EXPECT_EQ(from_below.mode(), (u32)EXO_NIC_MODE_INTERRUPT);
  Sim from_above;
  from_above.run(2, 30000);
  from_above.run(5, mid);
  EXPECT_EQ(from_above.mode(), (u32)EXO_NIC_MODE_MODERATED);
}

TEST(NicModeHysteresis, ParamsWithoutHysteresisGetSome) {
  // down >= up in the parameters: the controller makes down lower.
  exo_nic_mode_params p = {};
  p.moderated_up_pps = p.moderated_down_pps = 10000;
  p.poll_up_pps = 5000;  // below moderated_up: raised to it
  p.poll_down_pps = 90000;
  Sim sim(p, 77);
  sim.run(2, 2000);
  size_t start = sim.changes.size();
  sim.run(120, 10000);
  expect_no_flap(sim, start, "10000 at up == down");
  EXPECT_LE(sim.changes.size() - start, 1u);
}

TEST(NicModeDwell, NoTwoChangesWithinTheDwellTime) {
  // 300 ms on at 200k, 300 ms off, with a 1 s dwell: the load asks for a
  // change every 300 ms; the checks in Sim::do_tick() see the gaps.
  exo_nic_mode_params p = {};
  p.dwell_ms = 1000;
  Sim sim(p, 5);
  for (int i = 0; i < 50; ++i) {
    sim.run(0.3, 200000);
    sim.run(0.3, 0);
  }
  EXPECT_GE(sim.changes.size(), 10u);  // it did change, as often as the dwell let it
  EXPECT_LE(sim.changes.size(), 31u);
  for (size_t i = 1; i < sim.changes.size(); ++i)
    EXPECT_GE(sim.changes[i].time_ns - sim.changes[i - 1].time_ns, 1000 * kMs);
}

// --- traces: steps and bursts ---

TEST(NicModeTraces, TransmitCompletionsDoNotCountTowardsTheRate) {
  // A ping-pong at 15k round trips/s: 15k frames received and 15k sent per
  // second; only the received ones raise interrupts, so moderated, not
  // timer-poll (which 30k/s would have chosen) and no extra latency.
  Sim sim(defaults(), 24);
  sim.always_tick = true;  // the events are noted here, not by the Sim
  for (int i = 0; i < 300; ++i) {
    for (int j = 0; j < 150; ++j) {
      exo_nic_mode_note_irq(sim.ctl());
      exo_nic_mode_note_poll(sim.ctl(), 1, 1, 0);
    }
    sim.interval(10 * kMs, 0);
  }
  EXPECT_EQ(sim.mode(), (u32)EXO_NIC_MODE_MODERATED);
  EXPECT_NEAR(sim.rate(), 15000, 500);
  EXPECT_EQ(sim.stats().batch_x16, 16u);
}

TEST(NicModeTraces, StepsUpAndDownSettleInOneChangeEach) {
  Sim sim;
  struct Phase {
    double pps;
    u32 mode;
  } phases[] = {
      {0, EXO_NIC_MODE_INTERRUPT},       {1000, EXO_NIC_MODE_INTERRUPT},
      {30000, EXO_NIC_MODE_MODERATED},   {100000, EXO_NIC_MODE_TIMER_POLL},
      {15000, EXO_NIC_MODE_MODERATED},   {1000, EXO_NIC_MODE_INTERRUPT},
      {200000, EXO_NIC_MODE_TIMER_POLL}, {0, EXO_NIC_MODE_INTERRUPT},
  };
  for (const Phase& ph : phases) {
    size_t start = sim.changes.size();
    sim.run(1, ph.pps);  // settles within a second
    EXPECT_EQ(sim.mode(), ph.mode) << ph.pps;
    EXPECT_LE(sim.changes.size() - start, 1u) << ph.pps;
    start = sim.changes.size();
    sim.run(20, ph.pps);  // then stays
    EXPECT_EQ(sim.changes.size(), start) << ph.pps;
  }
  // By rate each; a flood starts and ends in one change.
  ASSERT_EQ(sim.changes.size(), 6u);
  EXPECT_EQ(sim.changes[0].reason, (u32)EXO_NIC_REASON_RATE_UP);
  EXPECT_EQ(sim.changes[1].reason, (u32)EXO_NIC_REASON_RATE_UP);
  EXPECT_EQ(sim.changes[2].reason, (u32)EXO_NIC_REASON_RATE_DOWN);
  EXPECT_EQ(sim.changes[3].reason, (u32)EXO_NIC_REASON_RATE_DOWN);
  EXPECT_EQ(sim.changes[4].reason, (u32)EXO_NIC_REASON_RATE_UP);
  EXPECT_EQ(sim.changes[4].from, (u32)EXO_NIC_MODE_INTERRUPT);  // straight up
  EXPECT_EQ(sim.changes[4].to, (u32)EXO_NIC_MODE_TIMER_POLL);
  EXPECT_EQ(sim.changes[5].reason, (u32)EXO_NIC_REASON_RATE_DOWN);
  EXPECT_EQ(sim.changes[5].from, (u32)EXO_NIC_MODE_TIMER_POLL);  // straight down
  EXPECT_EQ(sim.changes[5].to, (u32)EXO_NIC_MODE_INTERRUPT);
  EXPECT_FALSE(exo_nic_mode_wants_tick(sim.ctl()));
}

TEST(NicModeTraces, ADeviceThatModeratesItselfKeepsAFloodInModeratedMode) {
  // QEMU's mitigation=on: one interrupt per 128 us at most (7.8k/s), under
  // half of the timer's 20k firings/s: timer-poll would wake the CPU more.
  Sim sim(defaults(), 21);
  sim.device_irq_gap_ns = 128000;
  sim.run(1, 0);  // interrupts on since the NIC came up
  sim.run(0.2, 100000);
  EXPECT_EQ(sim.mode(), (u32)EXO_NIC_MODE_MODERATED);
  struct exo_nic_mode_settings early;
  exo_nic_mode_settings(sim.ctl(), &early);  // interrupts measured all along: at once
  EXPECT_EQ(early.itr_ns, defaults().bulk_itr_ns);
  sim.run(0.8, 100000);
  EXPECT_EQ(sim.mode(), (u32)EXO_NIC_MODE_MODERATED);
  ASSERT_EQ(sim.changes.size(), 1u);
  EXPECT_EQ(sim.changes[0].reason, (u32)EXO_NIC_REASON_RATE_UP);
  sim.run(20, 100000);
  EXPECT_EQ(sim.changes.size(), 1u);
  // At timer-poll's rates, moderated spaces interrupts by bulk_itr_ns.
  struct exo_nic_mode_settings set;
  exo_nic_mode_settings(sim.ctl(), &set);
  EXPECT_EQ(set.itr_ns, defaults().bulk_itr_ns);
  EXPECT_NEAR(sim.stats().irq_rate, 1e9 / defaults().bulk_itr_ns, 200);
  // The same flood on a device that takes what it is told goes to timer-poll.
  Sim obedient(defaults(), 22);
  obedient.run(1, 30000);
  EXPECT_EQ(obedient.mode(), (u32)EXO_NIC_MODE_MODERATED);
  obedient.run(2, 100000);
  EXPECT_EQ(obedient.mode(), (u32)EXO_NIC_MODE_TIMER_POLL);
  EXPECT_EQ(obedient.changes.size(), 2u);
}

TEST(NicModeTraces, AFloodRightAfterTimerPollIsNotMistakenForASelfModeratingDevice) {
  // Regression: back in moderated from timer-poll (whose masked interrupts
  // left the interrupt-rate EMA near 0), a flood crossed poll_up_pps before
  // that EMA had caught up: bulk_itr_ns was taken, capped the interrupts
  // below the timer-poll gate and so confirmed itself for the whole flood.
  Sim sim(defaults(), 25);
  sim.run(2, 100000);
  ASSERT_EQ(sim.mode(), (u32)EXO_NIC_MODE_TIMER_POLL);
  for (int i = 0; i < 100 && sim.mode() != EXO_NIC_MODE_MODERATED; ++i)
    sim.run(0.01, 15000);
  ASSERT_EQ(sim.mode(), (u32)EXO_NIC_MODE_MODERATED);
  sim.run(3, 100000);  // at once
  EXPECT_EQ(sim.mode(), (u32)EXO_NIC_MODE_TIMER_POLL);
  struct exo_nic_mode_settings s;
  exo_nic_mode_settings(sim.ctl(), &s);
  EXPECT_EQ(s.poll_period_ns, defaults().poll_period_us * 1000);
}

// The ITR moderated mode asks for at a load (adaptive policy).
u32 itr_after(Sim& sim, double seconds, double pps) {
  sim.run(seconds, pps);
  EXPECT_EQ(sim.mode(), (u32)EXO_NIC_MODE_MODERATED) << pps;
  struct exo_nic_mode_settings s;
  exo_nic_mode_settings(sim.ctl(), &s);
  return s.itr_ns;
}

TEST(NicModeTraces, ModeratedTakesTheBulkItrBetweenTimerPollsThresholdsWithHysteresis) {
  exo_nic_mode_params p = defaults();
  Sim sim(p, 23);
  sim.device_irq_gap_ns = 128000;  // stays in moderated at any rate
  EXPECT_EQ(itr_after(sim, 2, 15000), p.itr_ns);
  EXPECT_EQ(itr_after(sim, 2, p.poll_up_pps * 1.5), p.bulk_itr_ns);
  // Between the thresholds: where it came from.
  EXPECT_EQ(itr_after(sim, 5, (p.poll_up_pps + p.poll_down_pps) / 2.0), p.bulk_itr_ns);
  EXPECT_EQ(itr_after(sim, 2, p.poll_down_pps * 0.8), p.itr_ns);
  EXPECT_EQ(itr_after(sim, 5, (p.poll_up_pps + p.poll_down_pps) / 2.0), p.itr_ns);
  EXPECT_EQ(sim.changes.size(), 1u);  // none of it is a mode change
  // A fixed moderated policy keeps its one ITR.
  ASSERT_EQ(sim.force(EXO_NIC_MODE_MODERATED), 0);
  sim.always_tick = true;
  sim.run(2, p.poll_up_pps * 2);
  struct exo_nic_mode_settings s;
  exo_nic_mode_settings(sim.ctl(), &s);
  EXPECT_EQ(s.itr_ns, p.itr_ns);
}

TEST(NicModeTraces, IdleReasonWhenTheRateDecaysToNothing) {
  // A dwell longer than the decay: the controller is still in moderated
  // when the rate reaches 0, and says why it leaves.
  exo_nic_mode_params p = {};
  p.dwell_ms = 3000;
  Sim sim(p, 9);
  sim.run(1, 30000);
  ASSERT_EQ(sim.mode(), (u32)EXO_NIC_MODE_MODERATED);
  sim.run(4, 0);
  ASSERT_EQ(sim.changes.size(), 2u);
  EXPECT_EQ(sim.changes[1].reason, (u32)EXO_NIC_REASON_IDLE);
  EXPECT_EQ(sim.changes[1].rate_pps, 0u);
  EXPECT_EQ(sim.changes[1].to, (u32)EXO_NIC_MODE_INTERRUPT);
}

TEST(NicModeTraces, MicroburstsAreJudgedByTheirMeanRate) {
  // 60 packets within a millisecond every 20 ms: 60k pps at the peak,
  // 3000 pps on average: interrupt mode, no change.
  Sim sim(defaults(), 11);
  Prng rng(12);
  for (int i = 0; i < 30000; ++i) sim.interval(10 * kMs, i % 2 ? 0 : rng.poisson(60));
  EXPECT_TRUE(sim.changes.empty());
  EXPECT_NEAR(sim.rate(), 3000, 1000);
}

TEST(NicModeTraces, LongZeroStretchesBetweenFloods) {
  Sim sim(defaults(), 13);
  for (int i = 0; i < 5; ++i) {
    sim.run(3, 150000);
    EXPECT_EQ(sim.mode(), (u32)EXO_NIC_MODE_TIMER_POLL);
    u64 ticks = sim.ticks();
    sim.run(30, 0);
    EXPECT_EQ(sim.mode(), (u32)EXO_NIC_MODE_INTERRUPT);
    EXPECT_EQ(sim.rate(), 0u);
    EXPECT_LT(sim.ticks() - ticks, 200u);  // the tick stopped within 2 s
  }
}

// --- forced policies ---

TEST(NicModePolicy, ForcedModeSticksUnderAnyLoad) {
  for (u32 m = 0; m < EXO_NIC_MODES; ++m) {
    Sim sim(defaults(), m + 20);
    int r = sim.force(m);
    if (m == EXO_NIC_MODE_INTERRUPT) {
      EXPECT_EQ(r, 0);  // already
    } else {
      ASSERT_EQ(r, 1);
      EXPECT_EQ(sim.changes.back().reason, (u32)EXO_NIC_REASON_FORCED);
      EXPECT_EQ(sim.changes.back().to, m);
    }
    EXPECT_EQ(sim.force(m), 0);  // again: no change
    EXPECT_FALSE(exo_nic_mode_wants_tick(sim.ctl()));
    size_t n = sim.changes.size();
    // The shim stops ticking a fixed policy; tick anyway through every load.
    for (double pps : {0.0, 200000.0, 5000.0, 50000.0, 0.0}) {
      for (int i = 0; i < 300; ++i) {
        sim.silence(0.01, pps);
        sim.do_tick();
      }
    }
    for (int i = 0; i < 300; ++i) sim.run(0.01, 20000, true);
    EXPECT_EQ(sim.changes.size(), n);
    EXPECT_EQ(sim.mode(), m);
    EXPECT_EQ(sim.stats().policy, m);
  }
}

TEST(NicModePolicy, SettingsFollowTheMode) {
  Sim sim;
  exo_nic_mode_params p = defaults();
  struct exo_nic_mode_settings s;
  struct {
    u32 mode, itr, period;
  } want[] = {{EXO_NIC_MODE_INTERRUPT, 0, 0},
              {EXO_NIC_MODE_MODERATED, p.itr_ns, 0},
              {EXO_NIC_MODE_TIMER_POLL, 0, p.poll_period_us * 1000},
              {EXO_NIC_MODE_BUSY_POLL, 0, 0}};
  for (auto w : want) {
    (void)sim.force(w.mode);
    exo_nic_mode_settings(sim.ctl(), &s);
    EXPECT_EQ(s.mode, w.mode);
    EXPECT_EQ(s.itr_ns, w.itr);
    EXPECT_EQ(s.poll_period_ns, w.period);
    EXPECT_EQ(s.busy_timeout_ns, p.busy_timeout_us * 1000);
  }
  // Parameters override the defaults.
  exo_nic_mode_params q = {};
  q.itr_ns = 20000;
  q.poll_period_us = 80;
  q.busy_timeout_us = 1500;
  Sim other(q);
  (void)other.force(EXO_NIC_MODE_MODERATED);
  exo_nic_mode_settings(other.ctl(), &s);
  EXPECT_EQ(s.itr_ns, 20000u);
  EXPECT_EQ(s.busy_timeout_ns, 1500000u);
  (void)other.force(EXO_NIC_MODE_TIMER_POLL);
  exo_nic_mode_settings(other.ctl(), &s);
  EXPECT_EQ(s.poll_period_ns, 80000u);
}

TEST(NicModePolicy, UnknownPolicyIsRefused) {
  Sim sim;
  exo_nic_mode_change ch = {};
  EXPECT_EQ(exo_nic_mode_set_policy(sim.ctl(), EXO_NIC_POLICY_ADAPTIVE + 1, sim.now(), &ch), -22);
  EXPECT_EQ(exo_nic_mode_set_policy(sim.ctl(), ~0u, sim.now(), &ch), -22);
  EXPECT_EQ(sim.stats().policy, (u32)EXO_NIC_POLICY_ADAPTIVE);
  EXPECT_EQ(sim.stats().changes, 0u);
}

TEST(NicModePolicy, BackToAdaptiveTheControllerDecidesAgain) {
  Sim sim;
  ASSERT_EQ(sim.force(EXO_NIC_MODE_TIMER_POLL), 1);
  sim.run(2, 1000);  // would be interrupt mode
  EXPECT_EQ(sim.mode(), (u32)EXO_NIC_MODE_TIMER_POLL);
  EXPECT_EQ(sim.force(EXO_NIC_POLICY_ADAPTIVE), 0);  // no change at the call
  EXPECT_TRUE(exo_nic_mode_wants_tick(sim.ctl()));
  sim.run(1, 1000);
  EXPECT_EQ(sim.mode(), (u32)EXO_NIC_MODE_INTERRUPT);
  EXPECT_EQ(sim.changes.back().reason, (u32)EXO_NIC_REASON_RATE_DOWN);
}

// --- busy polling ---

TEST(NicModeBusyPoll, EnteredWhenBusyPollsDominateLeftByTheTimeout) {
  Sim sim(defaults(), 31);
  sim.run(2, 1000);
  ASSERT_EQ(sim.mode(), (u32)EXO_NIC_MODE_INTERRUPT);
  sim.run(0.5, 1000, true);
  ASSERT_EQ(sim.changes.size(), 1u);
  EXPECT_EQ(sim.changes[0].to, (u32)EXO_NIC_MODE_BUSY_POLL);
  EXPECT_EQ(sim.changes[0].reason, (u32)EXO_NIC_REASON_BUSY_POLL);
  // Two ticks of busy polls: entered at the second.
  EXPECT_LE(sim.changes[0].time_ns - (sim.now() - 500 * kMs), 2 * sim.tick_ns());
  // Stays as long as they go on, whatever the rate does.
  sim.run(60, 1000, true);
  sim.run(5, 100000, true);
  sim.run(5, 0, true);
  EXPECT_EQ(sim.changes.size(), 1u);
  EXPECT_TRUE(exo_nic_mode_wants_tick(sim.ctl()));
  // They stop: back at the first tick past the timeout (500 us: the next).
  sim.run(0.05, 1000);
  ASSERT_EQ(sim.changes.size(), 2u);
  EXPECT_EQ(sim.changes[1].reason, (u32)EXO_NIC_REASON_BUSY_TIMEOUT);
  EXPECT_EQ(sim.changes[1].from, (u32)EXO_NIC_MODE_BUSY_POLL);
  EXPECT_EQ(sim.changes[1].to, (u32)EXO_NIC_MODE_INTERRUPT);
  EXPECT_LE(sim.changes[1].time_ns - (sim.now() - 50 * kMs), sim.tick_ns());
}

TEST(NicModeBusyPoll, TimeoutReturnsToTheModeTheRatePicks) {
  exo_nic_mode_params p = {};
  p.busy_timeout_us = 45000;  // four and a half ticks
  Sim sim(p, 32);
  sim.run(1, 60000, true);
  ASSERT_EQ(sim.mode(), (u32)EXO_NIC_MODE_BUSY_POLL);
  u64 stopped = sim.now();
  sim.run(1, 60000);
  ASSERT_EQ(sim.changes.size(), 2u);
  EXPECT_EQ(sim.changes[1].to, (u32)EXO_NIC_MODE_TIMER_POLL);
  EXPECT_EQ(sim.changes[1].reason, (u32)EXO_NIC_REASON_BUSY_TIMEOUT);
  u64 after = sim.changes[1].time_ns - stopped;
  EXPECT_GE(after, 45 * kMs);
  EXPECT_LE(after, 45 * kMs + sim.tick_ns());
}

TEST(NicModeBusyPoll, NotEnteredWhenBusyPollsAreAMinority) {
  Sim sim(defaults(), 33);
  sim.always_tick = true;
  exo_nic_mode_ctl* c = sim.ctl();
  for (int i = 0; i < 500; ++i) {
    // Exactly half the polls are busy ones: not more than half.
    for (int j = 0; j < 10; ++j) exo_nic_mode_note_poll(c, 1, 0, j % 2);
    sim.interval(10 * kMs, 0);
  }
  EXPECT_TRUE(sim.changes.empty());
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 11; ++j) exo_nic_mode_note_poll(c, 1, 0, j % 2 == 0);
    sim.interval(10 * kMs, 0);
  }
  ASSERT_EQ(sim.changes.size(), 1u);
  EXPECT_EQ(sim.changes[0].to, (u32)EXO_NIC_MODE_BUSY_POLL);
}

// --- history, counters, time in mode ---

TEST(NicModeHistory, OldestFirstAndWrapsAfterSixteen) {
  Sim sim;
  const u32 cycle[] = {EXO_NIC_MODE_MODERATED, EXO_NIC_MODE_TIMER_POLL, EXO_NIC_MODE_BUSY_POLL,
                       EXO_NIC_MODE_INTERRUPT};
  u64 t0 = sim.now();
  for (int i = 0; i < 21; ++i) {
    sim.silence(0.001 * (i + 1));
    ASSERT_EQ(sim.force(cycle[i % 4]), 1);
  }
  exo_nic_mode_stats s = sim.stats();
  EXPECT_EQ(s.changes, 21u);
  ASSERT_EQ(s.history_len, (u32)EXO_NIC_MODE_HISTORY);
  for (u32 i = 0; i < EXO_NIC_MODE_HISTORY; ++i) {
    const exo_nic_mode_change& h = s.history[i];
    EXPECT_EQ(h.time_ns, sim.changes[21 - EXO_NIC_MODE_HISTORY + i].time_ns) << i;
    EXPECT_EQ(h.to, cycle[(21 - EXO_NIC_MODE_HISTORY + i) % 4]) << i;
    EXPECT_EQ(h.reason, (u32)EXO_NIC_REASON_FORCED);
    if (i) {
      EXPECT_EQ(h.from, s.history[i - 1].to);
      EXPECT_GT(h.time_ns, s.history[i - 1].time_ns);
    }
  }
  // Time in each mode adds up to the time since create.
  u64 sum = 0;
  for (u64 t : s.time_in_mode_ns) sum += t;
  EXPECT_EQ(sum, sim.now() - t0);
  // Mode i%4 was entered at change i and left at change i+1, which came
  // (i + 2) ms later: moderated held changes 0, 4, ..., 20 (the last still on).
  u64 moderated = 0;
  for (int i = 0; i < 21; i += 4) moderated += i < 20 ? (i + 2) * kMs : 0;
  EXPECT_EQ(s.time_in_mode_ns[EXO_NIC_MODE_MODERATED], moderated);
  EXPECT_EQ(s.time_in_mode_ns[EXO_NIC_MODE_INTERRUPT],
            1 * kMs + 5 * kMs + 9 * kMs + 13 * kMs + 17 * kMs + 21 * kMs);
}

TEST(NicModeHistory, FewerThanSixteen) {
  Sim sim;
  sim.run(1, 30000);
  sim.run(1, 100000);
  exo_nic_mode_stats s = sim.stats();
  ASSERT_EQ(s.history_len, 2u);
  EXPECT_EQ(s.history[0].to, (u32)EXO_NIC_MODE_MODERATED);
  EXPECT_EQ(s.history[1].to, (u32)EXO_NIC_MODE_TIMER_POLL);
  EXPECT_GE(s.history[1].rate_pps, defaults().poll_up_pps);  // the rate then
  EXPECT_GT(s.history[1].batch_x16, 0u);
}

TEST(NicModeCounters, CountedFromManyThreadsWhileTicking) {
  exo_nic_mode_ctl* c = exo_nic_mode_create(nullptr, 1);
  ASSERT_NE(c, nullptr);
  constexpr int kThreads = 4, kEach = 20000;
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([c, t] {
      for (int i = 0; i < kEach; ++i) {
        exo_nic_mode_note_irq(c);
        exo_nic_mode_note_poll(c, 2, 1, t == 0);
      }
    });
  u64 now = 1;
  // The shim's lock: one thread ticks and reads the stats.
  std::thread ticker([&] {
    exo_nic_mode_change ch;
    exo_nic_mode_stats s;
    while (!done.load()) {
      now += 10 * kMs;
      (void)exo_nic_mode_tick(c, now, &ch);
      exo_nic_mode_get_stats(c, now, &s);
    }
  });
  for (auto& th : threads) th.join();
  done = true;
  ticker.join();
  exo_nic_mode_stats s;
  exo_nic_mode_get_stats(c, now, &s);  // with what no tick took yet
  EXPECT_EQ(s.irqs, (u64)kThreads * kEach);
  EXPECT_EQ(s.polls, (u64)kThreads * kEach);
  EXPECT_EQ(s.busy_polls, (u64)kEach);
  EXPECT_EQ(s.packets, (u64)kThreads * kEach * 2);  // received
  EXPECT_EQ(s.tx_completions, (u64)kThreads * kEach);
  exo_nic_mode_change ch;
  (void)exo_nic_mode_tick(c, now + 10 * kMs, &ch);
  exo_nic_mode_get_stats(c, now + 10 * kMs, &s);
  EXPECT_EQ(s.packets, (u64)kThreads * kEach * 2);
  EXPECT_EQ(s.tx_completions, (u64)kThreads * kEach);
  EXPECT_GT(s.ticks, 0u);
  exo_nic_mode_destroy(c);
}

// --- names and defaults ---

TEST(NicModeNames, ModesPoliciesAndReasons) {
  EXPECT_STREQ(exo_nic_mode_name(EXO_NIC_MODE_INTERRUPT), "interrupt");
  EXPECT_STREQ(exo_nic_mode_name(EXO_NIC_MODE_MODERATED), "moderated");
  EXPECT_STREQ(exo_nic_mode_name(EXO_NIC_MODE_TIMER_POLL), "timer-poll");
  EXPECT_STREQ(exo_nic_mode_name(EXO_NIC_MODE_BUSY_POLL), "busy-poll");
  EXPECT_STREQ(exo_nic_mode_name(EXO_NIC_POLICY_ADAPTIVE), "adaptive");
  EXPECT_EQ(exo_nic_mode_name(EXO_NIC_POLICY_ADAPTIVE + 1), nullptr);
  EXPECT_EQ(exo_nic_mode_reason_name(0), nullptr);
  EXPECT_STREQ(exo_nic_mode_reason_name(EXO_NIC_REASON_FORCED), "forced");
  EXPECT_STREQ(exo_nic_mode_reason_name(EXO_NIC_REASON_RATE_UP), "rate-up");
  EXPECT_STREQ(exo_nic_mode_reason_name(EXO_NIC_REASON_RATE_DOWN), "rate-down");
  EXPECT_STREQ(exo_nic_mode_reason_name(EXO_NIC_REASON_BUSY_POLL), "busy-poll");
  EXPECT_STREQ(exo_nic_mode_reason_name(EXO_NIC_REASON_BUSY_TIMEOUT), "busy-timeout");
  EXPECT_STREQ(exo_nic_mode_reason_name(EXO_NIC_REASON_IDLE), "idle");
  EXPECT_EQ(exo_nic_mode_reason_name(EXO_NIC_REASONS), nullptr);
}

TEST(NicModeDefaults, TheDocumentedNumbers) {
  exo_nic_mode_params p = defaults();
  EXPECT_EQ(p.tick_us, 10000u);
  EXPECT_EQ(p.ema_shift, 3u);
  EXPECT_EQ(p.moderated_up_pps, 12000u);
  EXPECT_EQ(p.moderated_down_pps, 6000u);
  EXPECT_EQ(p.poll_up_pps, 40000u);
  EXPECT_EQ(p.poll_down_pps, 20000u);
  EXPECT_EQ(p.dwell_ms, 250u);
  EXPECT_EQ(p.itr_ns, 50000u);
  EXPECT_EQ(p.poll_period_us, 50u);
  EXPECT_EQ(p.busy_timeout_us, 500u);
  EXPECT_EQ(p.bulk_itr_ns, 250000u);
  // A new controller: adaptive, interrupt mode, nothing to tick.
  Sim sim;
  exo_nic_mode_stats s = sim.stats();
  EXPECT_EQ(s.policy, (u32)EXO_NIC_POLICY_ADAPTIVE);
  EXPECT_EQ(s.mode, (u32)EXO_NIC_MODE_INTERRUPT);
  EXPECT_EQ(s.history_len, 0u);
  EXPECT_FALSE(exo_nic_mode_wants_tick(sim.ctl()));
  // A tick at the same time as the last one takes nothing (no division by 0).
  exo_nic_mode_note_poll(sim.ctl(), 5, 0, 0);
  exo_nic_mode_change ch;
  EXPECT_EQ(exo_nic_mode_tick(sim.ctl(), sim.now(), &ch), 0);
  EXPECT_EQ(sim.stats().ticks, 0u);
  EXPECT_EQ(sim.stats().packets, 5u);
}

}  // namespace
}  // namespace exo_test
