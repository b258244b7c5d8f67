"""The core's unit tests and the library's cross-process streams, natively
and under sanitizers (the same sources the module builds)."""
import os
import subprocess

import pytest

from paths import binary

VARIANTS = [None, "asan", "tsan"]


@pytest.mark.parametrize("variant", VARIANTS, ids=["plain", "asan+ubsan", "tsan"])
def test_core_unit_tests_pass(variant):
    res = subprocess.run([str(binary("core_tests", variant)), "--gtest_brief=1"],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    assert "PASSED" in res.stdout


# How a blocked call waits before it sleeps (EXOFUSION_WAIT): the machine's
# choice (spin with several CPUs, yield with one), and each forced.
WAITS = [None, "spin", "yield", "sleep"]


def wait_env(wait):
    env = dict(os.environ)
    env.pop("EXOFUSION_WAIT", None)
    if wait:
        env["EXOFUSION_WAIT"] = wait
    return env


@pytest.mark.parametrize("wait", WAITS, ids=lambda w: w or "default")
@pytest.mark.parametrize("variant", VARIANTS, ids=["plain", "asan+ubsan", "tsan"])
def test_library_unit_tests_pass(variant, wait):
    """libexofusion's public ring calls against a hostile peer
    (tests/lib/); the device-ring instances skip here (no module) and run in
    the VM suite (tests/vm/test_lib_vm.py)."""
    res = subprocess.run([str(binary("lib_tests", variant)), "--gtest_brief=1"],
                         capture_output=True, text=True, timeout=600, env=wait_env(wait))
    # Without the device tests' skip notes, which would bury the failures.
    out = "\n".join(line for line in res.stdout.splitlines()
                     if not line.endswith(": Skipped") and "the VM suite runs this" not in line)
    assert res.returncode == 0, out[-6000:] + res.stderr[-4000:]
    assert "PASSED" in res.stdout


STREAMS = [
    ["--send", "inline"],
    ["--send", "batch"],
    ["--send", "zerocopy"],
    ["--send", "mixed", "--share", "scm"],
    ["--mode", "mpmc", "--producers", "2", "--consumers", "2", "--send", "mixed"],
    ["--mode", "mpmc", "--producers", "2", "--consumers", "1", "--send", "batch"],
    ["--send", "mixed", "--bursty"],
    ["--mode", "mpmc", "--producers", "2", "--consumers", "2", "--send", "inline", "--bursty"],
    ["--send", "inline", "--nonblock"],
    ["--send", "slots"],
    ["--send", "slots", "--bursty"],
    ["--mode", "mpmc", "--producers", "2", "--consumers", "2", "--send", "slots"],
    ["--send", "slots", "--nonblock"],
]


@pytest.mark.parametrize("variant", VARIANTS, ids=["plain", "asan+ubsan", "tsan"])
@pytest.mark.parametrize("args", STREAMS, ids=lambda a: "-".join(x.strip("-") for x in a))
def test_memfd_streams_arrive_intact(variant, args):
    msgs = 20000 if "--bursty" in args else 200000 if variant is None else 50000
    if variant == "tsan":
        # Threads of one process, so that TSan sees both sides of every access.
        args = [a for a in args if a not in ("--share", "scm")] + ["--threads"]
    res = subprocess.run([str(binary("ring_stress", variant)), "--backend", "memfd",
                          "--msgs", str(msgs), "--timeout", "300", *args],
                         capture_output=True, text=True, timeout=400)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "missing=0 duplicates=0 corrupt=0" in res.stdout


# The blocking streams with each forced way of waiting, and with both
# parties held on one CPU, where yielding is what lets the peer run.
BLOCKING_STREAMS = [
    ["--send", "inline"],
    ["--send", "mixed", "--bursty"],
    ["--mode", "mpmc", "--producers", "2", "--consumers", "2", "--send", "slots"],
]


@pytest.mark.parametrize("one_cpu", [False, True], ids=["any-cpu", "one-cpu"])
@pytest.mark.parametrize("wait", ["spin", "yield", "sleep"])
@pytest.mark.parametrize("args", BLOCKING_STREAMS, ids=lambda a: "-".join(x.strip("-") for x in a))
def test_memfd_streams_arrive_intact_however_they_wait(args, wait, one_cpu):
    msgs = 20000 if "--bursty" in args else 100000
    cmd = [str(binary("ring_stress")), "--backend", "memfd", "--msgs", str(msgs),
           "--timeout", "300", *args]
    res = subprocess.run((["taskset", "-c", "0"] if one_cpu else []) + cmd,
                         capture_output=True, text=True, timeout=400, env=wait_env(wait))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "missing=0 duplicates=0 corrupt=0" in res.stdout
