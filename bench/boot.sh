#!/usr/bin/env bash
# Boot time: power-on -> the application's first console line, through the bootloader's
# checks (vector table, CRC-32 over the whole image with the CRC unit), for images of
# several sizes. Modelled board time from l4sim's timeline.
set -euo pipefail
B=${1:-build}
B=$(cd "$B" && pwd)
FW="$B/firmware"
BOOT="$FW/bootloader-stm32l476g-eval.elf"
APP="$FW/apphello-stm32l476g-eval.bin"
[ -f "$BOOT" ] && [ -f "$APP" ] && [ -x "$B/tools/l4dfu-pack" ] || { echo "boot time: not built"; exit 0; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
echo "== boot time (modelled): power-on -> application's first console line =="
printf "%-14s %12s\n" "image bytes" "boot ms"
for kib in 2 64 256 480; do
    cp "$APP" "$WORK/app.bin"
    pad=$((kib * 1024 - $(stat -c %s "$APP")))
    [ $pad -gt 0 ] && head -c $pad /dev/zero | tr '\0' '\377' >> "$WORK/app.bin"
    "$B/tools/l4dfu-pack" --version 1.0.0 --bin "$WORK/app-stamped.bin" "$WORK/app.bin" > /dev/null
    "$B/sim/l4sim" --load "$BOOT" --load "$WORK/app-stamped.bin@08004000" --console /dev/null \
        --timeline "$WORK/t.txt" --until-console "application started by the bootloader" --run-for 3000 > /dev/null 2>&1 || true
    t=$(awk '/console test apphello/ { print $1; exit }' "$WORK/t.txt")
    printf "%-14s %12s\n" "$(stat -c %s "$WORK/app-stamped.bin")" "${t:-n/a}"
done
echo "(the bootloader checks the whole image before every start: the CRC time grows with the image)"
