#!/usr/bin/env bash
# A valid application in slot A and the DFU handshake 0x21554644 ("DFU!") in BKP0R at
# power-on, as an application's detach leaves it: the bootloader stays in DFU mode. It
# clears the handshake, so the reset of a DfuSe leave with no download (-s :leave) starts
# the application; the magic did not stick.
. "$(dirname "$0")/bootloader_common.sh"

make_app app 4000

board run.out --load app-stamped.bin@0x08004000 --backup-reg "0=$DFU_MAGIC" \
    --console console.txt --timeline timeline.txt -- sh -c '
    dfu-util -l > list.out 2>&1
    cp console.txt console-before.txt
    dfu-util -a 0 -s :leave > leave.out 2>&1 || exit 10
    '"$(wait_console_snippet console.txt PASS)"
grep -qF "Found DFU: [0483:df11] ver=2200" list.out || {
    cat run.out list.out console.txt >&2
    fail "with BKP0R=$DFU_MAGIC at start the bootloader did not stay in DFU mode"; }
expect_not_in console-before.txt "test apphello"
[ $RC -eq 0 ] || { cat run.out >&2; fail "dfu-util exited $RC"; }
expect_in leave.out "DfuSe command mode"
expect_in leave.out "Transitioning to dfuMANIFEST state"
expect_not_in leave.out "dfu-util: Error"
expect_in console.txt "$APP_LINE"
expect_in console.txt "PASS"
# The application starts only after the leave's reset: once, and after the reset.
reset_line=$(grep -n "reset software" timeline.txt | head -1 | cut -d: -f1)
app_line=$(grep -n "console $APP_LINE" timeline.txt | head -1 | cut -d: -f1)
[ -n "$reset_line" ] && [ -n "$app_line" ] && [ "$app_line" -gt "$reset_line" ] ||
    { cat timeline.txt >&2; fail "the application line is not after the leave's reset"; }
[ "$(grep -c 'usb configured 0483:df11' timeline.txt)" -eq 1 ] ||
    { cat timeline.txt >&2; fail "the bootloader enumerated again after the leave: the handshake stuck"; }
pass
