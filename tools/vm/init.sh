#!/bin/busybox sh
# shellcheck shell=dash
# /init of the exovm initramfs, run by busybox's sh in the guest.
#
# Builds the guest's root from the host's / (read-only 9p with a tmpfs overlay
# on top, so the guest can write anywhere without touching the host), runs the
# job exovm.py left in the run directory (9p tag "exorun": files command, cwd,
# shares) in a chroot there, and writes back status, dmesg and tainted before
# powering off. The command's output goes to ttyS1, which exovm.py streams;
# ttyS0 is the kernel console, which exovm.py keeps in a log.
set -eu

/bin/busybox mkdir -p /dev /proc /sys /bin /exorun /lower /rw /newroot
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/null >/dev/console 2>&1
/bin/busybox --install -s /bin
# Any failed step below ends here: say so on the console, which exovm.py shows
# when no exit status comes back.
trap 'echo "exovm init: guest setup failed (see the messages above)"; poweroff -f' EXIT

mount -t proc proc /proc
mount -t sysfs sysfs /sys
# exovm.py numbered the modules in dependency order (none for a kernel that
# builds its root's drivers in, as the debug kernel does).
for module in /modules/*.ko; do
	[ -e "$module" ] || continue
	insmod "$module"
done

ninep=trans=virtio,version=9p2000.L,msize=512000
mount -t 9p -o "$ninep" exorun /exorun
# Caching the read-only lower layer halves Python's start-up; the overlay
# assumes the host does not change it underneath anyway.
mount -t 9p -o "$ninep,ro,cache=loose" hostroot /lower
mount -t tmpfs tmpfs /rw
mkdir /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work /newroot

cd /newroot
mount -t proc proc proc
mount -t sysfs sysfs sys
mount -t debugfs debugfs sys/kernel/debug
# devtmpfs has one instance: the module's nodes under /dev/exofusion/ appear
# here too.
mount -t devtmpfs devtmpfs dev
mkdir -p dev/pts dev/shm
mount -t devpts devpts dev/pts
mount -t tmpfs tmpfs dev/shm
ln -sfn /proc/self/fd dev/fd
mount -t tmpfs tmpfs tmp
mount -t tmpfs -o mode=755 tmpfs run
# Shares are mounted last: they may lie under /tmp or /run.
while read -r tag path; do
	mkdir -p "/newroot$path"
	mount -t 9p -o "$ninep" "$tag" "/newroot$path"
done </exorun/shares
# The kernel's own modules (Linux's e1000, say) as /lib/modules/<release>:
# exovm.py names the directory in the host's tree that holds them.
read -r kver moddir </exorun/modules
if [ -d "/newroot$moddir" ]; then
	mkdir -p "/newroot/lib/modules/$kver"
	mount -o bind "/newroot$moddir" "/newroot/lib/modules/$kver"
fi
ip link set lo up

# Raw: the output reaches the host byte for byte (no \n -> \r\n).
stty -F /dev/ttyS1 raw -echo
# TERM=dumb: the output ends up in logs, not on a screen (no colours).
set +e
# shellcheck disable=SC2016 # $1 and $2 are the inner shell's
env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
	TERM=dumb EXO_IN_VM=1 \
	chroot /newroot /bin/sh -c 'cd "$1" && exec /bin/sh -c "$2"' exovm \
	"$(cat /exorun/cwd)" "$(cat /exorun/command)" </dev/null >/dev/ttyS1 2>&1
status=$?
set -e

dmesg >/exorun/dmesg
cat /proc/sys/kernel/tainted >/exorun/tainted
echo "$status" >/exorun/status
# Setting the mode again waits (TCSADRAIN) until the UART has sent everything.
stty -F /dev/ttyS1 raw -echo
trap - EXIT
poweroff -f
