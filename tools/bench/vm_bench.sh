#!/bin/sh
# The vm-icount benchmark scenarios, run inside the guest (one vCPU, guest
# time = instructions): device rings against the kernel's own IPC.
# Prints exobench's JSON lines.
set -eu
cd "$(dirname "$0")/../.."
rmmod exofusion 2>/dev/null || true
insmod exofusion.ko
for impl in exofusion pipe unix-stream eventfd futex; do
	build/bin/exobench --env vm-icount --scenario pingpong-block-56B --impl "$impl" \
		--reps 5 --msgs 2000
	build/bin/exobench --env vm-icount --scenario stream-56B-batch16 --impl "$impl" \
		--reps 5 --msgs 32000
done
rmmod exofusion
