#!/usr/bin/env bash
# Cross-checks l4dfu-pack's .dfu files with Debian's own DfuSe tools (dfu-suffix,
# dfuse-pack from the dfu-util package), in both directions.
# usage: tools_crosscheck.sh PATH/TO/l4dfu-pack
set -euo pipefail
PACK=$(realpath "$1")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

fail() { echo "FAIL: $*" >&2; exit 1; }
expect_in() { grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "\"$2\" not in $1"; }; }
expect_not_in() { if grep -qF -- "$2" "$1"; then cat "$1" >&2; fail "\"$2\" in $1"; fi; }

# A fake application linked for slot A: SP at the top of SRAM1, reset handler inside,
# reserved vectors zero, 1001 bytes so the packer has padding to add.
python3 - <<'EOF'
import struct
body = struct.pack('<II', 0x20018000, 0x08004000 + 0x1C1) + bytes(4 * 9)
body += bytes((i * 31 + 7) & 0xFF for i in range(1001 - len(body)))
open('app.bin', 'wb').write(body)
EOF

"$PACK" --version 1.2.3 --bin app-stamped.bin --dfu app.dfu app.bin > pack.out
expect_in pack.out "1008 bytes at 0x08004000"
[ "$(stat -c %s app-stamped.bin)" -eq 1008 ] || fail "stamped image is not padded to 1008"

echo "== dfu-suffix -c accepts the suffix and reads our IDs"
dfu-suffix -c app.dfu > suffix.out 2>&1 || { cat suffix.out; fail "dfu-suffix -c exited $?"; }
expect_in suffix.out $'Vendor ID:\t0x0483'
expect_in suffix.out $'Product ID:\t0xDF11'
expect_in suffix.out $'BCD DFU:\t0x011A'
expect_in suffix.out $'BCD device:\t0xFFFF'

"$PACK" --version 1.2.3 --dfu other-ids.dfu --device 1209:beef --bcd-device 0101 app.bin > /dev/null
dfu-suffix -c other-ids.dfu > suffix2.out 2>&1 || fail "dfu-suffix -c refused other-ids.dfu"
expect_in suffix2.out $'Vendor ID:\t0x1209'
expect_in suffix2.out $'Product ID:\t0xBEEF'
expect_in suffix2.out $'BCD device:\t0x0101'

echo "== dfuse-pack -d parses the file, finds no CRC or parse error, dumps our image"
dfuse-pack -d app.dfu > dump.out 2>&1
expect_not_in dump.out "CRC ERROR"
expect_not_in dump.out "PARSE ERROR"
expect_in dump.out "targets: 1"
expect_in dump.out "alt setting: 0, name: \"b'Internal Flash'\""
expect_in dump.out "0, address: 0x08004000, size: 1008"
expect_in dump.out "usb: 0483:df11, device: 0xffff, dfu: 0x011a"
cmp app.dfu.target0.image0.bin app-stamped.bin || fail "dfuse-pack's dump differs from the stamped image"

echo "== a file built by dfuse-pack reads the same through --info"
dfuse-pack -b 0x08004000:app-stamped.bin -D 0x0483:0xdf11 theirs.dfu > /dev/null
"$PACK" --info theirs.dfu > theirs.info || { cat theirs.info; fail "--info refused dfuse-pack's file"; }
"$PACK" --info app.dfu > ours.info || { cat ours.info; fail "--info refused our own file"; }
expect_in theirs.info "result: ok"
expect_in theirs.info "version:      1.2.3"
# Only the file name, the target name and the suffix (bcdDevice 0 there, CRC) may differ.
grep -v -e '^file:' -e '^target 0:' -e '^suffix:' theirs.info > theirs.core
grep -v -e '^file:' -e '^target 0:' -e '^suffix:' ours.info > ours.core
diff -u ours.core theirs.core || fail "--info reads dfuse-pack's file differently"
expect_in theirs.info 'target 0: alt 0, name "ST...", elements 1'
expect_in theirs.info "suffix: usb 0483:df11, bcdDevice 0x0000, bcdDFU 0x011A"

echo "== with dfuse-pack's target name and bcdDevice, the two files are byte for byte the same"
"$PACK" --version 1.2.3 --dfu same.dfu --target-name 'ST...' --bcd-device 0 app.bin > /dev/null
cmp same.dfu theirs.dfu || fail "l4dfu-pack and dfuse-pack disagree on the bytes"

echo "== several targets and elements: both readers list the same ones"
head -c 300 app.bin > small.bin
dfuse-pack -b 0x08004000:app-stamped.bin -b 0x08010000:small.bin -b 0x1FFF7800@1:small.bin multi.dfu > /dev/null
dfuse-pack -d multi.dfu > multi.dump 2>&1
expect_not_in multi.dump "ERROR"
"$PACK" --info multi.dfu > multi.info || { cat multi.info; fail "--info refused a multi-target file"; }
expect_in multi.info "result: ok (with warnings)"
sed -n 's/^  [0-9]*, address: \(0x[0-9a-f]*\), size: \([0-9]*\)$/\1 \2/p' multi.dump > theirs.list
sed -n 's/^  element [0-9]*: address \(0x[0-9A-F]*\), size \([0-9]*\),.*/\1 \2/p' multi.info | tr 'A-F' 'a-f' |
    sed 's/^0x/0x/' > ours.list
[ "$(wc -l < ours.list)" -eq 3 ] || { cat multi.info; fail "expected 3 elements"; }
diff -u theirs.list ours.list || fail "the element lists differ"
grep -c "alt setting" multi.dump | grep -qx 2 || fail "dfuse-pack did not make two targets"
expect_in multi.info "target 1: alt 1"

echo "== a file both tools call broken"
python3 - <<'EOF'
data = bytearray(open('app.dfu', 'rb').read())
data[400] ^= 0x01
open('bad-crc.dfu', 'wb').write(data)
EOF
if dfu-suffix -c bad-crc.dfu > /dev/null 2>&1; then fail "dfu-suffix accepted a bad CRC"; fi
dfuse-pack -d bad-crc.dfu > bad.dump 2>&1
expect_in bad.dump "CRC ERROR"
if "$PACK" --info bad-crc.dfu > bad.info; then fail "--info accepted a bad CRC"; fi
expect_in bad.info "DFU suffix CRC mismatch"

echo "PASS"
