"""Issue 6, defects 1, 5, 7 and 8: what a hostile (or merely unlucky) user does
to a ring's sleepers. Calls that could hang the kernel run in a child with a
timeout, so that a regression fails the test instead of hanging the VM."""
import ctypes
import errno
import fcntl
import mmap
import os
import select
import signal
import struct
import time

import pytest

import exo

LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.mmap.restype = ctypes.c_void_p
LIBC.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                      ctypes.c_long]
LIBC.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
LIBC.read.restype = ctypes.c_ssize_t
LIBC.read.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t]
LIBC.write.restype = ctypes.c_ssize_t
LIBC.write.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t]
LIBC.ioctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p]

PROD_POS, CONS_POS = 64, 128  # offsetof(exo_ring_header, prod.pos / cons.pos)
WAIT_DATA, WAIT_SPACE = exo.ABI["EXO_WAIT_DATA"], exo.ABI["EXO_WAIT_SPACE"]
NOBODY = 65534


class Ring:
    """A ring created for a test, opened and mapped writable, as any user
    with access can map it."""

    def __init__(self, name, flags=0, **kw):
        self.size = exo.create(name, **kw)
        self.name = name
        self.fd = os.open(f"/dev/exofusion/{name}", os.O_RDWR | flags)
        self.region = mmap.mmap(self.fd, self.size, mmap.MAP_SHARED,
                                mmap.PROT_READ | mmap.PROT_WRITE)
        self.info = exo.info(self.fd)

    def open(self, flags=0):
        return os.open(f"/dev/exofusion/{self.name}", os.O_RDWR | flags)

    def u64(self, offset, value=None):
        if value is not None:
            self.region[offset:offset + 8] = struct.pack("<Q", value)
        return struct.unpack("<Q", self.region[offset:offset + 8])[0]

    def seq_offset(self, pos):
        return self.info["slots_offset"] + (pos & (self.info["capacity"] - 1)) * 64

    def set_seq(self, pos, seq):
        off = self.seq_offset(pos)
        self.region[off:off + 4] = struct.pack("<I", seq & 0xFFFFFFFF)

    def close(self):
        self.region.close()
        os.close(self.fd)


@pytest.fixture
def rings(ring):
    """Rings named after the test (one at a time), closed afterwards."""
    made = []

    def make(flags=0, **kw):
        made.append(Ring(ring, flags, **kw))
        return made[-1]
    yield make
    for r in made:
        r.close()


