/* CRC unit (sim/crc.c) against zlib's crc32 and a bit-level reference written here, for every
 * REV_IN mode, REV_OUT, 8/16/32-bit writes and every POLYSIZE; plus the catalogue check
 * values of "123456789". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "models_util.h"

#define CRC_DR 0x40023000u
#define CRC_IDR 0x40023004u
#define CRC_CR 0x40023008u
#define CRC_INIT 0x40023010u
#define CRC_POL 0x40023014u
#define CRCEN (1u << 12)
#define CR_RESET 1u
#define POLY32 (0u << 3)
#define POLY16 (1u << 3)
#define POLY8 (2u << 3)
#define POLY7 (3u << 3)
#define REV_IN_NONE (0u << 5)
#define REV_IN_BYTE (1u << 5)
#define REV_IN_HALF (2u << 5)
#define REV_IN_WORD (3u << 5)
#define REV_OUT (1u << 7)

static const uint8_t check[] = "123456789";
#define CHECK_LEN 9u

static int setup(void **state)
{
    sim_t *sim = models_board();
    set_bits(sim, RCC_AHB1ENR, CRCEN);
    *state = sim;
    return 0;
}

static int teardown(void **state)
{
    sim_destroy(*state);
    return 0;
}

/* Reference: a textbook bitwise CRC of width w, optionally reflected in and out. */
static uint32_t reflect(uint32_t v, unsigned bits)
{
    uint32_t r = 0;
    for (unsigned i = 0; i < bits; i++, v >>= 1)
        r = (r << 1) | (v & 1u);
    return r;
}

static uint32_t ref_crc(const uint8_t *data, size_t len, unsigned w, uint32_t poly, uint32_t init, bool refin,
                        bool refout)
{
    uint32_t mask = w == 32 ? 0xFFFFFFFFu : (1u << w) - 1;
    uint32_t crc = init & mask;
    for (size_t i = 0; i < len; i++) {
        uint8_t byte = refin ? (uint8_t)reflect(data[i], 8) : data[i];
        for (int b = 7; b >= 0; b--) {
            uint32_t bit = ((byte >> b) & 1u) ^ ((crc >> (w - 1)) & 1u);
            crc = (crc << 1) & mask;
            if (bit)
                crc ^= poly & mask;
        }
    }
    return refout ? reflect(crc, w) : crc;
}

static void configure(sim_t *sim, uint32_t cr, uint32_t poly, uint32_t init)
{
    wr(sim, CRC_POL, poly);
    wr(sim, CRC_INIT, init);
    wr(sim, CRC_CR, cr | CR_RESET);
}

/* Feed bytes as 32-bit words (arranged per REV_IN so the unit sees the stream in order),
 * finishing with narrower writes. */
static void feed_words(sim_t *sim, const uint8_t *d, size_t len, uint32_t rev_in)
{
    size_t i = 0;
    for (; i + 4 <= len; i += 4) {
        uint32_t le = (uint32_t)d[i] | (uint32_t)d[i + 1] << 8 | (uint32_t)d[i + 2] << 16 | (uint32_t)d[i + 3] << 24;
        uint32_t be = __builtin_bswap32(le);
        uint32_t v = rev_in == REV_IN_WORD ? le
                   : rev_in == REV_IN_HALF ? (le << 16) | (le >> 16)
                                           : be; /* REV_IN none or byte: first byte in the top bits */
        sim_bus_write(sim, CRC_DR, v, 4);
    }
    for (; i < len; i++)
        sim_bus_write(sim, CRC_DR, d[i], 1);
}

static void reset_values_and_clock(void **state)
{
    sim_t *sim = *state;
    assert_int_equal(rd(sim, CRC_DR), 0xFFFFFFFFu);
    assert_int_equal(rd(sim, CRC_IDR), 0);
    assert_int_equal(rd(sim, CRC_CR), 0);
    assert_int_equal(rd(sim, CRC_INIT), 0xFFFFFFFFu);
    assert_int_equal(rd(sim, CRC_POL), 0x04C11DB7u);
    wr(sim, CRC_IDR, 0x1A5u);
    assert_int_equal(rd(sim, CRC_IDR), 0xA5u); /* 8 bits */

    wr(sim, RCC_AHB1ENR, rd(sim, RCC_AHB1ENR) & ~CRCEN);
    warnings_begin();
    wr(sim, CRC_DR, 0x12345678u);
    assert_non_null(strstr(warnings_end(), "RCC_AHB1ENR.CRCEN=0"));
    assert_int_equal(rd(sim, CRC_DR), 0);
    set_bits(sim, RCC_AHB1ENR, CRCEN);
    assert_int_equal(rd(sim, CRC_DR), 0xFFFFFFFFu); /* the lost write changed nothing */
}

static void zlib_check_value_with_word_writes(void **state)
{
    sim_t *sim = *state;
    configure(sim, POLY32 | REV_IN_WORD | REV_OUT, 0x04C11DB7u, 0xFFFFFFFFu);
    feed_words(sim, check, CHECK_LEN, REV_IN_WORD);
    assert_int_equal(rd(sim, CRC_DR) ^ 0xFFFFFFFFu, 0xCBF43926u);
    assert_int_equal(crc32(0, check, CHECK_LEN), 0xCBF43926u);
}

