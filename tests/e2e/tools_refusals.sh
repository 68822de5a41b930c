#!/usr/bin/env bash
# l4dfu-pack refuses bad input with a clear message and a non-zero exit, and
# never leaves a partial or changed output file behind; --info catches damage.
# usage: tools_refusals.sh PATH/TO/l4dfu-pack
set -euo pipefail
PACK=$(realpath "$1")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

fail() { echo "FAIL: $*" >&2; exit 1; }

# make_app FILE SIZE SP RESET [RESERVED_WORD]: a fake application image.
make_app() {
    python3 - "$@" <<'EOF'
import struct, sys
path, size, sp, reset = sys.argv[1], int(sys.argv[2], 0), int(sys.argv[3], 0), int(sys.argv[4], 0)
reserved = int(sys.argv[5], 0) if len(sys.argv) > 5 else 0
body = struct.pack('<II', sp, reset) + bytes(4 * 5) + struct.pack('<I', reserved) + bytes(12)
body += bytes((i * 17 + 1) & 0xFF for i in range(max(0, size - len(body))))
open(path, 'wb').write(body[:size])
EOF
}

# refuse "WHAT" "EXPECTED TEXT" ARGS...: must exit non-zero, say EXPECTED TEXT on stderr,
# and leave out.bin / out.dfu exactly as they were (the sentinel content).
refuse() {
    local what=$1 text=$2
    shift 2
    echo sentinel > out.bin
    echo sentinel > out.dfu
    if "$PACK" "$@" > stdout.txt 2> stderr.txt; then fail "$what: accepted"; fi
    grep -qF -- "$text" stderr.txt || { cat stderr.txt >&2; fail "$what: no \"$text\" in the message"; }
    [ "$(cat out.bin)" = sentinel ] && [ "$(cat out.dfu)" = sentinel ] || fail "$what: an output changed"
    if ls ./*.tmp-* > /dev/null 2>&1; then fail "$what: temporary file left behind"; fi
    echo "ok: $what"
}

make_app good.bin 1024 0x20018000 0x08004101
make_app small.bin 0x1F8 0x20018000 0x08004101
make_app large.bin $((0x7C000 + 1)) 0x20018000 0x08004101
make_app sp-flash.bin 1024 0x08004000 0x08004101
make_app sp-past-sram1.bin 1024 0x20018004 0x08004101
make_app reset-even.bin 1024 0x20018000 0x08004100
make_app reset-elsewhere.bin 1024 0x20018000 0x08000101
make_app reset-past-end.bin 1024 0x20018000 0x08004401
make_app reserved-used.bin 1024 0x20018000 0x08004101 0x12345678
make_app slot-b.bin 1024 0x20018000 0x08080101

refuse "image below 0x200 bytes" "below the minimum" --version 1.0.0 --bin out.bin --dfu out.dfu small.bin
refuse "image larger than slot A" "does not fit" --version 1.0.0 --bin out.bin --dfu out.dfu large.bin
refuse "SP in flash" "initial SP 0x08004000" --version 1.0.0 --bin out.bin --dfu out.dfu sp-flash.bin
refuse "SP past SRAM1" "initial SP 0x20018004" --version 1.0.0 --bin out.bin sp-past-sram1.bin
refuse "even reset vector" "not a Thumb address" --version 1.0.0 --dfu out.dfu reset-even.bin
refuse "reset vector in the bootloader" "outside the image" --version 1.0.0 --dfu out.dfu reset-elsewhere.bin
refuse "reset vector past the image" "outside the image" --version 1.0.0 --dfu out.dfu reset-past-end.bin
refuse "reserved vectors in use" "not zero" --version 1.0.0 --dfu out.dfu reserved-used.bin
refuse "slot B image packed for slot A" "outside the image" --version 1.0.0 --dfu out.dfu slot-b.bin
refuse "unreadable input" "cannot open" --version 1.0.0 --dfu out.dfu missing.bin
refuse "directory as input" "not a regular file" --version 1.0.0 --dfu out.dfu .
refuse "no version" "--version" --dfu out.dfu good.bin
refuse "bad version" "not MAJOR.MINOR.PATCH" --version 1.2 --dfu out.dfu good.bin
refuse "version out of range" "not MAJOR.MINOR.PATCH" --version 1.256.0 --dfu out.dfu good.bin
refuse "no output" "nothing to write" --version 1.0.0 good.bin
refuse "bad device" "VID:PID" --version 1.0.0 --device 0483 --dfu out.dfu good.bin
refuse "unaligned address" "512-byte aligned" --version 1.0.0 --address 0x08004100 --slot-size 0x1000 --dfu out.dfu good.bin
refuse "target name too long" "longer than 254" --version 1.0.0 --bin out.bin --dfu out.dfu --target-name "$(printf 'n%.0s' $(seq 255))" good.bin
"$PACK" --version 1.0.0 --dfu good.dfu good.bin > /dev/null
refuse ".dfu as input" "already a DfuSe file" --version 1.0.0 --bin out.bin good.dfu

# The write itself failing (no such directory) must report it and leave nothing.
if "$PACK" --version 1.0.0 --dfu no-such-dir/out.dfu good.bin 2> stderr.txt; then fail "wrote into a missing directory"; fi
grep -qF "no-such-dir/out.dfu" stderr.txt || fail "write failure not reported"
echo "ok: unwritable output"

# Slot B works when asked for.
"$PACK" --version 2.0.0 --slot b --dfu slot-b.dfu slot-b.bin > /dev/null
"$PACK" --info slot-b.dfu > info.txt || { cat info.txt; fail "--info refused a slot B file"; }
grep -qF "image: slot B at 0x08080000" info.txt || fail "slot B not recognised"
echo "ok: slot B"

# --info finds damage in stamped images and .dfu files.
"$PACK" --version 1.0.0 --bin stamped.bin --dfu stamped.dfu good.bin > /dev/null
info_refuses() {
    local what=$1 text=$2 file=$3
    if "$PACK" --info "$file" > info.txt 2>&1; then cat info.txt; fail "--info $what: accepted"; fi
    grep -qF -- "$text" info.txt || { cat info.txt >&2; fail "--info $what: no \"$text\""; }
    echo "ok: --info $what"
}
"$PACK" --info stamped.bin > info.txt || fail "--info refused a good stamped image"
python3 - <<'EOF'
import struct
good = open('stamped.bin', 'rb').read()
flipped = bytearray(good); flipped[0x300] ^= 0x40
open('flipped.bin', 'wb').write(flipped)
open('truncated.bin', 'wb').write(good[:-8])
open('extra.bin', 'wb').write(good + b'\xff' * 8)
dfu = open('stamped.dfu', 'rb').read()
open('truncated.dfu', 'wb').write(dfu[:-100])
# An image whose CRC is wrong, in a .dfu whose own suffix CRC is right.
import zlib
inner = bytearray(dfu); inner[11 + 274 + 8 + 0x300] ^= 0x40
inner[-4:] = struct.pack('<I', zlib.crc32(bytes(inner[:-4])) ^ 0xFFFFFFFF)
open('bad-image.dfu', 'wb').write(inner)
# An element aimed at the bootloader.
boot = bytearray(dfu); boot[11 + 274:11 + 274 + 4] = struct.pack('<I', 0x08000000)
boot[-4:] = struct.pack('<I', zlib.crc32(bytes(boot[:-4])) ^ 0xFFFFFFFF)
open('bootloader.dfu', 'wb').write(boot)
EOF
info_refuses "flipped bit in a stamped image" "CRC mismatch" flipped.bin
info_refuses "truncated stamped image" "only 1016 are present" truncated.bin
info_refuses "bytes past the stated length" "not covered by its CRC" extra.bin
info_refuses "unstamped image" "not stamped" good.bin
info_refuses "truncated .dfu" "truncated" truncated.dfu
info_refuses "bad image CRC inside a good .dfu" "CRC mismatch" bad-image.dfu
info_refuses "element in the bootloader region" "bootloader region" bootloader.dfu
cp stamped.bin with-suffix.bin
dfu-suffix -a with-suffix.bin -v 0483 -p df11 > /dev/null
info_refuses "plain DFU suffix" "no DfuSe prefix" with-suffix.bin

echo "PASS"
