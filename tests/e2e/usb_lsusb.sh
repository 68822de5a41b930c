#!/usr/bin/env bash
# What the host read from the bootloader (a libusb dump through the umockdev bridge; lsusb
# -v does not work under umockdev) against what the firmware declares in
# docs/dfu-protocol.md: IDs, bcdDevice, strings, the three alternate settings with their
# layout strings, the DFU functional descriptor, and the serial number derived from the
# UID as ST's ROM does (%08X of UID0+UID2, then %04X of UID1>>16).
. "$(dirname "$0")/bootloader_common.sh"
CLIENT=$(realpath "$4")
SRC=$(realpath "$(dirname "$0")/../..")

board run.out -- sh -c '"$1" dump 0483:df11 > dump.txt 2>&1 || exit 10; dfu-util -l > list.out 2>&1' sh "$CLIENT"
[ $RC -eq 0 ] || { cat run.out >&2; [ ! -f dump.txt ] || cat dump.txt >&2; fail "exit $RC"; }
cat dump.txt

# The UID the virtual chip carries (sim/sim.c), and the serial ST's ROM makes of it.
uid=$(grep -o 'uid\[3\] = {[^}]*}' "$SRC/sim/sim.c" | grep -o '0x[0-9A-Fa-f]*') ||
    fail "UID words not found in sim/sim.c"
set -- $uid
[ $# -eq 3 ] || fail "expected three UID words in sim/sim.c, found: $uid"
serial=$(printf '%08X%04X' $((($1 + $3) & 0xFFFFFFFF)) $((($2 >> 16) & 0xFFFF)))
echo "UID $1 $2 $3 -> serial $serial"

want() { grep -qxF -- "$1" dump.txt || fail "the host did not read \"$1\""; }
want "device.bcdUSB=0200"
want "device.class=00/00/00"
want "device.bMaxPacketSize0=64"
want "device.id=0483:df11"
want "device.bcdDevice=2200"
want "device.bNumConfigurations=1"
want "device.manufacturer=l4dfu"
want "device.product=l4dfu bootloader"
want "device.serial=$serial"
want "strings.languages=0409"
want "config.wTotalLength=45"
want "config.bNumInterfaces=1"
want "config.bConfigurationValue=1"
want "config.bmAttributes=80"
want "config.MaxPower=50"
want "interface0.alts=3"
want "interface0.alt0=0 class=fe/01/02 endpoints=0"
want "interface0.alt0.name=@Internal Flash  /0x08000000/08*002Ka,248*002Kg,256*002Kg"
want "interface0.alt1=1 class=fe/01/02 endpoints=0"
want "interface0.alt1.name=@Option Bytes  /0x1FFF7800/01*040Ba"
want "interface0.alt2=2 class=fe/01/02 endpoints=0"
want "interface0.alt2.name=@OTP Memory /0x1FFF7000/01*001Ke"
want "dfu.bLength=9"
want "dfu.bmAttributes=07"
want "dfu.wDetachTimeOut=255"
want "dfu.wTransferSize=2048"
want "dfu.bcdDFUVersion=011a"
# dfu-util reads the same: ver, serial and names, highest alt first.
expect_in list.out "Found DFU: [0483:df11] ver=2200, devnum="
expect_in list.out "alt=2, name=\"@OTP Memory /0x1FFF7000/01*001Ke\", serial=\"$serial\""
expect_in list.out "alt=0, name=\"@Internal Flash  /0x08000000/08*002Ka,248*002Kg,256*002Kg\", serial=\"$serial\""
pass
