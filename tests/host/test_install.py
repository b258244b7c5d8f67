"""Installing exofusion the way a user or a packager does: `make install`
into a DESTDIR (then `make uninstall`), a C program built against the
installed library with pkg-config and cc alone, the shared library's
exported API, modinfo's documentation, and DKMS for each kernel series.
The same C program runs against the module in tests/vm/test_install_vm.py."""
import os
import pathlib
import re
import shutil
import subprocess

import pytest

from paths import MODULE_BUILDS, ROOT

VERSION = (ROOT / "VERSION").read_text().strip()
SONAME = f"libexofusion.so.{VERSION.split('.')[0]}"
CLIENT = ROOT / "tests" / "packaging" / "installed_client.c"
BUILT_KERNELS = sorted(p.parent.name for p in MODULE_BUILDS.glob("*/exofusion.ko"))


def run(*cmd, check=True, **kw):
    res = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if check:
        assert res.returncode == 0, f"{cmd}: exit {res.returncode}\n{res.stdout}\n{res.stderr}"
    return res


def make(*args, check=True):
    return run("make", "-s", "--no-print-directory", "-C", ROOT, *args, check=check)


def files_under(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())


def kernel_of_series(series):
    """The release of the installed headers of a kernel series (exovm.py's choice)."""
    kdir = run("/usr/bin/python3", ROOT / "tools/vm/exovm.py", "kdirs", series).stdout.split()[0]
    text = open(f"{kdir}/include/generated/utsrelease.h").read()
    return re.search(r'UTS_RELEASE "([^"]+)"', text).group(1)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """One `make install PREFIX=/usr DESTDIR=...` for the first kernel built."""
    assert BUILT_KERNELS, "no module built: run make module"
    destdir = tmp_path_factory.mktemp("destdir")
    make("install", f"DESTDIR={destdir}", "PREFIX=/usr", f"KVER={BUILT_KERNELS[0]}")
    return destdir


def pkg_config(destdir, *args):
    env = dict(os.environ, PKG_CONFIG_SYSROOT_DIR=str(destdir),
               PKG_CONFIG_LIBDIR=str(destdir / "usr/lib/pkgconfig"))
    return run("pkg-config", *args, "exofusion", env=env).stdout.split()


def test_install_puts_each_file_where_a_packager_expects_it(installed):
    kver = BUILT_KERNELS[0]
    files = files_under(installed)
    expected = [
        "etc/udev/rules.d/60-exofusion.rules",
        f"lib/modules/{kver}/extra/exofusion.ko",
        "usr/bin/fusionctl",
        "usr/include/exofusion/exofusion.h",
        "usr/include/exofusion/exofusion.hpp",
        "usr/include/exofusion/uapi/exofusion.h",
        "usr/lib/libexofusion.a",
        "usr/lib/libexofusion.so",
        f"usr/lib/{SONAME}",
        f"usr/lib/libexofusion.so.{VERSION}",
        "usr/lib/pkgconfig/exofusion.pc",
        "usr/share/doc/exofusion/modprobe.d/exofusion.conf",
    ]
    # depmod wrote its index for the kernel, with the module in it.
    depmod = [f for f in files if f.startswith(f"lib/modules/{kver}/modules.")]
    assert f"lib/modules/{kver}/modules.dep" in depmod
    assert sorted(set(files) - set(depmod)) == sorted(expected)
    dep = (installed / f"lib/modules/{kver}/modules.dep").read_text()
    assert dep.startswith("extra/exofusion.ko:"), dep
    assert os.readlink(installed / "usr/lib/libexofusion.so") == SONAME
    assert os.access(installed / "usr/bin/fusionctl", os.X_OK)
    version = run("modinfo", "-F", "version", installed / f"lib/modules/{kver}/extra/exofusion.ko")
    assert version.stdout.strip() == VERSION


