#!/usr/bin/python3
"""The nic suite's scenarios, run inside a guest booted with
`exovm.py --icount --nics 2 --nic-mitigation on|off` (tests/bench/test_nic_bench.py):
the device under test (NIC 0) on Linux's e1000 with its default ITR, tuned
by one of Linux's knobs, or on the module's driver in each of its policies;
its peer (NIC 1) always on Linux's e1000 with InterruptThrottleRate=0, in its
own namespace (tests/nic.py). Prints JSON lines like the other suites'.

usage: nic_bench.py ENV [--impl IMPL]... [--scenario SCENARIO]...
  ENV vm-icount (QEMU mitigation on) or vm-icount-mitoff (off)."""
import argparse
import json
import os
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests"))
import nic  # noqa: E402  (tests/nic.py)

ENVS = ("vm-icount", "vm-icount-mitoff")
# A few guest seconds each: under -icount the figures repeat within 1-2%.
SECONDS = 3
IDLE_SECONDS = 3
SPARSE_MPS = 100
BUSY_POLL_US = 50
# impl -> (DUT driver, policy for the module's driver, Linux knobs)
LINUX_IMPLS = {
    "linux-e1000": {},
    "linux-e1000-tuned-busy_poll": {"sysctl": {"net.core.busy_read": BUSY_POLL_US,
                                               "net.core.busy_poll": BUSY_POLL_US}},
    "linux-e1000-tuned-napi_defer": {"netdev": {"napi_defer_hard_irqs": 2,
                                                "gro_flush_timeout": 50000}},
}
EXO_IMPLS = {"exofusion-nic": {"policy": nic.ADAPTIVE}}
for _policy in nic.POLICIES:
    EXO_IMPLS[f"exofusion-nic-{_policy}"] = {"policy": _policy}
# Busy-poll mode needs applications that busy-poll.
EXO_IMPLS["exofusion-nic-busy-poll"]["sysctl"] = dict(
    LINUX_IMPLS["linux-e1000-tuned-busy_poll"]["sysctl"])
IMPLS = {**LINUX_IMPLS, **EXO_IMPLS}
SCENARIOS = ("idle", "sparse-rr", "pingpong", "flood-64B", "tcp-stream", "load-steps")
# (phase, seconds): idle -> sparse -> flood -> idle.
LOAD_STEPS = (("idle", 2), ("sparse", 3), ("flood", 3), ("idle2", 3))
# A phase's first second is its transition: the controller follows a step
# in one change within ~0.4 s (the EMA's 90% rise time, 180 ms, plus a tick;
# a second change waits out the 250-ms dwell). Changes after it are flaps.
SETTLE_NS = 1_000_000_000
UNITS = {"rtt_p50_us": "us", "rtt_p99_us": "us", "rtt_per_s": "1/s", "pps": "pkt/s",
         "loss_pct": "%", "irq_per_pkt": "irq", "wakeups_per_s": "1/s",
         "mode_changes": "changes", "settle_changes": "changes", "settle_ms": "ms",
         "mbit_per_s": "Mbit/s"}


def note(message):
    print(f"nic_bench: {message}", file=sys.stderr, flush=True)


class Recorder:
    def __init__(self, env, impl):
        self.env, self.impl = env, impl

    def __call__(self, scenario, metric, value, **extra):
        print(json.dumps({"suite": "nic", "scenario": scenario, "impl": self.impl,
                          "env": self.env, "metric": metric, "unit": UNITS[metric],
                          "value": round(value, 3), "reps": 1, **extra}), flush=True)


def wakeups(net, impl):
    """Interrupts on the DUT's line, plus the module's timer polls."""
    count = nic.interrupts(net.primary)
    if impl in EXO_IMPLS:
        count += nic.exo_counters(net.dut)["timer_polls"]
    return count


def idle(net, impl, record):
    before = wakeups(net, impl)
    time.sleep(IDLE_SECONDS)
    record("idle", "wakeups_per_s", (wakeups(net, impl) - before) / IDLE_SECONDS)


