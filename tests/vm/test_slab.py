"""The module's slab cache in the kernel: its debug findings, a stress run
across CPUs with CPU hotplug and shrinking underneath, the benchmark
patterns, the module's own objects, and every page back at unload."""
import os
import re
import subprocess
import threading
import time

import pytest

import exo
from paths import binary

DEBUGFS = "/sys/kernel/debug/exofusion"
CPU1 = "/sys/devices/system/cpu/cpu1/online"


def figures(text):
    words = text.split()
    return {k: int(v) for k, v in zip(words[::2], words[1::2])}


def slabinfo():
    with open(f"{DEBUGFS}/slabinfo") as f:
        return f.read()


def cache_line(name, section):
    """The figures of one section line ("cpu", "depot", "slabs") of a cache."""
    text = slabinfo()
    block = text[text.index(f"cache {name} "):]
    line = next(l for l in block.splitlines() if l.strip().startswith(section + " "))
    return figures(line.split(None, 1)[1])


FINDINGS = [
    ("double_free", 1, 0, "double free"),
    ("overrun", 1, 0, "red zone overwritten"),
    ("use_after_free", 1, 0, "poison overwritten"),
    ("wrong_cache", 1, 0, "does not own"),
    ("leak", 0, 5, "5 objects leaked at destroy"),
]


@pytest.mark.parametrize("name, reports, leaked, message", FINDINGS, ids=[f[0] for f in FINDINGS])
def test_debug_mode_reports_the_finding_and_the_kernel_stays_up(module, name, reports, leaked,
                                                                message):
    before = exo.dmesg()
    got = figures(exo.slab_command("selftest", name))
    assert got == {"reports": reports, "leaked": leaked}
    new = exo.dmesg()[len(before):]
    assert f"cache exo_selftest" in new and message in new, new
    # Still alive and sane: the next test's cache works.
    assert figures(exo.slab_command("selftest", "double_free"))["reports"] == 1


def test_unknown_selftest_is_einval(module):
    with pytest.raises(OSError) as e:
        exo.slab_command("selftest", "no_such_test")
    assert e.value.errno == 22


def toggle_cpu1_and_shrink(stop, errors):
    try:
        while not stop.is_set():
            for state in ("0", "1"):
                with open(CPU1, "w") as f:
                    f.write(state)
                time.sleep(0.05)
            with open(f"{DEBUGFS}/slab_ctl", "w") as f:
                f.write("shrink")
    except OSError as e:
        errors.append(e)


@pytest.mark.skipif(not os.path.exists(CPU1), reason="needs a second CPU that can go offline")
def test_stress_across_cpus_survives_hotplug_and_shrinking(module):
    stop, errors = threading.Event(), []
    churn = threading.Thread(target=toggle_cpu1_and_shrink, args=(stop, errors))
    churn.start()
    try:
        got = figures(exo.slab_command("selftest", "stress 3000"))
    finally:
        stop.set()
        churn.join()
        with open(CPU1, "w") as f:
            f.write("1")
    assert not errors
    assert got["corrupt"] == 0 and got["leaked"] == 0
    assert got["ops"] > 10000
    assert "CPU 1 is now offline" in exo.dmesg()


SCENARIOS = ["pair", "batch1000", "bulk16", "crosscpu"]


@pytest.mark.parametrize("impl", ["exofusion-slab", "kmem_cache"])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_bench_patterns_run(module, scenario, impl):
    got = figures(exo.slab_command("bench", f"{scenario} {impl} 64 20000"))
    assert got["ops"] == 20000 and got["ns"] > 0


def test_bench_rejects_bad_requests(module):
    for bad in ["pair nosuch 64 1000", "pair kmem_cache 64 0", "nosuch exofusion-slab 64 100",
                "pair exofusion-slab 3 1000", "pair"]:
        with pytest.raises(OSError) as e:
            exo.slab_command("bench", bad)
        assert e.value.errno == 22, bad


