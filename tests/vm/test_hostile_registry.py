"""The ring registry against a hostile local user: open() binds to exactly
the ring whose node was opened, create never reads a ring it published,
one uid cannot take every ring, openers can refuse a squatter, ring names
cannot collide with the module's own sysfs files, and ring pages are
charged to the creator's memory cgroup."""
import ctypes
import errno
import json
import mmap
import os
import resource
import struct
import subprocess
import time

import pytest

import exo
from paths import binary, binary_for_others

NOBODY = 65534
LIMIT = "/sys/module/exofusion/parameters/max_rings_per_user"


def start_as(uid, fn, *args):
    """Runs fn(*args) in a forked child as uid (gid the same, no groups;
    uid 0 stays root); returns (pid, fd of its JSON result)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(r)
            if uid:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
            result = json.dumps({"result": fn(*args)})
            code = 0
        except BaseException as e:  # the parent reports it
            result = json.dumps({"exception": repr(e)})
        os.write(w, result.encode())
        os._exit(code)
    os.close(w)
    return pid, r


def finish(child):
    pid, r = child
    data = b""
    while chunk := os.read(r, 1 << 16):
        data += chunk
    os.close(r)
    _, status = os.waitpid(pid, 0)
    result = json.loads(data)
    assert status == 0 and "result" in result, result
    return result["result"]


def run_as(uid, fn, *args):
    return finish(start_as(uid, fn, *args))


def fusionctl_as(uid, *args):
    return subprocess.run([str(binary_for_others("fusionctl")), *args], capture_output=True,
                          text=True, timeout=120, user=uid, group=uid, extra_groups=[])


def new_kernel_log(before):
    return exo.dmesg()[len(before):]


def assert_no_warning(log):
    for bad in ("WARNING", "Call Trace", "BUG", "duplicate filename"):
        assert bad not in log, log


@pytest.fixture
def names(module):
    """Ring names this test may use; all destroyed afterwards (as root)."""
    used = []

    def name(suffix):
        used.append(f"hr-{suffix}")
        exo.destroy_quietly(used[-1])
        return used[-1]
    before = exo.module_totals()
    yield name
    for n in used:
        exo.destroy_quietly(n)
    assert exo.module_totals() == before


@pytest.fixture
def ring_limit(module):
    """max_rings_per_user set to 3 for the test, restored afterwards."""
    with open(LIMIT) as f:
        old = f.read().strip()
    with open(LIMIT, "w") as f:
        f.write("3")
    yield 3
    with open(LIMIT, "w") as f:
        f.write(old)


# --- open binds to the ring whose node was opened (issue 6, defect 2) ---

def churn_own_ring(name, seconds):
    """nobody: its own 0666 ring, destroyed and created again and again."""
    made, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        if exo.create_errno(name, capacity=64, perm=0o666) == 0:
            made += 1
            exo.destroy(name)
    return {"made": made}


def open_repeatedly(name, seconds):
    """nobody: opens the node by name; for every open that succeeds, which
    ring it reached (its capacity, its owner)."""
    landed, errors, deadline = {}, {}, time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            fd = os.open(f"/dev/exofusion/{name}", os.O_RDWR)
        except OSError as e:
            errors[errno.errorcode[e.errno]] = errors.get(errno.errorcode[e.errno], 0) + 1
            continue
        try:
            key = f"{exo.info(fd)['capacity']}/{exo.stats(fd)['owner_uid']}"
        finally:
            os.close(fd)
        landed[key] = landed.get(key, 0) + 1
    return {"landed": landed, "errors": errors}


def test_open_never_lands_in_another_uids_ring_across_destroy_and_create(names):
    mine, other = names("race"), names("race-root")
    seconds = 12
    children = [start_as(NOBODY, churn_own_ring, mine, seconds)]
    children += [start_as(NOBODY, open_repeatedly, mine, seconds) for _ in range(2)]
    # root: 0600 rings of capacity 128, under the same name whenever it is
    # free and under another name, so that freed minors are taken at once.
    made, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        for name in (mine, other):
            if exo.create_errno(name, capacity=128, perm=0o600) == 0:
                made += 1
                exo.destroy(name)
    churn, *opens = [finish(c) for c in children]
    landed = {}
    for o in opens:
        for key, n in o["landed"].items():
            landed[key] = landed.get(key, 0) + n
    assert churn["made"] > 0 and made > 0
    assert landed.get(f"64/{NOBODY}", 0) > 0, opens
    assert set(landed) == {f"64/{NOBODY}"}, f"opens reached other rings: {opens}"


def test_reopening_a_destroyed_rings_node_is_enxio_even_when_its_name_is_back(names):
    name = names("reopen")
    exo.create(name, capacity=64, perm=0o666)
    path_fd = os.open(f"/dev/exofusion/{name}", os.O_PATH)
    try:
        exo.destroy(name)
        exo.create(name, capacity=128, perm=0o600)
        with pytest.raises(OSError) as e:
            os.close(os.open(f"/proc/self/fd/{path_fd}", os.O_RDWR))
        assert e.value.errno == errno.ENXIO
    finally:
        os.close(path_fd)


def test_a_node_made_by_hand_under_another_name_is_enxio(names, tmp_path):
    name = names("byhand")
    exo.create(name)
    rdev = os.stat(f"/dev/exofusion/{name}").st_rdev
    os.mknod(tmp_path / "elsewhere", 0o600 | 0o020000, rdev)
    os.mknod(tmp_path / name, 0o600 | 0o020000, rdev)
    with pytest.raises(OSError) as e:
        os.open(tmp_path / "elsewhere", os.O_RDWR)
    assert e.value.errno == errno.ENXIO
    fd = os.open(tmp_path / name, os.O_RDWR)
    assert exo.info(fd)["capacity"] == 64
    os.close(fd)


def test_minors_are_not_reused_right_after_a_destroy(names):
    a, b = names("minor-a"), names("minor-b")
    exo.create(a)
    first = os.stat(f"/dev/exofusion/{a}").st_rdev
    exo.destroy(a)
    exo.create(b)
    assert os.stat(f"/dev/exofusion/{b}").st_rdev != first


# --- create never touches a ring it published (issue 6, defect 3) ---

@pytest.fixture
def debug_module(module):
    """The module loaded with slab_debug=1 (freed ring control blocks are
    poisoned with 0x6b), then loaded plain again."""
    exo.reload("slab_debug=1")
    yield
    exo.destroy_quietly("hr-uaf")
    exo.reload()


def create_repeatedly(name, seconds):
    sizes, deadline = {}, time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            size = exo.create(name, capacity=64)
        except OSError:
            continue
        sizes[str(size)] = sizes.get(str(size), 0) + 1
    return sizes


def destroy_repeatedly(name, seconds):
    gone, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            exo.destroy(name)
            gone += 1
        except OSError:
            pass
    return {"gone": gone}


def test_create_never_returns_the_region_size_of_a_ring_destroy_freed(debug_module):
    creator = start_as(0, create_repeatedly, "hr-uaf", 12)
    destroyer = start_as(0, destroy_repeatedly, "hr-uaf", 12)
    sizes, gone = finish(creator), finish(destroyer)
    assert gone["gone"] > 0
    # A 64-slot ring without a pool: the header page and one page of slots.
    assert set(sizes) == {str(2 * 4096)}, sizes


# --- one user cannot take every ring (issue 6, defect 4) ---

def create_all(names_and_kw, memlock=8 << 20):
    """Creates rings under an RLIMIT_MEMLOCK of |memlock|; their errnos."""
    resource.setrlimit(resource.RLIMIT_MEMLOCK, (memlock, memlock))
    return [exo.create_errno(n, **kw) for n, kw in names_and_kw]


def test_rings_beyond_max_rings_per_user_are_emfile_and_say_so(names, ring_limit):
    mine = [names(f"limit-{i}") for i in range(ring_limit + 1)]
    before = exo.dmesg()
    got = run_as(NOBODY, create_all, [(n, {}) for n in mine])
    assert got == [0] * ring_limit + [errno.EMFILE]
    assert "max_rings_per_user" in new_kernel_log(before)
    res = fusionctl_as(NOBODY, "create", mine[-1])
    assert res.returncode == 1
    assert (f"uid {NOBODY} has as many rings as the module's max_rings_per_user allows "
            "(Too many open files)") in res.stderr, res.stderr
    # Root and other uids are not affected by nobody's count.
    assert exo.create_errno(names("limit-root")) == 0
    assert run_as(NOBODY - 1, create_all, [(names("limit-other"), {})]) == [0]


def test_ring_counts_come_back_after_destroy_and_failed_creates(names, ring_limit):
    mine = [names(f"count-{i}") for i in range(ring_limit)]
    # Failed creates (bad arguments, a name already taken, more memory
    # than RLIMIT_MEMLOCK allows) count nothing.
    taken = names("count-taken")
    exo.create(taken)
    bad = [(mine[0], {"capacity": 3}), (taken, {}),
           (mine[0], {"capacity": 1 << 20, "buf_size": 1 << 22, "buf_count": 200})]
    assert run_as(NOBODY, create_all, bad) == [errno.EINVAL, errno.EEXIST, errno.ENOMEM]
    for _ in range(3):
        assert run_as(NOBODY, create_all, [(n, {}) for n in mine]) == [0] * ring_limit
        for n in mine:
            exo.destroy(n)


def test_a_squatter_at_its_limit_does_not_deny_rings_to_others(names, ring_limit):
    squatted = [names(f"squat-{i}") for i in range(ring_limit)]
    assert run_as(NOBODY, create_all, [(n, {}) for n in squatted]) == [0] * ring_limit
    others = [names(f"squat-other-{i}") for i in range(ring_limit)]
    assert run_as(NOBODY - 1, create_all, [(n, {}) for n in others]) == [0] * ring_limit


def test_unload_with_published_rings_of_a_user_leaks_no_count(module, ring_limit):
    mine = [f"hr-unload-{i}" for i in range(ring_limit)]
    for n in mine:
        exo.destroy_quietly(n)
    assert run_as(NOBODY, create_all, [(n, {}) for n in mine]) == [0] * ring_limit
    before = exo.dmesg()
    exo.rmmod()
    assert_no_warning(new_kernel_log(before))
    exo.insmod(f"max_rings_per_user={ring_limit}")
    try:
        assert run_as(NOBODY, create_all, [(n, {}) for n in mine]) == [0] * ring_limit
    finally:
        for n in mine:
            exo.destroy_quietly(n)


def test_owner_check_refuses_a_squatted_name(names):
    name = names("chat")
    assert run_as(NOBODY, create_all, [(name, {"perm": 0o666})]) == [0]
    fd = os.open(f"/dev/exofusion/{name}", os.O_RDWR)
    try:
        assert exo.info(fd)["owner_uid"] == NOBODY
        assert exo.stats(fd)["owner_uid"] == NOBODY
    finally:
        os.close(fd)
    assert exo.sysfs_stats(name)["owner_uid"] == str(NOBODY)
    fusionctl = str(binary("fusionctl"))
    for args in (["send", name, "hello"], ["recv", name, "--nonblock"], ["stat", name]):
        res = subprocess.run([fusionctl, *args, "--owner", "root"], capture_output=True,
                             text=True, timeout=60)
        assert res.returncode == 1, res
        assert res.stderr == (f"fusionctl: {args[0]}: ring '{name}' belongs to uid {NOBODY}, "
                              "not to the expected uid 0 (Operation not permitted)\n")
    assert exo.sysfs_stats(name)["messages"] == "0"
    for owner in ("nobody", str(NOBODY)):
        res = subprocess.run([fusionctl, "send", name, "--owner", owner, "hi"],
                             capture_output=True, text=True, timeout=60)
        assert res.returncode == 0, res.stderr
    res = subprocess.run([fusionctl, "send", name, "--owner", "no-such-user", "hi"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2 and "--owner: no user 'no-such-user'" in res.stderr
    assert exo.sysfs_stats(name)["messages"] == "2"


# --- ring names cannot collide with the module's files (issue 6, defect 6) ---

@pytest.mark.parametrize("former", ["rings", "pages", "slab_pages", "totals"])
def test_ring_named_like_a_module_total_makes_no_stack_dump(names, former):
    name = former
    exo.destroy_quietly(name)
    before = exo.dmesg()
    try:
        exo.create(name)
        assert exo.sysfs_stats(name)["capacity"] == "64"
        assert os.path.exists(f"/dev/exofusion/{name}")
    finally:
        exo.destroy_quietly(name)
    assert_no_warning(new_kernel_log(before))
    assert exo.total("rings") >= 0 and exo.total("slab_pages") >= 0


def test_ring_stats_are_one_value_per_file(names):
    name = names("sysfs")
    exo.create(name, capacity=128, mode=exo.MPMC)
    st = exo.sysfs_stats(name)
    assert st["capacity"] == "128" and st["mode"] == "mpmc" and st["owner_uid"] == "0"
    assert all(len(v.split()) == 1 for v in st.values()), st
    assert set(exo.STATS_FIELDS) <= set(st) | {"mode"}


# --- ring pages are charged to the creator's memory cgroup ---

CGROUP = "/sys/fs/cgroup"


@pytest.fixture
def memcg(module):
    """A cgroup v2 child with the memory controller; removed afterwards."""
    if not os.path.exists(f"{CGROUP}/cgroup.controllers"):
        os.makedirs(CGROUP, exist_ok=True)
        subprocess.run(["mount", "-t", "cgroup2", "none", CGROUP], check=True)
    with open(f"{CGROUP}/cgroup.controllers") as f:
        if "memory" not in f.read().split():
            pytest.skip("no memory controller in this kernel")
    with open(f"{CGROUP}/cgroup.subtree_control", "w") as f:
        f.write("+memory")
    path = f"{CGROUP}/exo-memcg-test"
    os.makedirs(path, exist_ok=True)
    yield path
    os.rmdir(path)


def memory_current(cg):
    with open(f"{cg}/memory.current") as f:
        return int(f.read())


def create_in_cgroup(cg, name, kw):
    with open(f"{cg}/cgroup.procs", "w") as f:
        f.write(str(os.getpid()))
    return exo.create(name, **kw)


def test_ring_pages_are_charged_to_the_creators_memory_cgroup(names, memcg):
    name = names("memcg")
    kw = {"capacity": 1 << 16, "buf_size": 4096, "buf_count": 4096}  # about 20 MiB
    before = memory_current(memcg)
    size = run_as(0, create_in_cgroup, memcg, name, kw)
    charged = memory_current(memcg) - before
    assert charged >= size, (charged, size)
    exo.destroy(name)
    assert memory_current(memcg) - before < size // 4


def test_create_whose_request_cannot_be_written_back_is_efault_and_makes_no_ring(module):
    # The request is read, the ring made, then region_size cannot be copied
    # back (a read-only page): EFAULT must mean that nothing was created,
    # not a ring its creator never heard of.
    name = b"hr-efault"
    exo.destroy_quietly(name.decode())
    before = exo.module_totals()
    page = mmap.mmap(-1, mmap.PAGESIZE)
    page[:struct.calcsize(exo.CREATE_FMT)] = struct.pack(exo.CREATE_FMT, name, 64, exo.SPSC,
                                                         0, 0, 0o600, 0, 0)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(page))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    libc.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]
    assert libc.mprotect(addr, mmap.PAGESIZE, mmap.PROT_READ) == 0
    fd = os.open(exo.CONTROL, os.O_RDWR)
    try:
        ret = libc.ioctl(fd, exo.ABI["EXO_IOC_CREATE"], addr)
        assert (ret, ctypes.get_errno()) == (-1, errno.EFAULT)
    finally:
        os.close(fd)
        libc.mprotect(addr, mmap.PAGESIZE, mmap.PROT_READ | mmap.PROT_WRITE)
    assert not os.path.exists(f"/dev/exofusion/{name.decode()}")
    assert exo.module_totals() == before
