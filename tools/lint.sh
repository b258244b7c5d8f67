#!/bin/sh
# Kernel-style checks of the C shim: checkpatch.pl (from Debian's
# linux-source-6.1, extracted once into build/lint) and sparse (through
# Kbuild, C=2). Exits non-zero on any finding.
set -eu
cd "$(dirname "$0")/.."
KDIR=${KDIR:-$(make -s print-kdir)}
LINT=build/lint
SRC_TAR=$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | tail -n 1)
[ -n "$SRC_TAR" ] || { echo "lint: no /usr/src/linux-source-*.tar.xz: run tools/setup.sh" >&2; exit 1; }

if [ ! -x "$LINT/scripts/checkpatch.pl" ]; then
	mkdir -p "$LINT"
	top=$(basename "$SRC_TAR" .tar.xz)
	tar -xJf "$SRC_TAR" -C "$LINT" --strip-components=1 "$top/scripts/checkpatch.pl" \
		"$top/scripts/spelling.txt" "$top/scripts/const_structs.checkpatch"
fi

echo "lint: checkpatch"
# The shim strictly; the C headers shared with user space (no BIT() there)
# with checkpatch's defaults.
{
	"$LINT/scripts/checkpatch.pl" --no-tree --strict --terse --show-types \
		-f module/shim/*.c $(ls module/shim/*.h | grep -v compat.h)
	# compat.h is where the kernel versions the module builds for are told apart.
	"$LINT/scripts/checkpatch.pl" --no-tree --strict --terse --show-types \
		--ignore LINUX_VERSION_CODE,CONSTANT_COMPARISON -f module/shim/compat.h
	"$LINT/scripts/checkpatch.pl" --no-tree --terse --show-types \
		-f uapi/exofusion.h module/core/core_api.h module/core/platform.h
} | grep -v "total: 0 errors, 0 warnings, 0 checks" | tee "$LINT/checkpatch.txt"
[ ! -s "$LINT/checkpatch.txt" ]

echo "lint: sparse"
# In the kernel's own output directory (make module-for), never in the
# source tree: objects there would be taken for another kernel's.
make -s module-for MODULE_KDIR="$KDIR" C=2 CHECK=sparse 2>&1 | grep -E "^[^ ]+:[0-9]+:[0-9]+: " | tee "$LINT/sparse.txt" || true
[ ! -s "$LINT/sparse.txt" ]
echo "lint: clean"
