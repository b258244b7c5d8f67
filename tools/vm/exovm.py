#!/usr/bin/python3
"""Runs a command in a QEMU guest booted with one of the kernels the module is
built for, so the out-of-tree module can be loaded and tested.

    exovm.py [options] -- CMD [ARG...]    run CMD (argv, no shell) in the guest
    exovm.py [--kernel K] fetch           only prepare the cache (kernel, initramfs)
    exovm.py kdirs [--require] K...       print the KDIR (kernel build tree) of each K

The kernel (--kernel, else $EXO_KERNEL, else 6.1) is a series: 6.1, 6.12 and
6.12-rt are Debian's, their release taken from the installed linux-headers
packages (the one the series' metapackage depends on) and the matching
linux-image-<release>-unsigned fetched into the cache; debug is the kernel
tools/vm/debug_kernel.py builds (KASAN, lockdep, kmemleak, ...).

The guest sees the host's / read-only over 9p with a tmpfs overlay on top (its
writes vanish with it) and runs CMD in a chroot there, in the host's current
directory (or --cwd), with EXO_IN_VM=1. Each --share DIR is mounted read-write
at the same path, so results can be written back to the host. CMD's output is
streamed live. Afterwards the guest's kernel log and taint flags are checked.

Exit status: CMD's, unless
  123  CMD succeeded but the kernel log shows a problem or an unexpected taint
  124  the run timed out
  125  the guest stopped before CMD's exit status came back

NICs (--nics N): N Intel 8254x NICs on one QEMU hub (their traffic never
leaves the guest), NIC k (0-based) at PCI slot 0000:00:1k.0 with MAC
52:54:00:00:00:1k, so probe order and names are known: NIC 0 is the device
under test, NIC 1 its peer, NIC 2 and 3 more devices under test
(tests/nic.py). --nic-model picks QEMU's model (e1000 = 82540EM, the default,
e1000-82544gc, e1000-82545em), one for all or one per NIC (comma list, the last
repeated); --nic-mitigation off turns off QEMU's interrupt mitigation (on: at
least 128 us between interrupts whatever ITR says; off: ITR, RADV, TADV
ignored). Legacy INTx only (the 8254x has no MSI); as seen in the guest, NICs
0, 3, 4, 7 get IRQ 11 and 1, 2, 5, 6 IRQ 10, so the device under test and its
peer never share a line (their /proc/interrupts counts are their own). The
kernel's own modules (Linux's e1000 among them) are the guest's
/lib/modules/<release>, so `modprobe e1000` works on every kernel; nothing
loads it by itself (tests bind each NIC to the driver they want).

The debug kernel boots with swiotlb=force (every DMA mapping bounces, so
mapping mistakes show under DMA_API_DEBUG) and acpi=noirq (see
DEBUG_KERNEL_CMDLINE).

Also importable: run(cmd, ...) -> (returncode, output_text).
"""
import argparse
import contextlib
import ctypes
import dataclasses
import fcntl
import gzip
import hashlib
import lzma
import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import struct
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import debug_kernel  # noqa: E402  (a script next to this one)

REPO = HERE.parent.parent
CACHE = REPO / "build" / "vm"
INIT_SCRIPT = HERE / "init.sh"
BUSYBOX = Path("/bin/busybox")

# What the guest needs for its root: the rest comes from modules.dep (and
# what a kernel builds in, modules.builtin, is not loaded).
ROOT_MODULES = ("virtio_pci", "9pnet_virtio", "9p", "overlay")
# Only errors go to the (slow, serial) console; the whole log is read with dmesg.
KERNEL_CMDLINE = "console=ttyS0 panic=-1 loglevel=4"
# The debug kernel bounces every DMA mapping (DMA_API_DEBUG checks them).
# And it routes PCI interrupts without ACPI: its checkers slow the AML
# interpreter so that QEMU's _PRT method (a loop over every slot) runs past
# ACPICA's 30 s loop timeout each time a device enables its interrupt; the
# BIOS's routing gives the same IRQs.
DEBUG_KERNEL_CMDLINE = KERNEL_CMDLINE + " swiotlb=force acpi=noirq"
DEFAULT_TIMEOUT = 900
KVM_PROBE_TIMEOUT = 20

