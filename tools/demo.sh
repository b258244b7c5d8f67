#!/bin/sh
# exofusion demo: load the module, run rings between processes in every
# mode, compare with pipes, sockets, eventfd and futex, show the module's
# slab cache against the kernel's kmem_cache, drive a NIC with the module's
# 8254x driver (tools/nic_demo.py), unload.
# Runs as root on a machine that can load modules (make demo runs it in
# the VM when this one cannot).
set -eu
cd "$(dirname "$0")/.."
BIN=build/bin

step() { printf '\n== %s\n' "$*"; }

step "load the module"
rmmod exofusion 2>/dev/null || true
insmod exofusion.ko
ls -l /dev/exofusion/

step "a ring by name: create, send inline and zero-copy, receive, inspect"
$BIN/fusionctl create demo --capacity 256 --buf-size 4096 --buf-count 16 --perm 0600
$BIN/fusionctl send demo "hello from $(id -un), inline"
$BIN/fusionctl send demo --zerocopy "$(printf 'a zero-copy message %.0s' 1 2 3 4 5)"
$BIN/fusionctl recv demo --count 2
$BIN/fusionctl list
$BIN/fusionctl stat demo
$BIN/fusionctl destroy demo

step "streams between processes, every mode, each message checked"
for args in "--send inline" "--send batch" "--send zerocopy --msgs 100000" \
	"--send mixed --share scm --msgs 100000" \
	"--mode mpmc --producers 2 --consumers 2 --send mixed --msgs 100000" \
	"--send inline --bursty --msgs 20000"; do
	# shellcheck disable=SC2086
	$BIN/ring_stress --backend device --name demo-stream --msgs 1000000 $args
done

step "side by side (this VM, 2 vCPUs under TCG emulation: compare ratios, not absolutes)"
for scenario in pingpong-block-56B stream-56B-batch16; do
	for impl in exofusion pipe unix-stream eventfd futex; do
		$BIN/exobench --scenario "$scenario" --impl "$impl" --reps 3 --msgs 20000 --env host
	done
done | /usr/bin/python3 tools/bench/report.py --table -

step "the module's slab cache (ring control blocks come from it)"
mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
$BIN/fusionctl slab
echo "debug mode catches a double free (the kernel stays up):"
echo double_free > /sys/kernel/debug/exofusion/slab_selftest
cat /sys/kernel/debug/exofusion/slab_selftest
dmesg | grep 'exofusion-slab' | tail -n 1
echo "alloc+free pairs of 64 bytes, in the kernel (ns, this VM):"
for impl in exofusion-slab kmem_cache; do
	echo "pair $impl 64 200000" > /sys/kernel/debug/exofusion/slab_bench
	awk -v impl="$impl" '{ printf "  %-15s %.0f ns per pair\n", impl, $4 / $2 }' \
		/sys/kernel/debug/exofusion/slab_bench
done

step "the module's own 8254x NIC driver and its adaptive poll mode"
if [ -e /sys/bus/pci/devices/0000:00:11.0 ]; then
	/usr/bin/python3 tools/nic_demo.py
else
	echo "(no second NIC: make demo boots the VM with two)"
fi

step "unload"
rmmod exofusion
echo "demo: done, module unloaded"
