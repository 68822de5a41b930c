/* The demo application's composite USB device, field by field: device descriptor
 * (IAD class triple, IDs), the configuration (IAD, CDC interfaces and functional
 * descriptors, endpoints, the run-time DFU interface and its functional descriptor),
 * and what the device core serves for them. Built with L4_IMAGE_VERSION 1.2.3. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "app_fakes.h"
#include "cdc_acm.h"
#include "dfu_runtime.h"
#include "usb_device.h"
#include "usbd.h"
#include "usbd_port.h"

static unsigned le16(const uint8_t *p)
{
    return (unsigned)p[0] | (unsigned)p[1] << 8;
}

/* Offset of the n-th (0-based) descriptor of `type` in the configuration, or -1. For
 * class-specific interface descriptors (0x24), `subtype` selects the third byte. */
static int find(uint8_t type, int subtype, unsigned n)
{
    const uint8_t *c = demo_config_descriptor;
    unsigned total = le16(&c[2]);
    for (unsigned off = 0; off < total; off += c[off]) {
        if (c[off] == 0)
            return -1;
        if (c[off + 1] == type && (subtype < 0 || c[off + 2] == subtype)) {
            if (n-- == 0)
                return (int)off;
        }
    }
    return -1;
}

static void device_descriptor(void **state)
{
    (void)state;
    const uint8_t *d = demo_device_descriptor;
    assert_int_equal(d[0], 18);
    assert_int_equal(d[1], 1);
    assert_int_equal(le16(&d[2]), 0x0200);
    /* EF/02/01: the host looks for functions in the interface associations */
    assert_int_equal(d[4], 0xEF);
    assert_int_equal(d[5], 0x02);
    assert_int_equal(d[6], 0x01);
    assert_int_equal(d[7], 64);
    assert_int_equal(le16(&d[8]), 0x0483);
    assert_int_equal(le16(&d[10]), 0x5740);
    assert_int_equal(le16(&d[12]), 0x0102); /* version 1.2.x as BCD */
    assert_int_equal(d[14], DEMO_STR_MANUFACTURER);
    assert_int_equal(d[15], DEMO_STR_PRODUCT);
    assert_int_equal(d[16], DEMO_STR_SERIAL);
    assert_int_equal(d[17], 1);
}

/* The descriptors chain exactly to wTotalLength, with nothing left zero-filled. */
static void configuration_chains_to_total_length(void **state)
{
    (void)state;
    const uint8_t *c = demo_config_descriptor;
    assert_int_equal(c[0], 9);
    assert_int_equal(c[1], 2);
    assert_int_equal(le16(&c[2]), sizeof demo_config_descriptor);
    assert_int_equal(le16(&c[2]), 9 + 8 + 9 + 5 + 5 + 4 + 5 + 7 + 9 + 7 + 7 + 9 + 9);
    assert_int_equal(c[4], 3); /* interfaces */
    assert_int_equal(c[5], 1); /* bConfigurationValue */
    assert_true(c[7] & 0x80);  /* bit 7 is reserved as one */
    unsigned off = 0, count = 0;
    while (off < sizeof demo_config_descriptor) {
        assert_true(c[off] >= 2);
        off += c[off];
        count++;
    }
    assert_int_equal(off, sizeof demo_config_descriptor);
    assert_int_equal(count, 13);
}

static void interface_association(void **state)
{
    (void)state;
    int iad = find(0x0B, -1, 0);
    assert_int_equal(iad, 9); /* first after the configuration, before its interfaces */
    const uint8_t *a = &demo_config_descriptor[iad];
    assert_int_equal(a[0], 8);
    assert_int_equal(a[2], DEMO_IFACE_CDC_COMM); /* bFirstInterface */
    assert_int_equal(a[3], 2);                   /* bInterfaceCount */
    assert_int_equal(a[4], 0x02);
    assert_int_equal(a[5], 0x02);
    assert_int_equal(a[6], 0x01);
    assert_int_equal(find(0x0B, -1, 1), -1); /* the DFU interface stands alone */
}

