"""The slab suite in the VM: the module's cache against the kernel's
kmem_cache, timed inside the module. Records figures; asserts only that
the runs completed."""
import subprocess
import sys

from paths import ROOT

EXOVM = str(ROOT / "tools/vm/exovm.py")
SCRIPT = "tools/bench/vm_slab_bench.py"


def run_in_vm(results, vm_options, args):
    res = subprocess.run([sys.executable, EXOVM, *vm_options, "--timeout", "600", "--",
                          "/usr/bin/python3", SCRIPT, *args],
                         capture_output=True, text=True, cwd=ROOT, timeout=700)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    for line in results(res.stdout):
        print(line)


def test_vm_icount_single_cpu_patterns(results):
    """Guest instructions per alloc+free pair (repeatable)."""
    run_in_vm(results, ["--icount"],
              ["vm-icount", "pair-64B", "pair-256B", "batch1000-64B", "bulk16-64B"])


def test_vm_crosscpu(results):
    """Allocations on CPU 0 freed on CPU 1: two vCPUs, guest nanoseconds."""
    run_in_vm(results, ["--smp", "2"], ["vm-tcg", "crosscpu-64B"])
