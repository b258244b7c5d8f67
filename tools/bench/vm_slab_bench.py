#!/usr/bin/python3
"""The slab suite's VM scenarios, run inside the guest: the module's slab
cache against the kernel's own kmem_cache, same object size, same
patterns, timed inside the module (exofusion/slab_bench in debugfs).
Prints JSON lines like exobench's.

usage: vm_slab_bench.py ENV [SCENARIO...]
  ENV vm-icount: one vCPU under -icount shift=0 (guest ns = instructions);
  ENV vm-tcg:    two vCPUs without icount (crosscpu-64B needs two CPUs, and
                 two vCPUs under icount run it too slowly): noisy ns."""
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH = "/sys/kernel/debug/exofusion/slab_bench"
REPS = 5
# (scenario name in results, in-module pattern, object size, alloc+free pairs per run)
SCENARIOS = [
    ("pair-64B", "pair", 64, 20000),
    ("pair-256B", "pair", 256, 20000),
    ("batch1000-64B", "batch1000", 64, 20000),
    ("bulk16-64B", "bulk16", 64, 20000),
    ("crosscpu-64B", "crosscpu", 64, 20000),
]
IMPLS = ["exofusion-slab", "kmem_cache"]


def run_once(pattern, impl, size, iters):
    fd = os.open(BENCH, os.O_RDWR)
    try:
        os.write(fd, f"{pattern} {impl} {size} {iters}".encode())
        words = os.pread(fd, 256, 0).decode().split()
    finally:
        os.close(fd)
    got = {k: int(v) for k, v in zip(words[::2], words[1::2])}
    return got["ns"] / got["ops"]


def p99(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def main():
    subprocess.run(["rmmod", "exofusion"], capture_output=True)
    subprocess.run(["insmod", os.path.join(ROOT, "exofusion.ko")], check=True)
    try:
        env, wanted = sys.argv[1], sys.argv[2:]  # scenario names; all by default
        for scenario, pattern, size, iters in SCENARIOS:
            if wanted and scenario not in wanted:
                continue
            for impl in IMPLS:
                values = [run_once(pattern, impl, size, iters) for _ in range(REPS)]
                median = statistics.median(values)
                # -icount shift=0: one guest nanosecond is one instruction,
                # so there the figure is instructions (its ns are the same).
                metric, unit = ("insn_per_op", "insn") if env == "vm-icount" else \
                    ("ns_per_op", "ns")
                print(json.dumps({
                    "suite": "slab", "scenario": scenario, "impl": impl, "env": env,
                    "metric": metric, "unit": unit, "value": round(median, 1),
                    "p50": round(median, 1), "p99": round(p99(values), 1), "reps": REPS,
                    "ops": iters}), flush=True)
    finally:
        subprocess.run(["rmmod", "exofusion"], check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
