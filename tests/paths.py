"""Where the tests find the project's build outputs."""
import os
import pathlib
import shutil
import stat
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = ROOT / "build" / "bin"
# `make module` builds the module for each kernel in its own directory.
MODULE_BUILDS = ROOT / "build" / "module"


def module_for(release=None):
    """The module built for a kernel release (default: the running kernel)."""
    return MODULE_BUILDS / (release or os.uname().release) / "exofusion.ko"


MODULE = module_for()


def binary(name, variant=None):
    """A built program; variant 'asan' or 'tsan' picks a sanitizer build."""
    base = ROOT / "build" / variant / "bin" if variant else BIN
    return base / name


_others_dir = None


def binary_for_others(name):
    """build/bin/NAME as a path another user (nobody, in the permission tests)
    can run: the binary itself when every directory above it lets others
    through, else a copy in a world-traversable directory under /tmp (a
    checkout in a private directory, as mktemp -d makes)."""
    global _others_dir
    path = binary(name)
    if all(p.stat().st_mode & stat.S_IXOTH for p in path.parents):
        return path
    if _others_dir is None:
        _others_dir = pathlib.Path(tempfile.mkdtemp(prefix="exo-others-", dir="/tmp"))
        _others_dir.chmod(0o755)
    copy = _others_dir / name
    if not copy.exists():
        shutil.copy2(path, copy)
        os.chmod(copy, 0o755)
    return copy
