#!/bin/sh
# Installs what building, testing and benchmarking exofusion need (Debian 12 / Ubuntu).
# Idempotent: does nothing when every package is already installed.
set -eu

# The kernels make check boots: Debian's 6.1, 6.12 and 6.12 PREEMPT_RT
# (headers; exovm fetches the images), and the debug kernel built from
# linux-source-6.1 (flex ... bc); pahole makes 6.12's module BTF. The NIC
# tests and the nic bench suite run sockperf, iperf3, ethtool, ip and ping in
# the guest (which sees the host's /). Packaging and observability: dkms and
# pkg-config (make dkms-install, make install and their tests), trace-cmd and
# tmux (the tracepoint and fusionctl top tests, in the guest),
# python3-matplotlib (make bench's plots).
PKGS="build-essential g++ make kmod cpio gzip busybox-static
linux-headers-amd64 linux-headers-6.12-amd64 linux-headers-6.12-rt-amd64 pahole
linux-source-6.1 flex bison libelf-dev libssl-dev bc
qemu-system-x86 liburing-dev libboost-dev python3 python3-pytest sparse
valgrind libgtest-dev
clang libclang-rt-14-dev util-linux
libjemalloc-dev libgoogle-perftools-dev libmimalloc-dev
sockperf iperf3 ethtool iproute2 iputils-ping
libboost-context-dev libboost-fiber-dev golang-go
dkms pkg-config trace-cmd tmux python3-matplotlib"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "setup: missing packages:$missing; run 'sudo make setup' (or install them)" >&2
	exit 1
fi
echo "setup: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
