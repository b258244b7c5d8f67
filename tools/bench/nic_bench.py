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
UNITS = {"rtt_p50_us": "us", "rtt_p99_us": "us", "rtt_per_s": "1/s", "pps": "pkt/s",
         "loss_pct": "%", "irq_per_pkt": "irq", "wakeups_per_s": "1/s",
         "mode_changes": "changes", "mbit_per_s": "Mbit/s"}


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


def mode_changes(net, impl):
    return nic.exo_counters(net.dut)["mode_changes"] if impl in EXO_IMPLS else 0


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


def load_steps(net, impl, record):
    for phase, seconds in LOAD_STEPS:
        before = mode_changes(net, impl)
        if phase == "sparse":
            net.sockperf_pingpong(seconds=seconds, mps=SPARSE_MPS)
        elif phase == "flood":
            net.udp_flood(seconds=seconds)
        else:
            time.sleep(seconds)
        record(f"load-steps-{phase}", "mode_changes", mode_changes(net, impl) - before)


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
