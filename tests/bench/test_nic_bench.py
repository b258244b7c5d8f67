"""The nic suite: the module's 8254x driver in each policy against Linux's
e1000 (default and tuned), in one guest per environment under -icount
(tools/bench/nic_bench.py runs every impl in that guest, so their figures
share one boot). Records figures; asserts only that the runs completed."""
import subprocess
import sys

import pytest

from paths import ROOT

EXOVM = str(ROOT / "tools/vm/exovm.py")
SCRIPT = "tools/bench/nic_bench.py"
# env -> QEMU's e1000 interrupt mitigation
ENVS = {"vm-icount": "on", "vm-icount-mitoff": "off"}


@pytest.mark.parametrize("env", ENVS)
def test_nic(results, env):
    res = subprocess.run([sys.executable, EXOVM, "--icount", "--nics", "2",
                          "--nic-mitigation", ENVS[env], "--timeout", "1500", "--",
                          "/usr/bin/python3", SCRIPT, env],
                         capture_output=True, text=True, cwd=ROOT, timeout=1600)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    for line in res.stdout.splitlines() + res.stderr.splitlines():
        if line.startswith(("nic_bench: skipping", "nic_bench: trace")):
            print(line)
    for line in results(res.stdout):
        print(line)
