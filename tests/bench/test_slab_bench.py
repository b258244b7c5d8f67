"""Perf scenarios of the slab suite: the hosted exofusion slab cache against
glibc, jemalloc, tcmalloc and mimalloc (userspace/bench/slab/README.md),
one binary per peer allocator. These record figures; they assert only that
each run completed (slabbench exits 1 on a failed allocation, a leak or a
report from the slab core's checks)."""
import subprocess

import pytest

from paths import binary

PEERS = ["glibc", "jemalloc", "tcmalloc", "mimalloc"]


def slab_runs():
    """(binary, scenario, impl) for every pair each binary lists, scenario by
    scenario, so that the impls of one scenario run close together in time
    (what else loads the machine then weighs on them alike)."""
    missing, listed = [], []
    for peer in PEERS:
        exe = binary(f"slabbench-{peer}")
        if not exe.exists():
            # Reported by the test itself rather than breaking collection.
            missing.append(pytest.param(exe.name, None, None, id=f"{exe.name}-not-built"))
            continue
        listing = subprocess.run([str(exe), "--list"], capture_output=True, text=True,
                                 check=True, timeout=60)
        listed += [(exe.name, *line.split()) for line in listing.stdout.splitlines()
                   if line.strip()]
    scenarios = list(dict.fromkeys(scenario for _, scenario, _ in listed))
    listed.sort(key=lambda run: scenarios.index(run[1]))  # stable: binaries keep their order
    return missing + [pytest.param(exe, scenario, impl, id=f"{exe}-{scenario}-{impl}")
                      for exe, scenario, impl in listed]


@pytest.mark.parametrize("exe, scenario, impl", slab_runs())
def test_slab_host(results, exe, scenario, impl):
    path = binary(exe)
    assert scenario, f"{path} is not built: run 'make userspace'"
    res = subprocess.run([str(path), "--scenario", scenario, "--impl", impl],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    for line in results(res.stdout):
        print(line)
