#!/usr/bin/python3
"""Builds the debug kernel that `exovm.py --kernel debug` boots: Debian's
linux-source-6.1 with a minimal config (tools/vm/debug-kernel.config on top of
`make allnoconfig`: only what the guest needs, all built in) plus KASAN,
lockdep, PROVE_RCU, DEBUG_ATOMIC_SLEEP, kmemleak, UBSAN, DEBUG_LIST, KFENCE and
the lockup detectors, and what the NIC driver and its tests need (PCI, e1000
as a module, page_pool, network namespaces, busy polling, DMA_API_DEBUG).

    debug_kernel.py build     build it unless cached; print the tree (a KDIR)
    debug_kernel.py path      print the tree if it is built, else exit 1
    debug_kernel.py config    only write and check the config (in a scratch dir)

The tree is cached outside the clone, in $EXO_DEBUG_KERNEL_CACHE or
/var/cache/exofusion/debug-kernel/ (~/.cache/exofusion/debug-kernel/ when
that is not writable), under <source version>-<hash of config and compiler>:
only the first run on a machine pays for the build. It is built aside and
renamed into place, so an interrupted build leaves nothing half done. The tree
is an in-tree build with modules_prepare done and Module.symvers written, so
the module builds against it with KDIR=<tree>.
"""
import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE_PACKAGE = "linux-source-6.1"
SOURCE_TARBALL = Path("/usr/src/linux-source-6.1.tar.xz")
FRAGMENT = HERE / "debug-kernel.config"
# Bump when the build steps below change what ends up in the tree.
RECIPE = "allnoconfig+fragment+olddefconfig; bzImage modules; modules_install; v2"
# The modules the config builds (e1000, the NIC tests' peer) are installed
# here inside the tree; the guest sees them as /lib/modules/<release>.
MODULES_ROOT = "exo-modroot"
DEFAULT_CACHE = Path("/var/cache/exofusion/debug-kernel")
BUILD_INFO = "exo-build.json"
# The kernel build is the slowest thing a check does; it yields to the rest.
NICENESS = 10


class BuildError(Exception):
    """The source is missing, the config came out wrong or the build failed."""


def note(message):
    print(f"debug_kernel: {message}", file=sys.stderr, flush=True)


# --- Pure pieces (tested in tests/host/test_vm_harness.py) -----------------------------

def parse_config(lines):
    """A .config (or fragment) as {symbol: value}, None for 'is not set'."""
    values = {}
    for line in lines:
        line = line.strip()
        match = re.fullmatch(r"(CONFIG_\w+)=(.*)", line)
        if match:
            values[match[1]] = match[2]
            continue
        match = re.fullmatch(r"# (CONFIG_\w+) is not set", line)
        if match:
            values[match[1]] = None
    return values


def config_mismatches(fragment_lines, config_lines):
    """The fragment's settings the final .config does not have, as
    'CONFIG_X: wanted W, got G' lines (an absent symbol counts as not set)."""
    wanted = parse_config(fragment_lines)
    got = parse_config(config_lines)
    return [f"{symbol}: wanted {'n' if value is None else value}, "
            f"got {'n' if got.get(symbol) is None else got[symbol]}"
            for symbol, value in wanted.items() if got.get(symbol) != value]


def tree_name(source_version, fragment_text, toolchain):
    """The cache key: the source's version and a hash of what the tree depends on."""
    digest = hashlib.sha256("\0".join((RECIPE, fragment_text, toolchain)).encode())
    return f"{source_version}-{digest.hexdigest()[:12]}"


# --- The host ---------------------------------------------------------------------------

def source_version():
    res = subprocess.run(["dpkg-query", "-W", "-f=${Version}", SOURCE_PACKAGE],
                         capture_output=True, text=True)
    if res.returncode != 0 or not res.stdout.strip() or not SOURCE_TARBALL.exists():
        raise BuildError(f"{SOURCE_PACKAGE} is not installed ({SOURCE_TARBALL}): "
                         "run tools/setup.sh")
    return res.stdout.strip()


def toolchain():
    """The compiler's identity: the module must be built with the kernel's."""
    return subprocess.run(["gcc", "--version"], capture_output=True, text=True,
                          check=True).stdout.splitlines()[0]


def cache_root():
    configured = os.environ.get("EXO_DEBUG_KERNEL_CACHE")
    if configured:
        return Path(configured)
    with contextlib.suppress(OSError):
        DEFAULT_CACHE.mkdir(parents=True, exist_ok=True)
    if os.access(DEFAULT_CACHE, os.W_OK):
        return DEFAULT_CACHE
    home_cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return home_cache / "exofusion" / "debug-kernel"


def tree_path():
    """Where the tree for the installed source, this config and compiler lives."""
    return cache_root() / tree_name(source_version(), FRAGMENT.read_text(), toolchain())


