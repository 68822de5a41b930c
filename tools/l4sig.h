/* The optional Ed25519 signature trailer of docs/image-format.md §3. */
#ifndef L4DFU_TOOLS_L4SIG_H
#define L4DFU_TOOLS_L4SIG_H

#include <stddef.h>
#include <stdint.h>

#include "l4image.h"

#define L4SIG_SECRET_KEY_SIZE 64u

enum l4sig_status {
    L4SIG_NONE = 0,     /* exactly `length` bytes: unsigned */
    L4SIG_VALID,        /* one trailer, and its signature verifies with its key */
    L4SIG_BAD_TRAILER,  /* bytes after `length` that are not one well-formed trailer */
    L4SIG_INVALID,      /* a well-formed trailer whose signature does not verify */
    L4SIG_SHORT,        /* fewer than `length` bytes */
};

/* Looks at `size` bytes holding an image of `length` bytes, maybe followed by a
 * trailer. On VALID or INVALID, *public_key points at the trailer's key. Call
 * sodium_init() first. */
enum l4sig_status l4sig_inspect(const uint8_t *data, size_t size, uint32_t length, const uint8_t **public_key);

/* Writes the 104-byte trailer for image[0, length) signed with a libsodium secret key. */
void l4sig_make_trailer(uint8_t trailer[L4IMG_SIG_TRAILER_SIZE], const uint8_t *image, uint32_t length,
                        const uint8_t secret_key[L4SIG_SECRET_KEY_SIZE]);

#endif
