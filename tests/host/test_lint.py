"""The shim is kernel C as checkpatch and sparse want it (the module builds
with -Werror, so a compiler warning already fails the build)."""
import subprocess

from paths import ROOT


def test_checkpatch_and_sparse_are_clean():
    res = subprocess.run(["sh", "tools/lint.sh"], cwd=ROOT, capture_output=True, text=True,
                         timeout=900)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-4000:]
    assert "lint: clean" in res.stdout
