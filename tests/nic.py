"""The NIC tests' and benchmarks' one helper, inside a guest booted with
`exovm.py --nics N` (NIC k at PCI 0000:00:1k.0, all on one QEMU hub).

The topology: the device under test (DUT, NIC 0) in the root network
namespace at 10.77.0.1/24, driven by Linux's e1000 ("linux-e1000") or by the
module's driver ("exofusion"); its peer (NIC 1) always on Linux's e1000, in
namespace "exopeer" at 10.77.0.2/24. NICs 2 and 3, when there, are more
devices under test, each in its own namespace ("exodut2", ...) at 10.77.0.3,
.4. Which driver takes which NIC is set the standard way: the device's
driver_override, then drivers_probe; Linux's e1000 is loaded by modprobe
with its InterruptThrottleRate per device.

    with nic.Topology(nic.EXOFUSION) as net:
        net.ping()
        net.sockperf_pingpong(seconds=2)

Also a script, for the processes that run in the peer's namespace:
    nic.py tcp-sink PORT                  receive one connection; print bytes, sha256
    nic.py tcp-send ADDR PORT N SEED      send N pseudo-random bytes; print bytes, sha256
    nic.py udp-seq-send ADDR PORT N PPS   N datagrams numbered 0..N-1, at PPS
    nic.py udp-seq-recv PORT N SECONDS    count them: received, lost, duplicated
"""
import hashlib
import json
import os
import random
import re
import socket
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

LINUX, EXOFUSION = "linux-e1000", "exofusion"
DRIVERS = (LINUX, EXOFUSION)
PCI = "/sys/bus/pci"
DUT, PEER, DUT2, DUT3 = 0, 1, 2, 3
SLOT_BASE = 0x10
SUBNET_BITS = 24
PEER_NS = "exopeer"
# The peer meets every variant the same: an interrupt per packet, at once.
PEER_ITR = 0
# Linux's e1000 default InterruptThrottleRate: dynamic, conservative.
LINUX_DEFAULT_ITR = 3
POLICIES = ("interrupt", "moderated", "timer-poll", "busy-poll")
ADAPTIVE = "adaptive"
SYSFS_COUNTERS = ("rate_pps", "batch_x16", "irq_rate", "mode_changes", "irqs", "polls",
                  "busy_polls", "timer_polls")
NICINFO = "/sys/kernel/debug/exofusion/nicinfo"
LINK_TIMEOUT = 30
PORT = 5201


def slow_kernel():
    """The debug kernel: KASAN, lockdep, DMA_API_DEBUG and swiotlb=force make
    its network path ~100x slower under TCG (1 MiB over TCP took 90 s)."""
    return os.uname().release.endswith("-exodebug")


def scaled(amount, floor=1):
    """|amount| of traffic (bytes, datagrams), cut down on the debug kernel,
    where the checkers, not the volume, are what finds bugs."""
    return max(floor, amount // 16) if slow_kernel() else amount


class NicError(Exception):
    """The topology could not be set up as asked."""


def run(*cmd, check=True, timeout=120, **kw):
    res = subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                         timeout=timeout, **kw)
    if check and res.returncode != 0:
        raise NicError(f"{' '.join(map(str, cmd))} failed ({res.returncode}):\n"
                       f"{res.stdout}{res.stderr}")
    return res


def write(path, value):
    with open(path, "w") as f:
        f.write(str(value))


def read(path):
    with open(path) as f:
        return f.read().strip()


# --- PCI devices and drivers ---------------------------------------------------------

def slot(index):
    """The PCI address of NIC |index| (exovm.nic_slot)."""
    return f"0000:00:{SLOT_BASE + index:02x}.0"


def device_dir(index):
    return f"{PCI}/devices/{slot(index)}"


def present(index):
    return os.path.exists(device_dir(index))


def nic_count():
    count = 0
    while present(count):
        count += 1
    return count


def pci_device_id(index):
    """0x100e (82540EM), 0x100c (82544GC), 0x100f (82545EM)."""
    return read(f"{device_dir(index)}/device")


def kernel_driver(name):
    """The PCI driver name behind one of DRIVERS."""
    return {LINUX: "e1000", EXOFUSION: "exofusion"}.get(name, name)


def bound_driver(index):
    link = f"{device_dir(index)}/driver"
    return os.path.basename(os.readlink(link)) if os.path.exists(link) else None


def unbind(index):
    driver = bound_driver(index)
    if driver:
        write(f"{PCI}/drivers/{driver}/unbind", slot(index))


