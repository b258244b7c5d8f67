"""fusionctl against the loaded module (runs in the VM): create, list, stat,
send and receive inline and zero-copy, destroy, bench on device rings, the
slab caches (slab, slab shrink|pressure|tick), and the exit status of each
failure."""
import hashlib
import json
import os
import re
import stat
import subprocess
import time

import pytest

import exo
from paths import binary, binary_for_others

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
