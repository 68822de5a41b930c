#include "l4sig.h"

#include <sodium.h>
#include <string.h>

enum l4sig_status l4sig_inspect(const uint8_t *data, size_t size, uint32_t length, const uint8_t **public_key)
{
    if (size < length)
        return L4SIG_SHORT;
    if (size == length)
        return L4SIG_NONE;
    const uint8_t *t = data + length;
    if (size - length != L4IMG_SIG_TRAILER_SIZE || l4img_get32(t) != L4IMG_SIG_MAGIC ||
        l4img_get32(t + 4) != L4IMG_SIG_TRAILER_SIZE)
        return L4SIG_BAD_TRAILER;
    *public_key = t + L4IMG_SIG_OFFSET_PUBLIC_KEY;
    return crypto_sign_verify_detached(t + L4IMG_SIG_OFFSET_SIGNATURE, data, length,
                                       t + L4IMG_SIG_OFFSET_PUBLIC_KEY) == 0
               ? L4SIG_VALID
               : L4SIG_INVALID;
}

void l4sig_make_trailer(uint8_t trailer[L4IMG_SIG_TRAILER_SIZE], const uint8_t *image, uint32_t length,
                        const uint8_t secret_key[L4SIG_SECRET_KEY_SIZE])
{
    l4img_put32(trailer, L4IMG_SIG_MAGIC);
    l4img_put32(trailer + 4, L4IMG_SIG_TRAILER_SIZE);
    /* libsodium's secret key is the seed followed by the public key. */
    memcpy(trailer + L4IMG_SIG_OFFSET_PUBLIC_KEY, secret_key + 32, L4IMG_SIG_PUBLIC_KEY_SIZE);
    crypto_sign_detached(trailer + L4IMG_SIG_OFFSET_SIGNATURE, NULL, image, length, secret_key);
}
