#!/usr/bin/env bash
# A stamped application with one byte flipped after stamping (so its CRC no longer
# matches) is downloaded with :leave: the download itself succeeds and the bytes are in
# flash, but after the reset the bootloader refuses the image and enumerates again in
# DFU mode; the application never prints its line.
. "$(dirname "$0")/bootloader_common.sh"

make_app app 8000
LEN=$(stat -c %s app-stamped.bin)
cp app-stamped.bin bad.bin
# Flip the bits of one byte in the middle of the image (in the code/data, not the stamp).
OFF=$((LEN / 2))
orig=$(od -An -tu1 -j "$OFF" -N1 bad.bin | tr -d ' ')
printf "$(printf '\\%03o' $((orig ^ 0xFF)))" | dd of=bad.bin bs=1 seek="$OFF" conv=notrunc status=none
cmp -s app-stamped.bin bad.bin && fail "the flip did not change the image"
if "$PACK" --info bad.bin > info.out 2>&1; then cat info.out >&2; fail "l4dfu-pack --info accepts the flipped image"; fi

board run.out --console console.txt --timeline timeline.txt -- sh -c '
    '"$DFU_DEVNUM"'
    dfu-util -a 0 -s 0x08004000:leave -D bad.bin > dnload.out 2>&1 || exit 10
    '"$WAIT_NEW_DFU"'
    dfu-util -l > relist.out 2>&1
    dfu-util -a 0 -s 0x08004000:'"$LEN"' -U back.bin > up.out 2>&1 || exit 11'
[ $RC -eq 0 ] || { cat run.out >&2; [ ! -f dnload.out ] || cat dnload.out >&2; fail "dfu-util exited $RC"; }
expect_in dnload.out "File downloaded successfully"
expect_in dnload.out "Transitioning to dfuMANIFEST state"
grep -q "reset software" timeline.txt || { cat timeline.txt >&2; fail "no reset after the leave"; }
[ "$(grep -c 'usb configured 0483:df11' timeline.txt)" -eq 2 ] ||
    { cat timeline.txt >&2; fail "the board did not come back as the DFU device after the reset"; }
expect_in relist.out "Found DFU: [0483:df11]"
expect_in relist.out 'name="@Internal Flash  /0x08000000/'
cmp bad.bin back.bin || fail "the flash does not hold the downloaded (flipped) image"
expect_not_in console.txt "$APP_LINE"
expect_not_in console.txt "test apphello"
pass
