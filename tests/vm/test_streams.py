"""Rings between processes through the module: every mode, under load,
with sleepers, killed peers, other users and memory limits."""
import errno
import os
import signal
import subprocess
import time

import pytest

import exo
from paths import binary, binary_for_others

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def stress(*args, timeout=600):
    res = subprocess.run([str(binary("ring_stress")), "--backend", "device", *args],
                         capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


@pytest.mark.parametrize("args", [
    ["--send", "inline"],
    ["--send", "batch"],
    ["--send", "zerocopy"],
    ["--send", "mixed", "--share", "scm"],
    ["--send", "inline", "--share", "name"],
    ["--mode", "mpmc", "--producers", "2", "--consumers", "2", "--send", "mixed"],
    ["--mode", "mpmc", "--producers", "2", "--consumers", "1", "--send", "batch"],
    ["--send", "slots"],
    ["--mode", "mpmc", "--producers", "2", "--consumers", "2", "--send", "slots"],
], ids=lambda a: "-".join(x.strip("-") for x in a))
def test_million_message_streams_arrive_intact(ring, args):
    msgs = "200000" if "zerocopy" in args or "mixed" in args else "1000000"
    out = stress("--name", ring, "--msgs", msgs, *args)
    assert "missing=0 duplicates=0 corrupt=0" in out


@pytest.mark.parametrize("wait", ["yield", "sleep"])
@pytest.mark.parametrize("args", [
    ["--send", "inline"],
    ["--send", "mixed", "--bursty"],
    ["--mode", "mpmc", "--producers", "2", "--consumers", "2", "--send", "slots"],
], ids=lambda a: "-".join(x.strip("-") for x in a))
def test_streams_on_one_cpu_arrive_intact_however_they_wait(ring, args, wait):
    """Both parties held on one CPU (as on a one-CPU machine, where the
    library yields before it sleeps), each way of waiting forced."""
    msgs = "20000" if "--bursty" in args else "200000"
    env = dict(os.environ, EXOFUSION_WAIT=wait)
    res = subprocess.run(["taskset", "-c", "0", str(binary("ring_stress")), "--backend", "device",
                          "--name", ring, "--msgs", msgs, "--timeout", "300", *args],
                         capture_output=True, text=True, timeout=400, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "missing=0 duplicates=0 corrupt=0" in res.stdout


@pytest.mark.parametrize("mode", ["spsc", "mpmc"])
def test_bursty_senders_never_lose_a_wakeup(ring, mode):
    parties = ["--producers", "2", "--consumers", "2"] if mode == "mpmc" else []
    out = stress("--name", ring, "--mode", mode, "--msgs", "20000", "--bursty", "--send", "mixed",
                 "--timeout", "300", *parties)
    sleeps = int(out.split("sleeps=")[1].split()[0])
    assert sleeps > 100, "the consumers should have gone to sleep many times: " + out


def test_io_uring_poll_add_completes_on_send(ring):
    res = subprocess.run([str(binary("ring_uring_poll")), ring], capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr


def test_kill_9_mid_stream_leaks_nothing(ring):
    before = exo.module_totals()
    free_before = meminfo("MemAvailable")
    proc = subprocess.Popen([str(binary("ring_stress")), "--backend", "device", "--name", ring,
                             "--msgs", "100000000", "--send", "mixed"],
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_for(lambda: exo.module_totals()[0] > before[0])
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    exo.destroy(ring)
    wait_for(lambda: exo.module_totals() == before)
    # Within 8 MiB of where it was (page cache and slab caches move a little).
    assert meminfo("MemAvailable") > free_before - 8192


def test_rings_of_another_user_are_guarded_by_the_vfs(ring):
    exo.create(ring, perm=0o600)
    res = subprocess.run(NOBODY + ["cat", f"/dev/exofusion/{ring}"], capture_output=True, text=True)
    assert res.returncode != 0 and "Permission denied" in res.stderr
    fusionctl = str(binary_for_others("fusionctl"))
    res = subprocess.run(NOBODY + [fusionctl, "destroy", ring], capture_output=True, text=True)
    assert res.returncode == 1 and os.path.exists(f"/dev/exofusion/{ring}")


def test_a_user_owns_the_rings_it_creates(ring):
    fusionctl = str(binary_for_others("fusionctl"))
    res = subprocess.run(NOBODY + [fusionctl, "create", ring, "--capacity", "16"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert os.stat(f"/dev/exofusion/{ring}").st_uid == 65534
    res = subprocess.run(NOBODY + [fusionctl, "destroy", ring], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_ring_memory_is_charged_to_the_users_memlock_limit(ring):
    fusionctl = str(binary_for_others("fusionctl"))
    limited = ["prlimit", "--memlock=131072:131072"] + NOBODY + [fusionctl, "create", ring]
    big = subprocess.run(limited + ["--capacity", "4096"], capture_output=True, text=True)
    assert big.returncode == 1 and "Cannot allocate memory" in big.stderr, big.stderr
    small = subprocess.run(limited + ["--capacity", "64"], capture_output=True, text=True)
    assert small.returncode == 0, small.stderr


def test_module_wide_cap_refuses_even_root(ring):
    param = "/sys/module/exofusion/parameters/max_total_mb"
    old = open(param).read().strip()
    try:
        with open(param, "w") as f:
            f.write("1")
        assert exo.create_errno(ring, capacity=1 << 15) == errno.ENOMEM
        assert exo.create_errno(ring, capacity=64) == 0
    finally:
        with open(param, "w") as f:
            f.write(old)


def meminfo(key):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def wait_for(predicate, seconds=30):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)
