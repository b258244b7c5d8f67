#!/usr/bin/python3
"""The NIC part of `make demo`: in a guest booted with `exovm.py --nics 2`
and the module loaded, NIC 0 goes to the module's 8254x driver and NIC 1,
its peer in namespace exopeer, to Linux's e1000 (tests/nic.py sets both
up); then traffic, and the adaptive mode following the load: sparse pings
(interrupt mode), a UDP flood (the controller leaves interrupt mode), quiet
again (back to interrupt mode, and the controller's tick stops)."""
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))

import nic  # noqa: E402  (tests/nic.py: the one way to build the topology)

FUSIONCTL = os.path.join(ROOT, "build", "bin", "fusionctl")


def step(text):
    print(f"\n== {text}", flush=True)


def fusionctl_nic(name):
    subprocess.run([FUSIONCTL, "nic", name], check=True)


def main():
    if nic.nic_count() < 2:
        sys.exit("nic_demo: needs two NICs (exovm.py --nics 2)")
    with nic.Topology(nic.EXOFUSION) as net:
        dut = net.dut
        step(f"{dut} on the module's driver, its peer {net.peer} on Linux's e1000")
        subprocess.run(["ethtool", "-i", dut], check=True)
        subprocess.run(["ip", "-s", "link", "show", dut], check=True)
        step("sparse traffic: pings from the peer")
        print(net.ping(count=5, interval=0.2))
        fusionctl_nic(dut)
        step("a 64-byte UDP flood from the peer for 3 s")
        print(net.udp_flood(seconds=3))
        print(f"mode right after the flood: {nic.exo_sysfs(dut, 'mode')}")
        step("quiet again: the rate decays, the mode returns")
        time.sleep(2)
        fusionctl_nic(dut)
        step("a mode forced by hand, then adaptive again")
        subprocess.run([FUSIONCTL, "nic", dut, "--mode", "timer-poll"], check=True)
        print(net.ping(count=3, interval=0.2))
        subprocess.run([FUSIONCTL, "nic", dut, "--mode", "adaptive"], check=True)
        fusionctl_nic(dut)


if __name__ == "__main__":
    main()