def test_pkg_config_file_names_the_installed_paths(installed):
    assert pkg_config(installed, "--modversion") == [VERSION]
    assert pkg_config(installed, "--cflags") == [f"-I{installed}/usr/include"]
    assert pkg_config(installed, "--libs") == [f"-L{installed}/usr/lib", "-lexofusion"]
    # A static link of the C++ library needs its runtime, and says so.
    assert "-lstdc++" in pkg_config(installed, "--static", "--libs")


def declared_functions():
    """Every function exofusion.h declares (not its static inline helpers)."""
    header = (ROOT / "userspace/include/exofusion/exofusion.h").read_text()
    header = re.sub(r"/\*.*?\*/", "", header, flags=re.S)
    header = re.sub(r"static inline[^{]*\{.*?\n\}", "", header, flags=re.S)
    return set(re.findall(r"\b(exo_\w+)\(", header)) - set(re.findall(r"struct (exo_\w+)", header))


def test_shared_library_exports_the_c_api_and_nothing_else(installed):
    lib = installed / f"usr/lib/libexofusion.so.{VERSION}"
    dynamic = run("readelf", "-dW", lib).stdout
    assert f"Library soname: [{SONAME}]" in dynamic
    symbols = run("nm", "-D", "--defined-only", lib).stdout.split("\n")
    names = {line.split()[-1].split("@")[0] for line in symbols if line.strip()}
    names.discard("EXOFUSION_0")  # the version script's node
    assert names == declared_functions()


def compile_client(destdir, out, *link):
    cflags = pkg_config(destdir, "--cflags")
    run("cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", *cflags, CLIENT,
        *link, "-o", out)
    return out


def test_c_program_builds_with_pkg_config_and_cc_alone(installed, tmp_path):
    client = compile_client(installed, tmp_path / "client", *pkg_config(installed, "--libs"))
    needed = re.findall(r"NEEDED.*\[(.*)\]", run("readelf", "-dW", client).stdout)
    assert SONAME in needed and not any("stdc++" in n for n in needed), needed
    env = dict(os.environ, LD_LIBRARY_PATH=str(installed / "usr/lib"))
    res = run(client, "memfd", "1000", env=env)
    assert res.stdout == "installed_client: 1000 messages through a memfd ring\n"


def test_c_program_links_the_static_library_with_pkg_config_static(installed, tmp_path):
    libs = pkg_config(installed, "--static", "--libs")
    libs = ["-l:libexofusion.a" if flag == "-lexofusion" else flag for flag in libs]
    client = compile_client(installed, tmp_path / "client", *libs)
    assert "libexofusion" not in run("readelf", "-dW", client).stdout
    assert run(client, "memfd", "300").returncode == 0


def test_uninstall_removes_everything_install_put(tmp_path):
    kver = BUILT_KERNELS[0]
    args = (f"DESTDIR={tmp_path}", "PREFIX=/usr", f"KVER={kver}")
    make("install", *args)
    make("uninstall", *args)
    left = [f for f in files_under(tmp_path) if not f.startswith(f"lib/modules/{kver}/modules.")]
    assert left == []


def test_uninstall_from_a_destdir_drops_the_module_from_its_depmod_index(tmp_path):
    kver = BUILT_KERNELS[0]
    args = (f"DESTDIR={tmp_path}", "PREFIX=/usr", f"KVER={kver}")
    make("install", *args)
    make("uninstall", *args)
    dep = (tmp_path / f"lib/modules/{kver}/modules.dep").read_text()
    assert "exofusion" not in dep, dep  # modprobe -d would look for the removed module


def test_install_and_uninstall_with_a_space_in_destdir_touch_nothing_else(tmp_path):
    kver = BUILT_KERNELS[0]
    neighbour = tmp_path / "pkg"  # what "pkg root" would split into
    neighbour.mkdir()
    (neighbour / "keep").write_text("not exofusion's\n")
    destdir = tmp_path / "pkg root"
    args = (f"DESTDIR={destdir}", "PREFIX=/usr", f"KVER={kver}")
    make("install", *args)
    assert "usr/bin/fusionctl" in files_under(destdir)
    make("uninstall", *args)
    assert [f for f in files_under(destdir) if "/modules." not in f] == []
    assert files_under(tmp_path / "pkg") == ["keep"]


