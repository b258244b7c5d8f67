// SPDX-License-Identifier: GPL-2.0
// mode_api.h over exo::nic::ModeController (see mode_controller.h).
#include "module/core/nic/mode_controller.h"

#include "module/core/atomic.h"
#include "module/core/errno.h"
#include "module/core/new.h"
#include "module/core/platform.h"

namespace exo::nic {

namespace {

constexpr u64 kNsPerUs = 1000, kNsPerMs = 1000 * 1000, kNsPerSec = 1000 * 1000 * 1000;
// Keep the ns conversions of the settings within their u32 fields.
constexpr u32 kMaxPeriodUs = 4 * 1000 * 1000;
// Events per interval beyond which the products below could overflow.
constexpr u64 kMaxEvents = 1ull << 33;

constexpr exo_nic_mode_params kDefaults = {
    10000,  // tick_us
    3,      // ema_shift
    12000,  // moderated_up_pps
    6000,   // moderated_down_pps
    40000,  // poll_up_pps
    20000,  // poll_down_pps
    250,    // dwell_ms
    50000,  // itr_ns
    50,     // poll_period_us
    500,    // busy_timeout_us
    250000,  // bulk_itr_ns
};

u32 or_default(u32 v, u32 fallback) { return v ? v : fallback; }
// The modes whose interrupts the interrupt-rate EMA can measure.
bool takes_interrupts(u32 mode) {
  return mode == EXO_NIC_MODE_INTERRUPT || mode == EXO_NIC_MODE_MODERATED;
}
u32 clamp(u32 v, u32 lo, u32 hi) { return v < lo ? lo : v > hi ? hi : v; }
u64 min64(u64 a, u64 b) { return a < b ? a : b; }

const char* const kModeNames[EXO_NIC_MODES + 1] = {"interrupt", "moderated", "timer-poll",
                                                   "busy-poll", "adaptive"};
const char* const kReasonNames[EXO_NIC_REASONS] = {
    nullptr, "forced", "rate-up", "rate-down", "busy-poll", "busy-timeout", "idle"};

static_assert(EXO_NIC_MODE_INTERRUPT == 0 && EXO_NIC_MODE_MODERATED == 1 &&
                  EXO_NIC_MODE_TIMER_POLL == 2,
              "the rate levels are the first three modes");
static_assert(sizeof(exo_nic_mode_change) == 32, "the history entry is what the shim prints");

}  // namespace

// --- Ema ---

u64 Ema::keep_q32(u64 periods, u32 shift) {
  u64 base = (1ull << 32) - (1ull << (32 - shift));
  u64 keep = 1ull << 32;
  // Both factors are at most 2^32 and base is below it: no product overflows.
  while (periods && keep) {
    if (periods & 1) keep = (keep * base) >> 32;
    base = (base * base) >> 32;
    periods >>= 1;
  }
  return keep;
}

void Ema::step(u64 sample, u64 periods, u32 shift) {
  u64 target = min64(sample, kMax) << kFrac;
  u64 keep = keep_q32(periods, shift);
  // Both below 2^32: the distance times keep fits. Truncation rounds
  // towards the sample, so a distance of 1 closes.
  if (value_q8_ >= target)
    value_q8_ = target + (((value_q8_ - target) * keep) >> 32);
  else
    value_q8_ = target - (((target - value_q8_) * keep) >> 32);
}

// --- ModeHistory ---

void ModeHistory::add(const exo_nic_mode_change& c) {
  ring_[total_ % EXO_NIC_MODE_HISTORY] = c;
  ++total_;
}

u32 ModeHistory::copy(exo_nic_mode_change* out) const {
  u32 n = total_ < EXO_NIC_MODE_HISTORY ? static_cast<u32>(total_) : EXO_NIC_MODE_HISTORY;
  u64 start = total_ - n;
  for (u32 i = 0; i < n; ++i) out[i] = ring_[(start + i) % EXO_NIC_MODE_HISTORY];
  return n;
}

// --- ModeController ---

void ModeController::default_params(exo_nic_mode_params* p) { *p = kDefaults; }

ModeController* ModeController::create(const exo_nic_mode_params& p, u64 now_ns) {
  void* mem = exo_plat_zalloc(sizeof(ModeController), true);
  if (!mem) return nullptr;
  ModeController* c = new (mem) ModeController();
  c->init(p, now_ns);
  return c;
}

void ModeController::destroy() {
  this->~ModeController();
  exo_plat_free(this);
}

void ModeController::init(const exo_nic_mode_params& in, u64 now_ns) {
  exo_nic_mode_params& p = p_;
  p.tick_us = clamp(or_default(in.tick_us, kDefaults.tick_us), kMinTickUs, kMaxPeriodUs);
  p.ema_shift = clamp(or_default(in.ema_shift, kDefaults.ema_shift), kMinEmaShift, kMaxEmaShift);
  p.moderated_up_pps = or_default(in.moderated_up_pps, kDefaults.moderated_up_pps);
  p.moderated_down_pps = or_default(in.moderated_down_pps, kDefaults.moderated_down_pps);
  p.poll_up_pps = or_default(in.poll_up_pps, kDefaults.poll_up_pps);
  p.poll_down_pps = or_default(in.poll_down_pps, kDefaults.poll_down_pps);
  // Hysteresis cannot be turned off: down < up, and timer-poll's above moderated's.
  if (p.moderated_down_pps >= p.moderated_up_pps) p.moderated_down_pps = p.moderated_up_pps / 2;
  if (p.poll_up_pps < p.moderated_up_pps) p.poll_up_pps = p.moderated_up_pps;
  if (p.poll_down_pps >= p.poll_up_pps) p.poll_down_pps = p.poll_up_pps / 2;
  if (p.poll_down_pps < p.moderated_down_pps) p.poll_down_pps = p.moderated_down_pps;
  p.dwell_ms = or_default(in.dwell_ms, kDefaults.dwell_ms);
  p.itr_ns = or_default(in.itr_ns, kDefaults.itr_ns);
  p.bulk_itr_ns = or_default(in.bulk_itr_ns, kDefaults.bulk_itr_ns);
  if (p.bulk_itr_ns < p.itr_ns) p.bulk_itr_ns = p.itr_ns;
  p.poll_period_us = clamp(or_default(in.poll_period_us, kDefaults.poll_period_us), 1,
                           kMaxPeriodUs);
  p.busy_timeout_us = clamp(or_default(in.busy_timeout_us, kDefaults.busy_timeout_us), 1,
                            kMaxPeriodUs);
  tick_ns_ = p.tick_us * kNsPerUs;
  dwell_ns_ = p.dwell_ms * kNsPerMs;
  busy_timeout_ns_ = p.busy_timeout_us * kNsPerUs;
  last_tick_ns_ = mode_since_ns_ = last_busy_ns_ = irqs_on_since_ns_ = now_ns;
}

void ModeController::note_irq() { fetch_add(&pending_.irqs, 1ull); }

void ModeController::note_poll(u32 rx, u32 tx, bool busy) {
  fetch_add(&pending_.polls, 1ull);
  if (busy) fetch_add(&pending_.busy_polls, 1ull);
  if (rx) fetch_add(&pending_.packets, static_cast<u64>(rx));
  if (tx) fetch_add(&pending_.tx_completions, static_cast<u64>(tx));
}

void ModeController::fold(u64 now_ns) {
  u64 elapsed = now_ns - last_tick_ns_;
  u64 irqs = exchange(&pending_.irqs, 0ull);
  u64 polls = exchange(&pending_.polls, 0ull);
  u64 busy = exchange(&pending_.busy_polls, 0ull);
  u64 packets = exchange(&pending_.packets, 0ull);
  tx_completions_ += exchange(&pending_.tx_completions, 0ull);
  irqs_ += irqs;
  polls_ += polls;
  busy_polls_ += busy;
  packets_ += packets;
  ++ticks_;
  last_tick_ns_ = now_ns;

  // The events are spread over the whole interval: each elapsed period
  // takes one step towards their mean rate (none at all after a silence).
  u64 periods = (elapsed + tick_ns_ / 2) / tick_ns_;
  if (!periods) periods = 1;
  u32 shift = p_.ema_shift;
  sample_pps_ = min64(min64(packets, kMaxEvents) * kNsPerSec / elapsed, Ema::kMax);
  rate_.step(sample_pps_, periods, shift);
  irq_rate_.step(min64(min64(irqs, kMaxEvents) * kNsPerSec / elapsed, Ema::kMax), periods, shift);
  if (polls) batch_.step(min64(packets, kMaxEvents) * 16 / polls, periods, shift);
  if (!rate_.value()) batch_.reset();  // nothing comes: polls find nothing

  if (busy) last_busy_ns_ = now_ns;
  if (busy && busy * 2 > polls)
    busy_ticks_ += busy_ticks_ < kBusyEnterTicks;
  else
    busy_ticks_ = 0;
}

bool ModeController::timer_poll_pays() const {
  u64 fires_per_s = kNsPerSec / (p_.poll_period_us * kNsPerUs);
  return static_cast<u64>(irq_rate_.value()) * kPollIrqShare >= fires_per_s;
}

u32 ModeController::rate_level(u32 from, u64 r) const {
  if (from < 2 && r >= p_.poll_up_pps && !bulk_ && timer_poll_pays()) return 2;
  if (from < 1 && r >= p_.moderated_up_pps) return 1;
  if (from > 0 && r < p_.moderated_down_pps) return 0;
  if (from == 2 && r < p_.poll_down_pps) return 1;
  return from;
}

u32 ModeController::fresh_level() const {
  u32 r = rate_.value();
  if (r >= p_.poll_up_pps && timer_poll_pays()) return 2;
  return r >= p_.moderated_up_pps ? 1 : 0;
}

u32 ModeController::choose(u64 now_ns, u32* reason) const {
  if (mode_ == EXO_NIC_MODE_BUSY_POLL) {
    if (now_ns - last_busy_ns_ < busy_timeout_ns_) return mode_;
    *reason = EXO_NIC_REASON_BUSY_TIMEOUT;
    return fresh_level();
  }
  if (busy_ticks_ >= kBusyEnterTicks) {
    *reason = EXO_NIC_REASON_BUSY_POLL;
    return EXO_NIC_MODE_BUSY_POLL;
  }
  if (!rate_.value()) {
    *reason = EXO_NIC_REASON_IDLE;
    return EXO_NIC_MODE_INTERRUPT;
  }
  // The EMA decides when to move; the last interval's rate how far, in
  // the same direction: a step from idle to a flood is one change, not
  // two a dwell time apart, and so is the way back.
  u32 level = rate_level(mode_, rate_.value());
  u32 further = rate_level(mode_, sample_pps_);
  if (level > mode_) {
    if (further > level) level = further;
    *reason = EXO_NIC_REASON_RATE_UP;
  } else if (level < mode_) {
    if (further < level) level = further;
    *reason = EXO_NIC_REASON_RATE_DOWN;
  }
  return level;
}

void ModeController::update_bulk(u64 now_ns) {
  // A fixed moderated policy keeps its one ITR (what it is chosen for).
  if (mode_ != EXO_NIC_MODE_MODERATED || policy_ != EXO_NIC_POLICY_ADAPTIVE) {
    bulk_ = false;
    return;
  }
  // Judged on an interrupt rate measured with interrupts on for a dwell
  // time (after timer-poll or busy-poll, which mask them, the EMA starts
  // near 0), and before bulk_itr_ns lowers it, which would confirm itself.
  u32 r = rate_.value();
  if (!bulk_ && r >= p_.poll_up_pps && now_ns - irqs_on_since_ns_ >= dwell_ns_ &&
      !timer_poll_pays())
    bulk_ = true;
  if (bulk_ && r < p_.poll_down_pps) bulk_ = false;
}

bool ModeController::dwell_over(u64 now_ns) const {
  return !changed_ || (now_ns >= last_change_ns_ && now_ns - last_change_ns_ >= dwell_ns_);
}

void ModeController::change_to(u32 to, u32 reason, u64 now_ns, exo_nic_mode_change* change) {
  if (now_ns > mode_since_ns_) time_in_mode_ns_[mode_] += now_ns - mode_since_ns_;
  mode_since_ns_ = now_ns;
  exo_nic_mode_change c = {now_ns, mode_, to, reason, rate_.value(), batch_.value()};
  if (!takes_interrupts(mode_) && takes_interrupts(to)) irqs_on_since_ns_ = now_ns;
  history_.add(c);
  mode_ = to;
  changed_ = true;
  last_change_ns_ = now_ns;
  if (change) *change = c;
}

bool ModeController::tick(u64 now_ns, exo_nic_mode_change* change) {
  if (now_ns <= last_tick_ns_) return false;  // no time passed: the events wait
  fold(now_ns);
  bool changed = false;
  if (policy_ == EXO_NIC_POLICY_ADAPTIVE) {
    u32 reason = 0;
    u32 to = choose(now_ns, &reason);
    changed = to != mode_ && dwell_over(now_ns);
    if (changed) change_to(to, reason, now_ns, change);
  }
  update_bulk(now_ns);
  return changed;
}

bool ModeController::wants_tick() const {
  return policy_ == EXO_NIC_POLICY_ADAPTIVE &&
         !(mode_ == EXO_NIC_MODE_INTERRUPT && !rate_.value());
}

int ModeController::set_policy(u32 policy, u64 now_ns, exo_nic_mode_change* change) {
  if (policy > EXO_NIC_POLICY_ADAPTIVE) return -kEINVAL;
  policy_ = policy;
  bool forced = policy != EXO_NIC_POLICY_ADAPTIVE && policy != mode_;
  if (forced) change_to(policy, EXO_NIC_REASON_FORCED, now_ns, change);
  update_bulk(now_ns);
  return forced ? 1 : 0;
}

void ModeController::settings(struct exo_nic_mode_settings* s) const {
  s->mode = mode_;
  s->itr_ns = mode_ != EXO_NIC_MODE_MODERATED ? 0 : bulk_ ? p_.bulk_itr_ns : p_.itr_ns;
  s->poll_period_ns =
      mode_ == EXO_NIC_MODE_TIMER_POLL ? static_cast<u32>(p_.poll_period_us * kNsPerUs) : 0;
  s->busy_timeout_ns = static_cast<u32>(busy_timeout_ns_);
}

void ModeController::stats(u64 now_ns, exo_nic_mode_stats* out) const {
  *out = {};
  out->policy = policy_;
  out->mode = mode_;
  out->rate_pps = rate_.value();
  out->batch_x16 = batch_.value();
  out->irq_rate = irq_rate_.value();
  out->changes = history_.total();
  // With the events no tick has taken yet.
  out->irqs = irqs_ + load_relaxed(&pending_.irqs);
  out->polls = polls_ + load_relaxed(&pending_.polls);
  out->busy_polls = busy_polls_ + load_relaxed(&pending_.busy_polls);
  out->packets = packets_ + load_relaxed(&pending_.packets);
  out->tx_completions = tx_completions_ + load_relaxed(&pending_.tx_completions);
  out->ticks = ticks_;
  for (u32 m = 0; m < EXO_NIC_MODES; ++m) out->time_in_mode_ns[m] = time_in_mode_ns_[m];
  if (now_ns > mode_since_ns_) out->time_in_mode_ns[mode_] += now_ns - mode_since_ns_;
  out->history_len = history_.copy(out->history);
}

}  // namespace exo::nic

