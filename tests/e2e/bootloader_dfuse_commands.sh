#!/usr/bin/env bash
# DfuSe commands dfu-util never sends for these addresses, from a libusb client
# (tests/unit/storm_client.c dfuse): every command's first GETSTATUS is dfuDNBUSY (dfu-util
# requires it), then the outcome. An erase of a bootloader page, a mass erase on the
# option-byte or OTP alt, an erase on OTP -> dfuERROR errTARGET (1); Set Address outside
# the alt -> errADDRESS (8); an erase of an application page -> dfuDNLOAD-IDLE, OK. The
# bootloader's 16 KB are unchanged afterwards.
. "$(dirname "$0")/bootloader_common.sh"
CLIENT=$(realpath "$4")

board run.out -- sh -c '
    c=$1
    dfu-util -a 0 -s 0x08000000:16384 -U boot-before.bin > up1.out 2>&1 || exit 10
    $c dfuse 0483:df11 0 41 00 00 00 08 > erase-boot0.out 2>&1
    $c dfuse 0483:df11 0 41 00 38 00 08 > erase-boot7.out 2>&1
    $c dfuse 0483:df11 0 41 FF 3F 00 08 > erase-boot7-end.out 2>&1
    $c dfuse 0483:df11 1 41 > mass-alt1.out 2>&1
    $c dfuse 0483:df11 2 41 > mass-alt2.out 2>&1
    $c dfuse 0483:df11 2 41 00 70 FF 1F > erase-otp.out 2>&1
    $c dfuse 0483:df11 0 21 00 F8 FF 07 > address-below.out 2>&1
    $c dfuse 0483:df11 0 21 00 00 10 08 > address-above.out 2>&1
    $c dfuse 0483:df11 0 41 00 40 00 08 > erase-app.out 2>&1
    $c dfuse 0483:df11 0 21 00 40 00 08 > address-app.out 2>&1
    dfu-util -a 0 -s 0x08000000:16384 -U boot-after.bin > up2.out 2>&1 || exit 11' sh "$CLIENT"
[ $RC -eq 0 ] || { cat run.out >&2; fail "exit $RC"; }

# OUT STATUS STATE: the command was taken, answered dfuDNBUSY first, then STATE/STATUS.
outcome() {
    expect_in "$1" "dnload: ok"
    local first last
    first=$(grep -m1 '^getstatus:' "$1")
    last=$(grep '^getstatus:' "$1" | tail -1)
    case "$first" in "getstatus: state=4 status=0 "*) ;; *) cat "$1" >&2; fail "$1: first GETSTATUS not dfuDNBUSY/OK";; esac
    case "$last" in "getstatus: state=$3 status=$2 "*) ;; *) cat "$1" >&2; fail "$1: ended \"$last\", wanted state $3 status $2";; esac
    [ "$3" != 10 ] || expect_in "$1" "clrstatus: ok"
}
outcome erase-boot0.out 1 10
outcome erase-boot7.out 1 10
outcome erase-boot7-end.out 1 10
outcome mass-alt1.out 1 10
outcome mass-alt2.out 1 10
outcome erase-otp.out 1 10
outcome address-below.out 8 10
outcome address-above.out 8 10
outcome erase-app.out 0 5
outcome address-app.out 0 5
cmp boot-before.bin boot-after.bin || fail "the bootloader's pages changed"
cmp "$BOOT_BIN" <(head -c "$(stat -c %s "$BOOT_BIN")" boot-after.bin) ||
    fail "the bootloader pages do not hold bootloader-stm32l476g-eval.bin"
pass
