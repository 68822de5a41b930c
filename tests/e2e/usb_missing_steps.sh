#!/usr/bin/env bash
# USB bring-up with one step missing (firmware/tests/usbmissing.c, one build per step):
# the virtual host must never see the device (no bus reset, no enumeration), the program
# must report that it was not configured, and l4sim --diagnose-usb must name the missing
# register/bit. The complete variant enumerates and is diagnosed as connected.
. "$(dirname "$0")/bootloader_common.sh"

check_variant() { # STEP TEXT-THAT-NAMES-IT
    local elf="$FW/usbmissing-$1-stm32l476g-eval.elf"
    sim_run "$1.out" --diagnose-usb --load "$elf" --console "$1-console.txt" \
        --timeline "$1-timeline.txt" --run-for 1500
    [ $RC -eq 0 ] || { cat "$1.out" >&2; fail "$1: l4sim exited $RC"; }
    expect_in "$1-console.txt" "not enumerated"
    expect_not_in "$1-console.txt" "FAIL"
    expect_not_in "$1-timeline.txt" "usb resetting"
    expect_not_in "$1-timeline.txt" "usb configured"
    grep "l4sim: USB: the host sees no device: " "$1.out" > "$1-diag.txt" ||
        { cat "$1.out" >&2; fail "$1: --diagnose-usb did not say that the host sees no device"; }
    expect_in "$1-diag.txt" "$2"
    echo "$1: $(sed 's/^l4sim: USB: //' "$1-diag.txt")"
}

check_variant clk48 "RCC_CCIPR.CLK48SEL=00: no 48 MHz clock selected"
check_variant usv "PWR_CR2.USV is 0"
check_variant pins "PA11 (OTG_FS_DM) is not in alternate function AF10"
check_variant pwrdwn "GCCFG.PWRDWN is 0"
check_variant bsession "B-session not valid: GCCFG.VBDEN is 0 and GOTGCTL.BVALOEN/BVALOVAL do not override it"
check_variant sdis "DCTL.SDIS is 1"

sim_run complete.out --diagnose-usb --load "$FW/usbmissing-complete-stm32l476g-eval.elf" \
    --console complete-console.txt --timeline complete-timeline.txt --run-for 1500
[ $RC -eq 0 ] || { cat complete.out >&2; fail "complete: l4sim exited $RC"; }
expect_in complete-console.txt "enumerated: configured"
expect_in complete-timeline.txt "usb configured 0483:dff1 bcdDevice 0100"
expect_in complete.out "l4sim: USB: device connected (D+ pull-up on)"
echo "complete: configured"
pass
