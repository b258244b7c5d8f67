"""The loaded module's interface under build/bin/module_fuzz (tests/fuzz/module_fuzz.cpp):
random create/destroy/open/close/mmap/munmap/mremap/mprotect/fork/read/write/poll/epoll/ioctl
sequences from processes of three uids, scribblers on the shared regions, SIGKILLs mid-call.
The seed is printed; EXO_FUZZ_SEED replays one, EXO_FUZZ_DURATION sets the length
(`make fuzz` runs it for longer)."""
import os
import random
import re
import signal
import subprocess
import tempfile

import pytest

import exo

from conftest import run
from paths import binary

DURATION = float(os.environ.get("EXO_FUZZ_DURATION") or 40)
# Beyond the run itself: winding down (the hang bound plus SIGKILLs) and the leak check.
SLACK = 120


def fuzz(*args, timeout):
    """Runs module_fuzz in its own session; returns (returncode, stderr). Its report goes
    to a file, not a pipe: a worker stuck in the kernel would hold a pipe open for ever.
    A fuzzer that outlives its own bounds is killed and reported as such."""
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen([str(binary("module_fuzz")), *args], stderr=log,
                                stdout=subprocess.DEVNULL, start_new_session=True)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            proc.returncode = None
        log.seek(0)
        err = log.read()
    if proc.returncode is None or proc.returncode < 0:
        pytest.fail(f"module_fuzz {' '.join(args)} did not end within {timeout} s:\n{err[-6000:]}")
    return proc.returncode, err


def calls_per_entry_point(err):
    """{entry point: (calls, successes)} from the fuzzer's summary."""
    table = {}
    for line in err.splitlines():
        m = re.match(r"  (.+?)\s+(\d+) calls\s+(\d+) ok", line)
        if m:
            table[m.group(1)] = (int(m.group(2)), int(m.group(3)))
    return table


def reload_module():
    """rmmod must work right after a run (no ring, file or mapping left); the module is
    loaded again for the session's other tests."""
    unloaded = run("rmmod", "exofusion")
    assert unloaded.returncode == 0, f"rmmod after fuzzing: {unloaded.stderr}"
    loaded = exo.insmod(check=False)
    assert loaded.returncode == 0, loaded.stderr


def test_fuzzer_reports_an_op_that_outlives_its_bound_and_still_ends(module):
    # The fuzzer's own oracle: blocking calls run under a 20-320 ms timer, so with a 50 ms
    # bound some are "hangs". It must say so, kill the process, wind down and leak nothing.
    # One process, no mapping: nothing here can corrupt a ring (the module's real hangs
    # are the other test's business).
    code, err = fuzz("--seed", "1", "--duration", "8", "--hang-after", "0.05", "--workers", "1",
                     "--scribblers", "0", "--exclude", "mapping,scribble,fork", "--kill-rate", "0",
                     timeout=8 + SLACK)
    assert code == 1, err[-4000:]
    # The hung op is named (its last ops follow when it is asleep; a slow kernel
    # may catch it running, with its state and CPU time instead).
    assert "HANG: process" in err and ("in progress:" in err or "state R" in err), err[-4000:]
    assert "LEAK" not in err and "UNKILLABLE" not in err, err[-4000:]
    reload_module()


def test_fuzzing_the_module_interface_finds_nothing(module):
    seed = int(os.environ.get("EXO_FUZZ_SEED") or random.SystemRandom().getrandbits(63))
    print(f"module_fuzz: seed {seed}, {DURATION} s")
    code, err = fuzz("--seed", str(seed), "--duration", str(DURATION),
                     timeout=DURATION + SLACK)
    # The first failure is the finding, what follows it mostly its consequences; the end
    # has the summary and which stuck process spent the most time in the kernel.
    report = err if len(err) < 10000 else f"{err[:6000]}\n[...]\n{err[-3000:]}"
    assert code == 0, f"module_fuzz failed, seed {seed}:\n{report}"
    calls = calls_per_entry_point(err)
    assert len(calls) == 21, err[-4000:]
    never = [ep for ep, (n, _) in calls.items() if n == 0]
    assert not never, f"entry points never called (seed {seed}): {never}"
    for ep in ("ioctl(control, CREATE)", "open(ring node)", "mmap(ring fd)", "read(ring fd)",
               "write(ring fd)", "ioctl(ring, WAKE_WAIT)"):
        assert calls[ep][1] > 0, f"{ep} never succeeded (seed {seed})"
    reload_module()