def is_built(tree):
    return (tree / BUILD_INFO).exists()


def kernel_release(tree):
    return (tree / "include" / "config" / "kernel.release").read_text().strip()


def bzimage(tree):
    return tree / "arch" / "x86" / "boot" / "bzImage"


def modules_dir(tree):
    """/lib/modules/<release> of the built tree (what modules_install wrote)."""
    return tree / MODULES_ROOT / "lib" / "modules" / kernel_release(tree)


@contextlib.contextmanager
def build_lock(root):
    root.mkdir(parents=True, exist_ok=True)
    with open(root / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def depmod():
    """modules_install runs depmod, which may live outside a user's PATH."""
    found = shutil.which("depmod", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if not found:
        raise BuildError("depmod not found: run tools/setup.sh (kmod)")
    return found


def make(tree, log, *targets, jobs=1):
    command = ["nice", "-n", str(NICENESS), "make", f"-j{jobs}", *targets]
    with open(log, "a") as out:
        out.write(f"$ {' '.join(command)}\n")
        out.flush()
        res = subprocess.run(command, cwd=tree, stdout=out, stderr=subprocess.STDOUT)
    if res.returncode != 0:
        tail = "".join(f"\n    {line}" for line in log.read_text().splitlines()[-30:])
        raise BuildError(f"make {' '.join(targets)} failed in {tree}; {log} ends:{tail}")


def configure(tree, log):
    """allnoconfig, the fragment merged on top, olddefconfig; then every line of
    the fragment must be in the result (Kconfig drops what it cannot satisfy)."""
    make(tree, log, "allnoconfig")
    with open(log, "a") as out:
        subprocess.run(["scripts/kconfig/merge_config.sh", "-m", ".config", str(FRAGMENT)],
                       cwd=tree, stdout=out, stderr=subprocess.STDOUT, check=True)
    make(tree, log, "olddefconfig")
    mismatches = config_mismatches(FRAGMENT.read_text().splitlines(),
                                   (tree / ".config").read_text().splitlines())
    if mismatches:
        raise BuildError("the debug kernel's config lacks what "
                         f"{FRAGMENT.name} asks for:" + "".join(f"\n    {m}" for m in mismatches))


def unpack(dest):
    dest.mkdir(parents=True)
    subprocess.run(["tar", "-xf", str(SOURCE_TARBALL), "-C", str(dest), "--strip-components=1"],
                   check=True)


def build(jobs):
    """The tree, built unless it is cached already."""
    tree = tree_path()
    if is_built(tree):
        return tree
    with build_lock(tree.parent):
        if is_built(tree):
            return tree
        partial = tree.parent / f".{tree.name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        note(f"building the debug kernel in {partial} (once per machine; the log is "
             f"{partial}/exo-build.log)")
        wall, cpu = time.monotonic(), os.times()
        unpack(partial)
        log = partial / "exo-build.log"
        configure(partial, log)
        make(partial, log, "bzImage", "modules", jobs=jobs)
        make(partial, log, "modules_prepare", jobs=jobs)
        make(partial, log, "modules_install", f"INSTALL_MOD_PATH={partial / MODULES_ROOT}",
             "INSTALL_MOD_STRIP=1", f"DEPMOD={depmod()}")
        done = os.times()
        info = {"source": SOURCE_PACKAGE, "source_version": source_version(),
                "release": kernel_release(partial), "toolchain": toolchain(), "jobs": jobs,
                "wall_minutes": round((time.monotonic() - wall) / 60, 1),
                "cpu_minutes": round((done.children_user + done.children_system
                                      - cpu.children_user - cpu.children_system) / 60, 1)}
        (partial / BUILD_INFO).write_text(json.dumps(info, indent=1) + "\n")
        shutil.rmtree(tree, ignore_errors=True)
        partial.rename(tree)
        note(f"debug kernel {info['release']} built in {info['wall_minutes']} min "
             f"({info['cpu_minutes']} CPU min): {tree}")
    return tree


def main(argv):
    parser = argparse.ArgumentParser(prog="debug_kernel.py", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=("build", "path", "config"))
    parser.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args(argv)
    if args.action == "config":
        with tempfile.TemporaryDirectory(prefix="exo-debug-kernel-") as tmp:
            scratch = Path(tmp) / "linux"
            unpack(scratch)
            configure(scratch, scratch / "exo-build.log")
            note("the config has every line of " + FRAGMENT.name)
        return 0
    if args.action == "path":
        tree = tree_path()
        if not is_built(tree):
            note(f"not built yet ({tree}): run {sys.argv[0]} build")
            return 1
    else:
        tree = build(args.jobs)
    print(tree)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BuildError as error:
        note(str(error))
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