def rtt(net, impl, record, scenario, mps=None):
    before = (nic.interrupts(net.primary), net.stats())
    got = net.sockperf_pingpong(seconds=SECONDS, mps=mps)
    after = (nic.interrupts(net.primary), net.stats())
    record(scenario, "rtt_p50_us", got["p50"], p50=got["p50"], p99=got["p99"])
    record(scenario, "rtt_p99_us", got["p99"])
    if scenario == "pingpong":
        record(scenario, "rtt_per_s", got["received"] / got["runtime_s"])
        # Packets both ways: each round trip is one sent and one received,
        # and each may cost an interrupt (TX completion, RX).
        packets = sum(after[1][k] - before[1][k] for k in ("rx_packets", "tx_packets"))
        record(scenario, "irq_per_pkt", (after[0] - before[0]) / max(packets, 1))


def flood(net, impl, record):
    got = net.udp_flood(seconds=SECONDS)
    record("flood-64B", "pps", got["delivered"] / got["seconds"])
    record("flood-64B", "loss_pct", 100.0 * (1 - got["delivered"] / max(got["sent"], 1)))
    record("flood-64B", "irq_per_pkt", got["irqs"] / max(got["delivered"], 1))


def tcp_stream(net, impl, record):
    report = net.iperf3(seconds=SECONDS)
    record("tcp-stream", "mbit_per_s", report["end"]["sum_received"]["bits_per_second"] / 1e6)


class RxWatch(threading.Thread):
    """Samples the DUT's received-frame counter every 10 ms (the DUT is in
    the root namespace): when each phase's load really starts, which is
    up to ~2 s after its tool does (sockperf's own start-up), and ends
    (its tool exits later)."""

    def __init__(self, name):
        super().__init__(daemon=True)
        self.path = f"/sys/class/net/{name}/statistics/rx_packets"
        self.samples, self.done = [], threading.Event()

    def run(self):
        while not self.done.is_set():
            self.samples.append((time.monotonic_ns(), int(nic.read(self.path))))
            time.sleep(0.01)

    def first_frames(self, start, end, frames=2):
        """The first time in [start, end) by which |frames| frames came."""
        base = next((n for t, n in self.samples if t >= start), None)
        if base is None:
            return start
        return next((t for t, n in self.samples if start <= t < end and n - base >= frames),
                    start)

    def last_frame(self, start, end):
        """The first sample in [start, end] after the last one that saw a frame."""
        window = [(t, n) for t, n in self.samples if start <= t <= end]
        moved = [window[i + 1][0] for i in range(len(window) - 1)
                 if window[i + 1][1] > window[i][1]]
        return moved[-1] if moved else end


