#!/usr/bin/env bash
# dfu-util -a 0 -D app.dfu, the DfuSe file written by l4dfu-pack (one element at slot A):
# without :leave the board stays in DFU mode and the slot holds the image; with
# -s :leave (no address: dfu-util sends the leave right after the ABORT, in dfuIDLE) the
# bootloader resets and starts the application.
. "$(dirname "$0")/bootloader_common.sh"

make_app app 20000
LEN=$(stat -c %s app-stamped.bin)
"$PACK" --info app.dfu > info.out || { cat info.out >&2; fail "l4dfu-pack --info refuses its own file"; }

echo "== -D app.dfu, then read the slot back (no leave: still the bootloader)"
board run1.out --console console1.txt -- sh -c "
    dfu-util -a 0 -D app.dfu || exit \$?
    dfu-util -a 0 -s 0x08004000:$LEN -U back.bin"
[ $RC -eq 0 ] || { cat run1.out >&2; fail "dfu-util exited $RC"; }
expect_in run1.out "DfuSe interface name: \"Internal Flash  \""
expect_in run1.out "Image for alternate setting 0, (1 elements, total size = $((LEN + 8)))"
expect_in run1.out "Parsing element 1, address = 0x08004000, size = $LEN"
expect_in run1.out "Download done."
expect_in run1.out "Done parsing DfuSe file"
expect_not_in run1.out "Invalid DFU suffix"
expect_not_in console1.txt "$APP_LINE"
cmp app-stamped.bin back.bin || fail "the slot differs from the .dfu file's element"

echo "== -s :leave -D app.dfu: the application starts"
board run2.out --console console2.txt -- sh -c "
    dfu-util -a 0 -s :leave -D app.dfu || exit \$?
    $(wait_console_snippet console2.txt PASS)"
[ $RC -eq 0 ] || { cat run2.out >&2; fail "dfu-util exited $RC"; }
expect_in run2.out "Done parsing DfuSe file"
expect_in run2.out "Submitting leave request..."
expect_in run2.out "Transitioning to dfuMANIFEST state"
expect_in console2.txt "$APP_LINE"
expect_in console2.txt "PASS"
expect_not_in console2.txt "FAIL"
pass
