#!/usr/bin/env bash
# Bootloader and image footprints: arm-none-eabi-size of every program, and where the
# bootloader's bytes go (a build without LTO, so each module keeps its own sections).
set -euo pipefail
B=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
echo "== footprint (arm-none-eabi-size; flash = text + data) =="
printf "%-42s %8s %6s %6s %8s\n" "image" "text" "data" "bss" "flash"
for elf in "$B"/firmware/*.elf; do
  read -r text data bss _ < <(arm-none-eabi-size "$elf" | tail -n 1)
  printf "%-42s %8d %6d %6d %8d\n" "$(basename "$elf" .elf)" "$text" "$data" "$bss" $((text + data))
done
bl="$B/firmware/bootloader-stm32l476g-eval.elf"
if [ -f "$bl" ]; then
  read -r text data _ < <(arm-none-eabi-size "$bl" | tail -n 1)
  echo "bootloader flash bytes: $((text + data)) (budget 4096)"
  echo
  echo "== bootloader by module (no LTO; the shipped build uses LTO and is smaller) =="
  nolto="$B/firmware-nolto"
  cmake -S "$top/firmware" -B "$nolto" -DCMAKE_TOOLCHAIN_FILE="$top/cmake/arm-none-eabi.cmake" \
        -DCMAKE_BUILD_TYPE=MinSizeRel -DL4_BOOTLOADER_LTO=OFF >/dev/null
  cmake --build "$nolto" --target bootloader-stm32l476g-eval >/dev/null
  python3 "$here/map_sizes.py" "$nolto/bootloader-stm32l476g-eval.map"
fi
