#!/usr/bin/env bash
# dfu-util -a 0 -s 0x08004000:leave -D with a stamped application (apphello + 63000 random
# bytes, 32 blocks of 2 KB): the download succeeds, the leave resets the board and the
# bootloader starts the application, which prints its line. A second power-on of the same
# flash (--flash-image) with the button held brings the bootloader up again, and the
# upload of the slot gives back the image byte for byte.
. "$(dirname "$0")/bootloader_common.sh"

make_app app 63000
LEN=$(stat -c %s app-stamped.bin)

echo "== download $LEN bytes with :leave, the application must start"
board run1.out --flash-image flash.img --console console1.txt -- sh -c "
    dfu-util -a 0 -s 0x08004000:leave -D app-stamped.bin || exit \$?
    $(wait_console_snippet console1.txt PASS)"
[ $RC -eq 0 ] || { cat run1.out >&2; fail "dfu-util download exited $RC"; }
expect_in run1.out "Downloading element to address = 0x08004000, size = $LEN"
expect_in run1.out "Download done."
expect_in run1.out "File downloaded successfully"
expect_in run1.out "Transitioning to dfuMANIFEST state"
expect_not_in run1.out "dfu-util: Error"
expect_in console1.txt "$APP_LINE"
expect_in console1.txt "PASS"
expect_not_in console1.txt "FAIL"

echo "== same flash, button held: DFU mode; upload the slot and compare"
board run2.out --flash-image flash.img --press-button --console console2.txt -- \
    dfu-util -a 0 -s "0x08004000:$LEN" -U back.bin
[ $RC -eq 0 ] || { cat run2.out >&2; fail "dfu-util upload exited $RC"; }
expect_in run2.out "Upload done."
expect_not_in console2.txt "$APP_LINE"
[ "$(stat -c %s back.bin)" = "$LEN" ] || fail "uploaded $(stat -c %s back.bin) bytes, wanted $LEN"
cmp app-stamped.bin back.bin || fail "the uploaded slot differs from the downloaded image"
pass
