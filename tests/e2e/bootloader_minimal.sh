#!/usr/bin/env bash
# The bootloader built with L4_BOOTLOADER_MINIMAL (bootloader-minimal-*.elf), put in the
# place of the default one: dfu-util lists alt 0 only, downloads a stamped application
# with :leave and the application starts; an UPLOAD is refused (STALL).
# usage: SCRIPT l4sim firmware-dir l4dfu-pack
set -euo pipefail
MIN_FW=$(mktemp -d)
for f in "$2"/*.elf "$2"/*.bin; do ln -s "$(realpath "$f")" "$MIN_FW/"; done
for ext in elf bin; do
    ln -sf "$(realpath "$2/bootloader-minimal-stm32l476g-eval.$ext")" \
        "$MIN_FW/bootloader-stm32l476g-eval.$ext"
done
set -- "$1" "$MIN_FW" "$3"
. "$(dirname "$0")/bootloader_common.sh"
trap '[ -n "${KEEP:-}" ] || rm -rf "$WORK" "$MIN_FW"' EXIT

make_app app 20000
LEN=$(stat -c %s app-stamped.bin)

echo "== dfu-util -l: one alternate setting"
board list.out -- dfu-util -l
[ $RC -eq 0 ] || { cat list.out >&2; fail "dfu-util -l exited $RC"; }
expect_in list.out "alt=0, name=\"@Internal Flash"
expect_not_in list.out "alt=1"
expect_not_in list.out "Option Bytes"

echo "== download $LEN bytes with :leave, the application must start"
board run1.out --flash-image flash.img --console console1.txt -- sh -c "
    dfu-util -a 0 -s 0x08004000:leave -D app-stamped.bin || exit \$?
    $(wait_console_snippet console1.txt PASS)"
[ $RC -eq 0 ] || { cat run1.out >&2; fail "dfu-util download exited $RC"; }
expect_in run1.out "File downloaded successfully"
expect_in console1.txt "$APP_LINE"
expect_in console1.txt "PASS"

echo "== same flash, button held: the upload is refused"
board run2.out --flash-image flash.img --press-button -- \
    dfu-util -a 0 -s "0x08004000:64" -U back.bin
[ $RC -ne 0 ] || { cat run2.out >&2; fail "dfu-util upload succeeded on the minimal build"; }
expect_in run2.out "LIBUSB_ERROR_PIPE"
pass
