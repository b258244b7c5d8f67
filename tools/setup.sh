#!/bin/sh
# Installs what building, testing and benchmarking exofusion need (Debian 12 / Ubuntu).
# Idempotent: does nothing when every package is already installed.
set -eu

PKGS="build-essential g++ make linux-headers-amd64 kmod cpio gzip busybox-static
qemu-system-x86 liburing-dev libboost-dev python3 python3-pytest sparse
linux-source-6.1 valgrind libgtest-dev
clang libclang-rt-14-dev util-linux
libjemalloc-dev libgoogle-perftools-dev libmimalloc-dev"

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
