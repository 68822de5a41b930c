#!/usr/bin/env bash
# A download over the bootloader's own pages (0x08000000, listed read-only 'a' in alt 0):
# dfu-util refuses it by itself (exit 64, "not writeable"); forced with :force, the device
# refuses the write with errTARGET (status 1, dfuERROR), dfu-util exits 74, and the next
# session finds dfuERROR/errTARGET and clears it. The 16 KB are unchanged, and after a
# reset (-s :leave) the bootloader comes up and enumerates again.
. "$(dirname "$0")/bootloader_common.sh"

head -c 4096 /dev/urandom > junk.bin
board run.out --timeline timeline.txt -- sh -c '
    dfu-util -a 0 -s 0x08000000:16384 -U boot-before.bin || exit 10
    dfu-util -a 0 -s 0x08000000 -D junk.bin > noforce.out 2>&1
    echo "no-force exit $?"
    dfu-util -a 0 -s 0x08000000:force -D junk.bin > force.out 2>&1
    echo "force exit $?"
    dfu-util -a 0 -s 0x08000000:16384 -U boot-after.bin > after.out 2>&1 || exit 11
    '"$DFU_DEVNUM"'
    dfu-util -a 0 -s :leave > leave.out 2>&1 || exit 12
    '"$WAIT_NEW_DFU"'
    dfu-util -l > relist.out 2>&1'
[ $RC -eq 0 ] || { cat run.out >&2; fail "a dfu-util step that must succeed failed (code $RC)"; }

expect_in run.out "no-force exit 64"
expect_in noforce.out "dfu-util: Last page at 0x08000fff is not writeable"
expect_not_in noforce.out "Download done."

expect_in run.out "force exit 74"
expect_in force.out "DFU state(10) = dfuERROR, status(1) = File is not targeted for use by this device"
expect_not_in force.out "Download done."

# The device keeps dfuERROR/errTARGET until a CLRSTATUS: dfu-util's next start sees it.
expect_in after.out "DFU state(10) = dfuERROR, status(1) = File is not targeted for use by this device"
expect_in after.out "Clearing status"
expect_in after.out "Upload done."
cmp boot-before.bin boot-after.bin || fail "the bootloader's pages changed"
cmp "$BOOT_BIN" <(head -c "$(stat -c %s "$BOOT_BIN")" boot-after.bin) ||
    fail "the bootloader pages do not hold bootloader-stm32l476g-eval.bin"

expect_in leave.out "Transitioning to dfuMANIFEST state"
expect_in relist.out "Found DFU: [0483:df11]"
expect_in relist.out 'alt=0, name="@Internal Flash  /0x08000000/08*002Ka,248*002Kg,256*002Kg"'
grep -q "reset software" timeline.txt || { cat timeline.txt >&2; fail "no reset after the leave"; }
[ "$(grep -c 'usb configured 0483:df11' timeline.txt)" -eq 2 ] ||
    { cat timeline.txt >&2; fail "the bootloader did not enumerate a second time after the reset"; }
second=$(grep 'usb configured 0483:df11' timeline.txt | tail -1 | sed 's/.*address //')
expect_in relist.out "devnum=$second,"
pass
