"""Where the tests find the project's build outputs."""
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
BIN = ROOT / "build" / "bin"
MODULE = ROOT / "exofusion.ko"


def binary(name, variant=None):
    """A built program; variant 'asan' or 'tsan' picks a sanitizer build."""
    base = ROOT / "build" / variant / "bin" if variant else BIN
    return base / name