def test_uninstall_leaves_a_shared_docdir_alone(tmp_path):
    kver = BUILT_KERNELS[0]
    other = tmp_path / "usr/share/doc/other/README"
    other.parent.mkdir(parents=True)
    other.write_text("another package's\n")
    args = (f"DESTDIR={tmp_path}", "PREFIX=/usr", f"KVER={kver}", "DOCDIR=/usr/share/doc")
    make("install", *args)
    assert (tmp_path / "usr/share/doc/modprobe.d/exofusion.conf").exists()
    make("uninstall", *args)
    assert other.exists()
    assert not (tmp_path / "usr/share/doc/modprobe.d").exists()


def test_install_for_a_kernel_without_a_built_module_names_it(tmp_path):
    res = make("install-module", f"DESTDIR={tmp_path}", "KVER=0.0.0-nonesuch", check=False)
    assert res.returncode != 0
    assert "no module built for kernel '0.0.0-nonesuch'" in res.stderr
    assert files_under(tmp_path) == []


@pytest.mark.parametrize("kver", BUILT_KERNELS)
def test_every_module_parameter_has_a_description(kver):
    out = run("modinfo", MODULE_BUILDS / kver / "exofusion.ko").stdout
    params = re.findall(r"^parm:\s+(\w+):(.*)$", out, flags=re.M)
    assert params
    undocumented = [name for name, text in params if re.fullmatch(r"\s*\(\w+\)", text)]
    assert undocumented == []
    assert re.search(rf"^version:\s+{re.escape(VERSION)}$", out, flags=re.M)


# --- DKMS, on this machine's own DKMS tree (root) ---

def dkms_status():
    return run("dkms", "status", "exofusion").stdout.strip()


@pytest.fixture
def dkms_tree():
    if os.geteuid() != 0 or not shutil.which("dkms"):
        pytest.skip("DKMS needs root and the dkms package (tools/setup.sh installs it)")
    if dkms_status():
        pytest.skip(f"exofusion is registered with DKMS already, left alone:\n{dkms_status()}")
    yield
    make("dkms-remove", check=False)


def installed_dkms_module(kver):
    found = list(pathlib.Path(f"/lib/modules/{kver}/updates/dkms").glob("exofusion.ko*"))
    return found[0] if found else None


def test_dkms_builds_the_module_for_each_kernel_series_and_removes_it(dkms_tree):
    kernels = [kernel_of_series("6.1"), kernel_of_series("6.12")]
    make("dkms-install", f"DKMS_KERNELS={' '.join(kernels)}")
    status = dkms_status()
    for kver in kernels:
        assert f"exofusion/{VERSION}, {kver}, x86_64: installed" in status, status
        module = installed_dkms_module(kver)
        assert module, f"no module under /lib/modules/{kver}/updates/dkms"
        vermagic = run("modinfo", "-F", "vermagic", module).stdout.split()[0]
        assert vermagic == kver
        assert run("modinfo", "-F", "version", module).stdout.strip() == VERSION
    assert os.path.exists(f"/usr/src/exofusion-{VERSION}/dkms.conf")

    # Again, as after an upgrade of the sources: replaces the registration.
    make("dkms-install", f"DKMS_KERNELS={kernels[0]}")
    assert f"{kernels[0]}, x86_64: installed" in dkms_status()

    make("dkms-remove")
    assert dkms_status() == ""
    assert not os.path.exists(f"/usr/src/exofusion-{VERSION}")
    assert all(installed_dkms_module(kver) is None for kver in kernels)


def test_dkms_install_as_another_user_is_refused_with_the_reason(dkms_tree):
    res = run("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
              "make", "-s", "-C", ROOT, "dkms-install", check=False)
    assert res.returncode != 0
    assert "dkms-install: needs root (sudo make dkms-install)" in res.stderr
    assert dkms_status() == ""
