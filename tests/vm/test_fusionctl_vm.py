"""fusionctl against the loaded module (runs in the VM): create, list, stat,
send and receive inline and zero-copy, destroy, bench on device rings, the
slab caches (slab, slab shrink|pressure|tick), top (its rates counted against
the rings' own counters, a ring destroyed mid-run, a user who is not root, the
live view under tmux), and the exit status of each failure."""
import hashlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import time

import pytest

import exo
from paths import binary, binary_for_others
from tmux_pane import Pane

FUSIONCTL = binary("fusionctl")


def fusionctl(*args, timeout=60, input=None):
    """Runs fusionctl; input may be text or bytes (then output is bytes too)."""
    binary = isinstance(input, bytes)
    return subprocess.run([str(FUSIONCTL), *args], capture_output=True, text=not binary,
                          input=input, timeout=timeout)


def ok(*args, **kw):
    res = fusionctl(*args, **kw)
    assert res.returncode == 0, f"fusionctl {' '.join(args)}: {res.stderr}"
    return res.stdout


def stats(name):
    return json.loads(ok("stat", name, "--json"))


@pytest.fixture
def name(module, request):
    """A ring name of this test's own; whatever it names is destroyed after
    the test, and the module must then hold what it held before."""
    digest = hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:8]
    readable = re.sub(r"[^A-Za-z0-9._-]", "-", request.node.name.removeprefix("test_"))
    ring = f"fc-{digest}-{readable}"[:31]
    fusionctl("destroy", ring)
    before = exo.module_totals()
    yield ring
    fusionctl("destroy", ring)
    assert exo.module_totals() == before


def test_create_prints_the_node_and_region_size(name):
    out = ok("create", name, "--capacity", "64", "--buf-size", "4096", "--buf-count", "8",
             "--perm", "0640")
    m = re.fullmatch(rf"created /dev/exofusion/{re.escape(name)}, region (\d+) bytes\n", out)
    assert m, out
    node = os.stat(f"/dev/exofusion/{name}")
    assert stat.S_ISCHR(node.st_mode) and stat.S_IMODE(node.st_mode) == 0o640
    st = stats(name)
    assert st["region_size"] == int(m.group(1))
    assert (st["name"], st["mode"], st["capacity"], st["buf_size"], st["buf_count"]) == \
        (name, "spsc", 64, 4096, 8)
    assert st["messages"] == st["received"] == 0
    assert st["open_count"] == 1  # stat's own handle


def test_create_defaults_and_mpmc(name):
    ok("create", name, "--mode", "mpmc")
    st = stats(name)
    assert (st["mode"], st["capacity"], st["buf_size"], st["buf_count"]) == ("mpmc", 1024, 0, 0)
    assert stat.S_IMODE(os.stat(f"/dev/exofusion/{name}").st_mode) == 0o600


def test_stat_prints_every_counter(name):
    ok("create", name)
    out = ok("stat", name)
    keys = [line.split(": ")[0] for line in out.splitlines()]
    assert keys == ["name", "mode", "messages", "received", "batches", "full_events",
                    "empty_events", "sleeps", "wakeups", "kernel_errors", "region_size",
                    "capacity", "buf_size", "buf_count", "open_count", "owner_uid"]
    assert f"name: {name}\n" in out and "capacity: 1024\n" in out and "owner_uid: 0\n" in out


def test_list_shows_rings_and_the_module_totals(name):
    ok("create", name, "--mode", "mpmc", "--capacity", "128", "--buf-size", "4096",
       "--buf-count", "4")
    other = name[:-2] + "-2"
    ok("create", other, "--capacity", "2")
    try:
        ok("send", name, "--count", "2", "x")
        lines = ok("list").splitlines()
        assert lines[0].split() == ["NAME", "MODE", "CAPACITY", "POOL", "MESSAGES", "OPEN"]
        rows = {line.split()[0]: line.split() for line in lines[1:-1]}
        assert rows[name] == [name, "mpmc", "128", "4096x4", "2", "0"]
        assert rows[other] == [other, "spsc", "2", "-", "0", "0"]
        rings, pages = exo.module_totals()
        assert lines[-1] == f"total: {rings} rings, {pages} pages"
    finally:
        ok("destroy", other)
    assert other not in ok("list")