def in_child(fn, timeout, after_start=None):
    """Runs fn() in a forked child; returns what it returned: an int, or
    -errno for an OSError. after_start() runs in the parent meanwhile. Fails
    the test if the child neither finishes nor dies from SIGKILL in time."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rfd)
        try:
            out = fn()
        except OSError as e:
            out = -e.errno
        except BaseException:  # noqa: B902 - anything else is a failure code
            out = -99999
        os.write(wfd, struct.pack("<q", out))
        os._exit(0)
    os.close(wfd)
    try:
        if after_start:
            after_start()
        ready, _, _ = select.select([rfd], [], [], timeout)
        if ready:
            data = os.read(rfd, 8)
            os.waitpid(pid, 0)
            assert len(data) == 8, "the child died without a result"
            return struct.unpack("<q", data)[0]
        os.kill(pid, signal.SIGKILL)
        died = wait_dead(pid, 10)
        pytest.fail(f"the call did not return within {timeout} s "
                    f"({'killed' if died else 'and SIGKILL did not end it: an unkillable kernel loop'})")
    finally:
        os.close(rfd)


def wait_dead(pid, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return True
        time.sleep(0.02)
    return False


def read_call(fd, size=4096):
    return lambda: len(os.read(fd, size))


def write_call(fd, data=b"x"):
    return lambda: os.write(fd, data)


def kernel_errors(r):
    return exo.stats(r.fd)["kernel_errors"]


# --- defect 1: a corrupted ring gives EBADMSG, never an endless kernel loop -----

@pytest.mark.parametrize("mode", [exo.SPSC, exo.MPMC], ids=["spsc", "mpmc"])
@pytest.mark.parametrize("blocking", [True, False], ids=["blocking", "nonblock"])
@pytest.mark.parametrize("ahead", [1, 2, 5])
def test_corrupt_seq_blocking_read_is_killable_not_a_spin(rings, mode, blocking, ahead):
    r = rings(capacity=8, mode=mode)
    for i in range(3):
        os.write(r.fd, bytes([i]))
    assert os.read(r.fd, 4096) == b"\x00"
    pos = r.u64(CONS_POS)
    assert pos == 1
    # The published cell of position 1 holds seq 2: a little ahead of it.
    r.set_seq(pos, pos + 1 + ahead)
    fd = r.open(0 if blocking else os.O_NONBLOCK)
    try:
        start = time.monotonic()
        assert in_child(read_call(fd), timeout=20) == -errno.EBADMSG
        assert time.monotonic() - start < 15
        assert kernel_errors(r) >= 1
        r.set_seq(pos, pos + 1)  # repaired: the ring works again
        assert os.read(fd, 4096) == b"\x01"
    finally:
        os.close(fd)


@pytest.mark.parametrize("blocking", [True, False], ids=["blocking", "nonblock"])
def test_corrupt_seq_blocking_mpmc_write_is_killable_not_a_spin(rings, blocking):
    r = rings(capacity=8, mode=exo.MPMC)
    os.write(r.fd, b"a")
    pos = r.u64(PROD_POS)
    r.set_seq(pos, pos + 2)  # a producer waits for seq == pos: this one is ahead
    fd = r.open(0 if blocking else os.O_NONBLOCK)
    try:
        assert in_child(write_call(fd), timeout=20) == -errno.EBADMSG
        assert kernel_errors(r) >= 1
    finally:
        os.close(fd)


@pytest.mark.parametrize("blocking", [True, False], ids=["blocking", "nonblock"])
def test_spsc_consumer_ahead_of_producer_makes_write_ebadmsg_not_a_sleep(rings, blocking):
    r = rings(capacity=8, mode=exo.SPSC)
    for _ in range(10):  # past the first lap, where any room a writer assumes is real
        os.write(r.fd, b"a")
        os.read(r.fd, 4096)
    r.u64(CONS_POS, r.u64(PROD_POS) + 3)  # no honest consumer is ahead of the producer
    fd = r.open(0 if blocking else os.O_NONBLOCK)
    try:
        assert in_child(write_call(fd), timeout=20) == -errno.EBADMSG
    finally:
        os.close(fd)


def test_corrupt_ring_reports_epollerr_and_wait_gives_ebadmsg(rings):
    r = rings(capacity=8, mode=exo.MPMC)
    os.write(r.fd, b"a")
    r.set_seq(0, 3)
    p = select.poll()
    p.register(r.fd, select.POLLIN)
    [(_, events)] = p.poll(1000)
    assert events & select.POLLERR
    assert in_child(lambda: exo.wait(r.fd, WAIT_DATA, -1), timeout=20) == errno.EBADMSG


def test_sigkill_ends_a_reader_blocked_on_an_empty_ring(rings):
    r = rings(capacity=8)
    pid = os.fork()
    if pid == 0:
        try:
            os.read(r.fd, 4096)
        finally:
            os._exit(0)
    time.sleep(0.5)
    assert os.waitpid(pid, os.WNOHANG) == (0, 0), "the reader should block"
    os.kill(pid, signal.SIGKILL)
    assert wait_dead(pid, 10), "SIGKILL did not end a blocked reader"


# --- defect 8: signals restart, a faulting buffer keeps the message -------------

def ctypes_read_with_alarm(fd, restart, size=4096):
    """In the child: a SIGALRM handler (SA_RESTART or not) fires while
    libc's read() blocks; returns read()'s result, or -errno, times 1000
    plus 1 if the handler ran."""
    ran = []
    signal.signal(signal.SIGALRM, lambda *_: ran.append(1))
    signal.siginterrupt(signal.SIGALRM, not restart)
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    buf = ctypes.create_string_buffer(size)
    n = LIBC.read(fd, buf, size)
    err = ctypes.get_errno()
    result = n if n >= 0 else -err
    signal.setitimer(signal.ITIMER_REAL, 0)
    return result * 1000 + (1 if ran else 0)


def test_sa_restart_signal_does_not_fail_a_blocking_read(rings):
    r = rings(capacity=8)
    out = in_child(lambda: ctypes_read_with_alarm(r.fd, restart=True), timeout=30,
                   after_start=lambda: (time.sleep(1.5), os.write(r.fd, b"late")))
    assert out == 4 * 1000 + 1, f"read gave {out // 1000} (handler ran: {out % 1000})"


def test_signal_without_sa_restart_interrupts_a_blocking_read_with_eintr(rings):
    r = rings(capacity=8)
    out = in_child(lambda: ctypes_read_with_alarm(r.fd, restart=False), timeout=30)
    assert out == -errno.EINTR * 1000 + 1


def ctypes_wait_with_alarm(fd, timeout_ns):
    signal.signal(signal.SIGALRM, lambda *_: None)
    signal.siginterrupt(signal.SIGALRM, False)  # SA_RESTART
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    req = ctypes.create_string_buffer(struct.pack(exo.WAIT_FMT, WAIT_DATA, 0, timeout_ns))
    ret = LIBC.ioctl(fd, exo.ABI["EXO_RING_IOC_WAIT"], req)
    return 0 if ret == 0 else -ctypes.get_errno()


def test_untimed_wait_restarts_after_sa_restart_handler_but_a_timed_one_is_eintr(rings):
    r = rings(capacity=8)
    assert in_child(lambda: ctypes_wait_with_alarm(r.fd, 20 * 10**9), timeout=30) == -errno.EINTR
    out = in_child(lambda: ctypes_wait_with_alarm(r.fd, -1), timeout=30,
                   after_start=lambda: (time.sleep(1.5), os.write(r.fd, b"x")))
    assert out == 0


def bad_buffer(kind, size):
    """A pointer a read cannot write: PROT_READ, or unmapped."""
    addr = LIBC.mmap(None, size, mmap.PROT_READ, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
    assert addr not in (None, ctypes.c_void_p(-1).value)
    if kind == "unmapped":
        LIBC.munmap(addr, size)
    return addr


@pytest.mark.parametrize("mode", [exo.SPSC, exo.MPMC], ids=["spsc", "mpmc"])
@pytest.mark.parametrize("length", [5, 1000], ids=["inline", "zerocopy"])
@pytest.mark.parametrize("kind", ["readonly", "unmapped"])
def test_read_into_a_faulting_buffer_is_efault_and_keeps_the_message(rings, mode, length, kind):
    r = rings(capacity=8, mode=mode, buf_size=4096, buf_count=4)
    msg = bytes(range(256)) * 4
    msg = msg[:length]
    assert os.write(r.fd, msg) == length
    addr = bad_buffer(kind, 8192)
    assert LIBC.read(r.fd, addr, 4096) == -1
    assert ctypes.get_errno() == errno.EFAULT
    nb = r.open(os.O_NONBLOCK)  # the old code lost the message: a blocking read hung
    try:
        assert os.read(nb, 4096) == msg, "the message was lost to the faulting read"
    except BlockingIOError:
        pytest.fail("the message was lost to the faulting read")
    finally:
        os.close(nb)
    st = exo.stats(r.fd)
    assert st["messages"] == st["received"] == 1
    if kind == "readonly":
        LIBC.munmap(addr, 8192)


# --- defect 7: EPOLLOUT and the buffer pool; sleeps woken; destroy -------------

def test_epoll_writer_of_pool_messages_sleeps_until_a_buffer_returns_not_spinning(rings):
    r = rings(os.O_NONBLOCK, capacity=8, buf_size=256, buf_count=2)
    big = b"m" * 100
    assert os.write(r.fd, big) == 100 and os.write(r.fd, big) == 100
    ep = select.epoll()
    ep.register(r.fd, select.EPOLLOUT)
    band = select.epoll()
    band.register(r.fd, select.EPOLLWRBAND)
    try:
        # Slots are free, buffers are not: an inline message fits, this one not.
        assert band.poll(0.1) != [], "EPOLLWRBAND: an inline message fits"
        eagains, sent = 0, 0
        reader = os.fork()
        if reader == 0:
            time.sleep(1.0)
            fd = r.open(os.O_NONBLOCK)
            os.read(fd, 4096)
            os._exit(0)
        try:
            end = time.monotonic() + 15
            while not sent and time.monotonic() < end:
                if not ep.poll(5):
                    continue
                try:
                    sent = os.write(r.fd, big)
                except BlockingIOError:
                    eagains += 1
        finally:
            os.waitpid(reader, 0)
        print(f"EAGAINs of the epoll writer before a buffer came back: {eagains}")
        assert sent == 100, "the writer was never woken when a buffer came back"
        assert eagains <= 2, f"{eagains} EAGAINs: EPOLLOUT was reported without a free buffer"
    finally:
        ep.close()
        band.close()


@pytest.mark.parametrize("mode", [exo.SPSC, exo.MPMC], ids=["spsc", "mpmc"])
def test_edge_triggered_epoll_reader_that_drained_to_eagain_is_woken_by_the_next_write(rings, mode):
    # The poll that reported EPOLLIN found data, so it announced no sleeper,
    # and with EPOLLET epoll never polls again: only a non-blocking read's
    # EAGAIN can announce the reader, or no sender would ever wake it.
    r = rings(os.O_NONBLOCK, capacity=8, mode=mode)
    ep = select.epoll()
    ep.register(r.fd, select.EPOLLIN | select.EPOLLET)
    try:
        writer = r.open()
        try:
            os.write(writer, b"first")
            assert ep.poll(5), "EPOLLIN for the first message"
            assert os.read(r.fd, 4096) == b"first"
            with pytest.raises(BlockingIOError):
                os.read(r.fd, 4096)
            pid = os.fork()
            if pid == 0:
                time.sleep(0.5)
                os.write(writer, b"second")
                os._exit(0)
            try:
                events = ep.poll(10)
            finally:
                os.waitpid(pid, 0)
            assert events, "the edge-triggered reader was never woken: no one announced it"
            assert os.read(r.fd, 4096) == b"second"
        finally:
            os.close(writer)
    finally:
        ep.close()


def test_two_kernel_readers_of_an_spsc_ring_never_get_one_message_twice(rings):
    # SPSC positions move with plain stores: two read()ers of one ring (two
    # threads, or two processes with read access) must not both deliver a
    # message and store the same next position.
    count, readers = 3000, 2
    r = rings(capacity=64)
    results = []
    for _ in range(readers):
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(rfd)
            fd = r.open(os.O_NONBLOCK)
            got = []
            end = time.monotonic() + 60
            while time.monotonic() < end:
                try:
                    msg = os.read(fd, 4096)
                except BlockingIOError:
                    continue
                except OSError as e:
                    got.append(-e.errno)
                    break
                if msg == b"end":
                    break
                got.append(int(msg))
            os.write(wfd, (" ".join(map(str, got)) + "\n").encode())
            os._exit(0)
        os.close(wfd)
        results.append((pid, rfd))
    for i in range(count):
        while True:
            try:
                os.write(r.fd, str(i).encode())
                break
            except BlockingIOError:
                time.sleep(0.001)
    for _ in range(readers):
        os.write(r.fd, b"end")
    seen = []
    for pid, rfd in results:
        with os.fdopen(rfd) as f:
            seen += [int(v) for v in f.read().split()]
        os.waitpid(pid, 0)
    assert all(v >= 0 for v in seen), f"a reader failed: {[v for v in seen if v < 0][:3]}"
    dupes = len(seen) - len(set(seen))
    assert dupes == 0, f"{dupes} messages delivered twice"
    assert sorted(seen) == list(range(count)), "messages lost"
    assert kernel_errors(r) == 0


def test_inline_write_on_a_full_no_pool_ring_is_woken_by_reads(rings):
    """A writer that found the ring full must sleep on the slot queue: it
    once picked the buffer queue, which nothing wakes on a ring without a
    pool, when a slot freed between its attempt and its choice (a race: many
    rounds make it likely, the timeout catches the hang)."""
    r = rings(capacity=2)
    count = 3000

    def writer():
        fd = r.open()
        for i in range(count):
            os.write(fd, struct.pack("<I", i))
        return count

    def reader():
        fd = r.open()
        for i in range(count):
            assert struct.unpack("<I", os.read(fd, 4096))[0] == i
        os.close(fd)

    pid = os.fork()
    if pid == 0:
        try:
            reader()
        finally:
            os._exit(0)
    try:
        assert in_child(writer, timeout=240) == count
    finally:
        if not wait_dead(pid, 60):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the reader did not finish")


def test_destroy_wakes_a_blocked_reader_and_gives_epollhup(rings):
    r = rings(capacity=8)
    ep = select.epoll()
    ep.register(r.fd, select.EPOLLIN)
    try:
        assert ep.poll(0.05) == []
        out = in_child(read_call(r.fd), timeout=30,
                       after_start=lambda: (time.sleep(1.0), exo.destroy(r.name)))
        assert out == -errno.EPIPE, "a reader blocked on a destroyed ring must be woken"
        [(_, events)] = ep.poll(5)
        assert events & select.EPOLLHUP
        with pytest.raises(OSError) as e:
            os.read(r.fd, 4096)
        assert e.value.errno == errno.EPIPE
        assert exo.wait(r.fd, WAIT_DATA, -1) == errno.EPIPE
    finally:
        ep.close()


def test_destroyed_ring_still_delivers_what_it_holds(rings):
    r = rings(capacity=8)
    os.write(r.fd, b"left")
    exo.destroy(r.name)
    assert os.read(r.fd, 4096) == b"left"
    # Blocking: the old code slept here for ever; in a child, it fails instead.
    assert in_child(read_call(r.fd), timeout=20) == -errno.EPIPE
    assert in_child(write_call(r.fd), timeout=20) in (1, -errno.EPIPE)


# --- defect 5: polls by any user must not interrupt every CPU -------------------

def function_call_ipis():
    with open("/proc/interrupts") as f:
        for line in f:
            fields = line.split()
            if fields and fields[0] == "CAL:":
                return sum(int(x) for x in fields[1:] if x.isdigit())
    pytest.skip("no CAL line in /proc/interrupts")


RING_IPIS_PER_SEC = 64  # EXO_RING_IPIS_PER_SEC in module/shim/ring.c


@pytest.mark.parametrize("attack", ["poll", "poll-1ms", "wake-then-poll-1ms"])
def test_polls_by_nobody_do_not_make_every_cpu_take_ipis(rings, attack):
    """poll: 20,000 polls that do not sleep (timeout 0) must pay no barrier.
    poll-1ms: polls that sleep pay one barrier, which covers every later
    sleeper until a wake-up. wake-then-poll-1ms: a wake-up before each poll
    makes each sleep need a barrier again: the per-ring budget bounds them.
    (The old code sent an IPI to every other CPU on each of these polls.)"""
    if os.cpu_count() < 2:
        pytest.skip("IPIs need a second CPU")
    r = rings(capacity=8, perm=0o666)
    polls = 20000 if attack == "poll" else 2000

    def loop():
        # One CPU: wake-ups of a sleeper that moved would add the scheduler's
        # own function-call IPIs (its wake lists) to the count.
        os.sched_setaffinity(0, {0})
        fd = os.open(f"/dev/exofusion/{r.name}", os.O_RDWR)
        p = select.poll()
        p.register(fd, select.POLLIN)
        wake = exo.ABI["EXO_RING_IOC_WAKE"]
        for _ in range(polls):
            if attack.startswith("wake"):
                fcntl.ioctl(fd, wake, WAIT_DATA)  # clears need_wakeup
            p.poll(0 if attack == "poll" else 1)
        return polls

    # What a child that sleeps as often costs without the ring: the guest's
    # own background of function-call IPIs.
    def idle():
        os.sched_setaffinity(0, {0})
        for _ in range(polls if attack != "poll" else 0):
            time.sleep(0.001)
        return 0

    def background_rate():
        before = function_call_ipis()
        start = time.monotonic()
        in_child(exo.as_nobody(idle), timeout=300)
        return (function_call_ipis() - before) / (time.monotonic() - start)

    # The background is measured before and after the attack and the higher
    # rate is taken: on the debug kernel it wanders by a third between runs.
    noise = background_rate()
    before = function_call_ipis()
    start = time.monotonic()
    assert in_child(exo.as_nobody(loop), timeout=300) == polls
    elapsed = time.monotonic() - start
    ipis = function_call_ipis() - before
    noise = max(noise, background_rate())
    per_poll = ipis / polls
    print(f"{attack}: {ipis} function-call IPIs for {polls} polls by nobody in {elapsed:.1f} s: "
          f"{per_poll:.4f} per poll (background {noise:.0f}/s)")
    others = os.cpu_count() - 1  # a barrier interrupts every CPU but the caller's
    # The bug this catches costs one IPI per poll per other CPU (2,000 or
    # 20,000 here): a margin of twice the background stays far below that.
    background = 2 * noise * elapsed + 50
    if attack.startswith("wake"):
        bound = RING_IPIS_PER_SEC * (elapsed + 1) * others + background
    else:
        bound = 0.01 * polls + background
    assert ipis <= bound, f"{ipis} IPIs, more than the budget allows ({bound:.0f})"
