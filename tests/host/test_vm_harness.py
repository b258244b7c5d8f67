"""The VM harness, tools/vm/exovm.py, and the debug kernel's builder: the
tests marked vm boot a guest (about 5 s); the others check pure pieces."""
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from paths import ROOT

sys.path.insert(0, str(ROOT / "tools" / "vm"))
import debug_kernel  # noqa: E402
import exovm  # noqa: E402  (a script directory, not a package)

EXOVM = ROOT / "tools" / "vm" / "exovm.py"


@pytest.mark.vm
def test_cli_returns_the_guest_commands_status_and_output():
    res = subprocess.run([sys.executable, str(EXOVM), "--", "sh", "-c",
                          "echo to stdout; echo to stderr >&2; exit 3"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 3, res.stdout + res.stderr
    assert res.stdout.splitlines() == ["to stdout", "to stderr"]


@pytest.mark.vm
def test_guest_runs_the_kernel_the_module_is_built_for_in_our_directory():
    kdir = subprocess.run(["make", "-s", "--no-print-directory", "print-kdir"], cwd=ROOT,
                          capture_output=True, text=True, check=True).stdout.strip()
    returncode, output = exovm.run('uname -r; pwd; echo "$EXO_IN_VM"', cwd=ROOT)
    assert returncode == 0, output
    kver, cwd, in_vm = output.splitlines()
    assert Path(kdir).resolve().name == f"linux-headers-{kver}"
    assert (cwd, in_vm) == (str(ROOT), "1")


@pytest.fixture
def host_dir():
    """A directory the guest sees only through the read-only host root: not
    under the guest's own tmpfs (/tmp, /run), nor under the working directory
    when exovm shares that read-write (a clone under /tmp)."""
    base = ROOT / "build"
    if exovm.shares_with_workdir(os.getcwd(), ()):
        base = Path("/var/tmp")
    base.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=base, prefix="vm-harness-") as path:
        yield Path(path)


@pytest.mark.vm
def test_shares_are_written_back_and_the_rest_of_the_host_is_not(host_dir):
    shared, private = host_dir / "shared", host_dir / "private"
    shared.mkdir()
    private.mkdir()
    script = " && ".join(f"echo written > {shlex.quote(str(d / 'file'))}"
                         for d in (shared, private))
    returncode, output = exovm.run(script, shares=[shared])
    assert returncode == 0, output
    assert (shared / "file").read_text() == "written\n"
    assert not (private / "file").exists()


@pytest.mark.vm
def test_a_warning_in_the_kernel_log_fails_the_run():
    returncode, output = exovm.run("echo 'WARNING: injected' > /dev/kmsg")
    assert returncode == exovm.KERNEL_PROBLEM, output
    assert "WARNING: injected" in output


# --- Kernel selection ------------------------------------------------------------------

HEADERS = {
    "linux-headers-amd64": "linux-headers-6.1.0-57-amd64 (= 6.1.192-3)",
    "linux-headers-6.1.0-9-amd64": "linux-headers-6.1.0-9-common (= 6.1.27-1)",
    "linux-headers-6.1.0-57-amd64": "linux-headers-6.1.0-57-common (= 6.1.192-3)",
    "linux-headers-6.1.0-57-common": "",
    "linux-headers-6.12-amd64": "linux-headers-6.12.117+deb12-amd64 (= 6.12.117-1~deb12u1)",
    "linux-headers-6.12.117+deb12-amd64": "linux-base, gcc-12",
    "linux-headers-6.12.117+deb12-rt-amd64": "linux-base, gcc-12",
    "linux-headers-6.12.117+deb12-common-rt": "",
}


def test_each_series_gets_its_metapackages_release_not_the_newest_headers():
    assert exovm.pick_release("6.1", HEADERS) == "6.1.0-57-amd64"
    assert exovm.pick_release("6.12", HEADERS) == "6.12.117+deb12-amd64"
    assert exovm.pick_release("6.12-rt", HEADERS) == "6.12.117+deb12-rt-amd64"


def test_without_its_metapackage_a_series_takes_its_own_highest_release():
    headers = {name: dep for name, dep in HEADERS.items() if "amd64 (" not in dep}
    headers["linux-headers-6.12.9+deb12-amd64"] = ""
    assert exovm.pick_release("6.1", headers) == "6.1.0-57-amd64"
    assert exovm.pick_release("6.12", headers) == "6.12.117+deb12-amd64"


def test_a_series_without_headers_is_an_error_naming_it():
    headers = {"linux-headers-6.1.0-57-amd64": ""}
    with pytest.raises(exovm.VmError, match="6.12-rt"):
        exovm.pick_release("6.12-rt", headers)


def test_an_unknown_kernel_is_refused(monkeypatch):
    monkeypatch.delenv("EXO_KERNEL", raising=False)
    assert exovm.kernel_choice() == exovm.DEFAULT_KERNEL
    monkeypatch.setenv("EXO_KERNEL", "6.12-rt")
    assert exovm.kernel_choice() == "6.12-rt"
    with pytest.raises(exovm.VmError, match="unknown kernel"):
        exovm.kernel_choice("5.10")


def test_root_modules_a_kernel_builds_in_are_not_loaded(tmp_path):
    (tmp_path / "modules.dep").write_text(
        "kernel/fs/netfs/netfs.ko.xz:\n"
        "kernel/net/9p/9pnet.ko.xz: kernel/fs/netfs/netfs.ko.xz\n"
        "kernel/fs/9p/9p.ko.xz: kernel/net/9p/9pnet.ko.xz kernel/fs/netfs/netfs.ko.xz\n")
    (tmp_path / "modules.builtin").write_text("kernel/drivers/virtio/virtio_pci.ko\n")
    order = exovm.module_load_order(tmp_path, ("virtio_pci", "9p"))
    assert [p.name for p in order] == ["netfs.ko.xz", "9pnet.ko.xz", "9p.ko.xz"]
    with pytest.raises(exovm.VmError, match="overlay"):
        exovm.module_load_order(tmp_path, ("overlay",))


# --- Judging the kernel log ------------------------------------------------------------

# What the debug kernel's checkers print (first lines of real reports).
CHECKER_REPORTS = [
    "BUG: KASAN: slab-use-after-free in exo_ring_create+0x1a/0x90 [exofusion]",
    "BUG: KFENCE: out-of-bounds read in exo_ring_read+0x2f/0x70 [exofusion]",
    "UBSAN: shift-out-of-bounds in module/core/ring/ring_io.cpp:88:14",
    "WARNING: possible circular locking dependency detected",
    "WARNING: possible recursive locking detected",
    "BUG: sleeping function called from invalid context at mm/slab.h:723",
    "kmemleak: 2 new suspected memory leaks (see /sys/kernel/debug/kmemleak)",
    "rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:",
    "watchdog: BUG: soft lockup - CPU#1 stuck for 26s! [python3:412]",
    "INFO: task python3:233 blocked for more than 120 seconds.",
    "list_add corruption. prev->next should be next (ffff888004c1b0a8)",
    "ODEBUG: free active (active state 0) object: 000000002ad3c1f7 object type: timer_list",
]
# What it prints when all is well.
CHECKERS_ON = [
    "kasan: KernelAddressSanitizer initialized (generic)",
    "kfence: initialized - using 2097152 bytes for 255 objects at 0x(____ptrval____)",
    "kmemleak: Kernel memory leak detector initialized (mem pool available: 39727)",
    "kmemleak: Automatic memory scanning thread started",
    "\tRCU lockdep checking is enabled.",
    "Lock dependency validator: Copyright (c) 2006 Red Hat, Inc., Ingo Molnar",
    "... MAX_LOCKDEP_SUBCLASSES:  8",
]


@pytest.mark.parametrize("line", CHECKER_REPORTS)
def test_each_checkers_report_fails_the_run(line):
    log = ["[    0.000000] Linux version 6.1.192-exodebug", f"[   12.5] {line}"]
    assert exovm.kernel_log_problems(log) == [1]


def test_a_debug_kernels_clean_boot_does_not_fail_the_run():
    assert exovm.kernel_log_problems([f"[    0.1] {line}" for line in CHECKERS_ON]) == []


# --- The debug kernel's config ---------------------------------------------------------

def test_a_fragment_line_kconfig_dropped_is_named():
    fragment = ["CONFIG_KASAN=y", "CONFIG_NR_CPUS=8", "# CONFIG_UBSAN_TRAP is not set",
                "CONFIG_DEBUG_KMEMLEAK=y", "CONFIG_LOCALVERSION=\"-exodebug\""]
    config = ["CONFIG_KASAN=y", "CONFIG_NR_CPUS=64", "CONFIG_UBSAN_TRAP=y",
              "# CONFIG_DEBUG_KMEMLEAK is not set", "CONFIG_LOCALVERSION=\"-exodebug\""]
    assert debug_kernel.config_mismatches(fragment, config) == [
        "CONFIG_NR_CPUS: wanted 8, got 64", "CONFIG_UBSAN_TRAP: wanted n, got y",
        "CONFIG_DEBUG_KMEMLEAK: wanted y, got n"]
    assert debug_kernel.config_mismatches(fragment[:1] + fragment[2:3], ["CONFIG_KASAN=y"]) == []


def test_the_fragment_asks_for_every_checker_the_issue_names():
    wanted = debug_kernel.parse_config(debug_kernel.FRAGMENT.read_text().splitlines())
    for symbol in ("KASAN", "KASAN_GENERIC", "PROVE_LOCKING", "PROVE_RCU", "DEBUG_ATOMIC_SLEEP",
                   "DEBUG_KMEMLEAK", "UBSAN", "DEBUG_LIST", "KFENCE", "SOFTLOCKUP_DETECTOR",
                   "DETECT_HUNG_TASK", "MODULE_UNLOAD", "MEMCG", "9P_FS", "OVERLAY_FS"):
        assert wanted.get(f"CONFIG_{symbol}") == "y", symbol
    assert wanted["CONFIG_DEBUG_KMEMLEAK_DEFAULT_OFF"] is None
    assert wanted["CONFIG_DEBUG_INFO_NONE"] == "y"


def test_the_cache_key_follows_source_config_and_compiler():
    key = debug_kernel.tree_name("6.1.192-3", "CONFIG_KASAN=y\n", "gcc 12.2.0")
    assert key.startswith("6.1.192-3-")
    assert key == debug_kernel.tree_name("6.1.192-3", "CONFIG_KASAN=y\n", "gcc 12.2.0")
    assert len({key, debug_kernel.tree_name("6.1.193-1", "CONFIG_KASAN=y\n", "gcc 12.2.0"),
                debug_kernel.tree_name("6.1.192-3", "CONFIG_KASAN=n\n", "gcc 12.2.0"),
                debug_kernel.tree_name("6.1.192-3", "CONFIG_KASAN=y\n", "gcc 12.3.0")}) == 4
