"""The module's C++ objects are freestanding: no C++ runtime, no static
constructors, kernel code generation (objtool and ftrace data present)."""
import subprocess

import pytest

from paths import ROOT

CORE_OBJECTS = sorted((ROOT / "module" / "core").glob("*.o"))
RUNTIME_SYMBOLS = ("__cxa_", "_Znw", "_Zdl", "__gxx_personality", "_Unwind_", "__dynamic_cast",
                   "_ZTV", "_ZTI", "std::")


def sections(obj):
    out = subprocess.run(["readelf", "-SW", str(obj)], capture_output=True, text=True, check=True)
    return out.stdout


def test_module_and_core_objects_were_built():
    assert (ROOT / "exofusion.ko").exists()
    assert len(CORE_OBJECTS) >= 3


@pytest.mark.parametrize("obj", CORE_OBJECTS, ids=lambda p: p.name)
def test_core_object_has_no_constructors_and_kernel_metadata(obj):
    text = sections(obj)
    assert ".init_array" not in text and ".ctors" not in text
    assert ".eh_frame" not in text and ".gcc_except_table" not in text
    assert ".orc_unwind" in text, "objtool did not process the C++ object"
    assert "__mcount_loc" in text, "no ftrace entries: kernel flags were not applied"


@pytest.mark.parametrize("obj", CORE_OBJECTS, ids=lambda p: p.name)
def test_core_object_needs_no_cxx_runtime(obj):
    undefined = subprocess.run(["nm", "-u", "-C", str(obj)], capture_output=True, text=True,
                               check=True).stdout
    bad = [line for line in undefined.splitlines() if any(s in line for s in RUNTIME_SYMBOLS)]
    assert not bad, bad
