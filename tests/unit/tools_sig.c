/* The signature trailer (docs/image-format.md §3): each way it can be absent, malformed or wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "l4image.h"
#include "l4sig.h"

#define LENGTH 0x400u

static uint8_t buf[LENGTH + L4IMG_SIG_TRAILER_SIZE + 8];
static uint8_t public_key[crypto_sign_PUBLICKEYBYTES], secret_key[crypto_sign_SECRETKEYBYTES];

static int setup(void **state)
{
    (void)state;
    if (sodium_init() < 0)
        return -1;
    uint8_t seed[crypto_sign_SEEDBYTES];
    memset(seed, 0x42, sizeof seed);
    crypto_sign_seed_keypair(public_key, secret_key, seed);
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 11);
    l4sig_make_trailer(buf + LENGTH, buf, LENGTH, secret_key);
    return 0;
}

static enum l4sig_status inspect(size_t size, const uint8_t **key)
{
    return l4sig_inspect(buf, size, LENGTH, key);
}

static void test_trailer_layout(void **state)
{
    (void)state;
    assert_memory_equal(buf + LENGTH, "L4SG", 4);
    assert_int_equal(l4img_get32(buf + LENGTH + 4), 104);
    assert_memory_equal(buf + LENGTH + 8, public_key, 32);
    assert_int_equal(crypto_sign_verify_detached(buf + LENGTH + 40, buf, LENGTH, public_key), 0);
}

static void test_states(void **state)
{
    (void)state;
    const uint8_t *key = NULL;
    assert_int_equal(inspect(LENGTH, &key), L4SIG_NONE);
    assert_int_equal(inspect(LENGTH - 1, &key), L4SIG_SHORT);
    assert_int_equal(inspect(LENGTH + 104, &key), L4SIG_VALID);
    assert_ptr_equal(key, buf + LENGTH + 8);
    assert_int_equal(inspect(LENGTH + 103, &key), L4SIG_BAD_TRAILER);
    assert_int_equal(inspect(LENGTH + 105, &key), L4SIG_BAD_TRAILER);
    assert_int_equal(inspect(LENGTH + 8, &key), L4SIG_BAD_TRAILER);
}

static void test_every_signed_byte_matters(void **state)
{
    (void)state;
    const uint8_t *key;
    /* The image, the key and the signature: any change breaks it (sampled every 7 bytes). */
    for (size_t off = 0; off < LENGTH + 104; off += 7) {
        buf[off] ^= 0x01;
        enum l4sig_status status = inspect(LENGTH + 104, &key);
        if (off >= LENGTH && off < LENGTH + 8)
            assert_int_equal(status, L4SIG_BAD_TRAILER); /* magic or size word */
        else
            assert_int_equal(status, L4SIG_INVALID);
        buf[off] ^= 0x01;
    }
    assert_int_equal(inspect(LENGTH + 104, &key), L4SIG_VALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trailer_layout),
        cmocka_unit_test(test_states),
        cmocka_unit_test(test_every_signed_byte_matters),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