static void interfaces_numbered_in_order(void **state)
{
    (void)state;
    static const uint8_t expect[3][5] = {
        /* number, endpoints, class, subclass, protocol */
        {0, 1, 0x02, 0x02, 0x01},
        {1, 2, 0x0A, 0x00, 0x00},
        {2, 0, 0xFE, 0x01, 0x01},
    };
    for (unsigned i = 0; i < 3; i++) {
        int off = find(4, -1, i);
        assert_true(off > 0);
        const uint8_t *d = &demo_config_descriptor[off];
        assert_int_equal(d[0], 9);
        assert_int_equal(d[2], expect[i][0]);
        assert_int_equal(d[3], 0); /* alternate setting */
        assert_int_equal(d[4], expect[i][1]);
        assert_int_equal(d[5], expect[i][2]);
        assert_int_equal(d[6], expect[i][3]);
        assert_int_equal(d[7], expect[i][4]);
    }
    assert_int_equal(find(4, -1, 3), -1);
    assert_int_equal(demo_config_descriptor[find(4, -1, 0) + 8], DEMO_STR_CDC);
    assert_int_equal(demo_config_descriptor[find(4, -1, 2) + 8], DEMO_STR_DFU);
}

static void cdc_functional_descriptors(void **state)
{
    (void)state;
    const uint8_t *c = demo_config_descriptor;
    int comm = find(4, -1, 0), data = find(4, -1, 1);
    int header = find(0x24, 0x00, 0), call = find(0x24, 0x01, 0);
    int acm = find(0x24, 0x02, 0), uni = find(0x24, 0x06, 0);
    /* all between the communications interface and the data interface, header first */
    assert_int_equal(header, comm + 9);
    assert_true(call > header && acm > header && uni > header);
    assert_true(call < data && acm < data && uni < data);

    assert_int_equal(c[header], 5);
    assert_int_equal(le16(&c[header + 3]), 0x0110);
    assert_int_equal(c[call], 5);
    assert_int_equal(c[call + 3], 0x00);                /* no call management */
    assert_int_equal(c[call + 4], DEMO_IFACE_CDC_DATA); /* bDataInterface */
    assert_int_equal(c[acm], 4);
    assert_int_equal(c[acm + 3], 0x02); /* line coding + control line state requests */
    assert_int_equal(c[uni], 5);
    assert_int_equal(c[uni + 3], DEMO_IFACE_CDC_COMM);
    assert_int_equal(c[uni + 4], DEMO_IFACE_CDC_DATA);
}

static void endpoints(void **state)
{
    (void)state;
    const uint8_t *c = demo_config_descriptor;
    int notify = find(5, -1, 0), out = find(5, -1, 1), in = find(5, -1, 2);
    assert_true(notify > find(4, -1, 0) && notify < find(4, -1, 1));
    assert_true(out > find(4, -1, 1) && in > find(4, -1, 1) && in < find(4, -1, 2));
    assert_int_equal(find(5, -1, 3), -1);

    assert_int_equal(c[notify + 2], 0x82);
    assert_int_equal(c[notify + 3], 0x03); /* interrupt */
    assert_int_equal(le16(&c[notify + 4]), 16);
    assert_true(c[notify + 6] >= 1);
    assert_int_equal(c[out + 2], 0x01);
    assert_int_equal(c[out + 3], 0x02); /* bulk */
    assert_int_equal(le16(&c[out + 4]), 64);
    assert_int_equal(c[in + 2], 0x81);
    assert_int_equal(c[in + 3], 0x02);
    assert_int_equal(le16(&c[in + 4]), 64);
    assert_int_equal(c[notify], 7);
    assert_int_equal(c[out], 7);
    assert_int_equal(c[in], 7);
}

