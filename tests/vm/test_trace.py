"""The module's tracepoints (module/shim/trace.h, issue 10): each event is
provoked and read back from tracefs, and its fields are checked against what
the test did and against the module's own counters and histories (a ring's
stats, slabinfo's resize trace, nicinfo's mode-change history). Then
trace-cmd and perf, from the host's Debian packages, record them too."""
import json
import mmap
import os
import re
import shutil
import struct
import subprocess
import threading
import time

import pytest

import exo
import nic

TRACEFS = "/sys/kernel/tracing"
DEBUGFS = "/sys/kernel/debug/exofusion"
INSTANCE = "exofusion-test"
NOBODY = 65534
WAIT_DATA, WAIT_SPACE = exo.ABI["EXO_WAIT_DATA"], exo.ABI["EXO_WAIT_SPACE"]
PROD_POS, CONS_POS = 64, 128  # offsetof(exo_ring_header, prod.pos / cons.pos)
SLOT_TYPE, SLOT_LEN, SLOT_DATA = 4, 6, 8  # offsetof(exo_slot, type / len / data)

# Every event and its fields (the format file's, after the common ones).
FIELDS = {
    "ring_create": "name minor uid mode capacity buf_size buf_count region_size perm",
    "ring_destroy": "name minor uid by_uid open_files region_size",
    "ring_sleep": "name uid which timeout_ms sleeps",
    "ring_wake": "name uid which cause wakeups",
    "ring_error": "name uid caller_uid op which reason errors",
    "slab_resize": "cache from to reason tick ops misses contended",
    "slab_shrink": "cache cause nr_to_scan objects pages",
    "nic_mode": "dev from to reason rate_pps batch_x16 policy",
}


def tracefs_root():
    """tracefs, mounted at /sys/kernel/tracing if it is not yet."""
    if not os.path.exists(f"{TRACEFS}/instances"):
        subprocess.run(["mount", "-t", "tracefs", "nodev", TRACEFS], check=True,
                       capture_output=True)
    return TRACEFS


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


# One line of the trace: "<comm>-<pid> [cpu] <flags> <ts>: <event>: k=v k=v ..."
LINE = re.compile(r"^\s*(?P<comm>.*)-(?P<pid>\d+)\s+\[\d+\]\s.*?(?P<ts>\d+\.\d+): "
                  r"(?P<event>\w+): (?P<fields>.*)$")


def parse(text):
    """The exofusion events of a trace's text, oldest first: dicts of their
    printed fields plus "event" and "pid"."""
    out = []
    for line in text.splitlines():
        m = LINE.match(line)
        if not m or m["event"] not in FIELDS:
            continue
        event = dict(word.split("=", 1) for word in m["fields"].split())
        event.update(event=m["event"], pid=int(m["pid"]))
        out.append(event)
    return out


class Tracing:
    """A tracefs instance of its own (its own buffer: other tracers are left
    alone) with every exofusion event on."""

    def __init__(self):
        self.dir = f"{tracefs_root()}/instances/{INSTANCE}"
        if os.path.isdir(self.dir):
            os.rmdir(self.dir)
        os.mkdir(self.dir)
        write(f"{self.dir}/events/exofusion/enable", "1")
        write(f"{self.dir}/trace", "")

    def events(self, name=None, **match):
        with open(f"{self.dir}/trace") as f:
            got = parse(f.read())
        return [e for e in got if (name is None or e["event"] == name)
                and all(e.get(k) == str(v) for k, v in match.items())]

    def one(self, name, **match):
        got = self.events(name, **match)
        assert len(got) == 1, (name, match, self.events())
        return got[0]

    def close(self):
        write(f"{self.dir}/events/exofusion/enable", "0")
        os.rmdir(self.dir)


@pytest.fixture
def tracing(module):
    t = Tracing()
    yield t
    t.close()


