"""Fixtures of the tests that run inside the VM, where the module can load."""
import os
import re
import subprocess
import time

import pytest

import exo


def pytest_collection_modifyitems(config, items):
    if os.environ.get("EXO_IN_VM") != "1":
        skip = pytest.mark.skip(reason="needs the exofusion module: run through tools/vm/exovm.py")
        for item in items:
            item.add_marker(skip)


def run(*cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


KMEMLEAK = "/sys/kernel/debug/kmemleak"
# kmemleak does not report objects younger than 5 s.
KMEMLEAK_MIN_AGE = 6


def kmemleak(command):
    with open(KMEMLEAK, "w") as control:
        control.write(command)


def kmemleak_scan():
    """What kmemleak reports now: two scans, as its documentation advises
    (a pointer may sit in a register or on a stack for one)."""
    time.sleep(KMEMLEAK_MIN_AGE)
    for _ in range(2):
        kmemleak("scan")
        time.sleep(1)
    with open(KMEMLEAK) as report:
        return report.read()


@pytest.fixture(scope="session", autouse=True)
def kernel_leaks():
    """On a kernel with kmemleak (the debug kernel), any leak found after the
    session (after the module is unloaded: this fixture is set up first, so
    torn down last) fails it. What the boot left is forgotten first."""
    if not os.path.exists(KMEMLEAK):
        yield
        return
    kmemleak("clear")
    yield
    report = kmemleak_scan()
    assert not report.strip(), f"kmemleak reports leaks:\n{report}"


@pytest.fixture(scope="session")
def module():
    """The module, loaded once for the session; unloading must succeed and
    leave nothing behind."""
    if os.path.exists("/sys/module/exofusion"):
        run("rmmod", "exofusion", check=True)
    loaded = exo.insmod(check=False)
    assert loaded.returncode == 0, loaded.stderr
    yield
    assert exo.module_totals() == (0, 0), "rings or pages still held after the tests"
    unloaded = run("rmmod", "exofusion")
    assert unloaded.returncode == 0, unloaded.stderr
    assert not os.path.exists("/sys/module/exofusion")
    assert not os.path.exists("/dev/exofusion/control")


@pytest.fixture
def ring(module, request):
    """A fresh ring named after the test, destroyed afterwards; checks that
    the module's totals come back to where they were."""
    before = exo.module_totals()
    name = re.sub(r"[^A-Za-z0-9._-]", "-", request.node.name)[-31:].strip(".")
    exo.destroy_quietly(name)
    yield name
    exo.destroy_quietly(name)
    assert exo.module_totals() == before
