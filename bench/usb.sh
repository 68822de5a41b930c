#!/usr/bin/env bash
# EP0 control-transfer throughput of the bootloader (modelled) and the simulator's cost per transfer.
set -euo pipefail
B=${1:-build}
bl="$B/firmware/bootloader-stm32l476g-eval.elf"
[ -x "$B/bench/usb_control" ] && [ -f "$bl" ] || { echo "usb control: not built"; exit 0; }
echo "== USB control transfers =="
"$B/bench/usb_control" "$bl"
