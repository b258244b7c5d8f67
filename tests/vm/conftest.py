"""Fixtures of the tests that run inside the VM, where the module can load."""
import os
import re
import subprocess

import pytest

import exo
from paths import MODULE


def pytest_collection_modifyitems(config, items):
    if os.environ.get("EXO_IN_VM") != "1":
        skip = pytest.mark.skip(reason="needs the exofusion module: run through tools/vm/exovm.py")
        for item in items:
            item.add_marker(skip)


def run(*cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


@pytest.fixture(scope="session")
def module():
    """The module, loaded once for the session; unloading must succeed and
    leave nothing behind."""
    if os.path.exists("/sys/module/exofusion"):
        run("rmmod", "exofusion", check=True)
    loaded = run("insmod", str(MODULE))
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