static void zlib_on_random_data_every_rev_in(void **state)
{
    sim_t *sim = *state;
    uint8_t buf[1027];
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof buf; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (uint8_t)(x >> 16);
    }
    const uint32_t want = (uint32_t)crc32(0, buf, sizeof buf);

    /* reflected input via the hardware, per reversal granularity */
    const uint32_t modes[] = {REV_IN_BYTE, REV_IN_HALF, REV_IN_WORD};
    for (unsigned m = 0; m < 3; m++) {
        configure(sim, POLY32 | modes[m] | REV_OUT, 0x04C11DB7u, 0xFFFFFFFFu);
        feed_words(sim, buf, sizeof buf, modes[m]);
        assert_int_equal(rd(sim, CRC_DR) ^ 0xFFFFFFFFu, want);
    }
    /* byte writes with REV_IN=byte, as the sheet says */
    configure(sim, POLY32 | REV_IN_BYTE | REV_OUT, 0x04C11DB7u, 0xFFFFFFFFu);
    for (size_t i = 0; i < sizeof buf; i++)
        sim_bus_write(sim, CRC_DR, buf[i], 1);
    assert_int_equal(rd(sim, CRC_DR) ^ 0xFFFFFFFFu, want);
    /* half-word writes with REV_IN=half */
    configure(sim, POLY32 | REV_IN_HALF | REV_OUT, 0x04C11DB7u, 0xFFFFFFFFu);
    for (size_t i = 0; i + 1 < sizeof buf; i += 2)
        sim_bus_write(sim, CRC_DR, (uint32_t)buf[i] | (uint32_t)buf[i + 1] << 8, 2);
    sim_bus_write(sim, CRC_DR, buf[sizeof buf - 1], 1);
    assert_int_equal(rd(sim, CRC_DR) ^ 0xFFFFFFFFu, want);
    /* no input reversal: the software reflects the bytes itself, and the output reversal too */
    configure(sim, POLY32 | REV_IN_NONE, 0x04C11DB7u, 0xFFFFFFFFu);
    for (size_t i = 0; i < sizeof buf; i++)
        sim_bus_write(sim, CRC_DR, reflect(buf[i], 8), 1);
    assert_int_equal(reflect(rd(sim, CRC_DR), 32) ^ 0xFFFFFFFFu, want);
    assert_int_equal(ref_crc(buf, sizeof buf, 32, 0x04C11DB7u, 0xFFFFFFFFu, true, true) ^ 0xFFFFFFFFu, want);
}

static void catalogue_check_values(void **state)
{
    sim_t *sim = *state;
    /* CRC-32/MPEG-2: not reflected, 32-bit big-endian words */
    configure(sim, POLY32 | REV_IN_NONE, 0x04C11DB7u, 0xFFFFFFFFu);
    feed_words(sim, check, CHECK_LEN, REV_IN_NONE);
    assert_int_equal(rd(sim, CRC_DR), 0x0376E6E7u);
    /* CRC-16/CCITT-FALSE */
    configure(sim, POLY16 | REV_IN_NONE, 0x1021u, 0xFFFFu);
    feed_words(sim, check, CHECK_LEN, REV_IN_NONE);
    assert_int_equal(rd(sim, CRC_DR), 0x29B1u);
    /* CRC-16/ARC: reflected in and out */
    configure(sim, POLY16 | REV_IN_BYTE | REV_OUT, 0x8005u, 0);
    for (unsigned i = 0; i < CHECK_LEN; i++)
        sim_bus_write(sim, CRC_DR, check[i], 1);
    assert_int_equal(rd(sim, CRC_DR), 0xBB3Du);
    /* CRC-8 (poly 0x07) */
    configure(sim, POLY8 | REV_IN_NONE, 0x07u, 0);
    feed_words(sim, check, CHECK_LEN, REV_IN_NONE);
    assert_int_equal(rd(sim, CRC_DR), 0xF4u);
    /* CRC-7/MMC (poly 0x09) */
    configure(sim, POLY7 | REV_IN_NONE, 0x09u, 0);
    for (unsigned i = 0; i < CHECK_LEN; i++)
        sim_bus_write(sim, CRC_DR, check[i], 1);
    assert_int_equal(rd(sim, CRC_DR), 0x75u);
}

static void every_polysize_matches_reference(void **state)
{
    sim_t *sim = *state;
    static const struct {
        uint32_t size_bits, width, poly;
    } cases[] = {{POLY32, 32, 0x1EDC6F41u}, {POLY16, 16, 0x8BB7u}, {POLY8, 8, 0x9Bu}, {POLY7, 7, 0x45u}};
    for (unsigned c = 0; c < 4; c++) {
        for (int refl = 0; refl < 2; refl++) {
            configure(sim, cases[c].size_bits | (refl ? (REV_IN_BYTE | REV_OUT) : REV_IN_NONE), cases[c].poly,
                      0x5A5A5A5Au);
            feed_words(sim, check, CHECK_LEN, refl ? REV_IN_BYTE : REV_IN_NONE);
            uint32_t want = ref_crc(check, CHECK_LEN, cases[c].width, cases[c].poly, 0x5A5A5A5Au, refl, refl);
            assert_int_equal(rd(sim, CRC_DR), want);
        }
    }
}

static void reset_bit_reloads_init(void **state)
{
    sim_t *sim = *state;
    wr(sim, CRC_DR, 0x11223344u);
    assert_int_not_equal(rd(sim, CRC_DR), 0xFFFFFFFFu);
    wr(sim, CRC_INIT, 0x01020304u);
    wr(sim, CRC_CR, CR_RESET);
    assert_int_equal(rd(sim, CRC_DR), 0x01020304u);
    assert_int_equal(rd(sim, CRC_CR) & CR_RESET, 0); /* self-clearing */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(reset_values_and_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(zlib_check_value_with_word_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(zlib_on_random_data_every_rev_in, setup, teardown),
        cmocka_unit_test_setup_teardown(catalogue_check_values, setup, teardown),
        cmocka_unit_test_setup_teardown(every_polysize_matches_reference, setup, teardown),
        cmocka_unit_test_setup_teardown(reset_bit_reloads_init, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