def load_steps(net, impl, record):
    """Each phase's window begins when the previous phase's load ends (the
    change a load's end causes belongs to the next phase's transition); a
    load starts with its first received frames and ends with its last
    (RxWatch). Its changes,
    from the driver's history (debugfs nicinfo, stamped with ktime_get_ns,
    which is time.monotonic_ns here): those before SETTLE_NS into its load
    settle it (settle_changes; settle_ms from the load's start to the last),
    the rest are flaps in a steady load (mode_changes)."""
    watch = RxWatch(net.dut)
    watch.start()
    phases = []  # (load start, load end) of each phase, monotonic ns
    try:
        for phase, seconds in LOAD_STEPS:
            if phase == "sparse":
                got = net.sockperf_pingpong(seconds=seconds, mps=SPARSE_MPS)
            elif phase == "flood":
                got = net.udp_flood(seconds=seconds)
            else:
                got = {"start_ns": time.monotonic_ns()}
                time.sleep(seconds)
                got["end_ns"] = time.monotonic_ns()
            start, end = got["start_ns"], got["end_ns"]
            if phase in ("sparse", "flood"):
                start = watch.first_frames(start, end)
                end = watch.last_frame(start, end)
            elif phases:  # no load: it starts as the previous one ends
                start = phases[-1][1]
            phases.append((start, end))
    finally:
        watch.done.set()
        watch.join()
    history = nic.nicinfo()[net.dut]["history"] if impl in EXO_IMPLS else []
    if len(history) >= 16 and int(history[0]["time_ns"]) >= phases[0][0]:
        note(f"{impl} load-steps: the history may have lost changes ({len(history)} kept)")
    # Each change in its phase's window: from the first load's start to each load's end.
    in_phase = [[] for _ in phases]
    for c in history:
        t = int(c["time_ns"])
        at = next((i for i, (_, end) in enumerate(phases) if t < end), None)
        if t < phases[0][0] or at is None:
            continue
        in_phase[at].append(t)
        note(f"trace {record.env} {impl} {LOAD_STEPS[at][0]} {(t - phases[at][0]) / 1e6:+.0f} ms: "
             f"{c['from']} -> {c['to']} ({c['reason']}, rate {c['rate_pps']} pps, "
             f"batch {int(c['batch_x16']) / 16:.2f})")
    for (phase, _), (start, _), inside in zip(LOAD_STEPS, phases, in_phase):
        settling = [t for t in inside if t < start + SETTLE_NS]
        scenario = f"load-steps-{phase}"
        record(scenario, "mode_changes", len(inside) - len(settling))
        record(scenario, "settle_changes", len(settling))
        record(scenario, "settle_ms", max(0, max(settling) - start) / 1e6 if settling else 0)


RUNNERS = {"idle": idle, "sparse-rr": lambda n, i, r: rtt(n, i, r, "sparse-rr", SPARSE_MPS),
           "pingpong": lambda n, i, r: rtt(n, i, r, "pingpong"), "flood-64B": flood,
           "tcp-stream": tcp_stream, "load-steps": load_steps}


def write_sysctl(values):
    for key, value in values.items():
        nic.write("/proc/sys/" + key.replace(".", "/"), value)


def run_impl(env, impl, scenarios):
    setting = IMPLS[impl]
    driver = nic.EXOFUSION if impl in EXO_IMPLS else nic.LINUX
    record = Recorder(env, impl)
    with nic.Topology(driver) as net:
        if "policy" in setting:
            nic.set_policy(net.dut, setting["policy"])
        for knob, value in setting.get("netdev", {}).items():
            nic.write(f"/sys/class/net/{net.dut}/{knob}", value)
        write_sysctl(setting.get("sysctl", {}))
        try:
            net.ping(count=3)  # ARP done, link proven
            for scenario in scenarios:
                start = time.monotonic()
                RUNNERS[scenario](net, impl, record)
                note(f"{env} {impl} {scenario}: {time.monotonic() - start:.1f} s")
        finally:
            write_sysctl({key: 0 for key in setting.get("sysctl", {})})
            for knob in setting.get("netdev", {}):
                nic.write(f"/sys/class/net/{net.dut}/{knob}", 0)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("env", choices=ENVS)
    ap.add_argument("--impl", action="append", choices=list(IMPLS))
    ap.add_argument("--scenario", action="append", choices=SCENARIOS)
    args = ap.parse_args(argv)
    scenarios = args.scenario or list(SCENARIOS)
    if args.env == "vm-icount" and not args.scenario:
        # TCP over QEMU's mitigated e1000 was bimodal in the baseline.
        scenarios.remove("tcp-stream")
    import exo  # noqa: E402  (tests/exo.py: how the module is loaded)
    if os.path.exists("/sys/module/exofusion"):
        exo.rmmod()
    exo.insmod()
    try:
        has_driver = nic.exofusion_has_nic_driver()
        for impl in args.impl or list(IMPLS):
            if impl in EXO_IMPLS and not has_driver:
                note(f"skipping {impl}: the exofusion module has no NIC driver yet")
                continue
            run_impl(args.env, impl, scenarios)
    finally:
        exo.rmmod()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