def test_ring_control_blocks_come_from_the_exo_ring_cache(module):
    names = [f"slabring{i}" for i in range(20)]
    for n in names:
        exo.destroy_quietly(n)
    base = cache_line("exo_ring", "slabs")["in_use"]
    try:
        for n in names:
            exo.create(n)
        assert cache_line("exo_ring", "slabs")["in_use"] >= 20
        assert cache_line("exo_ring", "cpu")["alloc_hits"] + \
            cache_line("exo_ring", "cpu")["alloc_misses"] >= 20
    finally:
        for n in names:
            exo.destroy_quietly(n)
    with open(f"{DEBUGFS}/slab_ctl", "w") as f:
        f.write("shrink")
    # Drained: only objects in use stay handed out by slabs.
    assert cache_line("exo_ring", "slabs")["in_use"] <= base
    assert cache_line("exo_ring", "depot")["cached"] == 0


def test_slab_ctl_rejects_unknown_commands(module):
    with pytest.raises(OSError) as e:
        with open(f"{DEBUGFS}/slab_ctl", "w") as f:
            f.write("explode")
    assert e.value.errno == 22


def test_unload_returns_every_page(module):
    exo.destroy_quietly("slabunload")
    exo.create("slabunload")
    exo.destroy("slabunload")  # its control block stays cached in a magazine
    assert exo.total("slab_pages") > 0
    before = exo.dmesg()
    exo.rmmod()
    new = exo.dmesg()[len(before):]
    assert "slab: every page returned" in new, new
    assert "not returned" not in new
    exo.insmod()


@pytest.mark.skipif(not os.path.exists(CPU1), reason="needs a second CPU that can go offline")
def test_a_cpu_going_offline_hands_its_magazines_to_the_depot(module):
    with open(f"{DEBUGFS}/slab_ctl", "w") as f:
        f.write("shrink")  # every magazine empty, the depot empty
    assert cache_line("exo_ring", "depot")["cached"] == 0
    # A ring control block allocated and freed on CPU 1 stays in its magazine.
    for verb in ("create", "destroy"):
        subprocess.run(["taskset", "-c", "1", str(binary("fusionctl")), verb, "slabhotplug"],
                       check=True, capture_output=True)
    assert cache_line("exo_ring", "depot")["cached"] == 0
    try:
        with open(CPU1, "w") as f:
            f.write("0")
        assert cache_line("exo_ring", "depot")["cached"] > 0
    finally:
        with open(CPU1, "w") as f:
            f.write("1")


RT = os.path.exists("/sys/kernel/realtime")  # PREEMPT_RT: no hard-IRQ users


@pytest.mark.parametrize("mode", ["", " debug"], ids=["fast", "debug"])
def test_alloc_from_softirq_and_hardirq_on_one_cpu_hands_no_object_out_twice(module, mode):
    """A task loop, a softirq hrtimer and a hard-IRQ hrtimer share one CPU's
    magazines. With only preemption off (the old fast path) an interrupt in
    the middle of a pop or push hands one object to two users or loses one."""
    got = figures(exo.slab_command("selftest", f"irq 2000{mode}"))
    assert got["dup"] == 0 and got["corrupt"] == 0, got
    assert got["live"] == 0 and got["leaked"] == 0, got
    assert got["task"] > 1000 and got["softirq"] > 100, got
    assert (got["hardirq"] == 0) if RT else (got["hardirq"] > 100), got


def shrinker(command):
    return exo.slab_command("ctl", command).split()


