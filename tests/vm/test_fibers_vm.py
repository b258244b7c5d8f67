"""libexofiber on device rings: fibers that park in their worker's epoll on
a ring's fd, a ring destroyed under a parked receiver, and fibers of two
processes streaming through the module (tests/fibers/hostile_test.cpp, whose
device tests skip where the module is not loaded)."""
import subprocess

from paths import binary


def test_fibers_park_on_device_rings(module):
    res = subprocess.run([str(binary("fiber_tests")), "--gtest_brief=1",
                          "--gtest_filter=FiberDeviceRing.*"],
                         capture_output=True, text=True, timeout=300)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    # Each must have run here, not skipped for want of the module.
    assert "[  PASSED  ] 3 tests." in res.stdout, out
    assert "SKIPPED" not in res.stdout, out
