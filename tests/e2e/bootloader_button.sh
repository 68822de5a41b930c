#!/usr/bin/env bash
# A valid application in slot A. With the tamper button (PC13) held from power-on the
# bootloader stays in DFU mode: dfu-util lists 0483:df11 and the application never
# prints. Without the button the same flash starts the application.
. "$(dirname "$0")/bootloader_common.sh"

make_app app 4000

echo "== button held: DFU mode"
board held.out --load app-stamped.bin@0x08004000 --press-button --console held-console.txt \
    --timeline held-timeline.txt --run-for 500 -- dfu-util -l
[ $RC -eq 0 ] || { cat held.out >&2; fail "dfu-util -l exited $RC"; }
expect_in held.out "Found DFU: [0483:df11] ver=2200"
expect_in held.out 'alt=0, name="@Internal Flash  /0x08000000/08*002Ka,248*002Kg,256*002Kg"'
expect_not_in held-console.txt "test apphello"
expect_not_in held-console.txt "$APP_LINE"
expect_not_in held-timeline.txt "reset software"

echo "== button released: the application starts"
board free.out --load app-stamped.bin@0x08004000 --console free-console.txt \
    --until-console PASS --run-for 2000
[ $RC -eq 0 ] || { cat free.out free-console.txt >&2; fail "the application did not print PASS (l4sim exit $RC)"; }
expect_in free-console.txt "$APP_LINE"
expect_not_in free-console.txt "FAIL"
pass
