"""The module's 8254x driver against Linux's e1000, in a guest booted with
`exovm.py --nics 4 --nic-model e1000,e1000,e1000-82544gc,e1000-82545em`
(NIC 0 the device under test, NIC 1 its peer, NICs 2 and 3 more devices;
tests/nic.py sets them up).

The tests parametrized over the driver run the same scenario with the DUT
on Linux's e1000 (proving the harness) and on the module's driver
("exofusion"); the latter, and the tests of the module's own interface,
skip when the loaded module has no NIC driver."""
import os
import socket
import subprocess
import threading
import time

import pytest

import exo
import nic

NEEDED_NICS = 2
MODELS = {nic.DUT2: ("e1000-82544gc", "0x100c"), nic.DUT3: ("e1000-82545em", "0x100f")}


def need_nics(count):
    if nic.nic_count() < count:
        pytest.skip(f"needs {count} NICs: boot with exovm.py --nics {count}")


@pytest.fixture
def driver(request, module):
    """The DUT's driver; the module's only when it has its NIC driver."""
    need_nics(NEEDED_NICS)
    name = request.param
    if name == nic.EXOFUSION and not nic.exofusion_has_nic_driver():
        pytest.skip("the exofusion module has no NIC driver yet "
                    "(/sys/bus/pci/drivers/exofusion absent after insmod)")
    return name


# On the debug kernel a topology takes about 2 minutes to come up (TCG under
# KASAN, lockdep, DMA_API_DEBUG and swiotlb=force), so it runs, on the
# module's driver only, the tests whose DMA paths differ: rings made and
# freed under traffic (down/up, ethtool -G, rmmod), every mode switched
# under traffic, TCP both ways, several NICs. The other kernels run all.
ON_DEBUG_KERNEL = {
    "test_tcp_transfer_arrives_intact_both_ways",
    "test_down_and_up_under_traffic",
    "test_two_nics_on_one_driver_at_once",
    "test_ethtool_sets_the_rings_and_refuses_impossible_sizes",
    "test_mode_switches_under_udp_traffic_lose_and_duplicate_nothing",
    "test_rmmod_under_traffic_then_reload",
    "test_policy_writes_racing_unbind_touch_no_freed_nic",
    "test_loading_the_module_takes_no_nic_nobody_asked_for",
    "test_the_helpers_parse_the_tools_reports",
    "test_guest_has_the_tools_the_nic_tests_run",
}


# The scenarios with the DUT on Linux's e1000 prove the harness (the peer is
# on Linux's e1000 in every test anyway): Debian's 6.1 runs them, the other
# kernels only the module's, which keeps make check within its time.
HARNESS_KERNEL = "6.1.0-"


@pytest.fixture(autouse=True)
def kernel_subset(request):
    callspec = getattr(request.node, "callspec", None)
    on_linux = callspec is not None and callspec.params.get("driver") == nic.LINUX
    if on_linux and not os.uname().release.startswith(HARNESS_KERNEL):
        pytest.skip("the harness is proven on Debian's 6.1 (DUT on Linux's e1000)")
    if nic.slow_kernel() and request.node.originalname not in ON_DEBUG_KERNEL:
        pytest.skip("the debug kernel runs the DMA-path subset (ON_DEBUG_KERNEL): "
                    "a topology takes ~2 min there")


both_drivers = pytest.mark.parametrize("driver", nic.DRIVERS, indirect=True)
exofusion_only = pytest.mark.parametrize("driver", [nic.EXOFUSION], indirect=True)


@pytest.fixture
def net(driver):
    with nic.Topology(driver) as topology:
        yield topology


def ethtool(*args, check=True):
    return nic.run("ethtool", *args, check=check)


def ethtool_fields(text):
    """'Key: value' lines as {key: value}, the last of a repeated key winning
    (ethtool -g prints maxima first, then the current settings)."""
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and value.strip():
            out[key.strip()] = value.strip()
    return out


def current_ring(name):
    text = ethtool("-g", name).stdout
    current = text.split("Current hardware settings:")[1]
    return ethtool_fields(current)


