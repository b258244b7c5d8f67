"""What `make install` put, used on a running kernel as a user would: the
module loaded with modprobe from the installed tree, a C program built
against the installed library with pkg-config and cc alone, run by root and
by another uid, and the udev rule's group and mode on the control node,
with a user outside the group refused."""
import grp
import os
import pathlib
import shutil
import stat
import subprocess
import tempfile

import pytest

import exo
from paths import ROOT

VERSION = (ROOT / "VERSION").read_text().strip()
CLIENT = ROOT / "tests" / "packaging" / "installed_client.c"
RULE = pathlib.Path("/etc/udev/rules.d/60-exofusion.rules")
CONTROL = "/dev/exofusion/control"
NOBODY = ("--reuid=65534", "--regid=65534", "--clear-groups")


def run(*cmd, check=True, **kw):
    res = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if check:
        assert res.returncode == 0, f"{cmd}: exit {res.returncode}\n{res.stdout}\n{res.stderr}"
    return res


@pytest.fixture(scope="module")
def destdir():
    """`make install` for the running kernel into a DESTDIR that other uids
    can reach (pytest's tmp_path is private to root)."""
    root = pathlib.Path(tempfile.mkdtemp(prefix="exo-install-", dir="/tmp"))
    root.chmod(0o755)
    run("make", "-s", "--no-print-directory", "-C", ROOT, "install", f"DESTDIR={root}",
        "PREFIX=/usr", f"KVER={os.uname().release}")
    yield root
    shutil.rmtree(root)


@pytest.fixture
def installed_module(module, destdir):
    """The installed module, loaded by modprobe from the DESTDIR's depmod
    index instead of the session's insmod; the session's comes back after."""
    exo.rmmod()
    try:
        run("modprobe", "-d", destdir, "exofusion")
        yield
    finally:
        exo.rmmod(check=False)
        exo.insmod()


@pytest.fixture(scope="module")
def client(destdir):
    env = dict(os.environ, PKG_CONFIG_SYSROOT_DIR=str(destdir),
               PKG_CONFIG_LIBDIR=str(destdir / "usr/lib/pkgconfig"))
    flags = run("pkg-config", "--cflags", "--libs", "exofusion", env=env).stdout.split()
    out = destdir / "installed_client"
    run("cc", "-std=c11", "-Wall", "-Wextra", "-Werror", CLIENT, *flags, "-o", out)
    return out


def run_client(destdir, client, *prefix, check=True):
    env = dict(os.environ, LD_LIBRARY_PATH=str(destdir / "usr/lib"))
    return run(*prefix, client, "device", "2000", env=env, check=check)


def test_installed_module_loads_with_modprobe_and_says_its_version(installed_module):
    assert open("/sys/module/exofusion/version").read().strip() == VERSION
    assert stat.S_ISCHR(os.stat(CONTROL).st_mode)


def test_c_program_built_with_pkg_config_moves_messages_through_the_module(
        installed_module, destdir, client):
    expected = "installed_client: 2000 messages through a device ring\n"
    assert run_client(destdir, client).stdout == expected
    # The control node is world-usable by default: another uid too.
    assert run_client(destdir, client, "setpriv", *NOBODY).stdout == expected
    assert exo.module_totals() == (0, 0)


@pytest.fixture
def udev_rule(installed_module, destdir):
    """The installed rule in the guest's /etc (a tmpfs overlay), applied to
    the control node by `udevadm test` (no udevd runs here), with the group
    it names; all of it undone after (the module's reload remakes the node)."""
    if not shutil.which("udevadm"):
        pytest.skip("udevadm is not installed")
    run("groupadd", "--system", "exofusion")
    shutil.copy(destdir / "etc/udev/rules.d/60-exofusion.rules", RULE)
    try:
        yield grp.getgrnam("exofusion").gr_gid
    finally:
        RULE.unlink()
        run("groupdel", "exofusion", check=False)


def test_udev_rule_gives_the_control_node_its_group_and_mode(udev_rule, destdir, client):
    out = run("udevadm", "test", "--action=add", "/devices/virtual/misc/exofusion-control")
    assert "60-exofusion.rules" in out.stderr + out.stdout
    st = os.stat(CONTROL)
    assert (st.st_gid, stat.S_IMODE(st.st_mode)) == (udev_rule, 0o660)

    # A member of the group creates rings; anyone else is refused at open.
    member = ("--reuid=65534", f"--regid={udev_rule}", "--clear-groups")
    assert run_client(destdir, client, "setpriv", *member).returncode == 0
    refused = run_client(destdir, client, "setpriv", *NOBODY, check=False)
    assert refused.returncode == 1
    assert "Permission denied" in refused.stderr and CONTROL in refused.stderr
    assert exo.module_totals() == (0, 0)


@pytest.fixture
def live_install(module):
    """`make install` into the guest's own / (a tmpfs overlay over the
    host's, so nothing reaches the host), undone by `make uninstall`."""
    args = ("make", "-s", "--no-print-directory", "-C", ROOT, f"KVER={os.uname().release}")
    had_group = run("getent", "group", "exofusion", check=False).returncode == 0
    run(*args, "install")
    exo.rmmod()
    try:
        yield
    finally:
        exo.rmmod(check=False)
        run(*args, "uninstall")
        if not had_group:
            run("groupdel", "exofusion", check=False)
        exo.insmod()


def test_make_install_on_the_live_system_serves_programs_then_uninstall_removes_it(
        live_install, tmp_path):
    # The group the udev rule names exists; modprobe finds the module by
    # depmod's index; the library is found without LD_LIBRARY_PATH (ldconfig).
    run("getent", "group", "exofusion")
    run("modprobe", "exofusion")
    assert open("/sys/module/exofusion/version").read().strip() == VERSION
    flags = run("pkg-config", "--cflags", "--libs", "exofusion").stdout.split()
    assert "-I/usr/local/include" in flags and "-lexofusion" in flags
    client = tmp_path / "client"
    run("cc", "-std=c11", CLIENT, *flags, "-o", client)
    assert "2000 messages through a device ring" in run(client, "device", "2000").stdout
    run("/usr/local/bin/fusionctl", "create", "live-install")
    assert "live-install" in run("/usr/local/bin/fusionctl", "list").stdout
    run("/usr/local/bin/fusionctl", "destroy", "live-install")
    run("rmmod", "exofusion")
    kver = os.uname().release
    run("make", "-s", "--no-print-directory", "-C", ROOT, f"KVER={kver}", "uninstall")
    for path in (f"/lib/modules/{kver}/extra/exofusion.ko", "/usr/local/lib/libexofusion.so",
                 "/usr/local/include/exofusion", "/usr/local/bin/fusionctl",
                 "/usr/local/lib/pkgconfig/exofusion.pc", "/etc/udev/rules.d/60-exofusion.rules"):
        assert not os.path.exists(path), path
    assert run("modprobe", "exofusion", check=False).returncode != 0
    assert run("ldconfig", "-p").stdout.count("libexofusion") == 0
