"""Perf scenarios of the fibers suite: libexofiber against boost.context,
boost.fiber, ucontext, threads and Go 1.19 (userspace/bench/fibers/README.md).
These record figures; they assert only that each run completed (fiberbench
and fiberbench-go exit 1 when a scenario's own check fails: skynet's sum, a
request not served, a corrupt reply...), never a timing.

Besides the timed runs, scenarios that run on one thread (switch,
spawn-join) are counted in instructions under callgrind, and cache-affinity
in simulated D1 misses under cachegrind (this machine has no hardware
counters). Each count is the difference of two runs of different sizes,
divided by the difference of their operations, so that start-up and
tear-down cancel out."""
import json
import re
import shutil
import subprocess

import pytest

from paths import binary

EXES = ["fiberbench", "fiberbench-go"]
# Callgrind: instructions per operation (a switch, a spawn+run+join).
INSN_SCENARIOS = {"switch": (20000, 60000), "spawn-join": (5000, 15000)}
# Cachegrind: rounds of every fiber (32 fibers of 32 KiB each), with a
# fixed cache (as a core of this machine's class: 32 KiB 8-way L1d, 1 MiB
# 16-way L2 as the last level; cachegrind models one cache for all threads).
CACHE_ROUNDS = (20, 60)
CACHE_FIBERS = 32
CACHEGRIND_CACHES = ["--I1=32768,8,64", "--D1=32768,8,64", "--LL=1048576,16,64"]
VALGRIND = shutil.which("valgrind")


def fiber_runs():
    """(exe, scenario, impl, mode) for every pair each binary lists, scenario
    by scenario (the impls of one scenario run close together in time), and
    a callgrind or cachegrind run next to the timed one where it applies."""
    missing, listed = [], []
    for name in EXES:
        exe = binary(name)
        if not exe.exists():
            missing.append(pytest.param(name, None, None, None, id=f"{name}-not-built"))
            continue
        listing = subprocess.run([str(exe), "--list"], capture_output=True, text=True,
                                 check=True, timeout=60)
        listed += [(name, *line.split()) for line in listing.stdout.splitlines() if line.strip()]
    scenarios = list(dict.fromkeys(scenario for _, scenario, _ in listed))
    listed.sort(key=lambda run: scenarios.index(run[1]))
    runs = []
    for exe, scenario, impl in listed:
        runs.append(pytest.param(exe, scenario, impl, "time", id=f"{exe}-{scenario}-{impl}"))
    # The counted runs after the timed ones (valgrind's runs take a CPU
    # for longer, which would weigh on the timed runs around them).
    for exe, scenario, impl in listed:
        if scenario in INSN_SCENARIOS:
            runs.append(pytest.param(exe, scenario, impl, "callgrind",
                                     id=f"{exe}-{scenario}-{impl}-callgrind"))
        if scenario == "cache-affinity":
            runs.append(pytest.param(exe, scenario, impl, "cachegrind",
                                     id=f"{exe}-{scenario}-{impl}-cachegrind"))
    return missing + runs


def valgrind(tool_args, exe, scenario, impl, iters, pattern):
    """Runs exe once under valgrind; the count the pattern captures."""
    cmd = [VALGRIND, *tool_args, str(exe), "--scenario", scenario, "--impl", impl,
           "--iters", str(iters)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, f"{' '.join(cmd)}:\n{res.stderr[-4000:]}"
    m = re.search(pattern, res.stderr, re.M)
    assert m, f"no count in valgrind's output:\n{res.stderr[-2000:]}"
    return int(m.group(1).replace(",", ""))


def figure(scenario, impl, metric, unit, value, ops):
    """A JSON line as the benchmarks print them (one rep: no spread)."""
    return json.dumps({"suite": "fibers", "scenario": scenario, "impl": impl, "env": "host",
                       "metric": metric, "unit": unit, "value": round(value, 2),
                       "p50": round(value, 2), "p99": round(value, 2), "reps": 1, "ops": ops},
                      separators=(",", ":"))


@pytest.mark.parametrize("exe, scenario, impl, mode", fiber_runs())
def test_fibers_host(results, exe, scenario, impl, mode):
    path = binary(exe)
    assert scenario, f"{path} is not built: run 'make userspace'"
    if mode == "time":
        res = subprocess.run([str(path), "--scenario", scenario, "--impl", impl],
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        for line in results(res.stdout):
            print(line)
        return
    if not VALGRIND:
        pytest.skip("valgrind is not installed")
    if mode == "callgrind":
        # Instructions the program executes (user space only).
        small, large = INSN_SCENARIOS[scenario]
        args = ["--tool=callgrind", "--callgrind-out-file=/dev/null"]
        counts = [valgrind(args, path, scenario, impl, n, r"Collected : (\d+)")
                  for n in (small, large)]
        value = (counts[1] - counts[0]) / (large - small)
        line = figure(scenario, impl, "insn_per_op", "insn", value, large - small)
    else:
        args = ["--tool=cachegrind", "--cache-sim=yes", "--cachegrind-out-file=/dev/null",
                *CACHEGRIND_CACHES]
        small, large = CACHE_ROUNDS
        counts = [valgrind(args, path, scenario, impl, n, r"D1  misses:\s+([\d,]+)")
                  for n in (small, large)]
        runs = CACHE_FIBERS * (large - small)
        line = figure(scenario, impl, "d1_misses_per_run", "misses",
                      (counts[1] - counts[0]) / runs, runs)
    assert json.loads(line)["value"] > 0, f"a count that did not grow with the runs: {counts}"
    for line in results(line):
        print(line)