def assert_transfers_intact(net, nbytes=1 << 21, index=None):
    nbytes = nic.scaled(nbytes)
    for to_peer in (True, False):
        got = net.tcp_transfer(nbytes, to_peer=to_peer, index=index)
        assert got["received"] == got["sent"], got
        assert got["sent"]["bytes"] == nbytes


def assert_udp_loses_only_what_is_counted(got, count):
    assert got["duplicated"] == 0 and got["foreign"] == 0, got
    assert got["received"] + got["lost"] == count, got
    # UDP may drop a datagram where the stack or the device says so, nowhere else.
    assert got["lost"] <= got["counted_drops"], got


class Traffic:
    """A UDP flood from the peer to the DUT in the background (sockperf
    throughput) for the tests that break things under load."""

    def __init__(self, net, seconds=30):
        self.net = net
        # Without a receiver, ICMP port unreachable would stop the sender.
        self.server = net.sockperf_server(net.primary)
        self.proc = net.popen_in(nic.PEER, "sockperf", "throughput", "-i", nic.PRIMARY_ADDR,
                                 "-p", nic.PORT, "-m", 64, "-t", seconds, "--no-rdtsc",
                                 "--dontwarmup")

    def __enter__(self):
        time.sleep(0.5)
        return self

    def __exit__(self, *exc):
        nic.stop(self.proc)
        nic.stop(self.server)


# --- Every driver: the harness's scenarios ---------------------------------------------

@both_drivers
def test_link_comes_up_and_ping_goes_both_ways(net):
    assert nic.bound_driver(nic.DUT) == nic.kernel_driver(net.driver)
    assert nic.link(None, net.dut)["operstate"] == "UP"
    before = net.stats()
    assert net.ping(count=5)["received"] >= 5
    after = net.stats()
    assert after["rx_packets"] - before["rx_packets"] >= 5
    assert after["tx_packets"] - before["tx_packets"] >= 5
    back = nic.run("ping", "-c", 3, "-i", 0.2, "-w", 15, nic.PEER_ADDR, check=False)
    assert nic.parse_ping(back.stdout)["received"] >= 3, back.stdout


@both_drivers
def test_tcp_transfer_arrives_intact_both_ways(net):
    assert_transfers_intact(net, nbytes=2 << 20)


@both_drivers
def test_interrupts_are_counted_on_the_duts_own_line(net):
    assert nic.irq(nic.DUT) != nic.irq(nic.PEER)
    before = nic.interrupts(nic.DUT)
    net.ping(count=5)
    assert nic.interrupts(nic.DUT) > before


@both_drivers
def test_udp_sequence_loses_nothing_uncounted_and_duplicates_nothing(net):
    count = nic.scaled(2000)
    got = net.udp_sequence(count=count, pps=nic.scaled(2000))
    assert_udp_loses_only_what_is_counted(got, count)


@both_drivers
def test_measuring_tools_report_figures(net):
    """sockperf and iperf3 run between the namespaces and their reports parse."""
    rtt = net.sockperf_pingpong(seconds=2)
    assert 0 < rtt["p50"] <= rtt["p99"] and rtt["received"] > 0, rtt
    flood = net.udp_flood(seconds=1)  # sockperf: 1 s whatever the kernel
    assert flood["sent"] > 0 and 0 < flood["delivered"] <= flood["sent"], flood
    report = net.iperf3(seconds=1)
    assert report["end"]["sum_received"]["bytes"] > 0


@both_drivers
def test_down_and_up_under_traffic(net):
    with Traffic(net):
        for _ in range(3):
            net.ip(nic.DUT, "link", "set", "dev", net.dut, "down")
            time.sleep(0.2)
            net.ip(nic.DUT, "link", "set", "dev", net.dut, "up")
            net.wait_link()
    net.ping(count=3)
    assert_transfers_intact(net, nbytes=1 << 20)


@both_drivers
def test_unbind_and_rebind_under_traffic(net):
    with Traffic(net):
        nic.unbind(nic.DUT)
        assert nic.bound_driver(nic.DUT) is None
        net.rebind()
    net.ping(count=3)
    assert_transfers_intact(net, nbytes=1 << 20)