def test_inline_round_trip(name):
    ok("create", name)
    assert ok("send", name, "hello, ring") == ""
    assert ok("recv", name) == "hello, ring\n"
    st = stats(name)
    assert st["messages"] == st["received"] == 1


def test_inline_limit_is_56_bytes(name):
    ok("create", name)
    ok("send", name, "i" * 56)
    assert ok("recv", name) == "i" * 56 + "\n"
    res = fusionctl("send", name, "i" * 57)
    assert res.returncode == 1
    assert res.stderr == (f"fusionctl: send: a message of 57 bytes exceeds 56 (inline) and ring "
                          f"'{name}' has no pool\n")
    res = fusionctl("send", name, "--zerocopy", "small")
    assert res.returncode == 1
    assert res.stderr == ("fusionctl: send: ring has no zero-copy buffer pool "
                          "(Operation not supported)\n")
    assert stats(name)["messages"] == 1


def test_zero_copy_round_trip(name):
    ok("create", name, "--buf-size", "4096", "--buf-count", "4")
    long = "".join(str(i % 10) for i in range(3000))
    ok("send", name, "--zerocopy", "small but zero-copy")
    ok("send", name, long)
    assert ok("recv", name, "--count", "2") == f"small but zero-copy\n{long}\n"


def test_recv_returns_the_pool_buffers(name):
    ok("create", name, "--buf-size", "64", "--buf-count", "4")
    for round in range(3):
        ok("send", name, "--zerocopy", "--nonblock", "--count", "4", f"round {round}")
        res = fusionctl("send", name, "--zerocopy", "--nonblock", "one too many")
        assert res.returncode == 1
        assert res.stderr == f"fusionctl: send: ring '{name}' has no free zero-copy buffer\n"
        assert ok("recv", name, "--count", "4") == f"round {round}\n" * 4


def test_message_longer_than_a_pool_buffer_is_refused(name):
    ok("create", name, "--buf-size", "64", "--buf-count", "2")
    res = fusionctl("send", name, "z" * 65)
    assert res.returncode == 1
    assert res.stderr == (f"fusionctl: send: a message of 65 bytes exceeds the pool buffer "
                          f"size 64 of ring '{name}'\n")
    ok("send", name, "z" * 64)
    assert ok("recv", name) == "z" * 64 + "\n"
    assert stats(name)["messages"] == 1


def test_stdin_lines_are_messages_each_sent_count_times(name):
    ok("create", name)
    ok("send", name, "--count", "2", "-", input="one\ntwo\n\nlast without newline")
    out = ok("recv", name, "--count", "8")
    assert out == "one\none\ntwo\ntwo\n\n\nlast without newline\nlast without newline\n"
    assert fusionctl("recv", name, "--nonblock").returncode == 1


def test_a_message_starting_with_a_dash_after_double_dash(name):
    ok("create", name)
    ok("send", name, "--", "-not-an-option")
    assert ok("recv", name) == "-not-an-option\n"


def test_unprintable_messages_print_as_hex(name):
    ok("create", name, "--buf-size", "4096", "--buf-count", "2")
    ok("send", name, "-", input=b"a\x00b\xff\n")
    assert ok("recv", name) == "610062ff\n"
    ok("send", name, "two\nlines")  # one message holding a newline: hex keeps it on one line
    assert ok("recv", name) == "74776f0a6c696e6573\n"
    ok("send", name, "tab\tis text")
    assert ok("recv", name) == "tab\tis text\n"
    ok("send", name, "--zerocopy", "plain")
    assert ok("recv", name, "--hex") == "706c61696e\n"


def test_nonblock_on_an_empty_and_a_full_ring(name):
    ok("create", name, "--capacity", "2")
    res = fusionctl("recv", name, "--nonblock")
    assert res.returncode == 1
    assert res.stderr == f"fusionctl: recv: no message in ring '{name}'\n"
    res = fusionctl("send", name, "--nonblock", "--count", "3", "x")
    assert res.returncode == 1
    assert res.stderr == f"fusionctl: send: ring '{name}' is full\n"
    assert stats(name)["messages"] == 2
    assert ok("recv", name, "--count", "2", "--nonblock") == "x\nx\n"


