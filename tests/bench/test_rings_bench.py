"""Perf scenarios of the rings suite: each (scenario, impl) measured side by
side in one run. These record figures; they assert only that the run
completed with its content checks (exobench exits 1 on a bad message)."""
import subprocess
import sys

import pytest

from paths import ROOT, binary

EXOBENCH = str(binary("exobench"))


def host_pairs():
    listing = subprocess.run([EXOBENCH, "--list"], capture_output=True, text=True, check=True)
    return [tuple(line.split()) for line in listing.stdout.splitlines() if line.strip()]


@pytest.mark.parametrize("scenario, impl", host_pairs())
def test_host(results, scenario, impl):
    res = subprocess.run([EXOBENCH, "--env", "host", "--scenario", scenario, "--impl", impl],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    for line in results(res.stdout):
        print(line)


def test_vm_icount(results):
    """Guest instructions per operation, in QEMU with -icount (repeatable)."""
    res = subprocess.run([sys.executable, str(ROOT / "tools/vm/exovm.py"), "--icount",
                          "--timeout", "900", "--", "sh", "tools/bench/vm_bench.sh"],
                         capture_output=True, text=True, cwd=ROOT, timeout=1000)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    for line in results(res.stdout):
        print(line)