@both_drivers
def test_two_nics_on_one_driver_at_once(driver):
    need_nics(3)
    with nic.Topology(driver, extra_duts=(nic.DUT2,)) as net:
        assert nic.bound_driver(nic.DUT2) == nic.kernel_driver(driver)
        errors = []

        def transfer(index):
            try:
                got = net.tcp_transfer(nic.scaled(1 << 20), index=index,
                                       port=nic.PORT + 10 + index)
                assert got["received"] == got["sent"], got
            except Exception as error:  # noqa: BLE001 (reported below)
                errors.append(error)

        threads = [threading.Thread(target=transfer, args=(i,)) for i in (nic.DUT, nic.DUT2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        net.ping(count=3, to=nic.DUT)
        net.ping(count=3, to=nic.DUT2)


@both_drivers
@pytest.mark.parametrize("index", sorted(MODELS), ids=[m for m, _ in MODELS.values()])
def test_other_8254x_models(driver, index):
    need_nics(index + 1)
    model, device_id = MODELS[index]
    if nic.pci_device_id(index) != device_id:
        pytest.skip(f"NIC {index} is not QEMU's {model}: boot with --nic-model "
                    "e1000,e1000,e1000-82544gc,e1000-82545em")
    with nic.Topology(driver, dut=index) as net:
        net.ping(count=3)
        assert_transfers_intact(net, nbytes=1 << 20)


# --- The module's driver: its own interface ----------------------------------------------

@exofusion_only
def test_sysfs_and_nicinfo_describe_the_nic(net):
    counters = nic.exo_counters(net.dut)
    assert counters["policy"] == nic.ADAPTIVE  # nic_policy's default
    assert counters["mode"] in nic.POLICIES
    info = nic.nicinfo()[net.dut]["fields"]
    assert info["pci"] == nic.slot(nic.DUT)
    assert info["policy"] == counters["policy"]
    before = nic.exo_counters(net.dut)
    net.ping(count=5)
    after = nic.exo_counters(net.dut)
    assert after["polls"] + after["busy_polls"] > before["polls"] + before["busy_polls"]


@exofusion_only
def test_ethtool_reports_the_driver_and_its_counters(net):
    info = ethtool_fields(ethtool("-i", net.dut).stdout)
    assert info["driver"] == "exofusion"
    assert info["bus-info"] == nic.slot(nic.DUT)

    def stats():
        return {k: int(v) for k, v in ethtool_fields(ethtool("-S", net.dut).stdout).items()
                if v.lstrip("-").isdigit()}
    before = stats()
    net.ping(count=5)
    after = stats()
    assert after, "ethtool -S gives no counters"
    assert any(after[k] > before.get(k, 0) for k in after if "rx" in k and "packets" in k), after


@exofusion_only
def test_ethtool_sets_the_rings_and_refuses_impossible_sizes(net):
    maxima = ethtool_fields(ethtool("-g", net.dut).stdout.split("Current")[0])
    ethtool("-G", net.dut, "rx", 128, "tx", 128)
    net.wait_link()
    assert (current_ring(net.dut)["RX"], current_ring(net.dut)["TX"]) == ("128", "128")
    net.ping(count=3)
    assert_transfers_intact(net, nbytes=1 << 20)
    for bad in (int(maxima["RX"]) + 1, 0):
        res = ethtool("-G", net.dut, "rx", bad, check=False)
        assert res.returncode != 0, f"rx ring {bad} accepted"
    assert current_ring(net.dut)["RX"] == "128"
    ethtool("-G", net.dut, "rx", maxima["RX"], "tx", maxima["TX"])
    net.wait_link()
    net.ping(count=3)


@exofusion_only
def test_ethtool_coalescing_switches_the_policy(net):
    ethtool("-C", net.dut, "adaptive-rx", "off", "rx-usecs", 0)
    assert nic.exo_sysfs(net.dut, "policy") == "interrupt"
    assert ethtool_fields(ethtool("-c", net.dut).stdout)["rx-usecs"] == "0"
    ethtool("-C", net.dut, "adaptive-rx", "off", "rx-usecs", 50)
    assert nic.exo_sysfs(net.dut, "policy") == "moderated"
    assert ethtool_fields(ethtool("-c", net.dut).stdout)["rx-usecs"] == "50"
    net.ping(count=3)
    ethtool("-C", net.dut, "adaptive-rx", "on")
    assert nic.exo_sysfs(net.dut, "policy") == nic.ADAPTIVE
    assert ethtool_fields(ethtool("-c", net.dut).stdout)["Adaptive RX"].startswith("on")
    net.ping(count=3)


@exofusion_only
@pytest.mark.parametrize("policy", (*nic.POLICIES, nic.ADAPTIVE))
def test_each_mode_forced_carries_traffic_intact(net, policy):
    nic.set_policy(net.dut, policy)
    assert nic.exo_sysfs(net.dut, "policy") == policy
    if policy != nic.ADAPTIVE:
        assert nic.exo_sysfs(net.dut, "mode") == policy
    net.ping(count=3)
    assert_transfers_intact(net, nbytes=1 << 20)
    count = nic.scaled(2000)
    assert_udp_loses_only_what_is_counted(
        net.udp_sequence(count=count, pps=nic.scaled(2000)), count)


@exofusion_only
def test_an_unknown_policy_is_refused_and_changes_nothing(net):
    nic.set_policy(net.dut, "interrupt")
    # An empty line, not "": writing "" makes no write(2) at all.
    for bad in ("bogus", "\n", "interrupt-ish", "x" * 200):
        with pytest.raises(OSError):
            nic.set_policy(net.dut, bad)
        assert nic.exo_sysfs(net.dut, "policy") == "interrupt"


@exofusion_only
def test_mode_switches_under_udp_traffic_lose_and_duplicate_nothing(net):
    count, pps = nic.scaled(6000), nic.scaled(2000)
    before = nic.exo_counters(net.dut)["mode_changes"]

    def switch():
        deadline = time.monotonic() + count / pps * 0.8
        while time.monotonic() < deadline:
            for policy in (*nic.POLICIES, nic.ADAPTIVE):
                nic.set_policy(net.dut, policy)
                time.sleep(0.1)

    got = net.udp_sequence(count=count, pps=pps, during=switch)
    assert_udp_loses_only_what_is_counted(got, count)
    changes = nic.exo_counters(net.dut)["mode_changes"] - before
    assert changes >= len(nic.POLICIES), changes
    history = nic.nicinfo()[net.dut]["history"]
    assert history and all(h["from"] in nic.POLICIES and h["to"] in nic.POLICIES
                           for h in history), history
    times = [int(h["time_ns"]) for h in history]
    assert times == sorted(times)


@exofusion_only
def test_the_adaptive_policy_leaves_interrupts_under_a_flood(net):
    nic.set_policy(net.dut, nic.ADAPTIVE)
    before = nic.exo_counters(net.dut)["mode_changes"]
    flood = net.udp_flood(seconds=3)
    assert flood["delivered"] > 0, flood
    assert nic.exo_counters(net.dut)["mode_changes"] > before


@exofusion_only
def test_policy_writes_racing_unbind_touch_no_freed_nic(net):
    """Regression: a policy store in sysfs could run on a NIC that remove()
    was freeing (the guest log checks catch a use after free or a WARN)."""
    path = f"/sys/class/net/{net.dut}/exofusion/policy"
    stop, writes = threading.Event(), [0, 0]  # done, refused (the NIC gone)

    def writer():
        policies = (*nic.POLICIES, nic.ADAPTIVE)
        while not stop.is_set():
            try:
                with open(path, "w") as f:
                    f.write(policies[writes[0] % len(policies)])
                writes[0] += 1
            except OSError:
                writes[1] += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        with Traffic(net):
            for _ in range(3):
                nic.unbind(nic.DUT)
                time.sleep(0.1)
                net.rebind()
                time.sleep(0.2)
    finally:
        stop.set()
        thread.join()
    assert writes[0] > 0 and writes[1] > 0, writes  # both sides of the race were hit
    net.ping(count=3)
    assert_transfers_intact(net, nbytes=1 << 20)


@exofusion_only
@pytest.mark.parametrize("policy", ("interrupt", "moderated"))
def test_tx_completions_come_without_receive_traffic(net, policy):
    """Regression: transmit completions take no interrupt (NAPI reaps them),
    so with nothing received the frames sent must still be reaped (the reap
    timer), or BQL would keep them in flight and the socket its memory."""
    nic.set_policy(net.dut, policy)
    port = nic.PORT + 9
    # A socket that never reads: datagrams to it get no reply, not even ICMP.
    sink = net.popen_in(nic.PEER, "/usr/bin/python3", "-c",
                        "import socket, time; s = socket.socket(socket.AF_INET, "
                        f"socket.SOCK_DGRAM); s.bind(('{nic.PEER_ADDR}', {port})); "
                        "time.sleep(60)")
    try:
        net.ping(count=1)  # the peer's address resolved: no datagram waits for ARP
        time.sleep(0.5)
        inflight = f"/sys/class/net/{net.dut}/queues/tx-0/byte_queue_limits/inflight"
        before = net.stats()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for i in range(200):
                sock.sendto(i.to_bytes(4, "little") * 16, (nic.PEER_ADDR, port))

        def reaped():  # tx_packets counts completions
            return net.stats()["tx_packets"] - before["tx_packets"]

        deadline = time.monotonic() + 2
        while (reaped() < 200 or int(nic.read(inflight))) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert reaped() >= 200
        assert int(nic.read(inflight)) == 0
    finally:
        nic.stop(sink)


@exofusion_only
def test_rmmod_under_traffic_then_reload(net):
    with Traffic(net):
        exo.rmmod()
        assert nic.bound_driver(nic.DUT) is None
        assert not os.path.exists(f"/sys/class/net/{net.dut}")
    exo.insmod()
    net.rebind()
    net.ping(count=3)
    assert_transfers_intact(net, nbytes=1 << 20)


def test_loading_the_module_takes_no_nic_nobody_asked_for(module):
    """The module never takes a NIC without driver_override or nic_slots,
    with or without its NIC driver."""
    need_nics(NEEDED_NICS)
    for index in range(nic.nic_count()):
        nic.unbind(index)
        with open(f"{nic.device_dir(index)}/driver_override", "w") as f:
            f.write("\n")  # no override: any driver that matches may take it
    exo.reload()
    try:
        for index in range(nic.nic_count()):
            assert nic.bound_driver(index) != "exofusion", nic.slot(index)
    finally:
        for index in range(nic.nic_count()):
            nic.release(index)


def test_nic_slots_takes_exactly_the_slots_listed(module):
    need_nics(NEEDED_NICS)
    if not nic.exofusion_has_nic_driver():
        pytest.skip("the exofusion module has no NIC driver yet")
    for index in range(nic.nic_count()):
        nic.unbind(index)
        with open(f"{nic.device_dir(index)}/driver_override", "w") as f:
            f.write("\n")
    exo.reload(f"nic_slots={nic.slot(nic.DUT)}")
    try:
        assert nic.bound_driver(nic.DUT) == "exofusion"
        assert all(nic.bound_driver(i) != "exofusion" for i in range(1, nic.nic_count()))
    finally:
        for index in range(nic.nic_count()):
            nic.release(index)
        exo.reload()


def test_the_helpers_parse_the_tools_reports():
    """Pure: the parsers, on reports as the tools print them."""
    sockperf = ("sockperf: [Total Run] RunTime=2.002 sec; Warm up time=400 msec; "
                "SentMessages=1449; ReceivedMessages=1448\n"
                "sockperf: ---> <MAX> observation = 12455.370\n"
                "sockperf: ---> percentile 99.000 = 8220.460\n"
                "sockperf: ---> percentile 50.000 = 1044.260\n")
    got = nic.parse_sockperf(sockperf)
    assert (got["p50"], got["p99"], got["sent"], got["received"]) == (1044.26, 8220.46,
                                                                     1449, 1448)
    with pytest.raises(nic.NicError):
        nic.parse_sockperf("sockperf: No valid observations found.")
    ping = ("5 packets transmitted, 4 received, 20% packet loss, time 803ms\n"
            "rtt min/avg/max/mdev = 0.101/0.250/0.500/0.1 ms\n")
    assert nic.parse_ping(ping) == {"sent": 5, "received": 4, "rtt_avg_ms": 0.25}


def test_guest_has_the_tools_the_nic_tests_run():
    for tool in ("sockperf", "iperf3", "ethtool", "ip", "ping"):
        assert subprocess.run(["sh", "-c", f"command -v {tool}"],
                              capture_output=True).returncode == 0, tool