def set_override(index, driver):
    """driver_override: only |driver| may take the device ("none": none)."""
    write(f"{device_dir(index)}/driver_override", kernel_driver(driver) + "\n")


def bind(index, driver):
    """Binds NIC |index| to |driver| (LINUX, EXOFUSION or a PCI driver's name),
    unbinding it from any other first; the driver must be loaded."""
    want = kernel_driver(driver)
    if bound_driver(index) == want:
        return
    unbind(index)
    set_override(index, want)
    write(f"{PCI}/drivers_probe", slot(index))
    if bound_driver(index) != want:
        raise NicError(f"{slot(index)} did not bind to {want} (bound: {bound_driver(index)})")


def release(index):
    """Unbinds NIC |index| and lets no driver take it."""
    unbind(index)
    set_override(index, "none")


def exofusion_has_nic_driver():
    """Whether the loaded module registered its PCI driver."""
    return os.path.isdir(f"{PCI}/drivers/exofusion")


def load_e1000(itr=(PEER_ITR,)):
    """(Re)loads Linux's e1000 with InterruptThrottleRate |itr|: one value per
    device in the order they bind (it numbers them from 0 at each load, never
    reusing a number, so a rebind takes the defaults: hence the reload).
    Every NIC is unbound from it and kept from it (driver_override none)
    until bind() asks for it."""
    for index in range(nic_count()):
        if bound_driver(index) in (None, "e1000"):
            set_override(index, "none")
    unload_e1000()
    run("modprobe", "e1000", "InterruptThrottleRate=" + ",".join(map(str, itr)))


def unload_e1000():
    if os.path.isdir("/sys/module/e1000"):
        run("rmmod", "e1000")


# --- Network interfaces and namespaces -----------------------------------------------

def ifname(index):
    """The interface of NIC |index| while it is in the root namespace."""
    names = os.listdir(f"{device_dir(index)}/net") if os.path.isdir(
        f"{device_dir(index)}/net") else []
    if len(names) != 1:
        raise NicError(f"{slot(index)} has interfaces {names}")
    return names[0]


PRIMARY_ADDR, PEER_ADDR = "10.77.0.1", "10.77.0.2"


def extra_ns(index):
    return f"exodut{index}"


def extra_address(index):
    """NIC |index| (2, 3, ...) as an extra DUT: 10.77.0.(index + 1)."""
    return f"10.77.0.{index + 1}"


def ip(ns, *args, check=True):
    return run("ip", *(("-n", ns) if ns else ()), *args, check=check)


def in_ns(ns, *cmd):
    """cmd run in network namespace |ns| (None: the root one)."""
    return (["ip", "netns", "exec", ns] if ns else []) + [str(c) for c in cmd]


def link(ns, name):
    """ip -j link show of one interface: {'operstate': 'UP', 'flags': [...], ...}."""
    return json.loads(ip(ns, "-j", "link", "show", "dev", name).stdout)[0]


def wait_link(ns, name, timeout=LINK_TIMEOUT):
    """Until the interface has carrier (LOWER_UP); its state otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        state = link(ns, name)
        if "LOWER_UP" in state["flags"] and state.get("operstate") in ("UP", "UNKNOWN"):
            return state
        if time.monotonic() > deadline:
            raise NicError(f"{name} (netns {ns}) has no link after {timeout} s: {state}")
        time.sleep(0.05)


def delete_netns(ns):
    """Deleting a namespace returns its physical interfaces to the root one."""
    if os.path.exists(f"/run/netns/{ns}"):
        run("ip", "netns", "del", ns)
        # The device moves back asynchronously (netns cleanup work).
        deadline = time.monotonic() + 10
        while os.path.exists(f"/run/netns/{ns}") and time.monotonic() < deadline:
            time.sleep(0.05)


def configure(name, ns, addr):
    """Puts an interface in namespace |ns| (None: stays in the root one),
    with address |addr|, up."""
    if ns:
        delete_netns(ns)
        run("ip", "netns", "add", ns)
        ip(None, "link", "set", "dev", name, "netns", ns)
        ip(ns, "link", "set", "lo", "up")
    ip(ns, "addr", "flush", "dev", name)
    ip(ns, "addr", "add", f"{addr}/{SUBNET_BITS}", "dev", name)
    ip(ns, "link", "set", "dev", name, "up")


# --- Counters ------------------------------------------------------------------------

def irq(index):
    return int(read(f"{device_dir(index)}/irq"))


def interrupts(index):
    """The interrupts counted so far on NIC |index|'s line, all CPUs."""
    number = f"{irq(index)}:"
    with open("/proc/interrupts") as f:
        for line in f:
            fields = line.split()
            if fields and fields[0] == number:
                return sum(int(x) for x in fields[1:] if x.isdigit())
    return 0


