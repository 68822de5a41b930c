#!/usr/bin/env bash
# Modelled download/upload throughput of the bootloader (512 KiB, erase included).
set -euo pipefail
B=${1:-build}
bl="$B/firmware/bootloader-stm32l476g-eval.elf"
[ -x "$B/bench/dfu_throughput" ] && [ -f "$bl" ] || { echo "dfu throughput: not built"; exit 0; }
echo "== bootloader DfuSe throughput, 512 KiB =="
"$B/bench/dfu_throughput" "$bl" "${L4_BENCH_KIB:-512}"
