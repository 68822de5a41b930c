#!/usr/bin/env bash
# l4dfu-sign: keys, signing, verification, and a signed image through l4dfu-pack.
# usage: tools_sign.sh PATH/TO/l4dfu-sign PATH/TO/l4dfu-pack
set -euo pipefail
SIGN=$(realpath "$1")
PACK=$(realpath "$2")
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

fail() { echo "FAIL: $*" >&2; exit 1; }
must_fail() { # must_fail "WHAT" "TEXT" CMD...: non-zero exit and TEXT in its output
    local what=$1 text=$2
    shift 2
    if "$@" > out.txt 2>&1; then cat out.txt; fail "$what: succeeded"; fi
    grep -qF -- "$text" out.txt || { cat out.txt >&2; fail "$what: no \"$text\""; }
    echo "ok: $what"
}

python3 - <<'PY'
import struct
body = struct.pack('<II', 0x20018000, 0x08004101) + bytes(4 * 9)
body += bytes((i * 3 + 1) & 0xFF for i in range(2000 - len(body)))
open('app.bin', 'wb').write(body)
PY
"$PACK" --version 3.1.4 --bin stamped.bin app.bin > /dev/null

"$SIGN" keygen --public a.pub --secret a.sec > /dev/null
"$SIGN" keygen --public b.pub --secret b.sec > /dev/null
[ "$(stat -c %s a.pub)" -eq 32 ] && [ "$(stat -c %s a.sec)" -eq 64 ] || fail "key sizes"
[ "$(stat -c %a a.sec)" = 600 ] || fail "secret key is not private: $(stat -c %a a.sec)"
cmp -s a.pub b.pub && fail "two keygens gave the same key"
must_fail "keygen over an existing key" "not overwriting" "$SIGN" keygen --public a.pub --secret new.sec

"$SIGN" sign --secret a.sec --output signed.bin stamped.bin > /dev/null
[ "$(stat -c %s signed.bin)" -eq $((2000 + 104)) ] || fail "signed image is not image + 104"
cmp -n 2000 signed.bin stamped.bin || fail "signing changed the image"
"$SIGN" verify --public a.pub signed.bin > /dev/null || fail "verify refused a good signature"
echo "ok: sign and verify"

must_fail "verify with another key" "another key" "$SIGN" verify --public b.pub signed.bin
must_fail "verify an unsigned image" "not signed" "$SIGN" verify --public a.pub stamped.bin
must_fail "sign an unstamped image" "not stamped" "$SIGN" sign --secret a.sec --output x.bin app.bin
must_fail "sign with a public key as secret" "a key file has 64" "$SIGN" sign --secret a.pub --output x.bin stamped.bin

python3 - <<'PY'
data = bytearray(open('signed.bin', 'rb').read())
sig = bytearray(data); sig[2000 + 40 + 5] ^= 1
open('bad-sig.bin', 'wb').write(sig)
img = bytearray(data); img[0x500] ^= 1
open('bad-image.bin', 'wb').write(img)
PY
must_fail "verify a damaged signature" "does not verify" "$SIGN" verify --public a.pub bad-sig.bin
must_fail "verify a damaged image" "CRC" "$SIGN" verify --public a.pub bad-image.bin

"$SIGN" sign --secret b.sec --output resigned.bin signed.bin > /dev/null
[ "$(stat -c %s resigned.bin)" -eq 2104 ] || fail "re-signing did not replace the trailer"
"$SIGN" verify --public b.pub resigned.bin > /dev/null || fail "re-signed image does not verify"
echo "ok: re-sign replaces the trailer"

"$PACK" --stamped signed.bin --dfu signed.dfu > /dev/null
"$PACK" --info signed.dfu > info.txt || { cat info.txt; fail "--info refused a signed .dfu"; }
grep -qF "element 0: address 0x08004000, size 2104" info.txt || fail "element does not carry the trailer"
grep -qF "signature:    ed25519, key $(od -An -tx1 -v a.pub | tr -d ' \n'), valid" info.txt ||
    { cat info.txt; fail "--info does not show the valid signature"; }
dfuse-pack -d signed.dfu > dump.txt
grep -q "ERROR" dump.txt && fail "dfuse-pack finds an error in the signed .dfu"
must_fail "--stamped with a damaged signature" "does not verify" "$PACK" --stamped bad-sig.bin --dfu x.dfu
must_fail "--info on a damaged signature" "does not verify" "$PACK" --info bad-sig.bin
[ ! -e x.dfu ] || fail "a refused --stamped left x.dfu"
echo "ok: signed .dfu"
echo PASS
