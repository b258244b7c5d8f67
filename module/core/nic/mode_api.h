/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The adaptive poll-mode controller's C interface (module/core/nic/): it
 * picks how a NIC's NAPI context is driven from a decaying EMA of the
 * packet rate and of the batch sizes polls find, with hysteresis (separate
 * up and down thresholds and a minimum dwell time). The shim applies the
 * mode (IMS/IMC, ITR, an hrtimer, busy-poll bookkeeping) and reports what
 * happens; the controller never touches the device.
 *
 * exo_nic_mode_note_*() may run in any context, concurrently with each
 * other and with one caller of the other calls (the shim serialises
 * tick, set_policy, settings and stats under one lock of its own).
 */
#ifndef EXO_CORE_NIC_MODE_API_H
#define EXO_CORE_NIC_MODE_API_H

#ifdef __cplusplus
extern "C" {
#endif

enum exo_nic_mode {
	EXO_NIC_MODE_INTERRUPT = 0,	/* an interrupt per event, NAPI completes at once */
	EXO_NIC_MODE_MODERATED,		/* interrupts throttled (ITR/RADV), NAPI drains batches */
	EXO_NIC_MODE_TIMER_POLL,	/* interrupts masked, NAPI rescheduled by an hrtimer */
	EXO_NIC_MODE_BUSY_POLL,		/* interrupts masked while applications busy-poll */
	EXO_NIC_MODES
};
/* Policy: a fixed mode (enum exo_nic_mode) or the controller's choice. */
#define EXO_NIC_POLICY_ADAPTIVE EXO_NIC_MODES

/* Why a mode changed (exo_nic_mode_change.reason). */
enum exo_nic_mode_reason {
	EXO_NIC_REASON_FORCED = 1,	/* set by hand (policy) */
	EXO_NIC_REASON_RATE_UP,		/* the rate EMA passed an up threshold */
	EXO_NIC_REASON_RATE_DOWN,	/* the rate EMA fell below a down threshold */
	EXO_NIC_REASON_BUSY_POLL,	/* applications busy-poll the context */
	EXO_NIC_REASON_BUSY_TIMEOUT,	/* busy polling stopped for longer than its timeout */
	EXO_NIC_REASON_IDLE,		/* no traffic: the EMA decayed to nothing */
	EXO_NIC_REASONS
};

/*
 * Tunables (module parameters in the shim; zeroes take the defaults, which
 * exo_nic_mode_default_params() fills and the controller's header explains).
 * Rates are received frames per second: transmit completions raise no
 * interrupt (NAPI reaps them), so the receive rate is what interrupts and
 * polls follow (a UDP ping-pong at 20k round trips/s is 20k/s, not 40k).
 */
struct exo_nic_mode_params {
	unsigned int tick_us;		/* controller period while it runs */
	unsigned int ema_shift;		/* EMA weight 1/2^shift per tick */
	unsigned int moderated_up_pps;	/* interrupt -> moderated at or above */
	unsigned int moderated_down_pps; /* moderated -> interrupt below (< up) */
	unsigned int poll_up_pps;	/* moderated -> timer-poll at or above */
	unsigned int poll_down_pps;	/* timer-poll -> moderated below (< up) */
	unsigned int dwell_ms;		/* minimum time in a mode before the next change */
	unsigned int itr_ns;		/* moderated: minimum interval between interrupts */
	unsigned int poll_period_us;	/* timer-poll: hrtimer period */
	unsigned int busy_timeout_us;	/* busy-poll: back to interrupts after this quiet */
	unsigned int bulk_itr_ns;	/* moderated at timer-poll's rates: a longer itr_ns */
};
void exo_nic_mode_default_params(struct exo_nic_mode_params *p);

/* One mode change, kept in a history of the last EXO_NIC_MODE_HISTORY. */
#define EXO_NIC_MODE_HISTORY 16
struct exo_nic_mode_change {
	unsigned long long time_ns;	/* the now_ns of the call that made it */
	unsigned int from, to;		/* enum exo_nic_mode */
	unsigned int reason;		/* enum exo_nic_mode_reason */
	unsigned int rate_pps;		/* the rate EMA then */
	unsigned int batch_x16;		/* the batch-size EMA then, x16 */
};

/* What the shim applies for the current mode. */
struct exo_nic_mode_settings {
	unsigned int mode;		/* enum exo_nic_mode */
	unsigned int itr_ns;		/* moderated: ITR interval; 0 otherwise */
	unsigned int poll_period_ns;	/* timer-poll: hrtimer period; 0 otherwise */
	unsigned int busy_timeout_ns;	/* busy-poll: quiet time back to interrupts */
};

struct exo_nic_mode_stats {
	unsigned int policy;		/* a mode, or EXO_NIC_POLICY_ADAPTIVE */
	unsigned int mode;
	unsigned int rate_pps;		/* EMA */
	unsigned int batch_x16;		/* EMA of packets per poll, x16 */
	unsigned int irq_rate;		/* EMA of interrupts per second */
	unsigned long long changes;	/* every mode change since create */
	unsigned long long irqs, polls, busy_polls, packets, ticks;	/* packets: received */
	unsigned long long tx_completions;
	unsigned long long time_in_mode_ns[EXO_NIC_MODES];
	unsigned int history_len;	/* oldest first */
	struct exo_nic_mode_change history[EXO_NIC_MODE_HISTORY];
};

struct exo_nic_mode_ctl;

/* NULL if out of memory (process context). |p| is copied, zeroes defaulted. */
struct exo_nic_mode_ctl *exo_nic_mode_create(const struct exo_nic_mode_params *p,
					     unsigned long long now_ns);
void exo_nic_mode_destroy(struct exo_nic_mode_ctl *c);

/* Events, from the shim's IRQ handler and NAPI poll (lock-free counters). */
void exo_nic_mode_note_irq(struct exo_nic_mode_ctl *c);
/*
 * A NAPI poll that found |rx| frames and |tx| completions; |busy|: from busy
 * polling. The rate and batch EMAs count |rx|; |tx| only the stats.
 */
void exo_nic_mode_note_poll(struct exo_nic_mode_ctl *c, unsigned int rx, unsigned int tx,
			    int busy);

/*
 * Runs the controller at |now_ns| (monotonic): the EMAs take the events
 * since the last tick, decayed by the time elapsed (so they decay at zero
 * load however late the tick comes), and under the adaptive policy the mode
 * may change. Returns 1 and fills *change if it did, else 0.
 */
int exo_nic_mode_tick(struct exo_nic_mode_ctl *c, unsigned long long now_ns,
		      struct exo_nic_mode_change *change);
/*
 * Whether the tick must keep running: 0 once the policy is fixed, or the
 * mode is interrupt and the rate EMA has decayed to zero (then the shim
 * restarts the tick at the next interrupt: an idle NIC wakes no CPU).
 */
int exo_nic_mode_wants_tick(const struct exo_nic_mode_ctl *c);

/*
 * Policy: EXO_NIC_POLICY_ADAPTIVE or a fixed mode. 0, 1 and *change filled
 * if the mode changed, or -EINVAL (negative) for an unknown policy.
 */
int exo_nic_mode_set_policy(struct exo_nic_mode_ctl *c, unsigned int policy,
			    unsigned long long now_ns, struct exo_nic_mode_change *change);
void exo_nic_mode_settings(const struct exo_nic_mode_ctl *c, struct exo_nic_mode_settings *s);
void exo_nic_mode_get_stats(const struct exo_nic_mode_ctl *c, unsigned long long now_ns,
			    struct exo_nic_mode_stats *out);

/* "interrupt", "moderated", "timer-poll", "busy-poll", "adaptive"; NULL if unknown. */
const char *exo_nic_mode_name(unsigned int mode_or_policy);
const char *exo_nic_mode_reason_name(unsigned int reason);

#ifdef __cplusplus
}
#endif

#endif /* EXO_CORE_NIC_MODE_API_H */
