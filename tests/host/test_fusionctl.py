"""fusionctl on a machine without the module: help, usage errors (exit 2),
clean failures of the device commands (exit 1), bench --memfd, whose child
checks every message, slab on sample slabinfo files (EXO_SLABINFO,
EXO_SLAB_CTL), nic on a sample sysfs and nicinfo (EXO_NET_SYSFS, EXO_NICINFO),
and top on sample trees of all three (EXO_RING_SYSFS too), its live view under
tmux."""
import json
import mmap
import os
import pathlib
import re
import shutil
import signal
import struct
import subprocess
import tempfile
import time

import pytest

from paths import binary, binary_for_others
from tmux_pane import Pane

FUSIONCTL = binary("fusionctl")
CONTROL = "/dev/exofusion/control"
COMMANDS = ["create", "destroy", "list", "stat", "send", "recv", "bench", "slab", "nic", "top"]
MODULE_LOADED = os.path.exists(CONTROL)
needs_no_module = pytest.mark.skipif(MODULE_LOADED, reason="the exofusion module is loaded here")


def fusionctl(*args, timeout=120, **kw):
    assert FUSIONCTL.exists(), f"{FUSIONCTL} is missing: run 'make build/bin/fusionctl'"
    return subprocess.run([str(FUSIONCTL), *args], capture_output=True, text=True,
                          timeout=timeout, **kw)


def test_help_lists_every_command():
    res = fusionctl("--help")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("usage: fusionctl COMMAND")
    for command in COMMANDS:
        assert re.search(rf"^  {command} ", res.stdout, re.M), command
    assert "exit status: 0 success, 1 runtime failure, 2 usage error" in res.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(command):
    res = fusionctl(command, "--help")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"usage: fusionctl {command}")
    assert "--help" in res.stdout and res.stderr == ""


def test_help_names_the_options_of_each_command():
    expected = {
        "create": ["--capacity N", "--mode MODE", "--buf-size B", "--buf-count N", "--perm MODE"],
        "stat": ["--json", "--owner USER"],
        "send": ["--count N", "--nonblock", "--zerocopy", "MESSAGE|-", "--owner USER"],
        "recv": ["--count N", "--nonblock", "--timeout-ms T", "--hex", "--owner USER"],
        "bench": ["--memfd", "--msgs N", "--batch K", "--size S"],
        "slab": ["[stat|shrink|pressure|tick]", "--json", "EXO_SLABINFO", "EXO_SLAB_CTL",
                 "mount -t debugfs none /sys/kernel/debug", "insmod exofusion.ko"],
        "nic": ["[IFNAME]", "--mode M", "EXO_NET_SYSFS", "EXO_NICINFO",
                "adaptive|interrupt|moderated|timer-poll|busy-poll"],
        "top": ["--interval SECONDS", "--once", "--iterations N", "--json", "EXO_RING_SYSFS",
                "EXO_SLABINFO", "EXO_NET_SYSFS", "C_delta and C_per_s", "rings_gone", "hit_rate_total",
                "rx_packets_per_s", "\"missing\""],
    }
    for command, options in expected.items():
        out = fusionctl(command, "--help").stdout
        for option in options:
            assert option in out, (command, option)


def test_no_command_is_a_usage_error():
    res = fusionctl()
    assert res.returncode == 2
    assert res.stdout == "" and "usage: fusionctl COMMAND" in res.stderr


def test_unknown_command_is_a_usage_error():
    res = fusionctl("frobnicate")
    assert res.returncode == 2
    assert "unknown command 'frobnicate'" in res.stderr


