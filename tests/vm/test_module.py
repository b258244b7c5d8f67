"""The module on a real kernel: nodes, bad inputs, mmap, permissions, memory."""
import errno
import mmap
import os
import stat
import subprocess

import pytest

import exo


def test_control_node_is_a_world_usable_char_device(module):
    st = os.stat(exo.CONTROL)
    assert stat.S_ISCHR(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o666


def test_create_makes_a_node_with_the_requested_mode_and_creator(ring):
    exo.create(ring, perm=0o640)
    st = os.stat(f"/dev/exofusion/{ring}")
    assert stat.S_ISCHR(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert (st.st_uid, st.st_gid) == (0, 0)
    assert exo.sysfs_stats(ring)["owner_uid"] == "0"
    exo.destroy(ring)
    assert not os.path.exists(f"/dev/exofusion/{ring}")


@pytest.mark.parametrize("name, kw, expected", [
    (b"", {}, errno.EINVAL),
    (b"a" * 32, {}, errno.ENAMETOOLONG),
    (b"a/b", {}, errno.EINVAL),
    (b"..", {}, errno.EINVAL),
    (b".", {}, errno.EINVAL),
    (b"control", {}, errno.EINVAL),
    (b"sp ace", {}, errno.EINVAL),
    (b"ok", {"capacity": 1000}, errno.EINVAL),
    (b"ok", {"capacity": 0}, errno.EINVAL),
    (b"ok", {"capacity": 1}, errno.EINVAL),
    (b"ok", {"capacity": 1 << 21}, errno.EINVAL),
    (b"ok", {"mode": 2}, errno.EINVAL),
    (b"ok", {"flags": 1}, errno.EINVAL),
    (b"ok", {"perm": 0o1777}, errno.EINVAL),
    (b"ok", {"buf_size": 100, "buf_count": 4}, errno.EINVAL),
    (b"ok", {"buf_size": 4096}, errno.EINVAL),
    (b"ok", {"buf_count": 4}, errno.EINVAL),
    (b"ok", {"buf_size": 1 << 23, "buf_count": 1}, errno.EINVAL),
    (b"ok", {"buf_size": 1 << 22, "buf_count": 512}, errno.EINVAL),
])
def test_bad_create_arguments_get_a_clear_errno_and_leak_nothing(module, name, kw, expected):
    before = exo.module_totals()
    assert exo.create_errno(name, **kw) == expected
    assert exo.module_totals() == before


def test_duplicate_name_is_eexist(ring):
    exo.create(ring)
    assert exo.create_errno(ring) == errno.EEXIST


def test_destroy_of_missing_ring_is_enoent(module):
    with pytest.raises(OSError) as e:
        exo.destroy("no-such-ring")
    assert e.value.errno == errno.ENOENT


def test_unknown_ioctls_are_enotty(ring):
    exo.create(ring)
    for path in (exo.CONTROL, f"/dev/exofusion/{ring}"):
        fd = os.open(path, os.O_RDWR)
        try:
            assert exo.ioctl_errno(fd, 0xEF7F, 0)[0] == errno.ENOTTY
        finally:
            os.close(fd)


def test_info_and_mapping_agree_and_mmap_is_bounded(ring):
    size = exo.create(ring, capacity=64, buf_size=4096, buf_count=8)
    fd = os.open(f"/dev/exofusion/{ring}", os.O_RDWR)
    try:
        info = exo.info(fd)
        assert info["region_size"] == size
        assert info["magic"] == exo.ABI["EXO_RING_MAGIC"]
        assert (info["capacity"], info["buf_size"], info["buf_count"]) == (64, 4096, 8)
        region = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        assert int.from_bytes(region[0:4], "little") == exo.ABI["EXO_RING_MAGIC"]
        region.close()
        with pytest.raises(OSError) as past:
            mmap.mmap(fd, size + 4096, mmap.MAP_SHARED, mmap.PROT_READ)
        assert past.value.errno == errno.EINVAL
        with pytest.raises(OSError) as offset:
            mmap.mmap(fd, 4096, mmap.MAP_SHARED, mmap.PROT_READ, offset=size)
        assert offset.value.errno == errno.EINVAL
        with pytest.raises(OSError) as exec_:
            mmap.mmap(fd, 4096, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_EXEC)
        assert exec_.value.errno == errno.EPERM
    finally:
        os.close(fd)


def test_rmmod_is_refused_while_a_ring_is_open(ring):
    exo.create(ring)
    fd = os.open(f"/dev/exofusion/{ring}", os.O_RDWR)
    try:
        res = subprocess.run(["rmmod", "exofusion"], capture_output=True, text=True)
        assert res.returncode != 0
        assert os.path.exists("/sys/module/exofusion")
    finally:
        os.close(fd)


def test_destroyed_ring_lives_until_its_last_mapping_goes(ring):
    rings0, pages0 = exo.module_totals()
    size = exo.create(ring)
    fd = os.open(f"/dev/exofusion/{ring}", os.O_RDWR)
    region = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    os.close(fd)
    exo.destroy(ring)
    assert not os.path.exists(f"/dev/exofusion/{ring}")
    assert exo.module_totals() == (rings0 + 1, pages0 + size // 4096)
    region[100] = 7  # still usable
    region.close()
    assert exo.module_totals() == (rings0, pages0)


def test_kernel_peer_read_write_inline_and_zerocopy(ring):
    exo.create(ring, capacity=4, buf_size=4096, buf_count=2)
    fd = os.open(f"/dev/exofusion/{ring}", os.O_RDWR | os.O_NONBLOCK)
    try:
        with pytest.raises(BlockingIOError):
            os.read(fd, 4096)
        assert os.write(fd, b"hello") == 5
        # Like mq_receive(): a buffer must hold the ring's largest message.
        with pytest.raises(OSError) as short:
            os.read(fd, 4095)
        assert short.value.errno == errno.EMSGSIZE
        assert os.read(fd, 4096) == b"hello"  # the message waited for a large enough buffer
        big = bytes(range(256)) * 12
        assert os.write(fd, big) == len(big)  # > 56 bytes: through a pool buffer
        assert os.read(fd, 4096) == big
        with pytest.raises(OSError) as huge:
            os.write(fd, b"x" * 5000)
        assert huge.value.errno == errno.EMSGSIZE
        for i in range(4):
            os.write(fd, bytes([i]))
        with pytest.raises(BlockingIOError):
            os.write(fd, b"full")
        assert [os.read(fd, 4096) for _ in range(4)] == [bytes([i]) for i in range(4)]
        st = exo.stats(fd)
        assert st["messages"] == st["received"] == 6
    finally:
        os.close(fd)


def test_corrupted_ring_gives_errors_never_an_oops(ring):
    size = exo.create(ring, capacity=8, buf_size=256, buf_count=4)
    fd = os.open(f"/dev/exofusion/{ring}", os.O_RDWR | os.O_NONBLOCK)
    region = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    try:
        info = exo.info(fd)
        slots = info["slots_offset"]
        os.write(fd, b"ok")
        region[slots + 4] = 99  # slot 0: unknown message type
        with pytest.raises(OSError) as bad:
            os.read(fd, 4096)
        assert bad.value.errno == errno.EBADMSG
        assert exo.stats(fd)["kernel_errors"] == 1
        rng = __import__("random").Random(1234)
        for _ in range(300):
            offset = rng.randrange(64, info["pool_offset"])
            region[offset:offset + 8] = rng.randbytes(8)
            for call in (lambda: os.read(fd, 4096), lambda: os.write(fd, b"x" * rng.randrange(1, 300)),
                         lambda: exo.wait(fd, rng.randrange(3), 0)):
                try:
                    call()
                except OSError as e:
                    assert e.errno in (errno.EAGAIN, errno.EBADMSG, errno.EMSGSIZE, errno.ETIMEDOUT)
    finally:
        region.close()
        os.close(fd)


def test_wait_times_out_on_an_empty_ring_and_rejects_bad_kinds(ring):
    exo.create(ring)
    fd = os.open(f"/dev/exofusion/{ring}", os.O_RDWR)
    try:
        assert exo.wait(fd, exo.ABI["EXO_WAIT_DATA"], 10_000_000) == errno.ETIMEDOUT
        assert exo.wait(fd, exo.ABI["EXO_WAIT_SPACE"], 0) == 0
        assert exo.wait(fd, 7, 0) == errno.EINVAL
        assert exo.wait(fd, exo.ABI["EXO_WAIT_BUFFER"], 0) == errno.EINVAL  # no pool
        assert exo.stats(fd)["sleeps"] >= 1
    finally:
        os.close(fd)


def test_wake_wait_checks_everything_before_it_wakes(ring):
    """EXO_RING_IOC_WAKE_WAIT: a bad request wakes no one and sleeps not;
    a good one wakes the named ring (its wakeups counter), then waits."""
    exo.create(ring)
    other = ring[:28] + "-b"
    exo.destroy_quietly(other)
    exo.create(other)
    fd = os.open(f"/dev/exofusion/{ring}", os.O_RDWR)
    ofd = os.open(f"/dev/exofusion/{other}", os.O_RDWR)
    r, w = os.pipe()
    data, space = exo.ABI["EXO_WAIT_DATA"], exo.ABI["EXO_WAIT_SPACE"]
    try:
        bad = [((data, 10**9, -1, data), errno.EBADF),         # no such fd
               ((data, 10**9, r, data), errno.EINVAL),          # not a ring
               ((data, 10**9, ofd, 3), errno.EINVAL),           # wake kind out of range
               ((7, 10**9, ofd, data), errno.EINVAL),           # wait kind out of range
               ((exo.ABI["EXO_WAIT_BUFFER"], 10**9, ofd, data), errno.EINVAL)]  # no pool
        for args, expected in bad:
            assert exo.wake_wait(fd, *args) == expected, args
        assert exo.wake_wait(fd, data, 10**9, ofd, data, flags=1) == errno.EINVAL
        assert exo.stats(ofd)["wakeups"] == 0, "a bad request woke the other ring"
        assert exo.wake_wait(fd, data, 10_000_000, ofd, space) == errno.ETIMEDOUT
        assert exo.stats(ofd)["wakeups"] == 1
        assert exo.stats(fd)["sleeps"] == 1
        # Its own fd: a ring may wake itself, then wait (space: at once).
        assert exo.wake_wait(fd, space, 10**9, fd, data) == 0
    finally:
        for f in (fd, ofd, r, w):
            os.close(f)
        exo.destroy_quietly(other)


def test_poll_and_epoll_report_data_only_once_sent(ring):
    import select
    exo.create(ring)
    reader = os.open(f"/dev/exofusion/{ring}", os.O_RDWR | os.O_NONBLOCK)
    writer = os.open(f"/dev/exofusion/{ring}", os.O_RDWR)
    ep = select.epoll()
    try:
        poller = select.poll()
        poller.register(reader, select.POLLIN)
        assert poller.poll(50) == []
        ep.register(reader, select.EPOLLIN)
        assert ep.poll(0.05) == []
        os.write(writer, b"wake")
        [(fd, events)] = poller.poll(1000)
        assert fd == reader and events & select.POLLIN
        [(fd, events)] = ep.poll(1)
        assert fd == reader and events & select.EPOLLIN
        assert os.read(reader, 64) == b"wake"
    finally:
        ep.close()
        os.close(reader)
        os.close(writer)
