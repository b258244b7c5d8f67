"""libexofusion's public ring calls on device rings (the module's): the
Device/ instances of tests/lib/*_test.cpp, which skip where the module is not
loaded (the host suite runs their memfd twins)."""
import os
import re
import subprocess

import pytest

from paths import binary

# The device instances: each test of RingApi in both modes (54), and the
# deferred wake-up tests (2).
DEVICE_TESTS = 56


@pytest.mark.parametrize("wait", [None, "yield", "sleep"], ids=lambda w: w or "default")
def test_library_calls_on_device_rings(module, wait):
    """Also with each way of waiting forced (EXOFUSION_WAIT): "sleep" takes
    the combined wake-and-wait ioctl at every deferred wake-up."""
    env = {k: v for k, v in os.environ.items() if k != "EXOFUSION_WAIT"}
    if wait:
        env["EXOFUSION_WAIT"] = wait
    res = subprocess.run([str(binary("lib_tests")), "--gtest_brief=1",
                          "--gtest_filter=Device/*"],
                         capture_output=True, text=True, timeout=600, env=env)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-8000:]
    # Each must have run here, not skipped for want of the module.
    ran = re.search(r"\[==========\] (\d+) tests? from .* ran\.", res.stdout)
    assert ran and int(ran.group(1)) == DEVICE_TESTS, out[-8000:]
    assert f"[  PASSED  ] {DEVICE_TESTS} tests." in res.stdout, out[-8000:]
    assert "SKIPPED" not in res.stdout, out[-8000:]
