#!/usr/bin/env bash
# The DFU handshake on its real route: the demo application (run-time DFU, 0483:5740)
# detaches on dfu-util -e, writes "DFU!" to BKP0R and resets; the bootloader sees the
# handshake, stays in DFU mode (0483:df11) although the application is valid, and clears
# the handshake: the reset of a DfuSe leave with no download (-s :leave) starts the
# application again instead of the bootloader.
. "$(dirname "$0")/bootloader_common.sh"

DEMO="$FW/demo-poll-v1-stm32l476g-eval-stamped.bin"
WAIT_APP='for i in $(seq 300); do dfu-util -l 2>/dev/null | grep -qF "Found Runtime: [0483:5740]" && break; sleep 0.05; done'
board run.out --load "$DEMO@0x08004000" --console console.txt --timeline timeline.txt -- sh -c '
    '"$WAIT_APP"'
    dfu-util -d 0483:5740 -e > detach.out 2>&1 || exit 10
    '"$WAIT_DFU"'
    dfu-util -l > dfu-list.out 2>&1
    dfu-util -a 0 -s :leave > leave.out 2>&1 || exit 11
    '"$WAIT_APP"'
    dfu-util -l > app-list.out 2>&1'
[ $RC -eq 0 ] || { cat run.out >&2; fail "dfu-util exited $RC"; }
expect_in detach.out "Device will detach and reattach..."
expect_in console.txt "dfu: detach, entering the l4dfu bootloader"
expect_in dfu-list.out "Found DFU: [0483:df11] ver=2200"
expect_in leave.out "Transitioning to dfuMANIFEST state"
expect_in app-list.out "Found Runtime: [0483:5740] ver=0100"
expect_not_in app-list.out "Found DFU: [0483:df11]"
[ "$(grep -c 'usb configured 0483:5740' timeline.txt)" -eq 2 ] ||
    { cat timeline.txt >&2; fail "the application did not enumerate again after the leave"; }
[ "$(grep -c 'usb configured 0483:df11' timeline.txt)" -eq 1 ] ||
    { cat timeline.txt >&2; fail "the bootloader enumerated again after the leave: the handshake stuck"; }
[ "$(grep -c 'l4dfu demo app v1.0.0' console.txt)" -eq 2 ] ||
    { cat console.txt >&2; fail "the application did not start twice (power-on, after the leave)"; }
pass
