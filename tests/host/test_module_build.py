"""The module's C++ objects are freestanding: no C++ runtime, no static
constructors, kernel code generation (objtool and ftrace data present where
the kernel has them), for every kernel `make module` built for, each in its
own directory."""
import subprocess

import pytest

from paths import MODULE_BUILDS, ROOT

BUILDS = sorted(p.parent for p in MODULE_BUILDS.glob("*/exofusion.ko"))
# Every C++ object of the core, in each subsystem's folder (ring/, slab/, nic/).
CORE_OBJECTS = [obj for build in BUILDS
                for obj in sorted((build / "module" / "core").rglob("*.o"))]
RUNTIME_SYMBOLS = ("__cxa_", "_Znw", "_Zdl", "__gxx_personality", "_Unwind_", "__dynamic_cast",
                   "_ZTV", "_ZTI", "std::")


def build_of(obj):
    """The build directory (build/module/<release>/) an object is in."""
    return next(b for b in BUILDS if b in obj.parents)


def object_id(obj):
    build = build_of(obj)
    return f"{build.name}/{obj.relative_to(build / 'module' / 'core')}"


def sections(obj):
    out = subprocess.run(["readelf", "-SW", str(obj)], capture_output=True, text=True, check=True)
    return out.stdout


def kernel_config(obj):
    """The .config of the tree the object was built against (make module
    leaves that tree's path in the build directory)."""
    kdir = (build_of(obj) / "kdir").read_text().strip()
    with open(f"{kdir}/.config") as config:
        return {line.split("=")[0] for line in config if line.endswith("=y\n")}


def test_module_and_core_objects_were_built():
    assert BUILDS, f"no module under {MODULE_BUILDS}: run make module"
    assert (ROOT / "exofusion.ko").resolve() in [b / "exofusion.ko" for b in BUILDS]
    for build in BUILDS:
        for subsystem in ("ring", "slab"):
            assert list((build / "module" / "core" / subsystem).glob("*.o")), (build, subsystem)


@pytest.mark.parametrize("obj", CORE_OBJECTS, ids=object_id)
def test_core_object_has_no_constructors_and_kernel_metadata(obj):
    text = sections(obj)
    config = kernel_config(obj)
    assert ".init_array" not in text and ".ctors" not in text
    assert ".eh_frame" not in text and ".gcc_except_table" not in text
    if "CONFIG_UNWINDER_ORC" in config:
        # With IBT (6.12) objtool runs once, on the linked module.
        delayed = "CONFIG_X86_KERNEL_IBT" in config or "CONFIG_LTO_CLANG" in config
        checked = sections(build_of(obj) / "exofusion.o") if delayed else text
        assert ".orc_unwind" in checked, "objtool did not process the C++ object"
    if "CONFIG_FTRACE_MCOUNT_RECORD" in config:
        assert "__mcount_loc" in text, "no ftrace entries: kernel flags were not applied"


@pytest.mark.parametrize("obj", CORE_OBJECTS, ids=object_id)
def test_core_object_needs_no_cxx_runtime(obj):
    undefined = subprocess.run(["nm", "-u", "-C", str(obj)], capture_output=True, text=True,
                               check=True).stdout
    bad = [line for line in undefined.splitlines() if any(s in line for s in RUNTIME_SYMBOLS)]
    assert not bad, bad


def test_each_kernels_module_is_built_against_that_kernel():
    """No object of one kernel in another's module: each .ko's vermagic
    names the release of the directory it was built in."""
    for build in BUILDS:
        info = subprocess.run(["modinfo", "-F", "vermagic", str(build / "exofusion.ko")],
                              capture_output=True, text=True, check=True).stdout
        assert info.split()[0] == build.name, (build, info)
