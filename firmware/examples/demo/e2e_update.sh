#!/usr/bin/env bash
# Run-time update end to end, with the real dfu-util: the l4dfu bootloader and demo v1
# run in l4sim; one dfu-util command detaches the application (0483:5740), downloads
# demo v2 into the bootloader (0483:DF11) and leaves; v2 must then run and enumerate.
# Done for the interrupt-driven and the polled demo.
# usage: e2e_update.sh PATH/TO/l4sim PATH/TO/firmware-dir
set -euo pipefail
L4SIM=$(realpath "$1")
FW=$(realpath "$2")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

fail() { echo "FAIL: $*" >&2; exit 1; }
expect_in() { grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "\"$2\" not in $1"; }; }

for mode in irq poll; do
    echo "== demo-$mode: v1 -> v2 with dfu-util -d 0483:5740,0483:df11 -a 0 -s :leave -D"
    v1="$FW/demo-$mode-v1-stm32l476g-eval-stamped.bin"
    v2="$FW/demo-$mode-v2-stm32l476g-eval.dfu"
    set +e
    timeout 240 "$L4SIM" \
        --load "$FW/bootloader-stm32l476g-eval.elf" --load "$v1@08004000" \
        --console "console-$mode.txt" -- sh -c '
        for i in $(seq 200); do dfu-util -l 2>/dev/null | grep -q "Found Runtime: \[0483:5740\] ver=0100" && break; sleep 0.05; done
        dfu-util -d 0483:5740,0483:df11 -a 0 -E 2 -s :leave -D "$1" || exit $?
        for i in $(seq 200); do dfu-util -l 2>/dev/null | grep -q "Found Runtime: \[0483:5740\] ver=0200" && exit 0; sleep 0.05; done
        echo "v2 never enumerated"; exit 1' sh "$v2" > "update-$mode.out" 2>&1
    rc=$?
    set -e
    [ $rc -eq 0 ] || { cat "update-$mode.out" "console-$mode.txt" >&2; fail "demo-$mode: exit $rc"; }
    expect_in "update-$mode.out" "Device will detach and reattach..."
    expect_in "update-$mode.out" "DFU mode device DFU version 011a"
    expect_in "update-$mode.out" "Download done."
    expect_in "console-$mode.txt" "l4dfu demo app v1.0.0"
    expect_in "console-$mode.txt" "dfu: detach, entering the l4dfu bootloader"
    expect_in "console-$mode.txt" "l4dfu demo app v2.0.0"
done
echo "PASS"
