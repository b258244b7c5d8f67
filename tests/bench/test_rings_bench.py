"""Perf scenarios of the rings suite. These record figures; they assert only
that the runs completed with their content checks (exobench exits 1 on a bad
message), never a timing.

host: the impls of a scenario are measured interleaved, in short rounds: each
impl first calibrates its message count (exobench's own probes, one
repetition, discarded: it also warms up), then every round runs each impl
once (one repetition of that count, 0.18-0.45 s), the order rotating from
round to round (A B C, B C A, C A B, ...), so that a slow minute of the
machine (vCPUs moving between physical cores) weighs on every impl alike
instead of on whichever ran then. A figure's `value` is the median over the
rounds; `min`, `p10`, `p90`, `max` its spread over them and `rounds` their
number. `p50`/`p99`: for rtt_ns the median over the rounds of each round's
p50/p99 over its round trips; otherwise the median and the 99th percentile
over the rounds (as exobench does over repetitions).

host-insn: instructions per message of each side, under callgrind (this
machine has no hardware counters), for the stream scenarios exobench can
drive in lockstep in one thread (`exobench --list --env host-insn`): B
messages produced, the same B consumed and checked, repeated. Each side's
transport work is counted with --toggle-collect on its function
(exobench_insn_producer / exobench_insn_consumer), the payload fill and the
content check toggled off inside it (userspace/bench/lockstep.cpp). Each
count is the difference of two runs of different sizes divided by the
difference of their messages, so that start-up and tear-down cancel out;
the smaller run is made twice and must count exactly the same."""
import collections
import json
import math
import os
import re
import shutil
import subprocess
import sys

import pytest

from paths import ROOT, binary

EXOBENCH = str(binary("exobench"))
VALGRIND = shutil.which("valgrind")

# Rounds per scenario of the interleaved host runs (EXOBENCH_ROUNDS for a
# quick look; fewer rounds, a rougher spread).
ROUNDS = int(os.environ.get("EXOBENCH_ROUNDS", "9"))

# Lockstep message counts (small, large): multiples of the batch (16), of
# the rings' capacity (1024 slots) and of exofusion's zero-copy pool (64
# buffers), so that the difference holds whole laps of every index.
INSN_MSGS = {"zerocopy-64KiB": (1024, 3072)}  # 64 KiB fill and check: slow under valgrind
INSN_MSGS_DEFAULT = (16384, 49152)
# Each side's counted function, and the benchmark's own work inside it that
# the count leaves out (toggled off on entry, on again on exit).
INSN_SIDES = {"producer": ("exobench_insn_producer", "exobench_insn_fill"),
              "consumer": ("exobench_insn_consumer", "exobench_insn_check")}


def listing(*args):
    res = subprocess.run([EXOBENCH, "--list", *args], capture_output=True, text=True,
                         check=True, timeout=60)
    return [tuple(line.split()) for line in res.stdout.splitlines() if line.strip()]


def host_scenarios():
    """(scenario, [impls]) in the order exobench lists them."""
    by_scenario = collections.OrderedDict()
    for scenario, impl in listing():
        by_scenario.setdefault(scenario, []).append(impl)
    return [pytest.param(s, impls, id=s) for s, impls in by_scenario.items()]


def exobench(scenario, impl, *args):
    """One exobench run on the host: its JSON figures."""
    cmd = [EXOBENCH, "--env", "host", "--scenario", scenario, "--impl", impl, *args]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, f"{' '.join(cmd)}:\n{res.stderr}"
    figures = [json.loads(l) for l in res.stdout.splitlines() if l.startswith("{")]
    assert figures, f"{' '.join(cmd)} printed no figure:\n{res.stdout}"
    return figures


def percentile(values, q):
    """As exobench's percentile(): linear between ranks."""
    s = sorted(values)
    rank = q * (len(s) - 1)
    lo = math.floor(rank)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (rank - lo)