KERNEL_PROBLEM, TIMED_OUT, NO_STATUS = 123, 124, 125

# Kernel log lines that fail a run wherever they appear (the debug kernel's
# checkers: KASAN, KFENCE and lockdep reports start with "BUG:" or "WARNING:",
# UBSAN's with "UBSAN:", kmemleak's scan says "new suspected memory leaks")...
LOG_PROBLEMS = ("WARNING:", "BUG:", "Oops", "general protection", "lockdep",
                "possible circular locking", "INFO: possible", "refcount_t:",
                "kernel BUG", "UBSAN", "KASAN", "KFENCE", "suspected memory leak",
                "rcu: INFO", "detected stalls", "soft lockup", "hard LOCKUP",
                "hung_task", "blocked for more than", "ODEBUG", "list_add corruption",
                "list_del corruption", "Kernel panic", "sleeping function called")
# ...except these, which only say a checker is on.
LOG_BENIGN = ("RCU lockdep checking is enabled",)
# ...and those that fail it once the module has been loaded.
MODULE_NAME = "exofusion"
LOG_PROBLEMS_AFTER_MODULE = ("Call Trace",)

# /proc/sys/kernel/tainted bit i is TAINT_LETTERS[i]. Loading the module sets
# O (out-of-tree) and E (unsigned); anything else is a problem.
TAINT_LETTERS = "PFSRMBUDAWCIOELKXT"
EXPECTED_TAINTS = "OE"


class VmError(Exception):
    """A prerequisite is missing or the cache could not be prepared."""


def note(message):
    print(f"exovm: {message}", file=sys.stderr, flush=True)


# --- The guest kernel and the cache ---------------------------------------------------

