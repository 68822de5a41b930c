#!/usr/bin/env bash
# dfu-util -s 0x08004000:mass-erase:force -D: the DfuSe mass erase clears the whole
# application area (the rest of bank 1 and all of bank 2, preloaded here with random
# data), the download that follows lands intact, and the bootloader's own 16 KB are the
# same before and after. Without :force dfu-util refuses the mass erase itself (exit 64).
. "$(dirname "$0")/bootloader_common.sh"

make_app app 12000
LEN=$(stat -c %s app-stamped.bin)
head -c 4096 /dev/urandom > old-bank1.bin
head -c 4096 /dev/urandom > old-bank2.bin
head -c 2048 /dev/urandom > old-last.bin
head -c 4096 /dev/zero | tr '\0' '\377' > erased4k.bin

# Each dfu-util writes new files (uploads refuse to overwrite), so one session does all.
board run.out --load old-bank1.bin@0x08040000 --load old-bank2.bin@0x08080000 \
    --load old-last.bin@0x080FF800 -- sh -c '
    set -e
    dfu-util -a 0 -s 0x08000000:16384 -U boot-before.bin
    dfu-util -a 0 -s 0x08040000:4096 -U bank1-before.bin
    dfu-util -a 0 -s 0x08080000:4096 -U bank2-before.bin
    set +e
    dfu-util -a 0 -s 0x08004000:mass-erase -D app-stamped.bin > noforce.out 2>&1
    echo "no-force exit $?"
    set -e
    dfu-util -a 0 -s 0x08004000:mass-erase:force -D app-stamped.bin
    dfu-util -a 0 -s 0x08004000:'"$LEN"' -U slot.bin
    dfu-util -a 0 -s 0x08040000:4096 -U bank1.bin
    dfu-util -a 0 -s 0x08080000:4096 -U bank2.bin
    dfu-util -a 0 -s 0x080FF800:2048 -U last.bin
    dfu-util -a 0 -s 0x08000000:16384 -U boot-after.bin'
[ $RC -eq 0 ] || { cat run.out >&2; fail "a dfu-util step exited $RC"; }
cmp old-bank1.bin bank1-before.bin || fail "the preloaded bank-1 data did not read back before the erase"
cmp old-bank2.bin bank2-before.bin || fail "the preloaded bank-2 data did not read back before the erase"
expect_in run.out "no-force exit 64"
expect_in noforce.out "The mass erase command can only be used with force"
expect_in run.out "Performing mass erase, this can take a moment"
expect_in run.out "File downloaded successfully"
cmp app-stamped.bin slot.bin || fail "slot A read back differs from the download after the mass erase"
cmp erased4k.bin bank1.bin || fail "bank 1 at 0x08040000 not erased by the mass erase"
cmp erased4k.bin bank2.bin || fail "bank 2 at 0x08080000 not erased by the mass erase"
cmp <(head -c 2048 erased4k.bin) last.bin || fail "the last page 0x080FF800 not erased by the mass erase"
cmp boot-before.bin boot-after.bin || fail "the bootloader's 16 KB changed across the mass erase"
cmp "$BOOT_BIN" <(head -c "$(stat -c %s "$BOOT_BIN")" boot-after.bin) ||
    fail "the bootloader pages do not hold bootloader-stm32l476g-eval.bin"
pass