def netdev_stats(ns, name):
    """/sys/class/net/<name>/statistics as {counter: int} (rx_packets, ...)."""
    stats = json.loads(ip(ns, "-j", "-s", "-s", "link", "show", "dev",
                          name).stdout)[0]["stats64"]
    return {f"{way}_{key}": value for way in ("rx", "tx") for key, value in stats[way].items()}


def udp_stats(ns=None):
    """The Udp: line of /proc/net/snmp in |ns|: InDatagrams, RcvbufErrors, ..."""
    text = run(*in_ns(ns, "cat", "/proc/net/snmp")).stdout
    heads, values = [line.split()[1:] for line in text.splitlines() if line.startswith("Udp:")]
    return dict(zip(heads, map(int, values)))


def exo_sysfs(name, counter):
    return read(f"/sys/class/net/{name}/exofusion/{counter}")


def exo_counters(name):
    """The module's per-NIC counters (numbers) and its policy and mode."""
    out = {c: int(exo_sysfs(name, c)) for c in SYSFS_COUNTERS}
    out["policy"] = exo_sysfs(name, "policy")
    out["mode"] = exo_sysfs(name, "mode")
    return out


def set_policy(name, policy):
    write(f"/sys/class/net/{name}/exofusion/policy", policy)


def nicinfo():
    """debugfs nicinfo as {ifname: {"fields": {...}, "history": [{...}, ...]}}."""
    out, current = {}, None
    for line in read(NICINFO).splitlines():
        words = line.split()
        if words[:1] == ["nic"]:
            current = {"fields": dict(zip(words[2::2], words[3::2])), "history": []}
            current["fields"]["nic"] = words[1]
            out[words[1]] = current
        elif words[:1] == ["change"] and current is not None:
            current["history"].append(dict(zip(words[1::2], words[2::2])))
    return out


# --- Traffic -------------------------------------------------------------------------

def parse_ping(text):
    """{'sent': n, 'received': n, 'rtt_avg_ms': x} from iputils ping's summary."""
    m = re.search(r"(\d+) packets transmitted, (\d+) received", text)
    if not m:
        raise NicError(f"no ping summary in:\n{text}")
    out = {"sent": int(m[1]), "received": int(m[2])}
    m = re.search(r"= [\d.]+/([\d.]+)/", text)
    if m:
        out["rtt_avg_ms"] = float(m[1])
    return out


def parse_sockperf(text):
    """RTT percentiles (us) and round trips of `sockperf ping-pong --full-rtt`."""
    out = {}
    for m in re.finditer(r"percentile\s+([\d.]+)\s*=\s*([\d.]+)", text):
        out[f"p{float(m[1]):g}"] = float(m[2])
    m = re.search(r"SentMessages=(\d+);\s*ReceivedMessages=(\d+)", text)
    if m:
        out["sent"], out["received"] = int(m[1]), int(m[2])
    m = re.search(r"RunTime=([\d.]+)\s*sec", text)
    if m:
        out["runtime_s"] = float(m[1])
    m = re.search(r"<MAX> observation\s*=\s*([\d.]+)", text)
    if m:
        out["max"] = float(m[1])
    if "p50" not in out:
        raise NicError(f"no RTT percentiles in sockperf's output:\n{text}")
    return out