def in_child(fn, timeout=20):
    """fn() in a forked child; its JSON-able result (or the exception's text)."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        try:
            out = {"ok": fn(), "pid": os.getpid()}
        except BaseException as e:  # noqa: BLE001: reported to the parent
            out = {"error": repr(e)}
        os.write(wfd, json.dumps(out).encode())
        os._exit(0)
    os.close(wfd)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.02)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        raise AssertionError(f"child did not finish in {timeout} s")
    with os.fdopen(rfd) as r:
        out = json.loads(r.read())
    assert "error" not in out, out["error"]
    return out


def minor(name):
    return os.minor(os.stat(f"/dev/exofusion/{name}").st_rdev)


# --- the events and their formats --------------------------------------------------

def test_every_event_has_its_fields_and_a_format_tools_can_parse(tracing):
    for event, fields in FIELDS.items():
        with open(f"{tracing.dir}/events/exofusion/{event}/format") as f:
            fmt = f.read()
        names = re.findall(r"field:[^;]*?(\w+)(?:\[\d*\])?;", fmt)
        own = [n for n in names if not n.startswith("common_")]
        assert own == fields.split(), (event, fmt)
        # TRACE_DEFINE_ENUM gave user space the values: no enum name is left
        # in the print format for trace-cmd or perf to stumble on.
        printfmt = fmt[fmt.index("print fmt:"):]
        assert not re.search(r"\bEXO_\w+", printfmt), (event, printfmt)


# --- rings ------------------------------------------------------------------------

def test_ring_create_and_destroy_carry_name_minor_sizes_and_both_uids(ring, tracing):
    made = in_child(exo.as_nobody(lambda: exo.create(ring, capacity=16, mode=exo.MPMC,
                                                 buf_size=256, buf_count=4, perm=0o640)))
    region_size, creator = made["ok"], made["pid"]
    m = minor(ring)
    exo.destroy(ring)
    create = tracing.one("ring_create", ring=ring)
    assert create == {"event": "ring_create", "pid": creator, "ring": ring, "minor": str(m),
                      "uid": str(NOBODY), "mode": "mpmc", "capacity": "16",
                      "buf_size": "256", "buf_count": "4", "region_size": str(region_size),
                      "perm": "0640"}
    destroy = tracing.one("ring_destroy", ring=ring)
    assert destroy == {"event": "ring_destroy", "pid": os.getpid(), "ring": ring,
                       "minor": str(m), "uid": str(NOBODY), "by_uid": "0",
                       "open_files": "0", "region_size": str(region_size)}
    kinds = [e["event"] for e in tracing.events() if e.get("ring") == ring]
    assert kinds == ["ring_create", "ring_destroy"]


def test_a_blocking_wait_sleeps_and_the_write_that_ends_it_wakes(ring, tracing):
    exo.create(ring, capacity=8)
    fd = os.open(f"/dev/exofusion/{ring}", os.O_RDWR)
    try:
        results = []

        def sleep():
            results.append(threading.get_native_id())  # its pid in the trace
            results.append(exo.wait(fd, WAIT_DATA, -1))
        sleeper = threading.Thread(target=sleep)
        sleeper.start()
        deadline = time.monotonic() + 20
        while exo.stats(fd)["sleeps"] < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert exo.stats(fd)["sleeps"] == 1
        os.write(fd, b"wake up")
        sleeper.join(20)
        assert len(results) == 2 and results[1] == 0, results
        assert os.read(fd, 4096) == b"wake up"
        # A timed wait on the empty ring: 40 ms is 10 jiffies at HZ=250.
        assert exo.wait(fd, WAIT_DATA, 40_000_000) == 110  # ETIMEDOUT
        # A wake-up asked for by ioctl, of a kind nobody sleeps on.
        exo.ioctl_errno(fd, exo.ABI["EXO_RING_IOC_WAKE"], WAIT_SPACE)
        stats = exo.stats(fd)
    finally:
        os.close(fd)
    sleeps = tracing.events("ring_sleep", ring=ring)
    assert [(s["uid"], s["which"], s["sleeps"]) for s in sleeps] == [
        ("0", "data", "1"), ("0", "data", "2")], sleeps
    assert sleeps[0]["timeout_ms"] == "-1"
    assert 36 <= int(sleeps[1]["timeout_ms"]) <= 44, sleeps[1]
    assert [s["pid"] for s in sleeps] == [results[0], os.getpid()]
    wakes = tracing.events("ring_wake", ring=ring)
    assert [(w["which"], w["cause"], w["pid"]) for w in wakes] == [
        ("data", "peer", os.getpid()), ("space", "peer", os.getpid())], wakes
    assert [w["wakeups"] for w in wakes] == ["1", "2"]
    assert stats["wakeups"] == 2 and stats["sleeps"] == 2


class Mapped:
    """A ring mapped writable, as any user with access can map it."""

    def __init__(self, name, **kw):
        self.size = exo.create(name, **kw)
        self.fd = os.open(f"/dev/exofusion/{name}", os.O_RDWR | os.O_NONBLOCK)
        self.region = mmap.mmap(self.fd, self.size, mmap.MAP_SHARED,
                                mmap.PROT_READ | mmap.PROT_WRITE)
        self.info = exo.info(self.fd)

    def put(self, offset, fmt, value):
        self.region[offset:offset + struct.calcsize(fmt)] = struct.pack(fmt, value)

    def get(self, offset, fmt):
        return struct.unpack(fmt, self.region[offset:offset + struct.calcsize(fmt)])[0]

    def slot(self, pos):
        return self.info["slots_offset"] + (pos & (self.info["capacity"] - 1)) * 64

    def close(self):
        self.region.close()
        os.close(self.fd)


def corrupt_sequence_read(r):
    for i in range(3):
        os.write(r.fd, bytes([i]))
    os.read(r.fd, 4096)
    r.put(r.slot(1), "<I", 1 + 1 + 2)  # published cell 1 holds seq 2: two ahead
    return lambda: os.read(r.fd, 4096)


def corrupt_positions_write(r):
    for _ in range(10):  # past the first lap
        os.write(r.fd, b"a")
        os.read(r.fd, 4096)
    r.put(CONS_POS, "<Q", r.get(PROD_POS, "<Q") + 3)  # a consumer ahead of the producer
    return lambda: os.write(r.fd, b"b")


def corrupt_sequence_wait(r):
    os.write(r.fd, b"a")
    r.put(r.slot(0), "<I", 3)
    return lambda: os.strerror(exo.wait(r.fd, WAIT_DATA, 1_000_000_000))


def corrupt_slot_type(r):
    os.write(r.fd, b"hi")
    r.put(r.slot(0) + SLOT_TYPE, "<B", 9)
    return lambda: os.read(r.fd, 4096)


def corrupt_inline_len(r):
    os.write(r.fd, b"hi")
    r.put(r.slot(0) + SLOT_LEN, "<H", 57)
    return lambda: os.read(r.fd, 4096)


def corrupt_zc_desc(r):
    os.write(r.fd, b"z" * 100)  # over 56 bytes: through a pool buffer
    assert r.get(r.slot(0) + SLOT_TYPE, "<B") == exo.ABI["EXO_MSG_ZEROCOPY"]
    r.put(r.slot(0) + SLOT_DATA, "<I", 99)  # exo_zc_desc.buf: past the pool's 4
    return lambda: os.read(r.fd, 4096)


CORRUPTIONS = {
    # id: (ring, corrupt, op, which, reason)
    "sequence-read": (dict(capacity=8, mode=exo.MPMC), corrupt_sequence_read,
                      "read", "data", "sequence"),
    "positions-write": (dict(capacity=8), corrupt_positions_write, "write", "space", "positions"),
    "sequence-wait": (dict(capacity=8, mode=exo.MPMC), corrupt_sequence_wait,
                      "wait", "data", "sequence"),
    "slot-type": (dict(capacity=8), corrupt_slot_type, "read", "data", "slot-type"),
    "inline-len": (dict(capacity=8), corrupt_inline_len, "read", "data", "inline-len"),
    "zc-desc": (dict(capacity=8, buf_size=256, buf_count=4), corrupt_zc_desc,
                "read", "data", "zc-desc"),
}


@pytest.mark.parametrize("kind", CORRUPTIONS)
def test_ring_error_says_what_was_wrong(ring, tracing, kind):
    params, corrupt, op, which, reason = CORRUPTIONS[kind]
    r = Mapped(ring, **params)
    try:
        call = corrupt(r)
        try:
            got = call()
        except OSError as e:
            got = os.strerror(e.errno)
        assert got == os.strerror(74), got  # EBADMSG
        errors = exo.stats(r.fd)["kernel_errors"]
    finally:
        r.close()
    assert errors == 1
    error = tracing.one("ring_error", ring=ring)
    assert error == {"event": "ring_error", "pid": os.getpid(), "ring": ring, "uid": "0",
                     "caller_uid": "0", "op": op, "which": which, "reason": reason,
                     "errors": "1"}


# --- the slab caches ------------------------------------------------------------------

def slabinfo_resizes(cache):
    """slabinfo's resize trace of |cache| (the core's own history)."""
    with open(f"{DEBUGFS}/slabinfo") as f:
        text = f.read()
    block = text[text.index(f"cache {cache} "):].split("\ncache ", 1)[0]
    out = []
    for line in block.splitlines():
        words = line.split()
        if words[:1] == ["resize"]:
            out.append(dict(zip(words[1::2], words[2::2])))
    return out


RESIZE_KEYS = ("tick", "from", "to", "reason", "ops", "misses", "contended")


def test_slab_resize_and_shrink_agree_with_the_caches_own_history(tracing):
    """A cache under a cross-CPU stress (exo_stress, new: magazine 16, or grown
    by the ticks) takes memory pressure: its magazine halves (slab_resize,
    shrink-pressure) and every cache shrinks (slab_shrink, cause pressure).
    Every resize slabinfo lists for it was traced with the same fields."""
    with open("/sys/module/exofusion/parameters/slab_backend") as f:
        if f.read().strip() != "exo":
            pytest.skip("the kmem backend: no magazines to resize")
    result = []
    stress = threading.Thread(target=lambda: result.append(exo.slab_command("selftest", "stress 4000")))
    stress.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with open(f"{DEBUGFS}/slabinfo") as f:
                if "cache exo_stress " in f.read():
                    break
            time.sleep(0.05)
        time.sleep(1.2)  # a tick or so under load
        exo.slab_command("ctl", "pressure")
        history = slabinfo_resizes("exo_stress")
    finally:
        stress.join(60)
    assert "corrupt 0 leaked 0" in result[0], result
    resizes = tracing.events("slab_resize", cache="exo_stress")
    pressure = [e for e in resizes if e["reason"] == "shrink-pressure"]
    assert len(pressure) == 1, resizes
    assert int(pressure[0]["from"]) >= 16 and int(pressure[0]["to"]) * 2 == int(
        pressure[0]["from"]), pressure
    assert {"ops": "0", "misses": "0", "contended": "0"}.items() <= pressure[0].items()
    for e in resizes:
        grow = e["reason"].startswith("grow-")
        assert int(e["to"]) == int(e["from"]) * (2 if grow else 1) // (1 if grow else 2), e
    traced = [tuple(e[k] for k in RESIZE_KEYS) for e in resizes]
    listed = [tuple(h[k] for k in RESIZE_KEYS) for h in history]
    assert listed and listed == traced[:len(listed)], (listed, traced)
    shrinks = tracing.events("slab_shrink", cause="pressure")
    caches = {e["cache"] for e in shrinks}
    assert {"exo_ring", "exo_stress"} <= caches, shrinks
    assert all(e["nr_to_scan"] == "0" for e in shrinks), shrinks


def test_slab_shrink_of_the_shrinker_adds_up_to_what_it_reported(module, tracing):
    names = [f"tracescan{i}" for i in range(48)]
    for n in names:  # control blocks freed into the depot: something to scan
        exo.create(n)
    for n in names:
        exo.destroy(n)
    words = exo.slab_command("ctl", "scan 24").split()
    assert words[:2] == ["scan", "24"], words
    shrinks = tracing.events("slab_shrink", cause="shrinker")
    assert shrinks and shrinks[0]["nr_to_scan"] == "24", shrinks
    freed = sum(int(e["objects"]) for e in shrinks)
    pages = sum(int(e["pages"]) for e in shrinks)
    if words[2] == "stop":
        assert freed == 0, shrinks
    else:
        assert words[2:] == ["freed", str(freed), "pages", str(pages)], (words, shrinks)
    # Each cache was asked for what the ones before it left of the 24.
    left = 24
    for e in shrinks:
        assert int(e["nr_to_scan"]) == left, shrinks
        left -= int(e["objects"])


# --- the NIC driver ---------------------------------------------------------------------

def test_nic_mode_changes_name_the_interface_modes_rate_and_reason(module, tracing):
    if nic.nic_count() < 2:
        pytest.skip("needs 2 NICs: boot with exovm.py --nics 2 (make check: --nics 4)")
    if not nic.exofusion_has_nic_driver():
        pytest.skip("the exofusion module has no NIC driver")
    if nic.slow_kernel():
        pytest.skip("the debug kernel: a NIC topology takes ~2 min there (test_nic.py "
                    "covers the driver on it)")
    with nic.Topology(nic.EXOFUSION) as net:
        nic.set_policy(net.dut, "timer-poll")
        nic.set_policy(net.dut, "interrupt")
        nic.set_policy(net.dut, nic.ADAPTIVE)
        flood = net.udp_flood(seconds=3)
        assert flood["delivered"] > 0, flood
        history = nic.nicinfo()[net.dut]["history"]
        changes = tracing.events("nic_mode", dev=net.dut)
    forced = [c for c in changes if c["reason"] == "forced"]
    assert [(c["to"], c["policy"]) for c in forced[-2:]] == [
        ("timer-poll", "timer-poll"), ("interrupt", "interrupt")], changes
    assert forced[-1]["from"] == "timer-poll"
    up = [c for c in changes if c["reason"] == "rate-up"]
    assert up and all(int(c["rate_pps"]) > 0 and c["policy"] == "adaptive" for c in up), changes
    # The same changes as the driver's own history (its last 16), field for field.
    keys = ("from", "to", "reason", "rate_pps", "batch_x16")
    traced = [tuple(c[k] for k in keys) for c in changes]
    listed = [tuple(h[k] for k in keys) for h in history]
    run = listed[-min(len(traced), len(listed)):]
    assert len(run) >= 3 and any(traced[i:i + len(run)] == run
                                 for i in range(len(traced))), (traced, listed)


# --- trace-cmd and perf -------------------------------------------------------------------

def make_and_destroy(name):
    """A command that creates and destroys ring |name| (the recorded workload)."""
    code = ("import sys; sys.path.insert(0, %r); import exo; "
            "exo.create(%r, capacity=32); exo.destroy(%r)") % (
                os.path.dirname(os.path.abspath(exo.__file__)), name, name)
    return ["/usr/bin/python3", "-c", code]


def tool_works(cmd, what):
    """Skips (with the reason) when |cmd|, recording a kernel event of the
    kernel's own, cannot run in this guest: then the tool, not the module,
    is what is missing."""
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if res.returncode != 0:
        pytest.skip(f"{what} does not run in this guest: {cmd} exited {res.returncode}: "
                    f"{(res.stderr or res.stdout).strip()[-300:]}")


def check_recorded(text, name):
    """The ring_create and ring_destroy lines of a report, fields and all."""
    create = re.search(rf"ring_create:\s+ring={re.escape(name)} minor=(\d+) uid=0 mode=spsc "
                       rf"capacity=32 buf_size=0 buf_count=0 region_size=(\d+) perm=0600", text)
    destroy = re.search(rf"ring_destroy:\s+ring={re.escape(name)} minor=(\d+) uid=0 by_uid=0 "
                        rf"open_files=0 region_size=(\d+)", text)
    assert create and destroy, text[-3000:]
    assert create.groups() == destroy.groups()


def test_trace_cmd_records_the_events(ring, tmp_path):
    if not shutil.which("trace-cmd"):
        pytest.skip("trace-cmd is not installed (tools/setup.sh installs it)")
    tracefs_root()
    probe = str(tmp_path / "probe.dat")
    tool_works(["trace-cmd", "record", "-q", "-o", probe, "-e", "sched:sched_process_exit",
                "/bin/true"], "trace-cmd")
    out = str(tmp_path / "trace.dat")
    rec = subprocess.run(["trace-cmd", "record", "-q", "-o", out, "-e", "exofusion:*",
                          *make_and_destroy(ring)], capture_output=True, text=True,
                         timeout=300)
    assert rec.returncode == 0, rec.stderr
    report = subprocess.run(["trace-cmd", "report", "-i", out], capture_output=True, text=True,
                            timeout=300)
    assert report.returncode == 0, report.stderr
    check_recorded(report.stdout, ring)


def test_perf_records_the_events(ring, tmp_path):
    if not shutil.which("perf"):
        pytest.skip("perf is not installed")
    probe = str(tmp_path / "probe.data")
    tool_works(["perf", "record", "-q", "-o", probe, "-e", "sched:sched_process_exit",
                "-a", "--", "/bin/true"], "perf")
    out = str(tmp_path / "perf.data")
    rec = subprocess.run(["perf", "record", "-q", "-o", out, "-e", "exofusion:*", "-a", "--",
                          *make_and_destroy(ring)], capture_output=True, text=True, timeout=300)
    assert rec.returncode == 0, rec.stderr
    script = subprocess.run(["perf", "script", "-i", out], capture_output=True, text=True,
                            timeout=300)
    assert script.returncode == 0, script.stderr
    check_recorded(script.stdout, ring)