def version_key(version):
    """Sorts '6.1.0-9' before '6.1.0-56'."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", version)]


@dataclasses.dataclass(frozen=True)
class Series:
    """A Debian kernel series: its releases' names and the headers metapackage
    that depends on the current one."""
    release: str
    metapackage: str


SERIES = {
    "6.1": Series(r"6\.1\.0-\d+-amd64", "linux-headers-amd64"),
    "6.12": Series(r"6\.12\.\d+\+deb12-amd64", "linux-headers-6.12-amd64"),
    "6.12-rt": Series(r"6\.12\.\d+\+deb12-rt-amd64", "linux-headers-6.12-rt-amd64"),
}
DEBUG = "debug"
KERNELS = (*SERIES, DEBUG)
DEFAULT_KERNEL = "6.1"


def installed_headers():
    """{package: Depends} of the installed linux-headers-* packages."""
    res = subprocess.run(["dpkg-query", "-W", "-f=${Package}\t${db:Status-Abbrev}\t${Depends}\n",
                          "linux-headers-*"], capture_output=True, text=True)
    packages = {}
    for line in res.stdout.splitlines():
        name, status, depends = (line.split("\t") + ["", ""])[:3]
        if status.startswith("ii"):
            packages[name] = depends
    return packages


def pick_release(kernel, packages):
    """The release of a series from the installed headers packages
    ({package: Depends}): the one its metapackage depends on, else the highest
    of the series. Never a release of another series."""
    series = SERIES[kernel]
    releases = [name.removeprefix("linux-headers-") for name in packages
                if re.fullmatch(f"linux-headers-({series.release})", name)]
    if not releases:
        raise VmError(f"no linux-headers package of the {kernel} series is installed "
                      f"({series.metapackage}): run tools/setup.sh")
    wanted = re.findall(r"linux-headers-(\S+)", packages.get(series.metapackage, ""))
    named = [release for release in wanted if release in releases]
    return named[0] if named else max(releases, key=version_key)


def kernel_choice(kernel=None):
    """--kernel, else $EXO_KERNEL, else the default; checked."""
    kernel = kernel or os.environ.get("EXO_KERNEL") or DEFAULT_KERNEL
    if kernel not in KERNELS:
        raise VmError(f"unknown kernel {kernel!r}: one of {', '.join(KERNELS)}")
    return kernel


def kernel_build_dir(kernel):
    """The tree a module for |kernel| is built against (a KDIR)."""
    if kernel == DEBUG:
        tree = debug_kernel.tree_path()
        if not debug_kernel.is_built(tree):
            raise VmError(f"the debug kernel is not built ({tree}): run "
                          "'make debug-kernel' (tools/vm/debug_kernel.py build)")
        return tree
    kdir = Path("/usr/src") / f"linux-headers-{pick_release(kernel, installed_headers())}"
    if not (kdir / "Makefile").exists():
        raise VmError(f"{kdir} is missing: reinstall its linux-headers package")
    return kdir


@dataclasses.dataclass(frozen=True)
class GuestImage:
    """The kernel of one release (unpacked from its Debian package into the
    cache, or the debug kernel's tree) and the initramfs built for it."""
    kver: str
    debug_tree: Path | None = None

    @property
    def cache_dir(self):
        return CACHE / self.kver

    @property
    def root(self):
        return self.cache_dir / "image"

    @property
    def vmlinuz(self):
        if self.debug_tree:
            return debug_kernel.bzimage(self.debug_tree)
        return self.root / "boot" / f"vmlinuz-{self.kver}"

    @property
    def modules_dir(self):
        """/lib/modules/<kver> of this kernel (the guest's, too)."""
        if self.debug_tree:
            return debug_kernel.modules_dir(self.debug_tree)
        return self.root / "lib" / "modules" / self.kver

    @property
    def cmdline(self):
        return DEBUG_KERNEL_CMDLINE if self.debug_tree else KERNEL_CMDLINE

    @property
    def initrd(self):
        return self.cache_dir / "initrd.gz"

    @property
    def initrd_stamp(self):
        return self.cache_dir / "initrd.stamp"


def run_tool(args, cwd=None):
    """Runs a host tool; a failure raises VmError quoting its output."""
    res = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    if res.returncode != 0:
        raise VmError(f"{shlex.join(map(str, args))} failed:\n{res.stdout}{res.stderr}")
    return res.stdout


def download_package(package, dest):
    """apt-get download, refreshing the package lists once if they lack it."""
    try:
        run_tool(["apt-get", "download", package], cwd=dest)
    except VmError:
        note(f"{package} not downloadable; running apt-get update once")
        run_tool(["apt-get", "update"])
        run_tool(["apt-get", "download", package], cwd=dest)
    return next(dest.glob(f"{package}_*.deb"))


def fetch_kernel(image):
    """Unpacks linux-image-<kver>-unsigned into image.root, with modules.dep.
    Unpacked aside and renamed, so an interrupted fetch leaves no half image."""
    package = f"linux-image-{image.kver}-unsigned"
    note(f"fetching {package} into {image.cache_dir}")
    unpacking = image.cache_dir / "image.partial"
    shutil.rmtree(unpacking, ignore_errors=True)
    unpacking.mkdir(parents=True)
    with tempfile.TemporaryDirectory(dir=image.cache_dir) as download_dir:
        deb = download_package(package, Path(download_dir))
        run_tool(["dpkg", "-x", deb, unpacking])
    run_tool([host_tool("depmod"), "-b", unpacking, image.kver])
    unpacking.rename(image.root)


def host_tool(name):
    """A tool that may live in an sbin directory missing from a user's PATH."""
    found = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    if not found:
        raise VmError(f"{name} not found: run tools/setup.sh")
    return found


# --- The initramfs --------------------------------------------------------------------

def module_name(path):
    return Path(path).name.split(".ko")[0].replace("-", "_")


def module_load_order(modules_dir, wanted):
    """The module files to load for `wanted`, each after the modules it needs;
    those the kernel has built in (modules.builtin) need no file."""
    deps = {}
    for line in (modules_dir / "modules.dep").read_text().splitlines():
        target, _, needed = line.partition(":")
        deps[target] = needed.split()
    builtin_list = modules_dir / "modules.builtin"
    builtin = ({module_name(line) for line in builtin_list.read_text().split()}
               if builtin_list.exists() else set())
    by_name = {module_name(path): path for path in deps}
    order = []

    def visit(path):
        if path not in order:
            for dep in deps[path]:
                visit(dep)
            order.append(path)

    for name in wanted:
        if name in builtin and name not in by_name:
            continue
        if name not in by_name:
            raise VmError(f"module {name} is not in {modules_dir}/modules.dep")
        visit(by_name[name])
    return [modules_dir / path for path in order]


def module_bytes(path):
    """A module as busybox's insmod can load it: decompressed."""
    if path.name.endswith(".ko"):
        return path.read_bytes()
    if path.name.endswith(".ko.xz"):
        return lzma.decompress(path.read_bytes())
    raise VmError(f"{path}: unexpected module format (expected .ko or .ko.xz)")


def is_dynamically_linked(path):
    """Whether an x86-64 ELF file names a program interpreter (PT_INTERP)."""
    with open(path, "rb") as elf:
        header = elf.read(64)
        (table_offset,) = struct.unpack_from("<Q", header, 32)
        entry_size, entries = struct.unpack_from("<HH", header, 54)
        elf.seek(table_offset)
        table = elf.read(entry_size * entries)
    pt_interp = 3
    return any(struct.unpack_from("<I", table, i * entry_size)[0] == pt_interp
               for i in range(entries))


def require_static_busybox():
    """The initramfs has no libc: a dynamically linked busybox cannot run there."""
    if not BUSYBOX.exists():
        raise VmError(f"{BUSYBOX} not found: run tools/setup.sh (busybox-static)")
    if is_dynamically_linked(BUSYBOX):
        raise VmError(f"{BUSYBOX} is dynamically linked: install busybox-static (tools/setup.sh)")


def inputs_digest(paths):
    digest = hashlib.sha256()
    for path in paths:
        digest.update(str(path).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def build_initramfs(image, modules):
    """/init, busybox and the modules, numbered in load order: a gzipped newc cpio."""
    note(f"building {image.initrd}")
    with tempfile.TemporaryDirectory(dir=image.cache_dir) as tmp:
        staging = Path(tmp) / "root"
        (staging / "bin").mkdir(parents=True)
        (staging / "modules").mkdir()
        shutil.copy(INIT_SCRIPT, staging / "init")
        (staging / "init").chmod(0o755)
        shutil.copy(BUSYBOX, staging / "bin" / "busybox")
        for index, module in enumerate(modules):
            (staging / "modules" / f"{index:02d}-{module_name(module)}.ko").write_bytes(
                module_bytes(module))
        members = sorted(str(p.relative_to(staging)) for p in staging.rglob("*"))
        archive = subprocess.run(["cpio", "--create", "--format=newc", "--owner=0:0", "--quiet"],
                                 cwd=staging, input="\n".join(members).encode(),
                                 capture_output=True, check=True).stdout
        partial = Path(tmp) / "initrd.gz"
        partial.write_bytes(gzip.compress(archive, mtime=0))
        partial.replace(image.initrd)


@contextlib.contextmanager
def cache_lock():
    """Serialises cache updates between concurrent exovm runs."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def prepare(kernel=None):
    """The guest image of |kernel| (a series or 'debug'), fetched and (re)built as
    needed. The debug kernel has everything built in: no modules to load."""
    for tool in ("qemu-system-x86_64", "apt-get", "dpkg", "depmod", "cpio"):
        host_tool(tool)
    require_static_busybox()
    kernel = kernel_choice(kernel)
    if kernel == DEBUG:
        tree = kernel_build_dir(DEBUG)
        image = GuestImage(debug_kernel.kernel_release(tree), debug_tree=tree)
    else:
        image = GuestImage(pick_release(kernel, installed_headers()))
    with cache_lock():
        modules = []
        if not image.debug_tree:
            if not image.root.is_dir():
                fetch_kernel(image)
            modules = module_load_order(image.modules_dir, ROOT_MODULES)
        image.cache_dir.mkdir(parents=True, exist_ok=True)
        stamp = inputs_digest([Path(__file__).resolve(), INIT_SCRIPT, BUSYBOX, *modules])
        built = image.initrd_stamp.read_text() if image.initrd_stamp.exists() else None
        if built != stamp or not image.initrd.exists():
            build_initramfs(image, modules)
            image.initrd_stamp.write_text(stamp)
    return image


# --- Booting the guest ----------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Job:
    """What the guest runs: a shell command line, in cwd, with shares mounted."""
    command: str
    cwd: str
    shares: tuple = ()


# QEMU's 8254x models (-device NAME): the 82540EM, the 82544GC, the 82545EM.
NIC_MODELS = ("e1000", "e1000-82544gc", "e1000-82545em")
MAX_NICS = 8
NIC_SLOT_BASE = 0x10


def nic_slot(index):
    """The PCI address of NIC |index| in the guest (sysfs spelling)."""
    return f"0000:00:{NIC_SLOT_BASE + index:02x}.0"


def nic_mac(index):
    return f"52:54:00:00:00:{NIC_SLOT_BASE + index:02x}"


def nic_models(count, model="e1000"):
    """The model of each of |count| NICs from one model or a list (a comma
    separated string or a sequence) whose last entry is repeated."""
    names = [m.strip() for m in model.split(",")] if isinstance(model, str) else list(model)
    if not 0 <= count <= MAX_NICS:
        raise VmError(f"--nics {count}: between 0 and {MAX_NICS}")
    if not names or any(name not in NIC_MODELS for name in names):
        raise VmError(f"NIC model {model!r}: each one of {', '.join(NIC_MODELS)}")
    if len(names) > max(count, 1):
        raise VmError(f"{len(names)} NIC models for {count} NICs")
    return tuple(names[min(i, len(names) - 1)] for i in range(count))


@dataclasses.dataclass(frozen=True)
class Machine:
    """How the guest is emulated. nics: the model of each NIC (NIC k at
    nic_slot(k)); nic_mitigation: QEMU's e1000 interrupt mitigation."""
    accel: str = "tcg"
    smp: int = 2
    mem: int = 2048
    icount: bool = False
    nics: tuple = ()
    nic_mitigation: bool = True


@dataclasses.dataclass
class GuestRun:
    """What came back from one boot. status, dmesg and tainted are None when the
    guest stopped before writing them; status is written last."""
    output: str
    timed_out: bool
    status: int | None
    dmesg: str | None
    tainted: int | None
    console: str
    qemu_errors: str


def share_tag(index):
    return f"share{index}"


def write_job(run_dir, job, image):
    """The files init.sh reads from the run directory."""
    (run_dir / "modules").write_text(f"{image.kver} {image.modules_dir}\n")
    (run_dir / "command").write_text(job.command)
    (run_dir / "cwd").write_text(job.cwd)
    (run_dir / "shares").write_text(
        "".join(f"{share_tag(i)} {path}\n" for i, path in enumerate(job.shares)))


def qemu_option_value(path):
    """QEMU splits option values at commas; a doubled comma is a literal one."""
    return str(path).replace(",", ",,")


def virtfs(tag, path, readonly=False):
    spec = (f"local,path={qemu_option_value(path)},mount_tag={tag},"
            "security_model=none,multidevs=remap")
    return ["-virtfs", spec + (",readonly=on" if readonly else "")]


def nic_options(models, mitigation):
    """QEMU options for NICs of |models| on one hub (hubid 0): what one sends
    the others receive, and nothing leaves the guest."""
    options = []
    for index, model in enumerate(models):
        options += ["-netdev", f"hubport,id=h{index},hubid=0",
                    "-device", f"{model},netdev=h{index},mac={nic_mac(index)},"
                    f"addr={NIC_SLOT_BASE + index:#x},mitigation={'on' if mitigation else 'off'}"]
    return options


def qemu_command(image, machine, run_dir, shares):
    """ttyS0 (kernel console) goes to console.log, ttyS1 (the command's output)
    to QEMU's stdout."""
    command = [
        "qemu-system-x86_64", "-nodefaults", "-no-user-config", "-display", "none",
        "-no-reboot", "-accel", machine.accel, "-cpu", "max",
        "-m", str(machine.mem), "-smp", str(machine.smp),
        "-kernel", str(image.vmlinuz), "-initrd", str(image.initrd),
        "-append", image.cmdline,
        "-chardev", f"file,id=console,path={qemu_option_value(run_dir / 'console.log')}",
        "-serial", "chardev:console",
        "-chardev", "stdio,id=output", "-serial", "chardev:output",
        *virtfs("hostroot", "/", readonly=True),
        *virtfs("exorun", run_dir),
    ]
    for index, path in enumerate(shares):
        command += virtfs(share_tag(index), path)
    command += nic_options(machine.nics, machine.nic_mitigation)
    if machine.icount:
        # Guest time counts instructions: repeatable timings (one TCG
        # thread runs the vCPUs in turn).
        command += ["-icount", "shift=0,sleep=off"]
    return command


def pump_output(qemu, deadline, stream):
    """QEMU's stdout until it closes, copied live to ours when stream is set.
    Returns (output bytes, timed out)."""
    chunks = []
    fd = qemu.stdout.fileno()
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return b"".join(chunks), True
        if not select.select([fd], [], [], remaining)[0]:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks), False
        chunks.append(chunk)
        if stream:
            sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()


def read_result(path):
    return path.read_text(errors="replace") if path.exists() else None


def read_number(path):
    text = read_result(path)
    return int(text) if text and text.strip().isdigit() else None


def die_with_parent():
    """Runs in the QEMU child: a killed harness must not leave its guest running."""
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def boot(image, job, machine, timeout, stream=False):
    """Boots a guest for one job and collects what it left behind."""
    with tempfile.TemporaryDirectory(prefix="exovm-") as tmp:
        run_dir = Path(tmp)
        write_job(run_dir, job, image)
        with open(run_dir / "qemu.stderr", "wb") as qemu_stderr:
            qemu = subprocess.Popen(qemu_command(image, machine, run_dir, job.shares),
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=qemu_stderr, preexec_fn=die_with_parent)
            try:
                output, timed_out = pump_output(qemu, time.monotonic() + timeout, stream)
            finally:
                # QEMU is gone already unless the run timed out or was interrupted.
                qemu.kill()
                qemu.wait()
        return GuestRun(
            output=output.decode(errors="replace"), timed_out=timed_out,
            status=read_number(run_dir / "status"), dmesg=read_result(run_dir / "dmesg"),
            tainted=read_number(run_dir / "tainted"),
            console=read_result(run_dir / "console.log") or "",
            qemu_errors=read_result(run_dir / "qemu.stderr") or "")


def choose_accelerator(image, machine):
    """TCG, unless EXO_VM_KVM=1 and KVM really boots the guest: on some hosts
    /dev/kvm exists but a stock kernel hangs on it. -icount needs TCG."""
    if machine.icount or os.environ.get("EXO_VM_KVM") != "1":
        return "tcg"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        note("EXO_VM_KVM=1 but /dev/kvm is not usable; using TCG")
        return "tcg"
    probe = boot(image, Job("true", "/"), dataclasses.replace(machine, accel="kvm"),
                 KVM_PROBE_TIMEOUT)
    if probe.status == 0:
        return "kvm"
    said = probe.qemu_errors.strip().splitlines()[:1]
    note(f"KVM did not run the guest within {KVM_PROBE_TIMEOUT} s"
         + "".join(f" ({line})" for line in said) + "; using TCG")
    return "tcg"


# --- Judging a run --------------------------------------------------------------------

def kernel_log_problems(dmesg):
    """The indexes of the kernel log lines that fail a run."""
    problems = []
    module_loaded = False
    for index, line in enumerate(dmesg):
        module_loaded = module_loaded or MODULE_NAME in line
        patterns = LOG_PROBLEMS + (LOG_PROBLEMS_AFTER_MODULE if module_loaded else ())
        if (any(pattern in line for pattern in patterns)
                and not any(benign in line for benign in LOG_BENIGN)):
            problems.append(index)
    return problems


def unexpected_taints(tainted):
    """The taint flags (letters) beyond those loading the module sets."""
    return "".join(letter for bit, letter in enumerate(TAINT_LETTERS)
                   if tainted >> bit & 1 and letter not in EXPECTED_TAINTS)


def quote(lines):
    return "".join(f"\n    {line}" for line in lines)


def last_words(guest):
    """What QEMU and the guest's console said last, for a run that went wrong."""
    said = ""
    if guest.qemu_errors.strip():
        said += "\nQEMU said:" + quote(guest.qemu_errors.splitlines()[-10:])
    if guest.console.strip():
        said += "\nguest console, last lines:" + quote(guest.console.splitlines()[-30:])
    return said


def kernel_log_report(dmesg):
    """None, or the offending lines and, for the trace, the log after the first."""
    lines = dmesg.splitlines()
    problems = kernel_log_problems(lines)
    if not problems:
        return None
    report = "the guest kernel log shows problems:" + quote(lines[i] for i in problems)
    following = lines[problems[0]:][:40]
    if len(following) > 1:
        report += "\nkernel log from the first problem on:" + quote(following)
    return report


def judge(guest, timeout, check_dmesg, allow_taint):
    """The run's exit status and the messages explaining a failure."""
    if guest.timed_out:
        return TIMED_OUT, [f"timed out after {timeout:g} s; QEMU killed" + last_words(guest)]
    if guest.status is None:
        return NO_STATUS, ["the guest stopped before the command's exit status came back"
                           + last_words(guest)]
    messages = []
    if check_dmesg:
        report = kernel_log_report(guest.dmesg)
        if report:
            messages.append(report)
    if not allow_taint:
        taints = unexpected_taints(guest.tainted)
        if taints:
            messages.append(f"the guest kernel is tainted '{taints}' (only "
                            f"'{EXPECTED_TAINTS}', from loading the module, is expected)")
    if messages and guest.status == 0:
        return KERNEL_PROBLEM, messages
    return guest.status, messages


# --- Entry points ---------------------------------------------------------------------

def share_path(path):
    """The absolute path of a host directory to share; init.sh reads it as a line."""
    absolute = os.path.abspath(path)
    if not os.path.isdir(absolute):
        raise VmError(f"share {path}: no such directory on the host")
    if "\n" in absolute:
        raise VmError(f"share {path!r}: a newline in the path is not supported")
    return absolute


# The guest mounts its own tmpfs here, hiding the host's directories.
GUEST_TMPFS = ("/tmp", "/run")


def shares_with_workdir(workdir, shares):
    """|shares| as absolute paths, plus |workdir| when the guest's own tmpfs
    would hide it (a clone under /tmp, say), so the command finds its files."""
    paths = tuple(share_path(share) for share in shares)
    hidden = any(workdir == top or workdir.startswith(top + "/") for top in GUEST_TMPFS)
    covered = any(workdir == p or workdir.startswith(p + "/") for p in paths)
    return paths + (share_path(workdir),) if hidden and not covered else paths


def run(cmd, smp=None, icount=False, timeout=DEFAULT_TIMEOUT, shares=(), cwd=None, *,
        mem=2048, stream=False, check_dmesg=True, allow_taint=False, kernel=None,
        nics=0, nic_model="e1000", nic_mitigation=True):
    """Runs cmd (a shell command line, or an argv sequence) in a fresh guest.
    Returns (returncode, output_text): the command's output, followed by lines
    starting with 'exovm: ' that explain a failure. With stream, the output is
    also copied to stdout as it comes, and the explanations to stderr. |kernel|
    is a series or 'debug' (default: $EXO_KERNEL, else 6.1). |nics| 8254x NICs
    of |nic_model| (one, or a list per NIC) at nic_slot(0...), with QEMU's
    interrupt mitigation on or off."""
    models = nic_models(nics, nic_model)
    image = prepare(kernel)
    command = cmd if isinstance(cmd, str) else shlex.join(map(str, cmd))
    workdir = os.path.abspath(cwd or os.getcwd())
    job = Job(command, workdir, shares_with_workdir(workdir, shares))
    if smp is None:
        smp = 1 if icount else 2
    machine = Machine(smp=smp, mem=mem, icount=icount, nics=models,
                      nic_mitigation=nic_mitigation)
    machine = dataclasses.replace(machine, accel=choose_accelerator(image, machine))
    guest = boot(image, job, machine, timeout, stream)
    returncode, messages = judge(guest, timeout, check_dmesg, allow_taint)
    output = guest.output
    if messages and output and not output.endswith("\n"):
        # The explanations start on a line of their own.
        output += "\n"
        if stream:
            print(flush=True)
    if stream:
        for message in messages:
            note(message)
    return returncode, output + "".join(f"exovm: {m}\n" for m in messages)


def parse_options(argv):
    parser = argparse.ArgumentParser(
        prog="exovm.py", usage="%(prog)s [options] -- CMD [ARG...]\n       %(prog)s "
        "[--kernel K] fetch\n       %(prog)s kdirs [--require] K...",
        description="Run CMD in a QEMU guest booted with one of the module's kernels.",
        epilog=f"exit status: CMD's; {KERNEL_PROBLEM} if CMD succeeded but the kernel log or "
               f"taint shows a problem, {TIMED_OUT} on timeout, {NO_STATUS} if the guest "
               "gave no status")
    parser.add_argument("--kernel", choices=KERNELS,
                        help=f"the guest kernel (default $EXO_KERNEL, else {DEFAULT_KERNEL})")
    parser.add_argument("--smp", type=int, help="vCPUs (default 2, or 1 with --icount)")
    parser.add_argument("--mem", type=int, default=2048, help="guest memory in MB (default 2048)")
    parser.add_argument("--icount", action="store_true",
                        help="guest time counts instructions (repeatable timing)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help=f"seconds before QEMU is killed (default {DEFAULT_TIMEOUT})")
    parser.add_argument("--share", action="append", default=[], metavar="DIR",
                        help="mount host DIR read-write at the same path in the guest")
    parser.add_argument("--cwd", metavar="DIR", help="guest working directory (default: ours)")
    parser.add_argument("--nics", type=int, default=0, metavar="N",
                        help=f"N 8254x NICs on one hub, NIC k at PCI {nic_slot(0)[:-4]}1k.0 "
                        "(default 0)")
    parser.add_argument("--nic-model", default="e1000", metavar="MODEL[,MODEL...]",
                        help=f"QEMU NIC model, one for all or one per NIC: "
                        f"{', '.join(NIC_MODELS)} (default e1000, the 82540EM)")
    parser.add_argument("--nic-mitigation", choices=("on", "off"), default="on",
                        help="QEMU's e1000 interrupt mitigation (default on)")
    parser.add_argument("--allow-taint", action="store_true",
                        help="accept kernel taints beyond those of loading the module")
    parser.add_argument("--no-dmesg-check", action="store_true",
                        help="do not fail on warnings in the kernel log (debugging only)")
    return parser, parser.parse_args(argv)


def print_kdirs(args):
    """kdirs [--require] K...: the build tree of each kernel, one a line; one
    that is not available is skipped with a note, or fails with --require."""
    require = "--require" in args
    for kernel in [arg for arg in args if arg != "--require"]:
        try:
            print(kernel_build_dir(kernel_choice(kernel)))
        except VmError as error:
            if require:
                raise
            note(f"skipping kernel {kernel}: {error}")
    return 0


def main(argv):
    """Options come before '--', the guest's argv after it."""
    split = argv.index("--") if "--" in argv else len(argv)
    options, command = argv[:split], argv[split + 1:]
    if options[:1] == ["kdirs"] and not command:
        return print_kdirs(options[1:])
    if options[-1:] == ["fetch"] and not command:
        _, args = parse_options(options[:-1])
        image = prepare(args.kernel)
        note(f"guest kernel {image.kver} and initramfs ready in {image.cache_dir}")
        return 0
    parser, args = parse_options(options)
    if not command:
        parser.error("no command: put it after '--'")
    returncode, _ = run(command, smp=args.smp, icount=args.icount, timeout=args.timeout,
                        shares=args.share, cwd=args.cwd, mem=args.mem, stream=True,
                        check_dmesg=not args.no_dmesg_check, allow_taint=args.allow_taint,
                        kernel=args.kernel, nics=args.nics, nic_model=args.nic_model,
                        nic_mitigation=args.nic_mitigation == "on")
    return returncode


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except VmError as error:
        note(str(error))
        sys.exit(NO_STATUS)
    except KeyboardInterrupt:
        sys.exit(130)