@pytest.mark.parametrize("args, message", [
    (["create"], "missing operand: expected NAME"),
    (["create", "a", "b"], "unexpected operand 'b'"),
    (["create", "a", "--capacity", "12x"], "--capacity: '12x' is not a decimal number"),
    (["create", "a", "--capacity", "-1"], "--capacity: '-1' is not a decimal number"),
    (["create", "a", "--capacity", "+4"], "--capacity: '+4' is not a decimal number"),
    (["create", "a", "--capacity", " 4"], "--capacity: ' 4' is not a decimal number"),
    (["create", "a", "--capacity", "0x10"], "--capacity: '0x10' is not a decimal number"),
    (["create", "a", "--capacity", ""], "--capacity: '' is not a decimal number"),
    (["create", "a", "--capacity", "4294967296"], "--capacity: '4294967296' is out of range"),
    (["create", "a", "--capacity", "99999999999999999999999"], "is out of range"),
    (["create", "a", "--capacity"], "--capacity: missing value N"),
    (["create", "a", "--capacity=12x"], "--capacity: '12x' is not a decimal number"),
    (["create", "a", "--capacity", "4", "--capacity", "8"], "--capacity: given twice"),
    (["create", "a", "--mode", "fifo"], "--mode: 'fifo' is neither spsc nor mpmc"),
    (["create", "a", "--perm", "0800"], "--perm: '0800' is not an octal number"),
    (["create", "a", "--perm", "rw"], "--perm: 'rw' is not an octal number"),
    (["create", "a", "--bogus"], "unknown option '--bogus'"),
    (["destroy"], "missing operand: expected NAME"),
    (["list", "extra"], "unexpected operand 'extra'"),
    (["stat", "a", "--json=yes"], "--json takes no value"),
    (["stat", "a", "--owner", "no-such-user"], "--owner: no user 'no-such-user'"),
    (["send", "a", "x", "--owner", "4294967295"], "--owner: uid '4294967295' is out of range"),
    (["recv", "a", "--owner"], "--owner: missing value USER"),
    (["send", "a"], "missing operand: expected NAME MESSAGE|-"),
    (["send", "a", "m", "--count", "0"], "--count: '0' is out of range"),
    (["send", "a", "m", "--count", "1e3"], "--count: '1e3' is not a decimal number"),
    (["send", "a", "-x"], "unknown option '-x'"),
    (["recv", "a", "--nonblock", "--timeout-ms", "5"], "--nonblock and --timeout-ms exclude"),
    (["recv", "a", "--timeout-ms", "-5"], "--timeout-ms: '-5' is not a decimal number"),
    (["recv", "a", "--timeout-ms", "9223372036855"], "--timeout-ms: '9223372036855' is out of range"),
    (["bench"], "expected a ring NAME or --memfd"),
    (["bench", "a", "--memfd"], "--memfd and a ring NAME exclude each other"),
    (["bench", "--memfd", "--msgs", "0"], "--msgs: '0' is out of range"),
    (["bench", "--memfd", "--batch", "0"], "--batch: '0' is out of range [1, 65536]"),
    (["bench", "--memfd", "--batch", "65537"], "--batch: '65537' is out of range [1, 65536]"),
    (["bench", "--memfd", "--size", "7"], "--size: '7' is out of range [8, 4194304]"),
    (["bench", "--memfd", "--size", "4194305"], "--size: '4194305' is out of range [8, 4194304]"),
    (["bench", "--memfd", "--size", "56B"], "--size: '56B' is not a decimal number"),
    (["slab", "frob"], "unknown slab command 'frob': expected stat, shrink, pressure or tick"),
    (["slab", "stat", "extra"], "unexpected operand 'extra'"),
    (["slab", "shrink", "--json"], "--json goes with 'stat' only, not 'shrink'"),
    (["slab", "--json=yes"], "--json takes no value"),
    (["top", "extra"], "unexpected operand 'extra'"),
    (["top", "--interval", "0"], "--interval: '0' is out of range [0.1, 3600]"),
    (["top", "--interval", "3601"], "--interval: '3601' is out of range [0.1, 3600]"),
    (["top", "--interval", "1e3"], "--interval: '1e3' is not a number of seconds"),
    (["top", "--interval", "-1"], "--interval: '-1' is not a number of seconds"),
    (["top", "--interval", ".5"], "--interval: '.5' is not a number of seconds"),
    (["top", "--interval"], "--interval: missing value SECONDS"),
    (["top", "--iterations", "0"], "--iterations: '0' is out of range"),
    (["top", "--once", "--iterations", "2"], "--once and --iterations exclude each other"),
    (["top", "--json=yes"], "--json takes no value"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_usage_errors_exit_2_naming_the_bad_argument(args, message):
    res = fusionctl(*args)
    assert res.returncode == 2, res.stdout + res.stderr
    assert res.stdout == ""
    assert res.stderr.startswith(f"fusionctl: {args[0]}: ")
    assert message in res.stderr
    assert f"Try 'fusionctl {args[0]} --help'." in res.stderr


@needs_no_module
@pytest.mark.parametrize("args", [
    ["create", "fctl-host"],
    ["create", "fctl-host", "--capacity", "64", "--mode", "mpmc", "--buf-size", "4096",
     "--buf-count", "8", "--perm", "0640"],
    ["destroy", "fctl-host"],
    ["list"],
    ["stat", "fctl-host"],
    ["stat", "fctl-host", "--json"],
    ["send", "fctl-host", "hello"],
    ["send", "fctl-host", "-"],
    ["send", "fctl-host", "--", "-dash"],
    ["recv", "fctl-host"],
    ["recv", "fctl-host", "--timeout-ms", "10"],
    ["bench", "fctl-host"],
    ["top"],
    ["top", "--once", "--json"],
], ids=" ".join)
def test_device_commands_fail_cleanly_without_the_module(args):
    res = fusionctl(*args, input="line\n", timeout=30)
    assert res.returncode == 1, res.stdout + res.stderr
    assert res.stdout == ""
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"fusionctl: {args[0]}: "), res.stderr
    assert "exofusion module" in res.stderr and "loaded" in res.stderr, res.stderr


@needs_no_module
def test_open_failure_names_the_missing_node():
    res = fusionctl("stat", "fctl-host")
    assert res.stderr.startswith(
        "fusionctl: stat: open /dev/exofusion/fctl-host (No such file or directory); ")
    assert "no /dev/exofusion/control" in res.stderr


@pytest.mark.parametrize("args, why", [
    (["--capacity", "1000"], "capacity must be a power of two"),
    (["--buf-size", "100", "--buf-count", "4"], "buf_size must be a multiple of 64"),
    (["--buf-size", "4096"], "buf_size and buf_count must be both zero or both set"),
    (["--perm", "01777"], "perm may hold only permission bits"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_the_library_judges_ring_parameters_and_its_reason_is_shown(args, why):
    # Checked by the library before it looks for the module, so this runs anywhere.
    res = fusionctl("create", "fctl-host", *args)
    assert res.returncode == 1, res.stderr
    assert res.stderr.startswith("fusionctl: create: ring 'fctl-host': ")
    assert why in res.stderr and "(Invalid argument)" in res.stderr


@pytest.mark.parametrize("name, why", [
    ("a/b", "name may hold only [A-Za-z0-9._-]"),
    ("control", "name 'control' is reserved"),
    ("a" * 32, "longer than 31 characters"),
])
def test_bad_ring_names_get_the_librarys_reason(name, why):
    for command in ("create", "destroy", "stat"):
        res = fusionctl(command, name)
        assert res.returncode == 1, (command, res.stderr)
        assert why in res.stderr, (command, res.stderr)


BENCH_RUNS = [
    [],
    ["--batch", "16"],
    ["--batch", "1000"],
    ["--size", "8"],
    ["--size", "15"],
    ["--size", "16"],
    ["--size", "57"],
    ["--size", "4096"],
    ["--size", "1000", "--batch", "8"],
]


@pytest.mark.parametrize("args", BENCH_RUNS, ids=lambda a: " ".join(a) or "default")
def test_bench_memfd_streams_checked_messages(args):
    msgs = 50000 if "--size" in args and int(args[args.index("--size") + 1]) > 56 else 300000
    res = fusionctl("bench", "--memfd", "--msgs", str(msgs), *args, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stderr == ""
    size = args[args.index("--size") + 1] if "--size" in args else "56"
    batch = args[args.index("--batch") + 1] if "--batch" in args else "1"
    kind = "zero-copy" if int(size) > 56 else "inline"
    assert (f"memfd ring (anonymous) (spsc, capacity 1024): {msgs} msgs of {size} B, {kind}, "
            f"batch {batch}") in res.stdout
    assert "every message arrived once, in order, intact" in res.stdout
    rate = re.search(r"^  (\d+) msgs/s, ([\d.]+) ns/msg", res.stdout, re.M)
    assert rate, res.stdout
    assert int(rate.group(1)) > 0 and float(rate.group(2)) > 0


def test_bench_default_is_a_million_messages_and_takes_equals_syntax():
    res = fusionctl("bench", "--memfd", timeout=300)
    assert res.returncode == 0, res.stderr
    assert "1000000 msgs of 56 B, inline, batch 1" in res.stdout
    res = fusionctl("bench", "--memfd", "--msgs=1000", "--batch=4")
    assert res.returncode == 0, res.stderr
    assert "1000 msgs of 56 B, inline, batch 4" in res.stdout


def bench_in_background(*args):
    """An endless bench (10^10 messages), for tests that interfere with it."""
    assert FUSIONCTL.exists()
    proc = subprocess.Popen([str(FUSIONCTL), "bench", "--memfd", "--msgs", "10000000000", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    consumer = None
    deadline = time.monotonic() + 10
    while consumer is None and time.monotonic() < deadline:
        consumer = next(iter(children(proc.pid)), None)
        time.sleep(0.05)
    assert consumer, "bench forked no consumer"
    time.sleep(0.2)  # into the stream
    return proc, consumer


def children(pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def finish(proc, timeout=30):
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        for child in children(proc.pid):
            os.kill(child, signal.SIGKILL)
        proc.kill()
        proc.communicate()
        pytest.fail("bench did not stop")
    return proc.returncode, out, err


def ring_memfd(pid):
    """The bench's ring, through /proc: (mapping of its region, info fields)."""
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if "fusionctl-bench" in target:
            ring = os.open(f"/proc/{pid}/fd/{fd}", os.O_RDWR)
            try:
                # struct exo_ring_info: 8 x u32 (magic .. reserved0), 4 x u64 offsets/size
                info = struct.unpack("IIIIIIIIQQQQ", os.pread(ring, 64, 0))
                return mmap.mmap(ring, info[11]), info
            finally:
                os.close(ring)
    pytest.fail("no memfd ring in the bench process")


def test_bench_detects_corrupted_content():
    proc, _ = bench_in_background()
    region, info = ring_memfd(proc.pid)
    capacity, slots_offset = info[3], info[8]
    # Scribble on the payload bytes 8..15 of every slot (the slot's data
    # starts 8 bytes in: past the sequence number of the message), never on
    # the slot headers, so the ring protocol itself goes on.
    deadline = time.monotonic() + 20
    while proc.poll() is None and time.monotonic() < deadline:
        for i in range(capacity):
            off = slots_offset + i * 64 + 16
            region[off:off + 8] = b"\xa5" * 8
    region.close()
    code, out, err = finish(proc)
    assert code == 1, out + err
    assert "corrupt content" in err and "stopped after 5 wrong messages" in err, err
    assert "every message arrived" not in out


def test_bench_reports_a_killed_consumer():
    proc, consumer = bench_in_background()
    os.kill(consumer, signal.SIGKILL)
    code, out, err = finish(proc)
    assert code == 1
    assert "fusionctl: bench: the consumer was killed by signal 9" in err, err


def test_bench_consumer_ends_when_the_sender_dies():
    proc, consumer = bench_in_background("--size", "1000")
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            state = open(f"/proc/{consumer}/stat").read().rsplit(")", 1)[1].split()[0]
        except OSError:
            break
        if state == "Z":
            break
        time.sleep(0.02)
    else:
        os.kill(consumer, signal.SIGKILL)
        pytest.fail("the consumer outlived its sender")


# --- slab: the module's slab caches, from a sample of its debugfs files ---

SLABINFO = """\
pages 5
cache exo_ring size 272 stride 296 per_slab 13 order 0 magazine 16 debug 1
  cpu alloc_hits 30 free_hits 10 alloc_misses 6 free_misses 4
  depot full 1 empty 2 cached 16 exchanges 7 contended 3 magazines 5
  slabs allocs 16 frees 0 slabs 2 empty 0 pages 2 pages_allocated 2 pages_freed 0 in_use 16 bytes 8192
  debug reports 0 ticks 12
  resize tick 3 from 16 to 32 reason grow-misses ops 5000 misses 400 contended 0
  resize tick 9 from 32 to 16 reason shrink-idle ops 0 misses 0 contended 0
cache exo_bench size 64 stride 64 per_slab 64 order 0 magazine 8 debug 0
  cpu alloc_hits 0 free_hits 0 alloc_misses 0 free_misses 0
  depot full 0 empty 0 cached 0 exchanges 0 contended 0 magazines 0
  slabs allocs 64 frees 0 slabs 3 empty 1 pages 3 pages_allocated 3 pages_freed 0 in_use 0 bytes 12288
  debug reports 2 ticks 1
"""

EXO_RING = {
    "name": "exo_ring", "size": 272, "stride": 296, "per_slab": 13, "order": 0, "magazine": 16,
    "debug": 1,
    "cpu_alloc_hits": 30, "cpu_free_hits": 10, "cpu_alloc_misses": 6, "cpu_free_misses": 4,
    "depot_full": 1, "depot_empty": 2, "depot_cached": 16, "depot_exchanges": 7,
    "depot_contended": 3, "depot_magazines": 5,
    "slabs_allocs": 16, "slabs_frees": 0, "slabs_slabs": 2, "slabs_empty": 0, "slabs_pages": 2,
    "slabs_pages_allocated": 2, "slabs_pages_freed": 0, "slabs_in_use": 16, "slabs_bytes": 8192,
    "debug_reports": 0, "debug_ticks": 12,
    "resizes": [
        {"tick": 3, "from": 16, "to": 32, "reason": "grow-misses", "ops": 5000, "misses": 400,
         "contended": 0},
        {"tick": 9, "from": 32, "to": 16, "reason": "shrink-idle", "ops": 0, "misses": 0,
         "contended": 0},
    ],
}


def slab(*args, info=None, ctl=None, **kw):
    """fusionctl slab ARGS, reading |info| (text of a slabinfo file, or a path) and
    writing to |ctl| (a path) instead of the module's debugfs files."""
    env = {k: v for k, v in os.environ.items() if k not in ("EXO_SLABINFO", "EXO_SLAB_CTL")}
    if info is not None:
        env["EXO_SLABINFO"] = str(info)
    if ctl is not None:
        env["EXO_SLAB_CTL"] = str(ctl)
    return fusionctl("slab", *args, env=env, timeout=30, **kw)


@pytest.fixture
def sample(tmp_path):
    """Writes a slabinfo sample; returns its path."""
    def write(text=SLABINFO):
        path = tmp_path / "slabinfo"
        path.write_text(text)
        return path
    return write


def test_slab_json_holds_every_field_and_the_resize_trace(sample):
    res = slab("--json", info=sample())
    assert res.returncode == 0 and res.stderr == "", res.stderr
    got = json.loads(res.stdout)
    assert list(got) == ["pages", "caches"] and got["pages"] == 5
    assert [c["name"] for c in got["caches"]] == ["exo_ring", "exo_bench"]
    assert got["caches"][0] == EXO_RING
    assert list(got["caches"][0]) == list(EXO_RING)  # in the file's order
    bench = got["caches"][1]
    assert bench["resizes"] == []
    assert (bench["magazine"], bench["debug"], bench["slabs_empty"], bench["slabs_bytes"],
            bench["debug_reports"]) == (8, 0, 1, 12288, 2)
    # 'stat' is the default.
    assert slab("stat", "--json", info=sample()).stdout == res.stdout


def test_slab_table_shows_the_three_levels_and_the_resize_trace(sample):
    res = slab(info=sample())
    assert res.returncode == 0 and res.stderr == "", res.stderr
    lines = res.stdout.splitlines()
    assert lines[0] == "slab caches: 2, pages held: 5"
    ring = lines[lines.index(
        "exo_ring: size 272, stride 296, per slab 13, order 0, magazine 16, debug on"):]
    # 40 hits of 50 operations
    assert ring[1] == "  cpu    hit rate 80.0% (alloc hits 30, misses 6; free hits 10, misses 4)"
    assert ring[2] == ("  depot  magazines 5 (full 1, empty 2), cached 16, exchanges 7, "
                       "contended 3")
    assert ring[3] == "  slabs  slabs 2 (empty 0), pages 2, bytes 8192, in use 16"
    assert ring[4] == "  debug  reports 0, ticks 12"
    assert ring[5] == "  magazine resizes, oldest first:"
    assert ring[6].split() == ["TICK", "FROM", "TO", "REASON", "OPS", "MISSES", "CONTENDED"]
    assert ring[7].split() == ["3", "16", "32", "grow-misses", "5000", "400", "0"]
    assert ring[8].split() == ["9", "32", "16", "shrink-idle", "0", "0", "0"]
    bench = lines[lines.index(
        "exo_bench: size 64, stride 64, per slab 64, order 0, magazine 8, debug off"):]
    assert bench[1].startswith("  cpu    hit rate - (")  # no operations yet
    assert bench[3] == "  slabs  slabs 3 (empty 1), pages 3, bytes 12288, in use 0"
    assert bench[5] == "  magazine resizes: none"


def test_slab_without_caches(sample):
    path = sample("pages 0\n")
    assert slab(info=path).stdout == "slab caches: 0, pages held: 0\n"
    assert json.loads(slab("--json", info=path).stdout) == {"pages": 0, "caches": []}


def test_slab_keeps_fields_and_sections_it_does_not_know(sample):
    text = SLABINFO.replace("free_misses 4", "free_misses 4 cached 9")
    text = text.replace("ticks 12\n", "ticks 12\n  numa nodes 2\n")
    text = text.replace("cache exo_bench ", 'cache exo"b\\ench ')
    res = slab("--json", info=sample(text))
    assert res.returncode == 0, res.stderr
    ring, bench = json.loads(res.stdout)["caches"]
    assert ring["cpu_cached"] == 9 and ring["numa_nodes"] == 2
    assert bench["name"] == 'exo"b\\ench'


def test_slab_missing_file_is_named(tmp_path):
    missing = tmp_path / "no-such-slabinfo"
    res = slab(info=missing)
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr == (f"fusionctl: slab: cannot read EXO_SLABINFO={missing} "
                          "(No such file or directory)\n")
    res = slab("shrink", ctl=missing)
    assert res.returncode == 1
    assert res.stderr == (f"fusionctl: slab: cannot write EXO_SLAB_CTL={missing} "
                          "(No such file or directory)\n")


@needs_no_module
@pytest.mark.parametrize("args, verb, path", [
    ([], "read", "/sys/kernel/debug/exofusion/slabinfo"),
    (["--json"], "read", "/sys/kernel/debug/exofusion/slabinfo"),
    (["shrink"], "write", "/sys/kernel/debug/exofusion/slab_ctl"),
    (["pressure"], "write", "/sys/kernel/debug/exofusion/slab_ctl"),
    (["tick"], "write", "/sys/kernel/debug/exofusion/slab_ctl"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_slab_without_the_module_says_what_to_do(args, verb, path):
    res = slab(*args)
    assert res.returncode == 1, res.stdout + res.stderr
    assert res.stdout == ""
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"fusionctl: slab: cannot {verb} {path} ("), \
        res.stderr
    # Whichever is missing here: debugfs, or the module.
    assert ("debugfs is not mounted at /sys/kernel/debug; mount it with "
            "'mount -t debugfs none /sys/kernel/debug'" in res.stderr or
            "the exofusion module is not loaded; load it with 'insmod exofusion.ko'"
            in res.stderr), res.stderr


@pytest.fixture
def unprivileged():
    """A world-traversable directory, and subprocess arguments that run
    fusionctl without root's powers: only the mode of a file in that
    directory can deny them (not the checkout's or pytest's private ones)."""
    where = pathlib.Path(tempfile.mkdtemp(prefix="fusionctl-nobody-", dir="/tmp"))
    where.chmod(0o755)
    kw = {"executable": str(binary_for_others("fusionctl"))}
    if os.geteuid() == 0:
        kw.update(user=65534, group=65534, extra_groups=[])
    yield where, kw
    shutil.rmtree(where)


def test_slab_unreadable_file_needs_root(unprivileged):
    where, kw = unprivileged
    path = where / "slabinfo"
    path.write_text(SLABINFO)
    path.chmod(0o600 if os.geteuid() == 0 else 0)
    res = slab(info=path, **kw)
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr == (f"fusionctl: slab: cannot read EXO_SLABINFO={path} (Permission denied): "
                          "run fusionctl as root\n")


def shown(text):
    """Text from the file as fusionctl shows it in a message."""
    text = "".join(c if " " <= c < "\x7f" else "?" for c in text)
    return text if len(text) <= 200 else text[:197] + "..."


@pytest.mark.parametrize("edit, line, why", [
    (("pages 5", "pages five"), 1, "expected 'pages N' first"),
    (("pages 5\n", ""), 1, "expected 'pages N' first"),
    (("free_hits 10", "free_hits 1x"), 3,
     "the value of 'free_hits', '1x', is not a decimal number"),
    (("cached 16", "cached -1"), 4, "the value of 'cached', '-1', is not a decimal number"),
    (("in_use 16", "in_use 99999999999999999999"), 5,
     "the value of 'in_use', '99999999999999999999', is not a decimal number"),
    (("ticks 12", "ticks"), 6, "'ticks' has no value"),
    (("contended 3", "contended 3 contended 4"), 4, "'contended' given twice"),
    ((" to 32", ""), 7, "no 'to' in the 'resize' line"),
    (("magazine 16 ", ""), 2, "no 'magazine' in the 'cache' line"),
    (("  debug reports 0 ticks 12\n", ""), 2, "cache exo_ring has no 'debug' line"),
    (("  depot full 0", "  cpu alloc_hits 0 free_hits 0 alloc_misses 0 free_misses 0\n"
      "  depot full 0"), 11, "a second 'cpu' line in cache exo_bench"),
    (("pages 5\n", "pages 5\n  cpu alloc_hits 1\n"), 2, "a 'cpu' line before any 'cache' line"),
    (("pages 5\n", "pages 5\npages 6\n"), 2, "a second 'pages' line"),
    (("cache exo_bench size", "cache exo_bench 64 size"), 9, "'64' is not a field name"),
    (("debug reports 2 ticks 1", "debug reports 2 ticks 1 \x01 1"), 13,
     "'?' is not a field name"),
    (("pages 5\n", "pages 5\n" + "x" * 300 + "\n"), 2,
     "a '" + "x" * 300 + "' line before any 'cache' line"),
], ids=lambda v: v[1].strip()[:40] if isinstance(v, tuple) else None)
def test_slab_names_the_malformed_line(sample, edit, line, why):
    text = SLABINFO.replace(*edit, 1)
    assert text != SLABINFO
    path = sample(text)
    for args in ([], ["--json"]):
        res = slab(*args, info=path)
        assert res.returncode == 1, res.stdout
        assert res.stdout == ""
        assert res.stderr == (f"fusionctl: slab: malformed {path}, line {line}: "
                              f"{shown(why)}: '{shown(text.splitlines()[line - 1])}'\n")


def test_slab_empty_file(sample):
    path = sample("")
    res = slab(info=path)
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr == (f"fusionctl: slab: malformed {path}: the file is empty; "
                          "expected 'pages N' first\n")


@pytest.mark.parametrize("command", ["shrink", "pressure", "tick"])
def test_slab_commands_are_written_to_slab_ctl(tmp_path, command):
    ctl = tmp_path / "slab_ctl"
    ctl.write_text("")
    res = slab(command, ctl=ctl, info=tmp_path / "never-read")
    assert res.returncode == 0, res.stderr
    assert res.stdout == res.stderr == ""
    assert ctl.read_text() == command


def test_slab_ctl_write_failure_is_reported():
    res = slab("tick", ctl="/dev/full")
    assert res.returncode == 1
    assert res.stderr == ("fusionctl: slab: writing 'tick' to /dev/full failed "
                          "(No space left on device)\n")


def test_slab_ctl_unwritable_needs_root(unprivileged):
    where, kw = unprivileged
    ctl = where / "slab_ctl"
    ctl.write_text("")
    ctl.chmod(0o600 if os.geteuid() == 0 else 0o400)
    res = slab("shrink", ctl=ctl, **kw)
    assert res.returncode == 1
    assert res.stderr == (f"fusionctl: slab: cannot write EXO_SLAB_CTL={ctl} (Permission denied): "
                          "run fusionctl as root\n")
    assert ctl.read_text() == ""


# --- nic: the module's NICs, from a sample sysfs tree and nicinfo file ---

NIC_VALUES = {
    "eth1": {"policy": "adaptive", "mode": "timer-poll", "rate_pps": "61234", "batch_x16": "84",
             "irq_rate": "0", "mode_changes": "3", "irqs": "1200", "polls": "90000", "busy_polls": "0",
             "timer_polls": "88000"},
    "eth2": {"policy": "moderated", "mode": "moderated", "rate_pps": "0", "batch_x16": "0",
             "irq_rate": "2", "mode_changes": "1", "irqs": "7", "polls": "7", "busy_polls": "2",
             "timer_polls": "0"},
}

NICINFO = """\
nic eth1 pci 0000:00:11.0 policy adaptive mode timer-poll rate_pps 61234 batch_x16 84 irq_rate 0 changes 3 irqs 1200 polls 90000 busy_polls 0 timer_polls 88000
  change time_ns 5000000000 from interrupt to moderated reason rate-up rate_pps 14000 batch_x16 16
  change time_ns 5250000000 from moderated to timer-poll reason rate-up rate_pps 45000 batch_x16 40
  change time_ns 12000123456 from timer-poll to interrupt reason idle rate_pps 0 batch_x16 0
nic eth2 pci 0000:00:12.0 policy moderated mode moderated rate_pps 0 batch_x16 0 changes 1 irqs 7 polls 7 busy_polls 2 timer_polls 0
"""


@pytest.fixture
def nic_tree(tmp_path):
    """A sysfs sample: eth1 and eth2 driven by exofusion, eth0 by e1000, lo
    with no device; and a nicinfo file. Returns (net dir, nicinfo path)."""
    net = tmp_path / "class" / "net"
    devices = tmp_path / "devices"
    drivers = tmp_path / "drivers"
    for d in ("e1000", "exofusion"):
        (drivers / d).mkdir(parents=True)
    for name, slot, driver in (("eth0", "0000:00:10.0", "e1000"),
                               ("eth1", "0000:00:11.0", "exofusion"),
                               ("eth2", "0000:00:12.0", "exofusion")):
        dev = devices / slot
        dev.mkdir(parents=True)
        (dev / "driver").symlink_to(drivers / driver)
        (net / name).mkdir(parents=True)
        (net / name / "device").symlink_to(dev)
        for key, value in NIC_VALUES.get(name, {}).items():
            (net / name / "exofusion").mkdir(exist_ok=True)
            (net / name / "exofusion" / key).write_text(value + "\n")
    (net / "lo").mkdir()
    nicinfo = tmp_path / "nicinfo"
    nicinfo.write_text(NICINFO)
    return net, nicinfo


def nic(*args, net, nicinfo=None, **kw):
    env = {k: v for k, v in os.environ.items() if k not in ("EXO_NET_SYSFS", "EXO_NICINFO")}
    env["EXO_NET_SYSFS"] = str(net)
    env["EXO_NICINFO"] = str(nicinfo if nicinfo is not None else net / "no-nicinfo")
    return fusionctl("nic", *args, env=env, timeout=30, **kw)


ETH1 = [
    "eth1: pci 0000:00:11.0, policy adaptive, mode timer-poll",
    "  rate 61234 pps, batch 5.25 packets/poll, 0 interrupts/s, mode changes 3",
    "  irqs 1200, polls 90000 (busy 0), timer polls 88000",
    "  mode changes, oldest first:",
]
ETH1_HISTORY = [
    ["5.000000", "interrupt", "moderated", "rate-up", "14000", "1.00"],
    ["5.250000", "moderated", "timer-poll", "rate-up", "45000", "2.50"],
    ["12.000123", "timer-poll", "interrupt", "idle", "0", "0.00"],
]
ETH2 = [
    "eth2: pci 0000:00:12.0, policy moderated, mode moderated",
    "  rate 0 pps, batch 0.00 packets/poll, 2 interrupts/s, mode changes 1",
    "  irqs 7, polls 7 (busy 2), timer polls 0",
    "  mode changes: none",
]


def test_nic_lists_every_exofusion_nic_with_its_history(nic_tree):
    net, nicinfo = nic_tree
    res = nic(net=net, nicinfo=nicinfo)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    lines = res.stdout.splitlines()
    assert lines[:4] == ETH1
    assert lines[4].split() == ["TIME_S", "FROM", "TO", "REASON", "RATE_PPS", "BATCH"]
    assert [line.split() for line in lines[5:8]] == ETH1_HISTORY
    assert lines[8:] == [""] + ETH2  # eth0 (e1000) and lo are not listed


def test_nic_one_interface(nic_tree):
    net, nicinfo = nic_tree
    res = nic("eth2", net=net, nicinfo=nicinfo)
    assert res.returncode == 0 and res.stderr == "", res.stderr
    assert res.stdout.splitlines() == ETH2
    res = nic("eth1", net=net, nicinfo=nicinfo)
    assert res.stdout.splitlines()[:4] == ETH1 and "eth2" not in res.stdout


def test_nic_without_nicinfo_shows_sysfs_and_says_why(nic_tree):
    net, _ = nic_tree
    missing = net / "no-nicinfo"
    res = nic("eth1", net=net, nicinfo=missing)
    assert res.returncode == 0
    why = f"cannot read EXO_NICINFO={missing} (No such file or directory)"
    assert res.stdout.splitlines() == ETH1[:3] + [f"  mode changes: history unavailable ({why})"]
    assert res.stderr == f"fusionctl: nic: {why}\n"


def test_nic_malformed_nicinfo_names_the_line(nic_tree):
    net, nicinfo = nic_tree
    nicinfo.write_text(NICINFO.replace("rate_pps 45000", "rate_pps 4x"))
    res = nic("eth1", net=net, nicinfo=nicinfo)
    assert res.returncode == 0
    line = NICINFO.splitlines()[2].replace("45000", "4x")
    assert res.stderr == (f"fusionctl: nic: malformed {nicinfo}, line 3: the value of 'rate_pps' "
                          f"is not a decimal number: '{line}'\n")
    nicinfo.write_text("  change time_ns 1 from a to b reason c rate_pps 1 batch_x16 1\n")
    res = nic("eth1", net=net, nicinfo=nicinfo)
    assert "line 1: a change line before any nic line" in res.stderr


def test_nic_without_any(tmp_path):
    net = tmp_path / "net"
    (net / "lo").mkdir(parents=True)
    res = nic(net=net)
    assert res.returncode == 0 and res.stderr == ""
    assert res.stdout == f"no exofusion NIC (none of {net}/*/exofusion/)\n"


@pytest.mark.parametrize("mode", ["adaptive", "interrupt", "moderated", "timer-poll", "busy-poll"])
def test_nic_mode_writes_the_policy(nic_tree, mode):
    net, nicinfo = nic_tree
    res = nic("eth1", "--mode", mode, net=net, nicinfo=nicinfo)
    assert res.returncode == 0, res.stderr
    assert res.stdout == res.stderr == ""
    assert (net / "eth1" / "exofusion" / "policy").read_text() == mode
    assert (net / "eth2" / "exofusion" / "policy").read_text() == "moderated\n"  # untouched


def test_nic_unknown_interface(nic_tree):
    net, _ = nic_tree
    for args in (["eth9"], ["eth9", "--mode", "interrupt"]):
        res = nic(*args, net=net)
        assert res.returncode == 1 and res.stdout == ""
        assert res.stderr == (f"fusionctl: nic: unknown interface 'eth9': no {net}/eth9 "
                              "(No such file or directory)\n")


def test_nic_not_an_exofusion_nic(nic_tree):
    net, _ = nic_tree
    res = nic("eth0", "--mode", "adaptive", net=net)
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr == (f"fusionctl: nic: eth0 is not an exofusion NIC: no {net}/eth0/exofusion "
                          "(No such file or directory); its driver is e1000\n")
    res = nic("lo", net=net)
    assert res.returncode == 1
    assert res.stderr == (f"fusionctl: nic: lo is not an exofusion NIC: no {net}/lo/exofusion "
                          "(No such file or directory)\n")


def test_nic_unknown_mode(nic_tree):
    net, _ = nic_tree
    res = nic("eth1", "--mode", "turbo", net=net)
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.splitlines() == [
        "fusionctl: nic: --mode: unknown mode 'turbo' (Invalid argument): expected adaptive, "
        "interrupt, moderated, timer-poll or busy-poll",
        "Try 'fusionctl nic --help'."]
    assert (net / "eth1" / "exofusion" / "policy").read_text() == "adaptive\n"


def test_nic_usage_errors(nic_tree):
    net, _ = nic_tree
    res = nic("--mode", "interrupt", net=net)
    assert res.returncode == 2
    assert "--mode needs an interface" in res.stderr
    res = nic("eth1", "eth2", net=net)
    assert res.returncode == 2 and "unexpected operand 'eth2'" in res.stderr


def test_nic_bad_sysfs_value(nic_tree):
    net, _ = nic_tree
    (net / "eth1" / "exofusion" / "irqs").write_text("lots\n")
    res = nic("eth1", net=net)
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr == (f"fusionctl: nic: {net}/eth1/exofusion/irqs: 'lots' is not a decimal "
                          "number (Invalid argument)\n")
    (net / "eth1" / "exofusion" / "mode").unlink()
    res = nic(net=net)
    assert res.returncode == 1
    assert res.stderr == (f"fusionctl: nic: cannot read {net}/eth1/exofusion/mode "
                          "(No such file or directory)\n")


def test_nic_policy_write_failure_is_reported(nic_tree):
    net, _ = nic_tree
    policy = net / "eth1" / "exofusion" / "policy"
    policy.unlink()
    policy.symlink_to("/dev/full")
    res = nic("eth1", "--mode", "interrupt", net=net)
    assert res.returncode == 1
    assert res.stderr == (f"fusionctl: nic: writing 'interrupt' to {policy} failed "
                          "(No space left on device)\n")


def test_nic_policy_unwritable_needs_root(unprivileged):
    where, kw = unprivileged
    ours = where / "net" / "eth1" / "exofusion"
    ours.mkdir(parents=True)
    for key, value in NIC_VALUES["eth1"].items():
        (ours / key).write_text(value + "\n")
    for d in (where / "net", where / "net" / "eth1", ours):
        d.chmod(0o755)
    for f in ours.iterdir():
        f.chmod(0o644)
    res = nic("eth1", "--mode", "interrupt", net=where / "net", **kw)
    assert res.returncode == 1
    assert res.stderr == (f"fusionctl: nic: cannot write {ours}/policy (Permission denied): "
                          "run fusionctl as root\n")


# --- top: rates between samples, from sample trees of rings, slab caches and NICs ---

RING_COUNTERS = ["messages", "received", "batches", "full_events", "empty_events", "sleeps",
                 "wakeups", "kernel_errors", "region_size", "capacity", "buf_size", "buf_count",
                 "open_count", "owner_uid"]
RATED = ["messages", "received", "sleeps", "wakeups", "kernel_errors"]


def set_ring(rings, name, mode="spsc", **values):
    """Writes ring |name|'s stats/ in the sample tree |rings| (counters not
    given keep their value, or are 0)."""
    stats = rings / name / "stats"
    stats.mkdir(parents=True, exist_ok=True)
    (stats / "mode").write_text(mode + "\n")
    for key in RING_COUNTERS:
        if key in values or not (stats / key).exists():
            (stats / key).write_text(f"{values.get(key, 0)}\n")


@pytest.fixture
def top_tree(nic_tree, tmp_path):
    """Sample trees for top: two rings, the slabinfo sample, the NIC tree
    (eth1 with statistics/, eth2 without). Returns a dict of the paths."""
    net, _ = nic_tree
    rings = tmp_path / "class" / "exofusion"
    set_ring(rings, "alpha", capacity=1024, open_count=2, messages=10, received=5)
    set_ring(rings, "beta", mode="mpmc", capacity=64, owner_uid=1000)
    statistics = net / "eth1" / "statistics"
    statistics.mkdir()
    (statistics / "rx_packets").write_text("1000\n")
    (statistics / "tx_packets").write_text("50\n")
    slabinfo = tmp_path / "slabinfo"
    slabinfo.write_text(SLABINFO)
    return {"rings": rings, "net": net, "slabinfo": slabinfo}


def top_env(tree, **overrides):
    env = {k: v for k, v in os.environ.items()
           if k not in ("EXO_RING_SYSFS", "EXO_SLABINFO", "EXO_NET_SYSFS")}
    paths = {"EXO_RING_SYSFS": tree["rings"], "EXO_SLABINFO": tree["slabinfo"],
             "EXO_NET_SYSFS": tree["net"], **overrides}
    env.update({k: str(v) for k, v in paths.items()})
    return env


def top(tree, *args, env=None, **kw):
    return fusionctl("top", *args, env=env or top_env(tree), timeout=60, **kw)


class Reports:
    """fusionctl top --json in the background, one report (a line) at a time."""

    def __init__(self, tree, *args, env=None):
        self.proc = subprocess.Popen([str(FUSIONCTL), "top", "--json", *args],
                                     env=env or top_env(tree), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)

    def next(self):
        line = self.proc.stdout.readline()
        assert line, f"top ended early: {self.proc.wait(30)}, {self.proc.stderr.read()}"
        return json.loads(line)

    def finish(self):
        rest = self.proc.stdout.read()
        assert self.proc.wait(30) == 0, self.proc.stderr.read()
        assert rest == ""
        assert self.proc.stderr.read() == ""


def changed_before(report, done):
    """The changes made by |done| (time.monotonic(), CLOCK_MONOTONIC as top's
    "time") fell between the samples of |report|: else its deltas cannot be
    checked exactly (the interval was too short for this machine)."""
    assert report["time"] - report["interval_s"] < done < report["time"], (report, done)


def test_top_json_reports_the_counters_deltas_between_two_samples(top_tree):
    reports = Reports(top_tree, "--interval", "1", "--iterations", "4")
    first = reports.next()
    assert list(first) == ["time", "interval_s", "rings", "rings_gone", "slab", "nics", "missing"]
    assert 0.9 < first["interval_s"] < 10
    alpha, beta = first["rings"]
    assert (alpha["name"], alpha["mode"], alpha["capacity"], alpha["open_count"]) == \
        ("alpha", "spsc", 1024, 2)
    assert (beta["name"], beta["mode"], beta["capacity"], beta["owner_uid"]) == \
        ("beta", "mpmc", 64, 1000)
    for key in RATED:  # nothing moved yet
        assert alpha[f"{key}_delta"] == 0 and alpha[f"{key}_per_s"] == 0, key
    assert alpha["messages"] == 10 and alpha["received"] == 5 and alpha["new"] is False
    assert first["rings_gone"] == [] and first["missing"] == []

    # Between this report's sample and the next: messages, sleeps, wake-ups,
    # an error on alpha; beta destroyed; gamma created; the slab caches and
    # eth1 at work.
    set_ring(top_tree["rings"], "alpha", messages=110, received=65, sleeps=3, wakeups=2,
             kernel_errors=1)
    shutil.rmtree(top_tree["rings"] / "beta")
    set_ring(top_tree["rings"], "gamma", messages=7)
    top_tree["slabinfo"].write_text(SLABINFO.replace("alloc_hits 30", "alloc_hits 60").replace(
        "alloc_misses 6", "alloc_misses 16").replace("magazine 16", "magazine 32"))
    (top_tree["net"] / "eth1" / "statistics" / "rx_packets").write_text("3000\n")
    done = time.monotonic()

    second = reports.next()
    changed_before(second, done)
    interval = second["interval_s"]
    alpha, gamma = second["rings"]
    deltas = {"messages": 100, "received": 60, "sleeps": 3, "wakeups": 2, "kernel_errors": 1}
    for key, delta in deltas.items():
        assert alpha[f"{key}_delta"] == delta, key
        assert alpha[f"{key}_per_s"] == pytest.approx(delta / interval, rel=1e-3, abs=1e-3), key
    assert second["rings_gone"] == ["beta"]
    assert gamma["name"] == "gamma" and gamma["new"] is True and gamma["messages"] == 7
    assert all(gamma[f"{key}_delta"] is None and gamma[f"{key}_per_s"] is None for key in RATED)

    ring_cache, bench_cache = second["slab"]["caches"]
    assert second["slab"]["pages"] == 5
    # 40 more operations, 30 of them hits; 70 hits of 90 since load.
    assert (ring_cache["name"], ring_cache["magazine"], ring_cache["ops_delta"]) == \
        ("exo_ring", 32, 40)
    assert ring_cache["ops_per_s"] == pytest.approx(40 / interval, rel=1e-3)
    assert ring_cache["hit_rate"] == 75.0
    assert ring_cache["hit_rate_total"] == pytest.approx(100 * 70 / 90, abs=0.01)
    assert (ring_cache["hits"], ring_cache["misses"], ring_cache["in_use"]) == (70, 20, 16)
    assert bench_cache["ops_delta"] == 0 and bench_cache["hit_rate"] is None
    assert bench_cache["hit_rate_total"] is None and bench_cache["magazine"] == 8

    eth1, eth2 = second["nics"]
    assert (eth1["name"], eth1["policy"], eth1["mode"], eth1["rate_pps"], eth1["pci"]) == \
        ("eth1", "adaptive", "timer-poll", 61234, "0000:00:11.0")
    assert eth1["rx_packets"] == 3000 and eth1["tx_packets"] == 50
    assert eth1["rx_packets_per_s"] == pytest.approx(2000 / interval, rel=1e-3)
    assert eth1["tx_packets_per_s"] == 0
    assert eth2["mode"] == "moderated" and eth2["rx_packets"] is None
    assert eth2["rx_packets_per_s"] is None  # no statistics/

    # alpha destroyed and created again under its name: its counters went
    # back, so it is new, not a ring whose counters fell.
    set_ring(top_tree["rings"], "alpha", messages=3, received=0, sleeps=0, wakeups=0,
             kernel_errors=0)
    done = time.monotonic()
    third = reports.next()
    changed_before(third, done)
    alpha = third["rings"][0]
    assert alpha["name"] == "alpha" and alpha["messages"] == 3
    assert alpha["messages_delta"] is None and alpha["messages_per_s"] is None
    assert third["rings"][1]["new"] is False and third["rings"][1]["messages_delta"] == 0

    # gamma destroyed and created again with more messages than it had: its
    # stats/ is another directory (as kernfs makes a new one), so it is a
    # new ring, not one that sent 93 messages.
    set_ring(top_tree["rings"], "gamma.new", messages=100)
    shutil.rmtree(top_tree["rings"] / "gamma")
    (top_tree["rings"] / "gamma.new").rename(top_tree["rings"] / "gamma")
    done = time.monotonic()
    fourth = reports.next()
    changed_before(fourth, done)
    gamma = fourth["rings"][1]
    assert gamma["name"] == "gamma" and gamma["messages"] == 100 and gamma["new"] is True
    assert gamma["messages_delta"] is None and gamma["messages_per_s"] is None
    assert fourth["rings_gone"] == []
    reports.finish()


def test_top_once_is_one_report_over_the_interval(top_tree):
    res = top(top_tree, "--once", "--json", "--interval", "0.3")
    assert res.returncode == 0 and res.stderr == "", res.stderr
    lines = res.stdout.splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert 0.29 < report["interval_s"] < 10
    assert [r["name"] for r in report["rings"]] == ["alpha", "beta"]
    assert all(r["messages_per_s"] == 0 for r in report["rings"])


def test_top_once_text_report(top_tree):
    res = top(top_tree, "--once", "--interval", "0.2")
    assert res.returncode == 0 and res.stderr == "", res.stderr
    lines = res.stdout.splitlines()
    assert re.fullmatch(r"fusionctl top: over 0\.\d\d s", lines[0]), lines[0]
    assert lines[2].split() == ["RING", "MODE", "MSGS/S", "RECV/S", "SLEEPS/S", "WAKEUPS/S",
                                "ERRORS", "OPEN"]
    assert lines[3].split() == ["alpha", "spsc", "0.0", "0.0", "0.0", "0.0", "0", "2"]
    assert lines[4].split() == ["beta", "mpmc", "0.0", "0.0", "0.0", "0.0", "0", "0"]
    slab = lines[5:].index("") + 6
    assert lines[slab].split() == ["SLAB", "CACHE", "MAGAZINE", "OPS/S", "HIT%", "HIT%-ALL",
                                   "IN-USE"]
    assert lines[slab + 1].split() == ["exo_ring", "16", "0.0", "-", "80.0%", "16"]
    assert lines[slab + 2].split() == ["exo_bench", "8", "0.0", "-", "-", "0"]
    assert lines[slab + 4].split() == ["NIC", "POLICY", "MODE", "RATE_PPS", "RX/S", "TX/S",
                                       "IRQ/S"]
    assert lines[slab + 5].split() == ["eth1", "adaptive", "timer-poll", "61234", "0.0", "0.0",
                                       "0"]
    assert lines[slab + 6].split() == ["eth2", "moderated", "moderated", "0", "-", "-", "2"]
    assert lines[slab + 7:] == [""]


def test_top_without_debugfs_shows_the_rest_and_says_what_is_missing(top_tree, tmp_path):
    missing = tmp_path / "no-debugfs" / "slabinfo"
    env = top_env(top_tree, EXO_SLABINFO=missing)
    report = json.loads(top(top_tree, "--once", "--json", "--interval", "0.1", env=env).stdout)
    why = f"cannot read EXO_SLABINFO={missing} (No such file or directory)"
    assert report["slab"] is None
    assert report["missing"] == [{"part": "slab", "error": why}]
    assert len(report["rings"]) == 2 and len(report["nics"]) == 2
    res = top(top_tree, "--once", "--interval", "0.1", env=env)
    assert res.returncode == 0 and res.stderr == ""
    assert f"slab caches: missing: {why}" in res.stdout.splitlines()
    assert "alpha" in res.stdout and "eth1" in res.stdout

    env = top_env(top_tree, EXO_NET_SYSFS=tmp_path / "no-net")
    report = json.loads(top(top_tree, "--once", "--json", "--interval", "0.1", env=env).stdout)
    assert report["nics"] is None and report["missing"] == [
        {"part": "nics", "error": f"cannot list {tmp_path / 'no-net'} (No such file or directory)"}]


def test_top_without_rings_is_an_error_naming_the_path(top_tree, tmp_path):
    missing = tmp_path / "no-rings"
    res = top(top_tree, "--once", env=top_env(top_tree, EXO_RING_SYSFS=missing))
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr == (f"fusionctl: top: cannot read EXO_RING_SYSFS={missing} "
                          "(No such file or directory)\n")


@needs_no_module
def test_top_without_the_module_says_so():
    res = fusionctl("top", "--once", env={k: v for k, v in os.environ.items()
                                          if k != "EXO_RING_SYSFS"})
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr == ("fusionctl: top: cannot read /sys/class/exofusion (No such file or "
                          "directory): the exofusion module is not loaded; load it with "
                          "'insmod exofusion.ko'\n")


def test_top_unreadable_slabinfo_needs_root_and_the_rest_is_shown(top_tree, unprivileged):
    where, kw = unprivileged
    slabinfo = where / "slabinfo"
    slabinfo.write_text(SLABINFO)
    slabinfo.chmod(0o600 if os.geteuid() == 0 else 0)
    for d in [top_tree["rings"], *top_tree["rings"].parents]:
        if d == pathlib.Path("/tmp"):
            break
        d.chmod(d.stat().st_mode | 0o755)
    res = top(top_tree, "--once", "--json", "--interval", "0.1",
              env=top_env(top_tree, EXO_SLABINFO=slabinfo), **kw)
    if res.returncode == 1 and "Permission denied" in res.stderr:
        pytest.skip("the sample tree is in a directory nobody cannot enter")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["slab"] is None and [r["name"] for r in report["rings"]] == ["alpha", "beta"]
    assert report["missing"] == [{"part": "slab", "error": (
        f"cannot read EXO_SLABINFO={slabinfo} (Permission denied): run fusionctl as root")}]


@pytest.mark.parametrize("signo", [signal.SIGINT, signal.SIGTERM])
def test_top_json_stream_ends_on_a_signal_after_whole_reports(top_tree, signo):
    reports = Reports(top_tree, "--interval", "0.2")
    for _ in range(2):
        reports.next()
    reports.proc.send_signal(signo)
    assert reports.proc.wait(30) == -signo
    rest = reports.proc.stdout.read()
    assert all(json.loads(line) for line in rest.splitlines())  # no report cut short
    assert reports.proc.stderr.read() == ""


def test_top_into_a_pipe_prints_reports_one_after_the_other(top_tree):
    res = top(top_tree, "--interval", "0.1", "--iterations", "3")
    assert res.returncode == 0, res.stderr
    assert "\033" not in res.stdout
    assert len(re.findall(r"^fusionctl top: over 0\.\d\d s$", res.stdout, re.M)) == 3


def hostile_ring(rings, raw_name, mode="spsc"):
    """A ring directory whose name is |raw_name| (bytes, as a hostile or
    corrupted sysfs could hold them)."""
    name = os.fsdecode(raw_name)
    set_ring(rings, name, mode=mode, messages=4)
    return name


def test_top_and_list_print_no_escape_sequence_from_a_ring_name_or_mode(top_tree):
    rings = top_tree["rings"]
    hostile_ring(rings, b"\x1b]0;owned\x07title", mode="\x1b[2Jspsc")
    hostile_ring(rings, b"two\nlines")
    env = top_env(top_tree)
    for res in (top(top_tree, "--once", "--interval", "0.1"),
                fusionctl("list", env=env)):
        assert res.returncode == 0, res.stderr
        assert "\x1b" not in res.stdout and "\x07" not in res.stdout
        assert "two?lines" in res.stdout and "?]0;owned?title" in res.stdout
    res = top(top_tree, "--once", "--interval", "0.1")
    assert any(line.split()[:2] == ["?]0;owned?title", "?[2Jspsc"]
               for line in res.stdout.splitlines())


def test_top_json_is_valid_utf8_whatever_bytes_a_name_holds(top_tree):
    rings = top_tree["rings"]
    hostile_ring(rings, b"bad\xff\xc0\xafname")   # not UTF-8; an overlong "/"
    hostile_ring(rings, b"caf\xc3\xa9")            # UTF-8, kept
    hostile_ring(rings, b"cut\xe2\x82")            # a sequence cut short
    res = subprocess.run([str(FUSIONCTL), "top", "--once", "--json", "--interval", "0.1"],
                         env=top_env(top_tree), capture_output=True, timeout=60)
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout.decode("utf-8"))  # strict: any invalid byte raises
    names = [r["name"] for r in report["rings"]]
    assert "bad\ufffd\ufffd\ufffdname" in names and "caf\u00e9" in names
    assert "cut\ufffd\ufffd" in names


def test_top_and_slab_hit_rates_stay_within_100_percent_when_counters_near_2_64(top_tree):
    huge = 2**64 - 1
    top_tree["slabinfo"].write_text(SLABINFO.replace("alloc_hits 30 free_hits 10",
                                                     f"alloc_hits {huge} free_hits 1"))
    report = json.loads(top(top_tree, "--once", "--json", "--interval", "0.1").stdout)
    cache = report["slab"]["caches"][0]
    assert cache["hits"] == huge  # not 0: the sum stops at 2^64-1 instead of wrapping
    assert 0 <= cache["hit_rate_total"] <= 100
    res = fusionctl("slab", env=top_env(top_tree))
    assert res.returncode == 0, res.stderr
    assert "cpu    hit rate 100.0%" in res.stdout


def test_slab_and_nic_print_no_escape_sequence_from_their_files(top_tree):
    hostile = SLABINFO.replace("cache exo_ring", "cache \x1b]0;owned\x07ring").replace(
        "reason grow-misses", "reason \x1b[2Jgrow")
    top_tree["slabinfo"].write_text(hostile)
    res = slab(info=top_tree["slabinfo"])
    assert res.returncode == 0, res.stderr
    assert "\x1b" not in res.stdout and "?]0;owned?ring: size 272" in res.stdout
    mode = top_tree["net"] / "eth1" / "exofusion" / "mode"
    mode.write_text("\x1b[31mred\n")
    res = nic("eth1", net=top_tree["net"])
    assert res.returncode == 0, res.stderr
    assert "\x1b" not in res.stdout and "mode ?[31mred" in res.stdout


# --- top's live view, in a tmux pane ---

needs_tmux = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


@pytest.fixture
def pane(tmp_path):
    panes = []

    def start(command, env):
        panes.append(Pane(tmp_path, command, {k: v for k, v in env.items()
                                              if k.startswith("EXO_")}))
        return panes[-1]
    yield start
    for p in panes:
        p.close()


@needs_tmux
@pytest.mark.parametrize("key, status", [("q", "status=0"), ("C-c", "status=130")])
def test_top_live_view_refreshes_and_quits_restoring_the_terminal(top_tree, pane, key, status):
    p = pane(f"{FUSIONCTL} top --interval 0.3", top_env(top_tree))
    first = p.wait_for(lambda s: "fusionctl top - " in s and "alpha" in s, "the first frame")
    assert "every 0.3 s - q quits" in first
    set_ring(top_tree["rings"], "delta", messages=1)
    screen = p.wait_for(lambda s: "delta" in s, "a ring created meanwhile")
    lines = screen.splitlines()
    assert lines[2].split() == ["RING", "MODE", "MSGS/S", "RECV/S", "SLEEPS/S", "WAKEUPS/S",
                                "ERRORS", "OPEN"]
    assert any(line.split()[:2] == ["exo_ring", "16"] for line in lines)
    assert any(line.split()[:3] == ["eth1", "adaptive", "timer-poll"] for line in lines)
    p.tmux("send-keys", key)
    assert p.status() == status
    assert p.settings_restored()
    after = p.screen()
    assert "RING" not in after and "\033" not in after  # back on the normal screen


@needs_tmux
def test_top_live_view_shows_a_destroyed_ring_once_and_a_missing_part(top_tree, pane, tmp_path):
    env = top_env(top_tree, EXO_SLABINFO=tmp_path / "absent")
    p = pane(f"{FUSIONCTL} top --interval 0.3", env)
    p.wait_for(lambda s: "beta" in s and "RING" in s, "the first frame")
    shutil.rmtree(top_tree["rings"] / "beta")
    screen = p.wait_for(lambda s: "destroyed since the last sample: beta" in s, "beta's end")
    assert f"slab caches: missing: cannot read EXO_SLABINFO={tmp_path / 'absent'}" in \
        screen.replace("\n  ", "")
    p.wait_for(lambda s: "destroyed since" not in s, "the next frame, without beta")
    p.tmux("send-keys", "q")
    assert p.status() == "status=0" and p.settings_restored()


@needs_tmux
@pytest.mark.parametrize("how, status", [("C-\\", "status=131"), ("SIGHUP", "status=129")])
def test_top_live_view_restores_the_terminal_on_sigquit_and_hangup(top_tree, pane, tmp_path,
                                                                     how, status):
    # exec: the shell's $$ is top's pid, for the hang-up; no core file.
    p = pane(f"ulimit -c 0; sh -c 'echo $$ > {tmp_path}/pid; exec {FUSIONCTL} top --interval 0.3'",
             top_env(top_tree))
    p.wait_for(lambda s: "fusionctl top - " in s and "alpha" in s, "the first frame")
    if how == "SIGHUP":
        os.kill(int((tmp_path / "pid").read_text()), signal.SIGHUP)
    else:
        p.tmux("send-keys", how)
    assert p.status() == status
    assert p.settings_restored()
    after = p.screen()
    assert "RING" not in after  # back on the normal screen
