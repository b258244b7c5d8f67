"""The exofusion ABI for tests, taken from uapi/exofusion.h by build/bin/uapi_dump."""
import errno
import fcntl
import json
import os
import struct
import subprocess

from paths import MODULE, binary

ABI = json.loads(subprocess.run([str(binary("uapi_dump"))], check=True,
                                capture_output=True, text=True).stdout)
CONTROL = "/dev/exofusion/control"
SYSFS = "/sys/class/exofusion"          # one directory per ring: <name>/stats/<counter>
TOTALS = "/sys/module/exofusion/totals"  # the module's totals: rings, pages, slab_pages
SPSC, MPMC = 0, 1

# struct exo_create_req: name[32], capacity, mode, buf_size, buf_count, perm, flags, region_size
CREATE_FMT = "32sIIIIIIQ"
assert struct.calcsize(CREATE_FMT) == ABI["sizeof(struct exo_create_req)"]
# struct exo_ring_info: magic, abi, mode, capacity, free_capacity, buf_size, buf_count, owner_uid,
# then the offsets and the region size
INFO_FMT = "IIIIIIIIQQQQ"
assert struct.calcsize(INFO_FMT) == ABI["sizeof(struct exo_ring_info)"]
STATS_FIELDS = ("messages received batches full_events empty_events sleeps wakeups "
                "kernel_errors region_size capacity mode buf_size buf_count open_count owner_uid").split()
STATS_FMT = "9Q6I"
assert struct.calcsize(STATS_FMT) == ABI["sizeof(struct exo_ring_stats)"]
WAIT_FMT = "IIq"
assert struct.calcsize(WAIT_FMT + "iI") == ABI["sizeof(struct exo_wake_wait_req)"]


def ioctl_errno(fd, request, arg):
    """Runs an ioctl; returns (0, result) or (errno, None)."""
    try:
        return 0, fcntl.ioctl(fd, request, arg)
    except OSError as e:
        return e.errno, None


def create(name, capacity=64, mode=SPSC, buf_size=0, buf_count=0, perm=0o600, flags=0):
    """Creates a ring; returns its region size, raises OSError on failure."""
    raw = name if isinstance(name, bytes) else name.encode()
    req = struct.pack(CREATE_FMT, raw, capacity, mode, buf_size, buf_count, perm, flags, 0)
    fd = os.open(CONTROL, os.O_RDWR)
    try:
        out = fcntl.ioctl(fd, ABI["EXO_IOC_CREATE"], req)
    finally:
        os.close(fd)
    return struct.unpack(CREATE_FMT, out)[-1]


def create_errno(name, **kw):
    try:
        create(name, **kw)
        return 0
    except OSError as e:
        return e.errno


def destroy(name):
    fd = os.open(CONTROL, os.O_RDWR)
    try:
        fcntl.ioctl(fd, ABI["EXO_IOC_DESTROY"], struct.pack("32s", name.encode()))
    finally:
        os.close(fd)


def destroy_quietly(name):
    try:
        destroy(name)
    except OSError as e:
        if e.errno != errno.ENOENT:
            raise


def info(fd):
    keys = ("magic abi_version mode capacity free_capacity buf_size buf_count owner_uid "
            "slots_offset free_offset pool_offset region_size").split()
    raw = fcntl.ioctl(fd, ABI["EXO_RING_IOC_INFO"], bytes(ABI["sizeof(struct exo_ring_info)"]))
    return dict(zip(keys, struct.unpack(INFO_FMT, raw)))


def stats(fd):
    raw = fcntl.ioctl(fd, ABI["EXO_RING_IOC_STATS"], bytes(ABI["sizeof(struct exo_ring_stats)"]))
    return dict(zip(STATS_FIELDS, struct.unpack(STATS_FMT, raw)))


def wait(fd, which, timeout_ns):
    """EXO_RING_IOC_WAIT; returns 0 or the errno."""
    err, _ = ioctl_errno(fd, ABI["EXO_RING_IOC_WAIT"], struct.pack(WAIT_FMT, which, 0, timeout_ns))
    return err


def wake_wait(fd, which, timeout_ns, wake_fd, wake_which, flags=0):
    """EXO_RING_IOC_WAKE_WAIT; returns 0 or the errno."""
    req = struct.pack(WAIT_FMT + "iI", which, flags, timeout_ns, wake_fd, wake_which)
    err, _ = ioctl_errno(fd, ABI["EXO_RING_IOC_WAKE_WAIT"], req)
    return err


def dmesg():
    """The kernel log so far; callers compare what follows a snapshot."""
    return subprocess.run(["dmesg"], capture_output=True, text=True, check=True).stdout


def total(name):
    """One of the module's totals: rings, pages or slab_pages."""
    with open(f"{TOTALS}/{name}") as f:
        return int(f.read())


def module_totals():
    """Rings and pages the module holds (its own counters)."""
    return total("rings"), total("pages")


def sysfs_stats(name):
    """A ring's /sys/class/exofusion/<name>/stats/: counter -> value (text)."""
    directory = f"{SYSFS}/{name}/stats"
    out = {}
    for counter in os.listdir(directory):
        with open(f"{directory}/{counter}") as f:
            out[counter] = f.read().strip()
    return out


# The suite tests the module's own slab (exo) on every kernel, KASAN ones
# included, where the default (auto) would be kmem_cache: lockdep, KFENCE and
# UBSAN check its code there. test_slab.py checks what auto picks.
TEST_PARAMS = ("slab_backend=exo",)


def insmod(*params, check=True):
    """Loads the module with |params|, the suite's defaults for those not given;
    returns the CompletedProcess."""
    given = {p.split("=")[0] for p in params}
    params = [p for p in TEST_PARAMS if p.split("=")[0] not in given] + list(params)
    return subprocess.run(["insmod", str(MODULE), *params], capture_output=True, text=True,
                          check=check)


def rmmod(check=True):
    return subprocess.run(["rmmod", "exofusion"], capture_output=True, text=True, check=check)


def reload(*params):
    """rmmod, then insmod with |params|."""
    rmmod()
    insmod(*params)


NOBODY = 65534
DEBUGFS = "/sys/kernel/debug/exofusion"


def as_nobody(fn):
    """|fn| wrapped to run as uid and gid nobody, without groups (in a child)."""
    def run():
        os.setgroups([])
        os.setgid(NOBODY)
        os.setuid(NOBODY)
        return fn()
    return run


def slab_command(kind, command):
    """Writes |command| to debugfs exofusion/slab_<kind>; returns what it reads back."""
    fd = os.open(f"{DEBUGFS}/slab_{kind}", os.O_RDWR)
    try:
        os.write(fd, command.encode())
        return os.pread(fd, 256, 0).decode()
    finally:
        os.close(fd)
