#!/usr/bin/env bash
# Power fails in the middle of a download (l4sim --power-cut-at: the double word being
# programmed is left half-written, the board powers up again). The half-written image
# must fail the bootloader's check, so the board comes back in DFU mode, and the same
# dfu-util command then completes the update and the application runs.
. "$(dirname "$0")/bootloader_common.sh"

make_app app 40000
LEN=$(stat -c %s app-stamped.bin)
# Flash operations: one erase per page (21 pages), then one per double word programmed
# (256 per 2 KiB block): cut in the middle of the 6th block.
CUT=$((21 + 5 * 256 + 100))

ALLOW_WARNINGS=1 board run.out --power-cut-at "op:$CUT" --console console.txt --timeline timeline.txt -- sh -c '
    '"$DFU_DEVNUM"'
    dfu-util -a 0 -s 0x08004000:leave -D app-stamped.bin > first.out 2>&1 && exit 10
    '"$WAIT_NEW_DFU"'
    dfu-util -l > relist.out 2>&1
    dfu-util -a 0 -s 0x08004000:leave -D app-stamped.bin > second.out 2>&1 || exit 11
    for i in $(seq 200); do grep -qF "'"$APP_LINE"'" console.txt && exit 0; sleep 0.05; done
    exit 12'
[ $RC -eq 0 ] || { cat run.out >&2; for f in first.out relist.out second.out; do [ ! -f $f ] || cat $f >&2; done; fail "exit $RC"; }
[ "$(grep -c 'reset power-on' timeline.txt)" -ge 2 ] || { cat timeline.txt >&2; fail "no power cut happened"; }
expect_not_in first.out "File downloaded successfully"
expect_in relist.out "Found DFU: [0483:df11]"
expect_in second.out "File downloaded successfully"
# the application ran once, and only after the second download
[ "$(grep -cF "$APP_LINE" console.txt)" -eq 1 ] || { cat console.txt >&2; fail "the application line should appear once"; }
cut_at=$(awk '/reset power-on/ { n++; if (n == 2) { print $1; exit } }' timeline.txt)
app_at=$(awk -v l="$APP_LINE" 'index($0, l) { print $1; exit }' timeline.txt)
awk -v a="$cut_at" -v b="$app_at" 'BEGIN { exit !(b > a) }' || fail "the application ran before the power cut was recovered"
pass
