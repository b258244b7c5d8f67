"""libexofiber's unit tests (tests/fibers/), natively and under ASan+UBSan and
TSan (the context switch tells both sanitizers about every stack change), and
clang's thread-safety analysis of the runtime's lock annotations."""
import glob
import subprocess

import pytest

from paths import ROOT, binary

VARIANTS = [None, "asan", "tsan"]


@pytest.mark.parametrize("variant", VARIANTS, ids=["plain", "asan+ubsan", "tsan"])
def test_fiber_unit_tests_pass(variant):
    res = subprocess.run([str(binary("fiber_tests", variant)), "--gtest_brief=1"],
                         capture_output=True, text=True, timeout=900)
    out = res.stdout[-6000:] + res.stderr[-6000:]
    assert res.returncode == 0, out
    assert "PASSED" in res.stdout
    # A sanitizer report in a forked child or a worker thread would not
    # always fail the run by itself. The overflow test's child reports a
    # stack overflow on purpose; nothing else may.
    reports = [l for l in res.stderr.splitlines()
               if ("ERROR: AddressSanitizer" in l or "WARNING: ThreadSanitizer" in l
                   or "runtime error:" in l) and "stack-overflow" not in l]
    assert not reports, out


def test_fiber_runtime_lock_annotations_hold_under_clang_thread_safety():
    sources = sorted(glob.glob(str(ROOT / "userspace" / "fibers" / "*.cpp")))
    assert sources
    for src in sources:
        res = subprocess.run(["clang++", "-std=gnu++17", "-fsyntax-only", "-I", str(ROOT),
                              "-DEXO_HOSTED", "-Wthread-safety", "-Werror", src],
                             capture_output=True, text=True, timeout=120)
        assert res.returncode == 0, f"{src}:\n{res.stderr[-4000:]}"
