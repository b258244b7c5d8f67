import sys
import pathlib

# Tests import the shared helpers (paths, exo) as plain modules.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))


def pytest_configure(config):
    config.addinivalue_line("markers", "vm: boots a QEMU guest")