def test_recv_timeout(name):
    ok("create", name)
    start = time.monotonic()
    res = fusionctl("recv", name, "--timeout-ms", "300")
    assert res.returncode == 1
    assert res.stderr == f"fusionctl: recv: no message in ring '{name}' within 300 ms\n"
    assert time.monotonic() - start >= 0.29


def test_a_waiting_recv_wakes_on_send(name):
    ok("create", name)
    for wait in (["--timeout-ms", "20000"], []):
        start = time.monotonic()
        recv = subprocess.Popen([str(FUSIONCTL), "recv", name, *wait], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        assert recv.poll() is None, "recv should be waiting"
        ok("send", name, "wake up")
        out, err = recv.communicate(timeout=20)
        assert recv.returncode == 0, err
        assert out == "wake up\n"
        assert time.monotonic() - start < 15


def test_duplicate_name_exits_1(name):
    ok("create", name)
    before = exo.module_totals()
    res = fusionctl("create", name)
    assert res.returncode == 1
    assert res.stdout == ""
    assert res.stderr == f"fusionctl: create: create ring '{name}' (File exists)\n"
    assert exo.module_totals() == before
    assert [line.split()[0] for line in ok("list").splitlines()].count(name) == 1


@pytest.mark.parametrize("args", [
    ["stat", "fc-no-such-ring"],
    ["send", "fc-no-such-ring", "x"],
    ["recv", "fc-no-such-ring"],
    ["bench", "fc-no-such-ring", "--msgs", "10"],
], ids=lambda a: a[0])
def test_missing_ring_exits_1(module, args):
    res = fusionctl(*args)
    assert res.returncode == 1
    assert res.stdout == ""
    assert res.stderr == (f"fusionctl: {args[0]}: open /dev/exofusion/fc-no-such-ring "
                          "(No such file or directory)\n")


def test_destroy_of_a_missing_ring_exits_1(module):
    res = fusionctl("destroy", "fc-no-such-ring")
    assert res.returncode == 1
    assert res.stderr == ("fusionctl: destroy: destroy ring 'fc-no-such-ring' "
                          "(No such file or directory)\n")


def test_bad_parameters_are_the_librarys_to_name_and_leak_nothing(name):
    before = exo.module_totals()
    res = fusionctl("create", name, "--capacity", "1000")
    assert res.returncode == 1
    assert res.stderr == (f"fusionctl: create: ring '{name}': capacity must be a power of two "
                          "in [2, 1048576] (Invalid argument)\n")
    assert not os.path.exists(f"/dev/exofusion/{name}")
    assert exo.module_totals() == before


def test_destroy_removes_the_node_and_frees_the_memory(name):
    before = exo.module_totals()
    ok("create", name, "--buf-size", "4096", "--buf-count", "16")
    rings, pages = exo.module_totals()
    assert rings == before[0] + 1 and pages > before[1]
    assert ok("destroy", name) == ""
    assert not os.path.exists(f"/dev/exofusion/{name}")
    assert name not in ok("list")
    assert exo.module_totals() == before
    assert fusionctl("destroy", name).returncode == 1


@pytest.mark.parametrize("create, bench, kind", [
    ([], [], "spsc, capacity 1024): 50000 msgs of 56 B, inline, batch 1"),
    ([], ["--batch", "16"], "spsc, capacity 1024): 50000 msgs of 56 B, inline, batch 16"),
    (["--mode", "mpmc", "--capacity", "64"], ["--size", "8"],
     "mpmc, capacity 64): 50000 msgs of 8 B, inline, batch 1"),
    (["--buf-size", "4096", "--buf-count", "16"], ["--size", "1000"],
     "spsc, capacity 1024): 50000 msgs of 1000 B, zero-copy, batch 1"),
    (["--mode", "mpmc", "--buf-size", "1024", "--buf-count", "8"],
     ["--size", "1024", "--batch", "4"],
     "mpmc, capacity 1024): 50000 msgs of 1024 B, zero-copy, batch 4"),
], ids=["inline", "batch16", "mpmc-8B", "zerocopy", "mpmc-zerocopy-batch4"])
def test_bench_on_a_device_ring(name, create, bench, kind):
    ok("create", name, *create)
    out = ok("bench", name, "--msgs", "50000", *bench, timeout=600)
    assert out.startswith(f"device ring {name} ({kind}\n"), out
    assert "every message arrived once, in order, intact" in out
    assert re.search(r"^  \d+ msgs/s, [\d.]+ ns/msg", out, re.M), out
    st = stats(name)
    assert st["messages"] == st["received"] == 50000


def test_bench_refuses_a_ring_with_pending_messages(name):
    ok("create", name)
    ok("send", name, "left over")
    res = fusionctl("bench", name, "--msgs", "10")
    assert res.returncode == 1
    assert f"ring '{name}' has 1 messages not yet received" in res.stderr


def test_bench_needs_pool_buffers_for_large_messages(name):
    ok("create", name)
    res = fusionctl("bench", name, "--size", "100", "--msgs", "10")
    assert res.returncode == 1 and "has no pool" in res.stderr
    ok("destroy", name)
    ok("create", name, "--buf-size", "64", "--buf-count", "4")
    res = fusionctl("bench", name, "--size", "100", "--msgs", "10")
    assert res.returncode == 1 and "has smaller ones" in res.stderr


def test_bench_memfd_runs_beside_the_module(module):
    out = ok("bench", "--memfd", "--msgs", "50000", timeout=600)
    assert out.startswith("memfd ring (anonymous) (spsc, capacity 1024): 50000 msgs")


# --- slab: the module's slab caches through debugfs ---

PAGE = os.sysconf("SC_PAGE_SIZE")


def slabinfo():
    """fusionctl slab --json: (pages, {cache name: cache})."""
    got = json.loads(ok("slab", "--json"))
    return got["pages"], {c["name"]: c for c in got["caches"]}


def test_slab_shows_the_rings_in_the_exo_ring_cache(name):
    other = name[:-2] + "-2"
    ok("create", name)
    ok("create", other, "--capacity", "2")
    try:
        rings, _ = exo.module_totals()
        assert rings >= 2
        _, caches = slabinfo()
        ring = caches["exo_ring"]
        assert ring["slabs_in_use"] >= rings
        assert ring["size"] > 0 and ring["stride"] >= ring["size"] and ring["per_slab"] >= 1
        assert ring["slabs_pages"] >= 1 and ring["slabs_bytes"] == ring["slabs_pages"] * PAGE
        assert ring["cpu_alloc_hits"] + ring["cpu_alloc_misses"] >= 2
        assert all(set(r) == {"tick", "from", "to", "reason", "ops", "misses", "contended"}
                   for r in ring["resizes"])
        # The table: the same cache, its three levels and its resize trace.
        table = ok("slab")
        assert table.startswith("slab caches: ")
        block = table[table.index(f"exo_ring: size {ring['size']}, stride {ring['stride']}, "):]
        assert re.search(r"^  cpu    hit rate (\d+\.\d%|-) \(alloc hits \d+", block, re.M), block
        assert re.search(r"^  depot  magazines \d+ \(full \d+, empty \d+\), cached \d+", block,
                         re.M), block
        in_use = int(re.search(r"^  slabs  slabs \d+ \(empty \d+\), pages \d+, bytes \d+, "
                               r"in use (\d+)$", block, re.M).group(1))
        assert in_use >= rings
        assert re.search(r"^  magazine resizes(: none|, oldest first:)$", block, re.M), block
    finally:
        ok("destroy", other)


def test_slab_shrink_empties_the_depot(name):
    ok("create", name)
    churn = f"{name[:-2]}-c"
    try:
        for _ in range(8):  # freed control blocks stay cached in magazines
            ok("create", churn)
            ok("destroy", churn)
    finally:
        fusionctl("destroy", churn)
    assert ok("slab", "shrink") == ""
    pages, caches = slabinfo()
    ring = caches["exo_ring"]
    assert ring["depot_cached"] == 0
    assert ring["depot_full"] == 0
    rings, _ = exo.module_totals()
    assert ring["slabs_in_use"] >= rings >= 1
    assert pages == exo.total("slab_pages")


def test_slab_tick_and_pressure(module):
    _, before = slabinfo()
    assert ok("slab", "tick") == ""
    _, after = slabinfo()
    for cache, old in before.items():
        if cache in after:
            assert after[cache]["debug_ticks"] > old["debug_ticks"], cache
    assert ok("slab", "pressure") == ""
    _, pressed = slabinfo()
    ring, old = pressed["exo_ring"], after["exo_ring"]
    assert ring["magazine"] <= old["magazine"]
    assert ring["depot_cached"] == 0
    if old["magazine"] > ring["magazine"]:
        last = [r for r in ring["resizes"] if r["reason"] == "shrink-pressure"][-1]
        assert last["to"] == last["from"] // 2


def test_slab_needs_root(module):
    nobody = {"user": 65534, "group": 65534, "extra_groups": []}
    for args, verb, path in ((["slab"], "read", "slabinfo"),
                             (["slab", "shrink"], "write", "slab_ctl")):
        res = subprocess.run([str(binary_for_others("fusionctl")), *args], capture_output=True,
                             text=True, timeout=60, **nobody)
        assert res.returncode == 1 and res.stdout == ""
        assert res.stderr == (f"fusionctl: slab: cannot {verb} /sys/kernel/debug/exofusion/{path} "
                              "(Permission denied): the module's debugfs files are root's; "
                              "run fusionctl as root\n")


# --- top: rates between samples, checked against the rings' own counters ---

RATED = ["messages", "received", "sleeps", "wakeups", "kernel_errors"]


class Reports:
    """fusionctl top --json ARGS in the background, one report (line) at a time."""

    def __init__(self, *args):
        self.proc = subprocess.Popen([str(FUSIONCTL), "top", "--json", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def next(self):
        line = self.proc.stdout.readline()
        assert line, f"top ended early: {self.proc.wait(60)}, {self.proc.stderr.read()}"
        return json.loads(line)

    def until(self, done):
        """The reports up to the first whose sample follows |done|
        (time.monotonic(): CLOCK_MONOTONIC, as top's "time"); together
        their deltas cover everything done before |done|, however long it
        took under TCG."""
        got = [self.next()]
        while got[-1]["time"] <= done:
            got.append(self.next())
        return got

    def interrupt(self):
        """^C: top dies of SIGINT after a whole report, and says nothing."""
        self.proc.send_signal(signal.SIGINT)
        rest = self.proc.stdout.read()
        assert self.proc.wait(60) == -signal.SIGINT
        assert all(json.loads(line) for line in rest.splitlines())
        assert self.proc.stderr.read() == ""

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def reports():
    started = []

    def start(*args):
        started.append(Reports(*args))
        return started[-1]
    yield start
    for r in started:
        r.kill()


def ring_of(report, name):
    rings = [r for r in report["rings"] if r["name"] == name]
    assert len(rings) == 1, (name, report["rings"])
    return rings[0]


def wait_for(predicate, what, timeout=60):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def check_rates(report, ring):
    for key in RATED:
        if ring[f"{key}_delta"] is not None:
            assert ring[f"{key}_per_s"] == pytest.approx(
                ring[f"{key}_delta"] / report["interval_s"], rel=1e-3, abs=1e-3), key


def test_top_counts_messages_sleeps_and_wakeups_between_samples(name, reports):
    sleeper = name[:-2] + "-s"
    churn = name[:-2] + "-c"
    ok("create", name)
    ok("create", sleeper)
    try:
        top = reports("--interval", "1.5")
        first = top.next()
        assert first["missing"] == [] and isinstance(first["nics"], list)
        assert first["interval_s"] >= 1.49
        for ring in (ring_of(first, name), ring_of(first, sleeper)):
            assert ring["new"] is False and ring["capacity"] == 1024 and ring["mode"] == "spsc"
            assert all(ring[f"{key}_delta"] == 0 for key in RATED), ring
        before = {n: stats(n) for n in (name, sleeper)}
        ring_cache = {c["name"]: c for c in first["slab"]["caches"]}["exo_ring"]

        # After that report's sample: 100 messages into |name|; a receiver
        # that sleeps on |sleeper| until a message wakes it; four rings made
        # and freed (objects of the exo_ring cache).
        ok("send", name, "--count", "100", "x")
        recv = subprocess.Popen([str(FUSIONCTL), "recv", sleeper], stdout=subprocess.PIPE,
                                text=True)
        wait_for(lambda: stats(sleeper)["sleeps"] > before[sleeper]["sleeps"], "recv to sleep")
        ok("send", sleeper, "wake up")
        assert recv.communicate(timeout=60)[0] == "wake up\n" and recv.returncode == 0
        for _ in range(4):
            ok("create", churn)
            ok("destroy", churn)
        later = top.until(time.monotonic())
        after = {n: stats(n) for n in (name, sleeper)}

        # The deltas add up to what the rings' own counters say, each
        # total follows from the last, each rate is its delta over its time.
        for n in (name, sleeper):
            last = ring_of(first, n)
            for report in later:
                ring = ring_of(report, n)
                check_rates(report, ring)
                for key in RATED:
                    assert ring[key] - ring[f"{key}_delta"] == last[key], (n, key)
                last = ring
            for key in RATED:
                assert sum(ring_of(r, n)[f"{key}_delta"] for r in later) == \
                    after[n][key] - before[n][key], (n, key)
                assert last[key] == after[n][key], (n, key)
        assert sum(ring_of(r, name)["messages_delta"] for r in later) == 100
        slept = [ring_of(r, sleeper) for r in later]
        assert sum(r["messages_delta"] for r in slept) == 1
        assert sum(r["received_delta"] for r in slept) == 1
        assert sum(r["sleeps_delta"] for r in slept) >= 1
        assert sum(r["wakeups_delta"] for r in slept) >= 1
        assert churn not in [r["name"] for r in later[-1]["rings"]]
        caches = [{c["name"]: c for c in r["slab"]["caches"]}["exo_ring"] for r in later]
        # Each create allocates a control block and each destroy frees it.
        ops = sum(c["ops_delta"] for c in caches)
        assert ops >= 8
        assert caches[-1]["hits"] + caches[-1]["misses"] - ring_cache["hits"] - \
            ring_cache["misses"] == ops
        assert all(c["magazine"] > 0 for c in caches)
        assert all(c["hit_rate"] is None or 0 <= c["hit_rate"] <= 100 for c in caches)

        quiet = top.next()  # nothing moved since
        for n in (name, sleeper):
            ring = ring_of(quiet, n)
            assert all(ring[f"{key}_delta"] == 0 and ring[f"{key}_per_s"] == 0 for key in RATED)
        top.interrupt()
    finally:
        fusionctl("destroy", sleeper)
        fusionctl("destroy", churn)


def test_top_once_reports_rates_over_one_interval(name):
    ok("create", name, "--capacity", "16384")
    start = stats(name)["messages"]
    top = subprocess.Popen([str(FUSIONCTL), "top", "--once", "--json", "--interval", "2"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sent = 0
    while top.poll() is None:  # messages all along the interval
        ok("send", name, "--count", "20", "x")
        sent += 20
    out, err = top.communicate(timeout=60)
    assert top.returncode == 0 and err == "", err
    end = stats(name)["messages"]
    assert end - start == sent
    assert len(out.splitlines()) == 1
    report = json.loads(out)
    ring = ring_of(report, name)
    # The two samples fell within the sends: counted, not timed.
    assert start <= ring["messages"] - ring["messages_delta"] <= ring["messages"] <= end
    assert ring["messages_delta"] > 0
    assert 1.99 <= report["interval_s"] < 60
    assert ring["messages_per_s"] == pytest.approx(ring["messages_delta"] / report["interval_s"],
                                                   rel=1e-3)


def test_top_handles_a_ring_destroyed_mid_run(name, reports):
    doomed = name[:-2] + "-d"
    born = name[:-2] + "-b"
    ok("create", name)
    ok("send", name, "--count", "20", "x")
    ok("create", doomed)
    try:
        # A receiver still has |doomed| open when it is destroyed.
        recv = subprocess.Popen([str(FUSIONCTL), "recv", doomed], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        top = reports("--interval", "1.5")
        first = top.next()
        assert {name, doomed} <= {r["name"] for r in first["rings"]}
        ok("destroy", doomed)
        out, err = recv.communicate(timeout=60)
        assert recv.returncode == 1, (out, err)
        ok("create", born)
        ok("send", born, "--count", "5", "x")
        # |name| destroyed and created again with more messages than it had:
        # another ring, whose counters are no change of the old one's.
        ok("destroy", name)
        ok("create", name)
        ok("send", name, "--count", "30", "x")
        later = top.until(time.monotonic())

        assert [r["rings_gone"].count(doomed) for r in later].count(1) == 1
        assert doomed not in [r["name"] for r in later[-1]["rings"]]
        assert all(r["rings_gone"] in ([], [doomed], [name], [doomed, name]) for r in later)
        seen = [r for r in later if born in [x["name"] for x in r["rings"]]]
        ring = ring_of(seen[0], born)
        assert ring["new"] is True and ring["messages"] == 5
        assert all(ring[f"{key}_delta"] is None and ring[f"{key}_per_s"] is None for key in RATED)
        assert ring_of(later[-1], born)["messages"] == 5
        # The first sample of the new |name| (the old one had 20 messages).
        again = [ring_of(r, name) for r in later
                 if name in [x["name"] for x in r["rings"]] and ring_of(r, name)["messages"] != 20]
        assert again[0]["new"] is True and again[0]["messages_delta"] is None, again[0]
        assert again[-1]["messages"] == 30
        for report in later:
            for ring in report["rings"]:
                check_rates(report, ring)
        top.interrupt()
    finally:
        fusionctl("destroy", doomed)
        fusionctl("destroy", born)


def test_top_as_a_user_who_is_not_root(name):
    """Everyone may read the rings' counters (sysfs, 0444), even of a ring
    whose node they cannot open; the slab caches are root's (debugfs)."""
    ok("create", name, "--perm", "0600")
    ok("send", name, "--count", "3", "x")
    res = subprocess.run([str(binary_for_others("fusionctl")), "top", "--once", "--json",
                          "--interval", "0.5"], capture_output=True, text=True, timeout=60,
                         user=65534, group=65534, extra_groups=[])
    assert res.returncode == 0 and res.stderr == "", res.stderr
    report = json.loads(res.stdout)
    ring = ring_of(report, name)
    assert ring["messages"] == 3 and ring["owner_uid"] == 0 and ring["messages_delta"] == 0
    assert report["slab"] is None
    assert report["missing"] == [{"part": "slab", "error": (
        "cannot read /sys/kernel/debug/exofusion/slabinfo (Permission denied): the module's "
        "debugfs files are root's; run fusionctl as root")}]
    assert isinstance(report["nics"], list)
    # And the view says the same.
    res = subprocess.run([str(binary_for_others("fusionctl")), "top", "--once", "--interval",
                          "0.5"], capture_output=True, text=True, timeout=60,
                         user=65534, group=65534, extra_groups=[])
    assert res.returncode == 0, res.stderr
    assert "slab caches: missing: cannot read /sys/kernel/debug/exofusion/slabinfo " \
           "(Permission denied)" in res.stdout
    assert re.search(rf"^{re.escape(name)} +spsc ", res.stdout, re.M), res.stdout


# --- top's live view, in a tmux pane in the guest ---


def row(screen, first):
    """The words of the screen's line that starts with the word |first|."""
    for line in screen.splitlines():
        if line.split()[:1] == [first]:
            return line.split()
    return None


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
@pytest.mark.parametrize("key, status", [("q", "status=0"), ("C-c", "status=130")])
def test_top_live_view_under_tmux(name, tmp_path, key, status):
    tmp_path.chmod(0o755)
    ok("create", name, "--capacity", "65536")  # no receiver: room for every message sent
    pane = Pane(tmp_path, f"{FUSIONCTL} top --interval 1", width=110, height=40, timeout=60)
    try:
        first = pane.wait_for(lambda s: row(s, name) is not None, "the ring in the view")
        assert "fusionctl top - " in first and "every 1 s - q quits" in first
        assert row(first, "RING") == ["RING", "MODE", "MSGS/S", "RECV/S", "SLEEPS/S",
                                      "WAKEUPS/S", "ERRORS", "OPEN"]
        assert row(first, "exo_ring") is not None, first  # the slab caches, as root
        # Messages every 0.2 s until a frame shows a rate for them.
        deadline = time.monotonic() + 60

        def moving(screen):
            ok("send", name, "--count", "10", "x")
            words = row(screen, name)
            return words is not None and words[2] not in ("-", "0.0")
        while time.monotonic() < deadline and not moving(pane.screen()):
            time.sleep(0.2)
        words = row(pane.screen(), name)
        assert float(words[2]) > 0, pane.screen()
        assert words[1] == "spsc" and words[6] == "0"
        pane.tmux("send-keys", key)
        assert pane.status() == status
        assert pane.settings_restored()
        after = pane.screen()
        assert "RING" not in after and name not in after  # the normal screen is back
    finally:
        pane.close()
