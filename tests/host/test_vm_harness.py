"""The VM harness, tools/vm/exovm.py: each test boots a guest (about 5 s)."""
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from paths import ROOT

sys.path.insert(0, str(ROOT / "tools" / "vm"))
import exovm  # noqa: E402  (a script directory, not a package)

pytestmark = pytest.mark.vm
EXOVM = ROOT / "tools" / "vm" / "exovm.py"


def test_cli_returns_the_guest_commands_status_and_output():
    res = subprocess.run([sys.executable, str(EXOVM), "--", "sh", "-c",
                          "echo to stdout; echo to stderr >&2; exit 3"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 3, res.stdout + res.stderr
    assert res.stdout.splitlines() == ["to stdout", "to stderr"]


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


def test_a_warning_in_the_kernel_log_fails_the_run():
    returncode, output = exovm.run("echo 'WARNING: injected' > /dev/kmsg")
    assert returncode == exovm.KERNEL_PROBLEM, output
    assert "WARNING: injected" in output
