// SPDX-License-Identifier: GPL-2.0
// The adaptive poll-mode controller behind mode_api.h: which of the four
// modes drives a NIC's NAPI context, chosen from decaying EMAs of the packet
// rate and of the packets each poll finds, with hysteresis and a dwell time.
//
// How it runs. The shim's IRQ handler and NAPI poll bump lock-free event
// counters (note_irq, note_poll: one relaxed fetch_add each). A tick, every
// tick_us while it wants to run, takes the counters (an exchange), folds
// them into the EMAs and, under the adaptive policy, may change the mode.
// The EMAs are updated from the time elapsed, not per event: a tick that
// comes n periods after the last one applies the per-period step n times
// (in closed form, (1 - 2^-shift)^n by squaring), so the rate decays at
// zero load however late the tick is, and reaches exactly 0 (the step
// rounds towards the sample). Integer fixed point only (no FP in a kernel).
//
// The modes, lowest to highest load: interrupt -> moderated -> timer-poll
// by the rate EMA; busy-poll beside them, when applications busy-poll.
//   - up from interrupt/moderated when the rate EMA is at or above an up
//     threshold, down when it is below a down threshold; down thresholds
//     are below up ones (hysteresis). The EMA decides when; how far goes
//     the level that the last interval's own rate picks, if further in the
//     same direction: a flood after idle goes from interrupt to timer-poll
//     in one change, and its end from timer-poll to interrupt;
//   - busy-poll when, for kBusyEnterTicks ticks in a row, more than half of
//     the polls came from busy polling; back (BUSY_TIMEOUT) to the mode the
//     rate picks once no busy poll was seen for busy_timeout_us (the
//     controller sees busy polls per tick, so that is at least one tick);
//   - interrupt (IDLE) when the rate EMA has decayed below 1 packet/s;
//   - no adaptive change within dwell_ms of the previous change.
//
// The rate and batch count received frames: transmit completions raise no
// interrupt (the shim reaps them in NAPI), so the receive rate is what the
// interrupts and polls follow.
//
// Defaults, and where they come from. The costs are those of the issue's
// baseline, Linux's e1000 in this machine's guest (QEMU TCG, icount):
//   - with QEMU mitigation off it takes 1 interrupt per packet and saturates
//     at 39.7k packets/s: 25.2 us of CPU per packet with an interrupt round
//     each; with mitigation on, 54.7k packets/s at 0.14 interrupts/packet:
//     18.3 us per packet. The difference, 6.9 us for 0.86 interrupts, puts
//     an interrupt round (IRQ entry, ICR read, IMC/IMS, softirq, NAPI
//     schedule and complete) at C_irq ~ 8 us and the per-packet work of the
//     stack at ~17 us.
//   - interrupt -> moderated at 12000 pps: an interrupt per packet then
//     costs 12000 x 8 us = 9.6% of a CPU (the ~10% we let interrupts take);
//     back at 6000 pps (4.8%). Moderated with itr_ns 50 us caps interrupts
//     at 20k/s (16% of a CPU at most) and adds at most 50 us of delay
//     (below the 128 us that QEMU's mitigation=on enforces anyway).
//   - a timer poll costs about an interrupt round (an hrtimer interrupt and
//     the same NAPI schedule, without ICR/IMS; taken as equal to be safe):
//     with poll_period_us 50, 20k firings/s = 16% of a CPU whatever the
//     load, the same as moderated at its cap. It pays once polls find
//     batches: up at 2 packets per poll (40000 pps: <= 4 us of poll per
//     packet, under a quarter of the per-packet work), down at 1 per poll
//     (20000 pps), where moderated would take fewer interrupts than the
//     timer fires.
//   - and only where the device does not moderate harder by itself: up to
//     timer-poll needs the interrupt-rate EMA at or above half the timer's
//     firing rate (kPollIrqShare; 10k/s at 50 us). A device that spaces its
//     interrupts further than asked already wakes the CPU less often than
//     the timer would, and drains bigger batches per wake-up: QEMU's e1000
//     with mitigation=on (at most one interrupt per 128 us, 7.8k/s) under
//     a 64-byte flood delivered 78.9k packets/s in moderated mode against
//     69.8k in timer-poll (the nic suite's first run). With mitigation=off,
//     or a real 8254x at ITR 50 us (20k/s at its cap), timer-poll is taken.
//     The interrupt rate is only measured outside timer-poll (which masks
//     them), so it gates the way up, never the way down: no flapping.
//   - moderated at the rates that would take timer-poll (at or above
//     poll_up_pps, until below poll_down_pps) spaces interrupts by
//     bulk_itr_ns, 250 us: Linux's e1000 "bulk latency" setting (4000
//     interrupts/s), where a batch of 10+ packets per interrupt costs each
//     at most 250 us of delay. The shim re-applies the ITR when it moves,
//     which is not a mode change.
//   - tick_us 10000 and ema_shift 3: weight 1/8 per 10 ms, a time constant
//     of 80 ms (a step is 90% followed in 180 ms), and 100 ticks/s only
//     while there is traffic (an idle NIC in interrupt mode stops the tick).
//     The EMA's noise under Poisson arrivals at rate r is
//     sd = sqrt(r / T x a/(2-a)) (T the tick, a = 1/8): 283 pps at 12000
//     pps, 2.4%, while the hysteresis gap is 50% of the up threshold, ~20
//     standard deviations: steady load cannot flap.
//   - dwell_ms 250: about three time constants, so after a change the EMA
//     has settled at the new load before the next change is judged.
//   - busy_timeout_us 500: an application that busy-polls comes back within
//     tens of us (a UDP round trip is 39 us here); 500 us covers its
//     processing between polls and bounds what a packet waits with
//     interrupts masked after it stops.
// The shim's module parameters override each (zeroes keep the defaults).
// Thresholds are made consistent at create: a down threshold not below its
// up threshold becomes half of it; the timer-poll ones are at least the
// moderated ones.
#ifndef EXO_CORE_NIC_MODE_CONTROLLER_H
#define EXO_CORE_NIC_MODE_CONTROLLER_H