def combine(rounds):
    """One figure from a pair's rounds (exobench's lines of one metric)."""
    values = [r["value"] for r in rounds]
    out = dict(rounds[0])
    median = percentile(values, 0.5)
    if out["metric"] == "rtt_ns":
        p50 = percentile([r["p50"] for r in rounds], 0.5)
        p99 = percentile([r["p99"] for r in rounds], 0.5)
    else:
        p50, p99 = median, percentile(values, 0.99)
    out.update(value=round(median, 1), p50=round(p50, 1), p99=round(p99, 1),
               reps=sum(r["reps"] for r in rounds), rounds=len(rounds),
               min=round(min(values), 1), p10=round(percentile(values, 0.1), 1),
               p90=round(percentile(values, 0.9), 1), max=round(max(values), 1),
               order="interleaved")
    return out


@pytest.mark.parametrize("scenario, impls", host_scenarios())
def test_host(results, scenario, impls):
    msgs = {impl: exobench(scenario, impl, "--reps", "1")[0]["msgs"] for impl in impls}
    per_pair = collections.defaultdict(list)  # (impl, metric): that pair's rounds
    for r in range(ROUNDS):
        shift = r % len(impls)
        for impl in impls[shift:] + impls[:shift]:
            for fig in exobench(scenario, impl, "--reps", "1", "--msgs", str(msgs[impl])):
                per_pair[(impl, fig["metric"])].append(fig)
    lines = [json.dumps(combine(rounds), separators=(",", ":"))
             for _, rounds in sorted(per_pair.items(), key=lambda kv: impls.index(kv[0][0]))]
    for line in results("\n".join(lines)):
        print(line)


def insn_pairs():
    return [pytest.param(s, i, id=f"{s}-{i}") for s, i in listing("--env", "host-insn")]


def callgrind_count(scenario, impl, side, msgs):
    """Instructions callgrind counts in one side's function in one lockstep run."""
    counted, excluded = INSN_SIDES[side]
    cmd = [VALGRIND, "--tool=callgrind", "--callgrind-out-file=/dev/null",
           "--collect-atstart=no", f"--toggle-collect={counted}",
           f"--toggle-collect={excluded}", EXOBENCH, "--env", "host-insn",
           "--scenario", scenario, "--impl", impl, "--msgs", str(msgs)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, f"{' '.join(cmd)}:\n{res.stderr[-4000:]}"
    m = re.search(r"Collected : (\d+)", res.stderr)
    assert m, f"no count in callgrind's output:\n{res.stderr[-2000:]}"
    return int(m.group(1))


@pytest.mark.parametrize("scenario, impl", insn_pairs())
def test_host_insn(results, scenario, impl):
    if not VALGRIND:
        pytest.skip("valgrind is not installed")
    small, large = INSN_MSGS.get(scenario, INSN_MSGS_DEFAULT)
    lines = []
    for side in INSN_SIDES:
        first, again, big = (callgrind_count(scenario, impl, side, n)
                             for n in (small, small, large))
        assert first == again, f"{side}: {first} then {again} instructions: not repeatable"
        value = (big - first) / (large - small)
        assert value > 0, f"{side}: a count that did not grow with the messages: {first}, {big}"
        lines.append(json.dumps(
            {"suite": "rings", "scenario": scenario, "impl": impl, "env": "host-insn",
             "metric": f"insn_per_msg_{side}", "unit": "insn", "value": round(value, 2),
             "p50": round(value, 2), "p99": round(value, 2), "reps": 1, "msgs": large - small,
             "counts": [first, big]}, separators=(",", ":")))
    for line in results("\n".join(lines)):
        print(line)


def test_vm_icount(results):
    """Guest instructions per operation, in QEMU with -icount (repeatable)."""
    res = subprocess.run([sys.executable, str(ROOT / "tools/vm/exovm.py"), "--icount",
                          "--timeout", "900", "--", "sh", "tools/bench/vm_bench.sh"],
                         capture_output=True, text=True, cwd=ROOT, timeout=1000)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    for line in results(res.stdout):
        print(line)
