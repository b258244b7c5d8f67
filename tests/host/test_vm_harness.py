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


# --- NICs ------------------------------------------------------------------------------

def test_nic_models_one_for_all_or_one_per_nic_the_last_repeated():
    assert exovm.nic_models(0) == ()
    assert exovm.nic_models(2) == ("e1000", "e1000")
    assert exovm.nic_models(3, "e1000,e1000-82545em") == ("e1000", "e1000-82545em",
                                                           "e1000-82545em")
    assert exovm.nic_models(2, ["e1000-82544gc"]) == ("e1000-82544gc", "e1000-82544gc")
    for bad in ("virtio-net-pci", "e1000,", "e1000e"):
        with pytest.raises(exovm.VmError, match="model"):
            exovm.nic_models(2, bad)
    with pytest.raises(exovm.VmError, match="3 NIC models for 2"):
        exovm.nic_models(2, "e1000,e1000,e1000")
    with pytest.raises(exovm.VmError, match="between 0 and"):
        exovm.nic_models(exovm.MAX_NICS + 1)


def test_nics_share_one_hub_at_fixed_slots_with_the_mitigation_asked_for():
    options = exovm.nic_options(("e1000", "e1000-82545em"), mitigation=False)
    assert options == [
        "-netdev", "hubport,id=h0,hubid=0",
        "-device", "e1000,netdev=h0,mac=52:54:00:00:00:10,addr=0x10,mitigation=off",
        "-netdev", "hubport,id=h1,hubid=0",
        "-device", "e1000-82545em,netdev=h1,mac=52:54:00:00:00:11,addr=0x11,mitigation=off"]
    assert exovm.nic_options(("e1000",), mitigation=True)[-1].endswith(",mitigation=on")
    assert [exovm.nic_slot(i) for i in (0, 1, 7)] == ["0000:00:10.0", "0000:00:11.0",
                                                      "0000:00:17.0"]
    assert exovm.nic_options((), mitigation=True) == []


def test_only_the_debug_kernel_boots_with_swiotlb_forced(tmp_path):
    assert "swiotlb=force" not in exovm.GuestImage("6.1.0-57-amd64").cmdline
    assert "swiotlb=force" in exovm.GuestImage("6.1.192-exodebug", debug_tree=tmp_path).cmdline


def test_the_fragment_gives_the_nic_driver_and_its_peer_what_they_need():
    wanted = debug_kernel.parse_config(debug_kernel.FRAGMENT.read_text().splitlines())
    for symbol in ("PCI", "NETDEVICES", "ETHERNET", "NET_VENDOR_INTEL", "PAGE_POOL", "NET_NS",
                   "PACKET", "INET", "NET_RX_BUSY_POLL", "DMA_API_DEBUG", "SWIOTLB"):
        assert wanted.get(f"CONFIG_{symbol}") == "y", symbol
    # A module: the harness makes /lib/modules/<release> of every kernel reachable.
    assert wanted["CONFIG_E1000"] == "m"


# Slot, PCI device id and driver of each 8254x; then a module and the IRQs.
NIC_PROBE = r"""
driver() { if [ -e "$1/driver" ]; then basename "$(readlink "$1/driver")"; else echo -; fi; }
for d in /sys/bus/pci/devices/0000:00:1?.0; do
	echo "$(basename $d) $(cat $d/device) $(cat $d/irq) $(driver $d)"
done
echo e1000 > /sys/bus/pci/devices/0000:00:11.0/driver_override
echo none > /sys/bus/pci/devices/0000:00:10.0/driver_override
modprobe e1000
for d in /sys/bus/pci/devices/0000:00:1?.0; do
	echo "$(basename $d) $(driver $d)"
done
"""


@pytest.mark.vm
def test_the_guest_gets_its_nics_at_their_slots_and_linuxs_e1000_takes_only_those_asked():
    returncode, output = exovm.run(NIC_PROBE, nics=2, nic_model="e1000,e1000-82545em",
                                   nic_mitigation=False)
    assert returncode == 0, output
    lines = output.splitlines()
    slots = [line.split() for line in lines[:2]]
    # 82540EM, 82545EM, on distinct IRQs, bound to nothing after boot.
    assert [(s[0], s[1], s[3]) for s in slots] == [("0000:00:10.0", "0x100e", "-"),
                                                   ("0000:00:11.0", "0x100f", "-")], output
    assert slots[0][2] != slots[1][2], output
    assert lines[2:] == ["0000:00:10.0 -", "0000:00:11.0 e1000"], output
