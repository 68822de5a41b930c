/* What a host reads from the DFU-mode device: device, configuration (three alts),
 * functional descriptor and strings, field by field; and the layout strings, parsed
 * with dfu-util 0.11's rules (dfu-dfuse.md §2) so dfu-util will accept them. */
#include "core_dfu_helpers.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

static void start_device(uint32_t flash_size)
{
    fake_chip_reset(flash_size);
    dfu_init(NULL);
    usbd_init(&dfu_usb_device);
    host_enumerate();
}

static int setup(void **state)
{
    (void)state;
    start_device(1024 * 1024);
    return 0;
}

static size_t get_descriptor(uint8_t type, uint8_t index, uint16_t length, uint8_t *out)
{
    size_t n = 0;
    assert_int_equal(host_in(0x80, 6, (uint16_t)(type << 8 | index), type == 3 ? 0x0409 : 0,
                             length, out, &n, NULL),
                     HOST_OK);
    return n;
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static void test_device_descriptor(void **state)
{
    (void)state;
    uint8_t d[64];
    assert_int_equal(get_descriptor(1, 0, 64, d), 18);
    assert_int_equal(d[0], 18);            /* bLength */
    assert_int_equal(d[1], 1);             /* DEVICE */
    assert_int_equal(le16(&d[2]), 0x0200); /* bcdUSB */
    assert_int_equal(d[4], 0);             /* class per interface */
    assert_int_equal(d[5], 0);
    assert_int_equal(d[6], 0);
    assert_int_equal(d[7], 64);            /* bMaxPacketSize0 */
    assert_int_equal(le16(&d[8]), 0x0483);
    assert_int_equal(le16(&d[10]), 0xDF11);
    assert_int_equal(le16(&d[12]), 0x2200);
    assert_int_equal(d[14], 1); /* iManufacturer */
    assert_int_equal(d[15], 2); /* iProduct */
    assert_int_equal(d[16], 3); /* iSerialNumber */
    assert_int_equal(d[17], 1); /* bNumConfigurations */
}

static void test_configuration_descriptor(void **state)
{
    (void)state;
    uint8_t d[256];
    /* the host first asks for the 9-byte header, then wTotalLength */
    assert_int_equal(get_descriptor(2, 0, 9, d), 9);
    uint16_t total = le16(&d[2]);
    assert_int_equal(total, 9 + 3 * 9 + 9);
    assert_int_equal(get_descriptor(2, 0, 255, d), total);
    assert_int_equal(d[0], 9);
    assert_int_equal(d[1], 2);
    assert_int_equal(d[4], 1);    /* bNumInterfaces */
    assert_int_equal(d[5], 1);    /* bConfigurationValue */
    assert_int_equal(d[6], 0);    /* iConfiguration */
    assert_int_equal(d[7], 0x80); /* bus powered */
    assert_int_equal(d[8], 50);   /* 100 mA */
    for (int alt = 0; alt < 3; alt++) {
        const uint8_t *i = &d[9 + 9 * alt];
        assert_int_equal(i[0], 9);
        assert_int_equal(i[1], 4);
        assert_int_equal(i[2], 0);       /* bInterfaceNumber */
        assert_int_equal(i[3], alt);     /* bAlternateSetting */
        assert_int_equal(i[4], 0);       /* no endpoints */
        assert_int_equal(i[5], 0xFE);    /* application specific */
        assert_int_equal(i[6], 0x01);    /* DFU */
        assert_int_equal(i[7], 0x02);    /* DFU mode */
        assert_int_equal(i[8], 4 + alt); /* iInterface: the layout string */
    }
    const uint8_t *f = &d[9 + 27];
    assert_int_equal(f[0], 9);
    assert_int_equal(f[1], 0x21);
    assert_int_equal(f[2], 0x07); /* CanDnload | CanUpload | ManifestationTolerant */
    assert_int_equal(le16(&f[3]), 255);
    assert_int_equal(le16(&f[5]), 2048);
    assert_int_equal(le16(&f[7]), 0x011A);
}

static void expect_string_descriptor(uint8_t index, const char *ascii)
{
    uint8_t d[256];
    size_t n = get_descriptor(3, index, 255, d);
    size_t len = strlen(ascii);
    assert_int_equal(n, 2 + 2 * len);
    assert_int_equal(d[0], n);
    assert_int_equal(d[1], 3);
    for (size_t i = 0; i < len; i++) {
        assert_int_equal(d[2 + 2 * i], (uint8_t)ascii[i]);
        assert_int_equal(d[3 + 2 * i], 0);
    }
}

static void test_strings(void **state)
{
    (void)state;
    uint8_t d[8];
    assert_int_equal(get_descriptor(3, 0, 255, d), 4);
    const uint8_t langs[] = {4, 3, 0x09, 0x04};
    assert_memory_equal(d, langs, 4);
    expect_string_descriptor(1, "l4dfu");
    expect_string_descriptor(2, "l4dfu bootloader");
    expect_string_descriptor(3, "205C32845242");
    expect_string_descriptor(4, "@Internal Flash  /0x08000000/08*002Ka,248*002Kg,256*002Kg");
    expect_string_descriptor(5, "@Option Bytes  /0x1FFF7800/01*040Ba");
    expect_string_descriptor(6, "@OTP Memory /0x1FFF7000/01*001Ke");
    size_t n;
    assert_int_equal(host_in(0x80, 6, 3 << 8 | 7, 0x0409, 255, d, &n, NULL), HOST_STALL);
}

/* ---- dfu-util's layout parser, rewritten from its documented rules ---- */
struct parsed {
    char name[64];
    uint32_t address;
    int segments;
    uint32_t total;
    uint32_t start[8], end[8];
    int type[8]; /* R=1, E=2, W=4 */
    bool warned;
};

static bool parse_layout(const char *s, struct parsed *p)
{
    memset(p, 0, sizeof *p);
    if (*s++ != '@')
        return false;
    const char *slash = strchr(s, '/');
    if (slash == NULL || (size_t)(slash - s) >= sizeof p->name)
        return false;
    memcpy(p->name, s, (size_t)(slash - s));
    int used = 0;
    unsigned address;
    if (sscanf(slash, "/0x%x/%n", &address, &used) != 1 || used == 0)
        return false;
    p->address = address;
    s = slash + used;
    uint32_t at = address;
    while (*s != '\0') {
        int count, size;
        char mult;
        used = 0;
        if (sscanf(s, "%d*%d%c%n", &count, &size, &mult, &used) != 3)
            return false;
        s += used;
        if (mult == 'M')
            size *= 1024 * 1024;
        else if (mult == 'K')
            size *= 1024;
        else if (mult != 'B') {
            p->warned = true; /* "Non-valid multiplier, assuming bytes" */
            if (mult == ',' || mult == '\0')
                s--;
        }
        int type = 0;
        if (*s >= 'a' && *s <= 'g')
            type = *s++ & 7;
        if (p->segments == 8)
            return false;
        p->start[p->segments] = at;
        at += (uint32_t)(count * size);
        p->end[p->segments] = at;
        p->type[p->segments++] = type;
        p->total += (uint32_t)(count * size);
        if (*s == ',')
            s++;
        else if (*s != '\0')
            return false;
    }
    return p->segments > 0;
}

static void test_layout_1m(void **state)
{
    (void)state;
    struct parsed p;
    assert_string_equal(dfu_layout_string(0),
                        "@Internal Flash  /0x08000000/08*002Ka,248*002Kg,256*002Kg");
    assert_true(parse_layout(dfu_layout_string(0), &p));
    assert_false(p.warned);
    assert_string_equal(p.name, "Internal Flash  ");
    assert_int_equal(p.address, 0x08000000);
    assert_int_equal(p.total, 1024 * 1024);
    assert_int_equal(p.segments, 3);
    assert_int_equal(p.type[0], 1); /* bootloader: read only */
    assert_int_equal(p.end[0], 0x08004000);
    assert_int_equal(p.type[1], 7);
    assert_int_equal(p.end[1], 0x08080000); /* bank 1 ends */
    assert_int_equal(p.type[2], 7);
}

static void test_layout_512k(void **state)
{
    (void)state;
    start_device(512 * 1024);
    struct parsed p;
    assert_string_equal(dfu_layout_string(0),
                        "@Internal Flash  /0x08000000/08*002Ka,120*002Kg,128*002Kg");
    assert_true(parse_layout(dfu_layout_string(0), &p));
    assert_int_equal(p.total, 512 * 1024);
    assert_int_equal(p.end[1], 0x08040000);
}

static void test_layout_option_bytes_and_otp(void **state)
{
    (void)state;
    struct parsed p;
    assert_true(parse_layout(dfu_layout_string(1), &p));
    assert_false(p.warned); /* 'B', not ST's space, so dfu-util does not warn */
    assert_string_equal(p.name, "Option Bytes  ");
    assert_int_equal(p.address, 0x1FFF7800);
    assert_int_equal(p.total, 40);
    assert_int_equal(p.type[0], 1); /* read only: only Read Unprotect changes them */
    assert_true(parse_layout(dfu_layout_string(2), &p));
    assert_string_equal(p.name, "OTP Memory ");
    assert_int_equal(p.address, 0x1FFF7000);
    assert_int_equal(p.total, 1024);
    assert_int_equal(p.type[0], 5); /* readable, writable, never erasable */
}

static void test_the_parser_itself_rejects_garbage(void **state)
{
    (void)state;
    struct parsed p;
    assert_false(parse_layout("Internal Flash/0x08000000/08*002Ka", &p));
    assert_false(parse_layout("@Internal Flash 0x08000000 08*002Ka", &p));
    assert_false(parse_layout("@X/0x08000000/08x002Ka", &p));
    assert_true(parse_layout("@X/0x1FFF7800/01*040 e", &p));
    assert_true(p.warned);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_device_descriptor, setup),
        cmocka_unit_test_setup(test_configuration_descriptor, setup),
        cmocka_unit_test_setup(test_strings, setup),
        cmocka_unit_test_setup(test_layout_1m, setup),
        cmocka_unit_test_setup(test_layout_512k, setup),
        cmocka_unit_test_setup(test_layout_option_bytes_and_otp, setup),
        cmocka_unit_test_setup(test_the_parser_itself_rejects_garbage, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