static void dfu_runtime_functional_descriptor(void **state)
{
    (void)state;
    const uint8_t *c = demo_config_descriptor;
    int f = find(0x21, -1, 0);
    assert_int_equal(f, find(4, -1, 2) + 9);
    assert_int_equal(c[f], 9);
    assert_int_equal(c[f + 2], 0x09); /* WillDetach | CanDnload */
    assert_int_equal(le16(&c[f + 3]), 1000);
    assert_int_equal(le16(&c[f + 5]), 2048);
    assert_int_equal(le16(&c[f + 7]), 0x011A);
    assert_int_equal(find(0x21, -1, 1), -1); /* dfu-util takes one per configuration */
    assert_int_equal(f + 9, (int)sizeof demo_config_descriptor);
}

/* Through the device core, as a host enumerates. */
static void served_by_the_core(void **state)
{
    (void)state;
    uint8_t got[256];
    size_t len = 0;
    assert_int_equal(host_control_in(0x80, 6, 0x0100, 0, 64, got, &len), HOST_OK);
    assert_int_equal(len, 18);
    assert_memory_equal(got, demo_device_descriptor, 18);
    assert_int_equal(host_control_in(0x80, 6, 0x0200, 0, 255, got, &len), HOST_OK);
    assert_int_equal(len, sizeof demo_config_descriptor);
    assert_memory_equal(got, demo_config_descriptor, len);

    static const struct { uint8_t index; const char *text; } strings[] = {
        {DEMO_STR_MANUFACTURER, "l4dfu"},
        {DEMO_STR_PRODUCT, "l4dfu demo app"},
        {DEMO_STR_SERIAL, "0123456789AB"}, /* the fake's UID-derived serial */
        {DEMO_STR_CDC, "l4dfu demo serial port"},
        {DEMO_STR_DFU, "l4dfu run-time DFU"},
    };
    for (unsigned s = 0; s < sizeof strings / sizeof strings[0]; s++) {
        size_t n = strlen(strings[s].text);
        assert_int_equal(host_control_in(0x80, 6, 0x0300 | strings[s].index, 0x0409, 255, got,
                                         &len),
                         HOST_OK);
        assert_int_equal(len, 2 + 2 * n);
        assert_int_equal(got[1], 3);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(got[2 + 2 * i], (uint8_t)strings[s].text[i]);
            assert_int_equal(got[3 + 2 * i], 0);
        }
    }
    assert_int_equal(host_control_in(0x80, 6, 0x0306, 0x0409, 255, got, &len), HOST_STALL);
}

/* SET_CONFIGURATION opens exactly the endpoints the descriptor announces. */
static void configuration_opens_the_endpoints(void **state)
{
    (void)state;
    host_enumerate();
    assert_true(usbd_configured());
    assert_true(fake.in_open[2]);
    assert_int_equal(fake.in_type[2], USBD_EP_INTERRUPT);
    assert_int_equal(fake.in_mps[2], 16);
    assert_true(fake.out_open[1]);
    assert_int_equal(fake.out_type[1], USBD_EP_BULK);
    assert_int_equal(fake.out_mps[1], 64);
    assert_true(fake.in_open[1]);
    assert_int_equal(fake.in_type[1], USBD_EP_BULK);
    assert_int_equal(fake.in_mps[1], 64);
    assert_false(fake.out_open[2]);
    assert_false(fake.in_open[3] || fake.out_open[3]);
    assert_true(fake.out_armed[1]);
}

static int setup(void **state)
{
    (void)state;
    app_fake_reset();
    cdc_acm_init(NULL);
    dfu_runtime_init(NULL);
    usbd_init(&demo_usb_device);
    usbd_port_on_bus_reset();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(device_descriptor),
        cmocka_unit_test(configuration_chains_to_total_length),
        cmocka_unit_test(interface_association),
        cmocka_unit_test(interfaces_numbered_in_order),
        cmocka_unit_test(cdc_functional_descriptors),
        cmocka_unit_test(endpoints),
        cmocka_unit_test(dfu_runtime_functional_descriptor),
        cmocka_unit_test_setup(served_by_the_core, setup),
        cmocka_unit_test_setup(configuration_opens_the_endpoints, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