using exo::nic::ModeController;

namespace {
ModeController* ctl_of(exo_nic_mode_ctl* c) { return reinterpret_cast<ModeController*>(c); }
const ModeController* ctl_of(const exo_nic_mode_ctl* c) {
  return reinterpret_cast<const ModeController*>(c);
}
}  // namespace

extern "C" {

void exo_nic_mode_default_params(struct exo_nic_mode_params* p) {
  ModeController::default_params(p);
}

struct exo_nic_mode_ctl* exo_nic_mode_create(const struct exo_nic_mode_params* p,
                                             unsigned long long now_ns) {
  exo_nic_mode_params none = {};
  return reinterpret_cast<exo_nic_mode_ctl*>(ModeController::create(p ? *p : none, now_ns));
}

void exo_nic_mode_destroy(struct exo_nic_mode_ctl* c) {
  if (c) ctl_of(c)->destroy();
}

void exo_nic_mode_note_irq(struct exo_nic_mode_ctl* c) { ctl_of(c)->note_irq(); }

void exo_nic_mode_note_poll(struct exo_nic_mode_ctl* c, unsigned int rx, unsigned int tx,
                            int busy) {
  ctl_of(c)->note_poll(rx, tx, busy != 0);
}

int exo_nic_mode_tick(struct exo_nic_mode_ctl* c, unsigned long long now_ns,
                      struct exo_nic_mode_change* change) {
  return ctl_of(c)->tick(now_ns, change) ? 1 : 0;
}

int exo_nic_mode_wants_tick(const struct exo_nic_mode_ctl* c) {
  return ctl_of(c)->wants_tick() ? 1 : 0;
}

int exo_nic_mode_set_policy(struct exo_nic_mode_ctl* c, unsigned int policy,
                            unsigned long long now_ns, struct exo_nic_mode_change* change) {
  return ctl_of(c)->set_policy(policy, now_ns, change);
}

void exo_nic_mode_settings(const struct exo_nic_mode_ctl* c, struct exo_nic_mode_settings* s) {
  ctl_of(c)->settings(s);
}

void exo_nic_mode_get_stats(const struct exo_nic_mode_ctl* c, unsigned long long now_ns,
                            struct exo_nic_mode_stats* out) {
  ctl_of(c)->stats(now_ns, out);
}

const char* exo_nic_mode_name(unsigned int mode_or_policy) {
  return mode_or_policy <= EXO_NIC_POLICY_ADAPTIVE ? exo::nic::kModeNames[mode_or_policy]
                                                   : nullptr;
}

const char* exo_nic_mode_reason_name(unsigned int reason) {
  return reason < EXO_NIC_REASONS ? exo::nic::kReasonNames[reason] : nullptr;
}

}  // extern "C"