def test_shrinker_scan_honours_nr_to_scan_and_reports_what_it_freed(module):
    """count_objects/scan_objects as reclaim calls them (through slab_ctl):
    a scan of 1 frees about one magazine, not the whole cache, says how much
    it freed, and SHRINK_STOP comes once nothing is left. The old scan freed
    every cache whole and reported the count taken before it."""
    names = [f"slabscan{i}" for i in range(64)]
    with open(f"{DEBUGFS}/slab_ctl", "w") as f:
        f.write("shrink")
    # 64 control blocks freed on one CPU overflow its two magazines into
    # the depot; the tick only trims what a whole interval did not use.
    for n in names:
        exo.create(n)
    for n in names:
        exo.destroy(n)
    words = shrinker("count")
    assert words[0] == "count"
    count = int(words[1])
    assert count >= 16, slabinfo()
    with open(f"{DEBUGFS}/slabinfo") as f:
        text = f.read()
    block = text[text.index("cache exo_ring "):].split("\n", 1)[0]
    step = max(int(re.search(r" magazine (\d+)", block).group(1)),
               int(re.search(r" per_slab (\d+)", block).group(1)))
    words = shrinker("scan 1")
    assert words[:3] == ["scan", "1", "freed"], words
    freed = int(words[3])
    assert 1 <= freed < 1 + step, (words, step)
    # Objects a magazine gives back may leave a slab empty, which counts
    # again (an empty slab is reclaimable): the count drops by what was
    # freed, less at most one slab's worth, and never to nothing at once.
    after = int(shrinker("count")[1])
    assert count - freed <= after <= count - freed + step and after > 0, (count, freed, after)
    total, calls = freed, 0
    while (words := shrinker("scan 128"))[2] != "stop":
        assert int(words[3]) < 128 + step, words
        total += int(words[3])
        calls += 1
        assert calls < 100
    assert shrinker("count") == ["count", "0"]
    assert shrinker("scan 128") == ["scan", "128", "stop"]


def test_kmem_backend_rings_and_selftests_run_on_kmem_cache(module):
    """slab_backend=kmem (the rollback, and what a KASAN kernel gets): the
    ring control blocks come from a kmem_cache named exo_ring (SLUB's, not in
    exofusion/slabinfo, which fusionctl slab reads), rings work,
    the self-tests that go through the cache API pass, and the exo
    backend's pages stay at 0."""
    exo.reload("slab_backend=kmem")
    try:
        with open("/sys/module/exofusion/parameters/slab_backend") as f:
            assert f.read().strip() == "kmem"
        assert slabinfo() == "pages 0\n"  # the exo backend holds no cache
        assert os.path.exists("/sys/kernel/slab/exo_ring")  # SLUB's, maybe an alias
        exo.destroy_quietly("kmemring")
        exo.create("kmemring")
        exo.destroy("kmemring")
        got = figures(exo.slab_command("selftest", "irq 1000"))
        assert got["dup"] == 0 and got["corrupt"] == 0 and got["live"] == 0, got
        assert got["softirq"] > 0 and (RT or got["hardirq"] > 0), got
        got = figures(exo.slab_command("selftest", "stress 1000"))
        assert got["corrupt"] == 0 and got["ops"] > 0, got
        with pytest.raises(OSError) as e:
            exo.slab_command("selftest", "double_free")
        assert e.value.errno == 95  # EOPNOTSUPP: debug findings are the exo backend's
        assert exo.total("slab_pages") == 0
    finally:
        exo.reload()


def test_unknown_slab_backend_refuses_to_load(module):
    exo.rmmod()
    try:
        before = exo.dmesg()
        res = exo.insmod("slab_backend=bogus", check=False)
        assert res.returncode != 0
        assert 'slab_backend: "bogus" is not auto, exo or kmem' in exo.dmesg()[len(before):]
    finally:
        exo.insmod()


def kernel_has_kasan():
    with open("/proc/kallsyms") as f:
        return any(line.rstrip().endswith(" kasan_report") for line in f)


def test_auto_backend_is_kmem_exactly_under_kasan_so_kasan_sees_every_object(module):
    exo.reload("slab_backend=auto")
    try:
        with open("/sys/module/exofusion/parameters/slab_backend") as f:
            picked = f.read().strip()
        assert picked == ("kmem" if kernel_has_kasan() else "exo")
        exo.destroy_quietly("autoring")
        exo.create("autoring")
        exo.destroy("autoring")
    finally:
        exo.reload()
