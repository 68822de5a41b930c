#!/usr/bin/env bash
# The real dfu-util against the l4dfu bootloader running in l4sim, through the umockdev
# bridge: list, upload the bootloader's own first 4 KB, download 8 KB with a DfuSe
# leave (the board resets and enumerates again), then a waiting dfu-util reads it back.
# usage: bridge_dfu_util.sh PATH/TO/l4sim PATH/TO/firmware-dir
# Exits 77 (skipped) only when this l4sim binary cannot host the bridge at all (GLib
# shadowed by libunicorn's copies: a link-order problem of the build, said loudly).
set -euo pipefail
L4SIM=$(realpath "$1")
FW=$(realpath "$2")
BOOT="$FW/bootloader-stm32l476g-eval.elf"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

fail() { echo "FAIL: $*" >&2; exit 1; }
expect_in() { grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "\"$2\" not in $1"; }; }

sim() { timeout 120 "$L4SIM" --usb --load "$BOOT" --trace usb --trace-file "$WORK/trace.txt" -- "$@"; }

echo "== dfu-util -l, once the board has enumerated"
set +e
sim sh -c 'for i in $(seq 200); do dfu-util -l 2>/dev/null | grep -q "Found DFU" && break; sleep 0.05; done; dfu-util -l' > list.out 2>&1
rc=$?
set -e
if grep -q "not to GLib" list.out; then
    cat list.out >&2
    echo "SKIP: this l4sim is linked with libunicorn ahead of GLib; the bridge cannot start" >&2
    exit 77
fi
[ $rc -eq 0 ] || { cat list.out >&2; fail "l4sim -- dfu-util -l exited $rc"; }
expect_in list.out 'Found DFU: [0483:df11]'
expect_in list.out 'name="@Internal Flash'
expect_in trace.txt 'bridge: published 0483:df11 as /dev/bus/usb/001/'

echo "== upload: the bootloader's own first 4 KB"
sim dfu-util -w -a 0 -s 0x08000000:4096 -U up.bin > up.out 2>&1 || { cat up.out >&2; fail "upload exited $?"; }
head -c 4096 "$FW/bootloader-stm32l476g-eval.bin" > want.bin
cmp want.bin up.bin || fail "uploaded bytes differ from bootloader-stm32l476g-eval.bin"

echo "== download with leave, re-enumeration, upload by a waiting dfu-util"
head -c 8192 /dev/urandom > data.bin
# After the leave the board resets, but for a moment the old device is still on the bus
# (as on real hardware): wait for the re-enumerated one (a new devnum) before the upload.
sim sh -c 'old=$(dfu-util -l 2>/dev/null | grep -o "devnum=[0-9]*" | head -1)
    dfu-util -w -a 0 -s 0x08040000:leave -D data.bin || exit $?
    for i in $(seq 300); do
        new=$(dfu-util -l 2>/dev/null | grep -o "devnum=[0-9]*" | head -1)
        [ -n "$new" ] && [ "$new" != "$old" ] && break
        sleep 0.05
    done
    dfu-util -w -a 0 -s 0x08040000:8192 -U back.bin' \
    > roundtrip.out 2>&1 || { cat roundtrip.out >&2; fail "download/upload exited $?"; }
expect_in roundtrip.out 'File downloaded successfully'
cmp data.bin back.bin || fail "read back differs from what was downloaded"
expect_in trace.txt 'bridge: removed /dev/bus/usb/001/'
[ "$(grep -c 'bridge: published 0483:df11' trace.txt)" -ge 2 ] || { cat trace.txt | grep bridge: >&2; fail "no second enumeration published"; }

echo "PASS"
