# Sourced by the tests/e2e/bootloader_*.sh and usb_*.sh scripts: the real, unmodified
# dfu-util against the real bootloader on l4sim (umockdev bridge), always with --strict,
# so an access to a reserved or unimplemented register ends the run.
# usage of a test: SCRIPT PATH/TO/l4sim PATH/TO/firmware-dir PATH/TO/l4dfu-pack
set -euo pipefail
L4SIM=$(realpath "$1")
FW=$(realpath "$2")
PACK=$(realpath "$3")
BOOT_ELF="$FW/bootloader-stm32l476g-eval.elf"
BOOT_BIN="$FW/bootloader-stm32l476g-eval.bin"
APP_BIN="$FW/apphello-stm32l476g-eval.bin"
# apphello's line once it has checked the hand-over from the bootloader.
APP_LINE="application started by the bootloader"
DFU_MAGIC=0x21554644 # "DFU!" in BKP0R
WORK=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$WORK"' EXIT
cd "$WORK"
T0=$(date +%s.%N)

fail() { echo "FAIL: $*" >&2; exit 1; }
expect_in() { grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "\"$2\" not in $1"; }; }
expect_not_in() { if grep -qF -- "$2" "$1"; then cat "$1" >&2; fail "\"$2\" found in $1"; fi; }
pass() { echo "PASS ($(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }') s wall)"; exit 0; }

# A run of the board: l4sim --strict --usb with the bootloader and the given options.
# OUT gets everything (l4sim's messages and the command's output); RC its exit status.
# Any model warning or strict stop fails the test unless ALLOW_WARNINGS=1.
board() {
    local out=$1
    shift
    sim_run "$out" --load "$BOOT_ELF" "$@"
}

# The same with only the given options (another program instead of the bootloader).
sim_run() {
    local out=$1
    shift
    set +e
    timeout 120 "$L4SIM" --strict --usb "$@" > "$out" 2>&1
    RC=$?
    set -e
    if grep -qE 'strict:|reserved or unimplemented|bus fault' "$out"; then
        cat "$out" >&2
        fail "l4sim stopped on a reserved/unimplemented register or a bus fault (see above)"
    fi
    if [ "${ALLOW_WARNINGS:-0}" != 1 ] && grep -q 'l4sim: warning' "$out"; then
        cat "$out" >&2
        fail "a model warned (see above)"
    fi
    [ $RC -ne 124 ] || { cat "$out" >&2; fail "l4sim timed out (120 s wall)"; }
}

# make_app NAME PAD: apphello followed by PAD random bytes (so the download spans several
# blocks and pages), stamped into NAME-stamped.bin and packed into NAME.dfu.
make_app() {
    cp "$APP_BIN" "$1.bin"
    head -c "$2" /dev/urandom >> "$1.bin"
    "$PACK" --version 1.2.3 --bin "$1-stamped.bin" --dfu "$1.dfu" "$1.bin" > /dev/null
}

# Shell snippets for the command run under l4sim (sh -c): wait until the DFU-mode device
# is listed again (after a reset it enumerates anew), or until a console file shows a line.
WAIT_DFU='for i in $(seq 300); do dfu-util -l 2>/dev/null | grep -qF "Found DFU: [0483:df11]" && break; sleep 0.05; done'
# Before a reset: remember the DFU device's devnum; after it: wait for a DFU device with
# another devnum (the one before the reset may still be listed for a moment).
DFU_DEVNUM='old=$(dfu-util -l 2>/dev/null | grep -F "Found DFU: [0483:df11]" | grep -o "devnum=[0-9]*" | head -1)'
WAIT_NEW_DFU='for i in $(seq 300); do new=$(dfu-util -l 2>/dev/null | grep -F "Found DFU: [0483:df11]" | grep -o "devnum=[0-9]*" | head -1); [ -n "$new" ] && [ "$new" != "$old" ] && break; sleep 0.05; done'
wait_console_snippet() { # FILE TEXT
    printf 'for i in $(seq 300); do grep -qF "%s" "%s" 2>/dev/null && break; sleep 0.05; done' "$2" "$1"
}
