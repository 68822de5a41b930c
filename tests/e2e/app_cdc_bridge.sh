#!/usr/bin/env bash
# The demo application's CDC-ACM port through the USB bridge with real libusb (bulk and
# interrupt URBs), then the "update" command on that port: the application hands over to
# the bootloader (l4dfu_request_update), which dfu-util then finds in DFU mode.
# usage: app_cdc_bridge.sh PATH/TO/l4sim PATH/TO/firmware-dir PATH/TO/cdc_client
set -euo pipefail
L4SIM=$(realpath "$1")
FW=$(realpath "$2")
CLIENT=$(realpath "$3")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
fail() { echo "FAIL: $*" >&2; exit 1; }

for mode in irq poll; do
    set +e
    timeout 120 "$L4SIM" --strict --load "$FW/bootloader-stm32l476g-eval.elf" \
        --load "$FW/demo-$mode-v1-stm32l476g-eval-stamped.bin@08004000" \
        --console "console-$mode.txt" -- sh -c '
        "$1" echo || exit 10
        "$1" update || exit 11
        for i in $(seq 300); do dfu-util -l 2>/dev/null | grep -qF "Found DFU: [0483:df11]" && exit 0; sleep 0.05; done
        exit 12' sh "$CLIENT" > "run-$mode.out" 2>&1
    rc=$?
    set -e
    [ $rc -eq 0 ] || { cat "run-$mode.out" "console-$mode.txt" >&2; fail "demo-$mode: exit $rc"; }
    grep -q "echo ok" "run-$mode.out" || { cat "run-$mode.out" >&2; fail "demo-$mode: no echo"; }
    grep -q "cdc: update" "console-$mode.txt" || { cat "console-$mode.txt" >&2; fail "demo-$mode: no update line"; }
    if grep -qE "l4sim: warning|strict:" "run-$mode.out"; then cat "run-$mode.out" >&2; fail "demo-$mode: l4sim warned"; fi
    echo "demo-$mode: CDC echo through libusb, update -> DFU mode: ok"
done
echo PASS