#include "module/core/nic/mode_api.h"
#include "module/core/types.h"

namespace exo::nic {

// An EMA in fixed point (Q8), stepped towards a sample once per elapsed
// period by 1/2^shift of the distance, rounded towards the sample (so it
// reaches the sample, 0 included, exactly).
class Ema {
 public:
  static constexpr u32 kFrac = 8;
  static constexpr u64 kMax = (1ull << 24) - 1;  // samples are clamped here

  // |periods| steps towards |sample| (an integer, clamped to kMax).
  void step(u64 sample, u64 periods, u32 shift);
  void reset() { value_q8_ = 0; }
  u32 value() const { return static_cast<u32>(value_q8_ >> kFrac); }  // floor
  u64 value_q8() const { return value_q8_; }

  // (1 - 2^-shift)^periods in Q32, by squaring (at most 64 rounds).
  static u64 keep_q32(u64 periods, u32 shift);

 private:
  u64 value_q8_ = 0;
};

// The last EXO_NIC_MODE_HISTORY changes, oldest first on the way out.
class ModeHistory {
 public:
  void add(const exo_nic_mode_change& c);
  u32 copy(exo_nic_mode_change* out) const;  // returns how many
  u64 total() const { return total_; }

 private:
  exo_nic_mode_change ring_[EXO_NIC_MODE_HISTORY] = {};
  u64 total_ = 0;
};

class ModeController {
 public:
  static constexpr u32 kBusyEnterTicks = 2;
  static constexpr u32 kMinEmaShift = 1, kMaxEmaShift = 10;
  static constexpr u32 kMinTickUs = 100;
  static constexpr u32 kMaxLevel = 2;  // interrupt 0, moderated 1, timer-poll 2
  // Timer-poll pays only where interrupts come at least 1/kPollIrqShare as
  // often as its timer would fire (see the header comment).
  static constexpr u32 kPollIrqShare = 2;

  // Zeroes in |p| take the defaults; nullptr if out of memory.
  static ModeController* create(const exo_nic_mode_params& p, u64 now_ns);
  void destroy();
  static void default_params(exo_nic_mode_params* p);

  // Any context, concurrently (relaxed atomic adds).
  void note_irq();
  void note_poll(u32 rx, u32 tx, bool busy);

  // One caller at a time (the shim's lock) for the rest.
  [[nodiscard]] bool tick(u64 now_ns, exo_nic_mode_change* change);
  bool wants_tick() const;
  [[nodiscard]] int set_policy(u32 policy, u64 now_ns, exo_nic_mode_change* change);
  void settings(struct exo_nic_mode_settings* s) const;
  void stats(u64 now_ns, exo_nic_mode_stats* out) const;

  const exo_nic_mode_params& params() const { return p_; }

 private:
  ModeController() = default;
  void init(const exo_nic_mode_params& p, u64 now_ns);
  void fold(u64 now_ns);  // takes the counters into the EMAs
  // The mode the adaptive policy wants now, and why; mode_ if none.
  u32 choose(u64 now_ns, u32* reason) const;
  // The level rate |r| picks from level |from| (hysteresis), or with the
  // up thresholds only (from nowhere: leaving busy-poll).
  u32 rate_level(u32 from, u64 r) const;
  u32 fresh_level() const;
  // Whether the interrupt rate EMA says timer-poll would wake the CPU no
  // more often than interrupts do now.
  bool timer_poll_pays() const;
  bool dwell_over(u64 now_ns) const;
  void change_to(u32 to, u32 reason, u64 now_ns, exo_nic_mode_change* change);
  // Moderated at the rates that would take timer-poll: bulk_itr_ns.
  void update_bulk(u64 now_ns);

  exo_nic_mode_params p_ = {};
  u64 tick_ns_ = 0, dwell_ns_ = 0, busy_timeout_ns_ = 0;

  // Bumped from any context; taken by tick with an exchange.
  struct Pending {
    u64 irqs, polls, busy_polls, packets, tx_completions;
  } pending_ = {};

  // Tick's state (one caller).
  u32 policy_ = EXO_NIC_POLICY_ADAPTIVE;
  u32 mode_ = EXO_NIC_MODE_INTERRUPT;
  Ema rate_, batch_, irq_rate_;  // packets/s, packets per poll x16, interrupts/s
  u64 sample_pps_ = 0;  // the last interval's mean rate
  u64 last_tick_ns_ = 0;
  u64 last_busy_ns_ = 0;
  u32 busy_ticks_ = 0;  // consecutive ticks where busy polls dominated
  bool changed_ = false;
  bool bulk_ = false;  // moderated with bulk_itr_ns (hysteresis: poll_up/down_pps)
  u64 irqs_on_since_ns_ = 0;  // in interrupt or moderated mode (interrupts measured) since
  u64 last_change_ns_ = 0;
  u64 mode_since_ns_ = 0;
  u64 time_in_mode_ns_[EXO_NIC_MODES] = {};
  u64 irqs_ = 0, polls_ = 0, busy_polls_ = 0, packets_ = 0, ticks_ = 0, tx_completions_ = 0;
  ModeHistory history_;
};

}  // namespace exo::nic

#endif  // EXO_CORE_NIC_MODE_CONTROLLER_H