class Topology:
    """NIC |dut| on |driver| in the root namespace at 10.77.0.1 (the DUT), the
    peer (NIC 1) on Linux's e1000 in namespace exopeer at 10.77.0.2, and each
    NIC k of |extra_duts| on |driver| too, in namespace exodut<k> at
    10.77.0.(k+1); links up. A context manager: on exit the namespaces go
    and every NIC is unbound (the module and e1000 stay loaded; the caller
    owns the module). Methods take a NIC index (default: the DUT)."""

    def __init__(self, driver=LINUX, dut=DUT, extra_duts=(), dut_itr=LINUX_DEFAULT_ITR,
                 peer_itr=PEER_ITR):
        if driver not in DRIVERS:
            raise NicError(f"driver {driver!r}: one of {DRIVERS}")
        if dut == PEER or PEER in extra_duts or dut in extra_duts:
            raise NicError("NIC 1 is the peer; the DUTs are other NICs, each once")
        self.driver = driver
        self.primary = dut
        self.duts = (dut, *extra_duts)
        self.dut_itr = dut_itr
        self.peer_itr = peer_itr
        self.names = {}
        self.namespaces = {dut: None, PEER: PEER_NS, **{k: extra_ns(k) for k in extra_duts}}
        self.addresses = {dut: PRIMARY_ADDR, PEER: PEER_ADDR,
                          **{k: extra_address(k) for k in extra_duts}}

    def __enter__(self):
        try:
            self.up()
        except BaseException:
            self.down()
            raise
        return self

    def __exit__(self, *exc):
        self.down()

    @property
    def dut(self):
        """The DUT's interface name (root namespace)."""
        return self.names[self.primary]

    @property
    def peer(self):
        return self.names[PEER]

    def up(self):
        for index in (PEER, *self.duts):
            if not present(index):
                raise NicError(f"NIC {index} ({slot(index)}) is not there: boot with "
                               f"exovm.py --nics {index + 1}")
        for index in (PEER, *self.duts):
            release(index)
        # Linux's e1000 numbers its devices as they bind: the peer first.
        itr = [self.peer_itr] + ([self.dut_itr] * len(self.duts) if self.driver == LINUX else [])
        load_e1000(itr)
        bind(PEER, LINUX)
        for index in self.duts:
            if self.driver == EXOFUSION and not exofusion_has_nic_driver():
                raise NicError("the exofusion module has no NIC driver (load it first)")
            bind(index, self.driver)
        for index in (PEER, *self.duts):
            self.names[index] = ifname(index)
            configure(self.names[index], self.namespaces[index], self.addresses[index])
        for index in (PEER, *self.duts):
            self.wait_link(index)
        return self

    def down(self):
        for ns in self.namespaces.values():
            if ns:
                delete_netns(ns)
        for index in (PEER, *self.duts):
            if present(index):
                release(index)
        self.names = {}

    def wait_link(self, index=None, timeout=LINK_TIMEOUT):
        index = self.primary if index is None else index
        return wait_link(self.namespaces[index], self.names[index], timeout)

    def rebind(self, index=None):
        """Binds NIC |index| to the topology's driver again (after an unbind or
        rmmod) and configures it as it was."""
        index = self.primary if index is None else index
        bind(index, self.driver if index != PEER else LINUX)
        self.names[index] = ifname(index)
        ns = self.namespaces[index]
        if ns:
            ip(None, "link", "set", "dev", self.names[index], "netns", ns)
        ip(ns, "addr", "flush", "dev", self.names[index])
        ip(ns, "addr", "add", f"{self.addresses[index]}/{SUBNET_BITS}", "dev",
           self.names[index])
        ip(ns, "link", "set", "dev", self.names[index], "up")
        return self.wait_link(index)

    # Commands on either side.
    def run_in(self, index, *cmd, **kw):
        return run(*in_ns(self.namespaces[index], *cmd), **kw)

    def popen_in(self, index, *cmd):
        return subprocess.Popen(in_ns(self.namespaces[index], *cmd), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def ip(self, index, *args, check=True):
        return ip(self.namespaces[index], *args, check=check)

    def ping(self, count=3, interval=0.2, to=None, size=56, check=True, deadline=15):
        """ping from the peer to NIC |to| (default the DUT) until |count|
        replies came or |deadline| seconds passed; parse_ping's summary."""
        to = self.primary if to is None else to
        res = self.run_in(PEER, "ping", "-c", count, "-i", interval, "-w", deadline,
                          "-s", size, self.addresses[to], check=False,
                          timeout=deadline + 30)
        out = parse_ping(res.stdout)
        if check and out["received"] < count:
            raise NicError(f"ping {self.addresses[to]}: {out}\n{res.stdout}{res.stderr}")
        return out

    def stats(self, index=None):
        index = self.primary if index is None else index
        return netdev_stats(self.namespaces[index], self.names[index])

    def sockperf_server(self, index, port=PORT):
        """A sockperf UDP server on NIC |index|'s side; stop it with stop()."""
        proc = self.popen_in(index, "sockperf", "server", "-i", self.addresses[index],
                             "-p", port)
        time.sleep(0.3)
        return proc

    def sockperf_pingpong(self, seconds=2, size=64, mps=None, port=PORT):
        """UDP ping-pong from the DUT to a server on the peer: RTT in us
        (sockperf needs about 2 s for a valid window)."""
        server = self.sockperf_server(PEER, port)
        try:
            start_ns = time.monotonic_ns()
            res = run("sockperf", "ping-pong", "-i", PEER_ADDR, "-p", port, "-m", size,
                      "-t", seconds, "--full-rtt", "--no-rdtsc", "--dontwarmup",
                      *(("--mps", mps) if mps else ()), timeout=seconds * 20 + 60)
            end_ns = time.monotonic_ns()
        finally:
            stop(server)
        return {**parse_sockperf(res.stdout + res.stderr), "start_ns": start_ns, "end_ns": end_ns}

    def udp_flood(self, seconds=2, size=64, port=PORT):
        """The peer floods the DUT with |size|-byte UDP datagrams (sockperf
        throughput) while a sockperf server receives them: sent and
        delivered (the DUT's UDP InDatagrams) and the DUT's interrupts, and
        when the flood started and ended (time.monotonic_ns(), the kernel's
        ktime_get_ns())."""
        server = self.sockperf_server(self.primary, port)
        try:
            before = (udp_stats(None), self.stats(PEER), interrupts(self.primary))
            start_ns = time.monotonic_ns()
            self.run_in(PEER, "sockperf", "throughput", "-i", PRIMARY_ADDR, "-p", port,
                        "-m", size, "-t", seconds, "--no-rdtsc", "--dontwarmup",
                        timeout=seconds * 20 + 60)
            end_ns = time.monotonic_ns()
            after = (udp_stats(None), self.stats(PEER), interrupts(self.primary))
        finally:
            stop(server)
        return {"sent": after[1]["tx_packets"] - before[1]["tx_packets"],
                "delivered": after[0]["InDatagrams"] - before[0]["InDatagrams"],
                "irqs": after[2] - before[2], "seconds": seconds,
                "start_ns": start_ns, "end_ns": end_ns}

    def iperf3(self, seconds=2, reverse=True, port=PORT + 1):
        """iperf3 TCP between the DUT (client) and the peer (server); with
        |reverse| the peer sends. iperf3's JSON report."""
        server = self.popen_in(PEER, "iperf3", "-s", "-1", "-B", PEER_ADDR, "-p", port)
        time.sleep(0.5)
        try:
            res = run("iperf3", "-c", PEER_ADDR, "-p", port, "-t", seconds, "-J",
                      *(("-R",) if reverse else ()), timeout=seconds * 20 + 60)
        finally:
            stop(server)
        return json.loads(res.stdout)


    # Content checked end to end, and numbered datagrams counted.
    def start_script(self, index, *args):
        """This file as a script in NIC |index|'s namespace, once it listens."""
        proc = self.popen_in(index, sys.executable, os.path.abspath(__file__), *args)
        line = proc.stdout.readline()
        if line.strip() != "listening":
            stop(proc)
            raise NicError(f"nic.py {' '.join(map(str, args))}: {line}{proc.stderr.read()}")
        return proc

    def tcp_transfer(self, nbytes=1 << 21, to_peer=True, seed=7, port=PORT + 2, index=None):
        """|nbytes| over one TCP connection, DUT -> peer (or back): the sha256
        and count of what was sent and of what arrived."""
        dut = self.primary if index is None else index
        src, dst = (dut, PEER) if to_peer else (PEER, dut)
        sink = self.start_script(dst, "tcp-sink", port)
        try:
            sent = json.loads(self.run_in(src, sys.executable, os.path.abspath(__file__),
                                          "tcp-send", self.addresses[dst], port, nbytes, seed,
                                          timeout=300).stdout)
            out, err = sink.communicate(timeout=120)
        finally:
            stop(sink)
        got = json.loads(out.strip().splitlines()[-1]) if out.strip() else {"error": err}
        return {"sent": sent, "received": got}

    def udp_sequence(self, count=4000, pps=2000, during=None, port=PORT + 3, quiet=3.0):
        """|count| numbered datagrams from the peer to the DUT at |pps|, calling
        |during()| while they flow: received, lost, duplicated, and the drops
        the kernel and the device counted (UDP may lose those, no others)."""
        recv = self.start_script(self.primary, "udp-seq-recv", port, count, quiet)
        try:
            before = (udp_stats(None), self.stats())
            sender = self.popen_in(PEER, sys.executable, os.path.abspath(__file__),
                                   "udp-seq-send", PRIMARY_ADDR, port, count, pps)
            try:
                if during:
                    during()
                sender.communicate(timeout=count / max(pps, 1) * 20 + 60)
            finally:
                stop(sender)
            out, err = recv.communicate(timeout=count / max(pps, 1) * 20 + 60)
            after = (udp_stats(None), self.stats())
        finally:
            stop(recv)
        if sender.returncode != 0 or not out.strip():
            raise NicError(f"UDP sequence failed: sender {sender.returncode}, receiver: {err}")
        got = json.loads(out.strip().splitlines()[-1])
        drops = after[0]["InErrors"] - before[0]["InErrors"]
        for key in ("rx_dropped", "rx_missed_errors", "rx_over_errors", "rx_errors"):
            drops += after[1].get(key, 0) - before[1].get(key, 0)
        got["counted_drops"] = drops
        return got


def stop(proc, timeout=10):
    """Ends a background process and reaps it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
    return proc.returncode


# --- The processes in the peer's namespace (this file as a script) -------------------

SEQ_FMT = "!Q"
FIRST_DATAGRAM_TIMEOUT = 60


def tcp_sink(port, bind_addr="0.0.0.0"):
    """Accepts one connection; prints the bytes received and their sha256."""
    with socket.create_server((bind_addr, port)) as server:
        print("listening", flush=True)
        conn, _ = server.accept()
        digest, total = hashlib.sha256(), 0
        with conn:
            while True:
                chunk = conn.recv(1 << 16)
                if not chunk:
                    break
                digest.update(chunk)
                total += len(chunk)
    print(json.dumps({"bytes": total, "sha256": digest.hexdigest()}), flush=True)


def tcp_send(addr, port, nbytes, seed, timeout=120):
    """Sends |nbytes| pseudo-random bytes (from |seed|) over one TCP
    connection; prints their count and sha256."""
    payload = random.Random(seed).randbytes(nbytes)
    with socket.create_connection((addr, port), timeout=timeout) as conn:
        conn.sendall(payload)
        conn.shutdown(socket.SHUT_WR)
        conn.recv(1)
    print(json.dumps({"bytes": nbytes, "sha256": hashlib.sha256(payload).hexdigest()}),
          flush=True)


def udp_seq_send(addr, port, count, pps, size=64):
    """|count| datagrams numbered 0..count-1 at about |pps| a second."""
    pad = bytes(max(0, size - struct.calcsize(SEQ_FMT)))
    gap = 1.0 / pps if pps else 0.0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        start = time.monotonic()
        for seq in range(count):
            s.sendto(struct.pack(SEQ_FMT, seq) + pad, (addr, port))
            if gap:
                delay = start + (seq + 1) * gap - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
    print(json.dumps({"sent": count}), flush=True)


def udp_seq_recv(port, count, seconds, bind_addr="0.0.0.0"):
    """Receives numbered datagrams until all |count| came or |seconds| passed
    with none; prints received, lost, duplicated, reordered, foreign."""
    seen = bytearray(count)
    received = duplicated = reordered = foreign = 0
    last = -1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        s.bind((bind_addr, port))
        # The sender starts after this says it listens: wait longer for it.
        s.settimeout(max(seconds, FIRST_DATAGRAM_TIMEOUT))
        print("listening", flush=True)
        while received < count:
            try:
                data = s.recv(65536)
            except socket.timeout:
                break
            s.settimeout(seconds)
            if len(data) < struct.calcsize(SEQ_FMT):
                foreign += 1
                continue
            (seq,) = struct.unpack_from(SEQ_FMT, data)
            if seq >= count:
                foreign += 1
                continue
            if seen[seq]:
                duplicated += 1
                continue
            seen[seq] = 1
            received += 1
            reordered += seq < last
            last = max(last, seq)
    print(json.dumps({"received": received, "lost": count - received, "duplicated": duplicated,
                      "reordered": reordered, "foreign": foreign}), flush=True)


def main(argv):
    what, args = argv[0], argv[1:]
    if what == "tcp-sink":
        tcp_sink(int(args[0]))
    elif what == "tcp-send":
        tcp_send(args[0], int(args[1]), int(args[2]), int(args[3]))
    elif what == "udp-seq-send":
        udp_seq_send(args[0], int(args[1]), int(args[2]), float(args[3]))
    elif what == "udp-seq-recv":
        udp_seq_recv(int(args[0]), int(args[1]), float(args[2]))
    else:
        raise SystemExit(f"nic.py: unknown command {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
