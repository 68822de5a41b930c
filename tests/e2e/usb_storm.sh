#!/usr/bin/env bash
# A control-transfer storm through the umockdev bridge against the bootloader: a libusb
# client (tests/unit/storm_client.c) sends 5000 GET_DESCRIPTOR requests (device,
# configuration whole and header only, language list, strings 1-6) and checks that every
# reply is complete and identical to the first read. The device side must have seen
# exactly the client's requests (none lost, none doubled), and afterwards the bootloader
# still does a DfuSe upload correctly.
. "$(dirname "$0")/bootloader_common.sh"
CLIENT=$(realpath "$4")
COUNT=5000
# The client's own requests besides the storm: the configuration header probe and the
# first (reference) read of each of the 10 descriptors.
SETUP_REQUESTS=11

board run.out --trace usb --trace-file trace.txt -- sh -c '
    "$1" storm 0483:df11 '"$COUNT"' > storm.out 2>&1 || exit 10
    dfu-util -a 0 -s 0x08000000:4096 -U up.bin > up.out 2>&1 || exit 11' sh "$CLIENT"
[ $RC -eq 0 ] || { cat run.out >&2; [ ! -f storm.out ] || cat storm.out >&2; fail "exit $RC"; }
cat storm.out
expect_in storm.out "storm: $COUNT GET_DESCRIPTOR requests over 10 distinct descriptors"
expect_in storm.out ": 0 errors, 0 wrong length, 0 different"
# Requests the device saw from the storm client: after the command started (enumeration's
# come before) and before the bridge's second client (dfu-util) opened the device.
seen=$(awk '/bridge: started sh/ { on = 1 } / bridge: client 2 / { on = 0 }
            on && /SETUP addr [1-9][0-9]* ep0 GET_DESCRIPTOR\(/ { n++ } END { print n + 0 }' trace.txt)
grep -q " bridge: client 2 " trace.txt || fail "no second bridge client (dfu-util) in the trace"
echo "device saw $seen GET_DESCRIPTOR SETUPs from the client"
[ "$seen" -eq $((COUNT + SETUP_REQUESTS)) ] ||
    fail "the device saw $seen GET_DESCRIPTOR requests, the client sent $((COUNT + SETUP_REQUESTS))"
expect_in up.out "Upload done."
head -c 4096 "$BOOT_BIN" > want.bin
cmp want.bin up.bin || fail "upload after the storm differs from bootloader-stm32l476g-eval.bin"
pass
