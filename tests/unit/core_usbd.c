/* The USB device core on its own, with a two-interface test device: EP0 control
 * transfers (chunks, ZLP rule, data OUT, status), standard requests, string
 * descriptors built from ASCII, class dispatch by interface, and STALLs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "core_fakes.h"
#include "usbd.h"
#include "usbd_port.h"

struct fake_class {
    unsigned setups, datas, dones, resets;
    uint8_t last_alt_iface, last_alt;
    uint8_t max_alt;
    uint8_t buf[256];
    uint16_t data_len;
};
static struct fake_class class_a, class_b;

static bool fake_control(struct fake_class *c, const struct usbd_setup *r,
                         enum usbd_stage stage, uint8_t **data, uint16_t *len)
{
    if (stage == USBD_STAGE_DONE) {
        c->dones++;
        return true;
    }
    if (stage == USBD_STAGE_DATA) {
        c->datas++;
        c->data_len = *len;
        return c->buf[0] != 0xEE; /* data starting 0xEE is "refused" */
    }
    c->setups++;
    switch (r->bRequest) {
    case 1: /* IN: wValue bytes of a counting pattern */
        for (unsigned i = 0; i < sizeof c->buf; i++)
            c->buf[i] = (uint8_t)i;
        *data = c->buf;
        *len = r->wValue;
        return true;
    case 2: /* OUT with data, into a buffer of sizeof buf */
        *data = c->buf;
        *len = sizeof c->buf;
        return true;
    case 4: /* OUT with data, but the handler gives no room (a careless class) */
        *data = c->buf;
        return true;
    default:
        return false;
    }
}

static bool a_control(const struct usbd_setup *r, enum usbd_stage s, uint8_t **d, uint16_t *l)
{
    return fake_control(&class_a, r, s, d, l);
}
static bool b_control(const struct usbd_setup *r, enum usbd_stage s, uint8_t **d, uint16_t *l)
{
    return fake_control(&class_b, r, s, d, l);
}
static bool a_set_alt(uint8_t iface, uint8_t alt)
{
    class_a.last_alt_iface = iface;
    class_a.last_alt = alt;
    return alt <= class_a.max_alt;
}
static bool b_set_alt(uint8_t iface, uint8_t alt)
{
    class_b.last_alt_iface = iface;
    class_b.last_alt = alt;
    return alt == 0;
}
static void a_reset(void) { class_a.resets++; }
static void b_reset(void) { class_b.resets++; }

static const struct usbd_class a = {a_control, a_set_alt, a_reset};
static const struct usbd_class b = {b_control, b_set_alt, b_reset};
static const struct usbd_class *const interfaces[] = {&a, &b};

static const uint8_t device_desc[18] = {18, 1, 0, 2, 0, 0, 0, 64, 0x34, 0x12,
                                        0x78, 0x56, 0, 1, 1, 2, 0, 1};
static const uint8_t config_desc[27] = {9, 2, 27, 0, 2, 1, 0, 0xC0, 50, /* self powered */
                                        9, 4, 0, 0, 0, 0xFF, 0, 0, 0,
                                        9, 4, 1, 0, 0, 0xFF, 0, 0, 0};

static const char *strings(uint8_t index)
{
    switch (index) {
    case 1:
        return "0123456789012345678901234567890"; /* 31 chars: a 64-byte descriptor */
    case 2:
        return "This string is longer than sixty-three characters, so the core cuts it";
    default:
        return NULL;
    }
}

static const struct usbd_device device = {device_desc, config_desc, strings, interfaces, 2, NULL};

static int setup(void **state)
{
    (void)state;
    memset(&class_a, 0, sizeof class_a);
    memset(&class_b, 0, sizeof class_b);
    class_a.max_alt = 1;
    usbd_init(&device);
    usbd_port_on_bus_reset();
    return 0;
}

static enum host_result configure(void)
{
    return host_out(0x00, 9, 1, 0, NULL, 0);
}

static void test_zlp_only_after_a_full_packet_shorter_than_asked(void **state)
{
    (void)state;
    uint8_t d[256];
    size_t n;
    bool zlp;
    assert_int_equal(host_in(0x80, 6, 0x0301, 0x0409, 255, d, &n, &zlp), HOST_OK);
    assert_int_equal(n, 64);
    assert_true(zlp);
    assert_int_equal(host_in(0x80, 6, 0x0301, 0x0409, 64, d, &n, &zlp), HOST_OK);
    assert_int_equal(n, 64);
    assert_false(zlp);
    assert_int_equal(configure(), HOST_OK);
    assert_int_equal(host_in(0xA1, 1, 128, 0, 200, d, &n, &zlp), HOST_OK);
    assert_int_equal(n, 128);
    assert_true(zlp);
    assert_int_equal(host_in(0xA1, 1, 100, 0, 200, d, &n, &zlp), HOST_OK);
    assert_int_equal(n, 100);
    assert_false(zlp);
    assert_int_equal(host_in(0xA1, 1, 0, 0, 200, d, &n, &zlp), HOST_OK);
    assert_int_equal(n, 0);
    assert_false(zlp);
    /* the device never sends more than wLength */
    assert_int_equal(host_in(0x80, 6, 0x0100, 0, 8, d, &n, &zlp), HOST_OK);
    assert_int_equal(n, 8);
    assert_memory_equal(d, device_desc, 8);
}

static void test_strings_are_utf16_and_cut_at_63(void **state)
{
    (void)state;
    uint8_t d[256];
    size_t n;
    assert_int_equal(host_in(0x80, 6, 0x0302, 0x0409, 255, d, &n, NULL), HOST_OK);
    assert_int_equal(n, 2 + 2 * 63);
    assert_int_equal(d[0], 128);
    assert_int_equal(d[1], 3);
    assert_int_equal(d[2], 'T');
    assert_int_equal(d[3], 0);
    assert_int_equal(d[2 + 2 * 62], strings(2)[62]);
    assert_int_equal(host_in(0x80, 6, 0x0300, 0, 255, d, &n, NULL), HOST_OK);
    assert_int_equal(n, 4);
    assert_int_equal(d[2] | d[3] << 8, 0x0409);
    assert_int_equal(host_in(0x80, 6, 0x0303, 0x0409, 255, d, &n, NULL), HOST_STALL);
}

static void test_unsupported_descriptors_stall(void **state)
{
    (void)state;
    uint8_t d[64];
    assert_int_equal(host_in(0x80, 6, 0x0600, 0, 10, d, NULL, NULL), HOST_STALL); /* qualifier */
    assert_int_equal(host_in(0x80, 6, 0x0201, 0, 9, d, NULL, NULL), HOST_STALL);  /* config 1 */
    assert_int_equal(host_in(0x80, 6, 0x0F00, 0, 5, d, NULL, NULL), HOST_STALL);  /* BOS */
}

static void test_set_address_before_the_status_stage(void **state)
{
    (void)state;
    const uint8_t setup_packet[8] = {0x00, 5, 42, 0, 0, 0, 0, 0};
    port.in_armed = false;
    usbd_port_on_setup(setup_packet);
    assert_int_equal(port.address, 42);      /* DWC2: DAD before the status ZLP */
    assert_true(port.in_armed);              /* status ZLP queued */
    assert_int_equal(port.in_len, 0);
    usbd_port_on_in_done(0x80);
    assert_int_equal(host_out(0x00, 5, 128, 0, NULL, 0), HOST_STALL);
}

static void test_configuration(void **state)
{
    (void)state;
    uint8_t d[2];
    size_t n;
    assert_int_equal(host_in(0x80, 8, 0, 0, 1, d, &n, NULL), HOST_OK);
    assert_int_equal(d[0], 0);
    assert_int_equal(host_out(0x00, 9, 2, 0, NULL, 0), HOST_STALL);
    class_a.last_alt = 9;
    assert_int_equal(configure(), HOST_OK);
    assert_true(usbd_configured());
    assert_int_equal(class_a.last_alt, 0); /* every interface starts at alt 0 */
    assert_int_equal(class_b.last_alt_iface, 1);
    assert_int_equal(host_in(0x80, 8, 0, 0, 1, d, &n, NULL), HOST_OK);
    assert_int_equal(d[0], 1);
    assert_int_equal(host_out(0x00, 9, 0, 0, NULL, 0), HOST_OK);
    assert_false(usbd_configured());
    assert_int_equal(host_in(0x81, 10, 0, 0, 1, d, NULL, NULL), HOST_STALL);
}

static void test_interfaces_and_alternate_settings(void **state)
{
    (void)state;
    uint8_t d[2];
    size_t n;
    assert_int_equal(host_out(0x01, 11, 1, 0, NULL, 0), HOST_STALL); /* not configured */
    assert_int_equal(configure(), HOST_OK);
    assert_int_equal(host_out(0x01, 11, 1, 0, NULL, 0), HOST_OK);
    assert_int_equal(class_a.last_alt, 1);
    assert_int_equal(host_in(0x81, 10, 0, 0, 1, d, &n, NULL), HOST_OK);
    assert_int_equal(n, 1);
    assert_int_equal(d[0], 1);
    assert_int_equal(host_out(0x01, 11, 2, 0, NULL, 0), HOST_STALL); /* class has no alt 2 */
    assert_int_equal(host_in(0x81, 10, 0, 0, 1, d, &n, NULL), HOST_OK);
    assert_int_equal(d[0], 1);
    assert_int_equal(host_out(0x01, 11, 0, 2, NULL, 0), HOST_STALL); /* no interface 2 */
}

#if !defined(USBD_PORT_ENDPOINTS) || USBD_PORT_ENDPOINTS != 1
static void test_get_status_and_features(void **state)
{
    (void)state;
    uint8_t d[2];
    size_t n;
    assert_int_equal(host_in(0x80, 0, 0, 0, 2, d, &n, NULL), HOST_OK);
    assert_int_equal(n, 2);
    assert_int_equal(d[0], 1); /* self powered, from the configuration's bmAttributes */
    assert_int_equal(d[1], 0);
    assert_int_equal(host_in(0x82, 0, 0, 0x81, 2, d, &n, NULL), HOST_STALL); /* no EP1 yet */
    assert_int_equal(host_in(0x82, 0, 0, 0x00, 2, d, &n, NULL), HOST_OK);
    assert_int_equal(configure(), HOST_OK);
    assert_int_equal(host_in(0x81, 0, 0, 1, 2, d, &n, NULL), HOST_OK);
    assert_int_equal(d[0], 0);
    assert_int_equal(host_in(0x81, 0, 0, 3, 2, d, &n, NULL), HOST_STALL);

    assert_int_equal(host_out(0x02, 3, 0, 0x81, NULL, 0), HOST_OK); /* halt EP1 IN */
    assert_int_equal(port.stall_calls[17], 1);
    assert_int_equal(host_in(0x82, 0, 0, 0x81, 2, d, &n, NULL), HOST_OK);
    assert_int_equal(d[0], 1);
    assert_int_equal(host_out(0x02, 1, 0, 0x81, NULL, 0), HOST_OK);
    assert_int_equal(port.stall_calls[17], 2);
    assert_int_equal(host_in(0x82, 0, 0, 0x81, 2, d, &n, NULL), HOST_OK);
    assert_int_equal(d[0], 0);

    assert_int_equal(host_out(0x00, 3, 1, 0, NULL, 0), HOST_STALL); /* remote wakeup */
    assert_int_equal(host_out(0x00, 3, 2, 0x0100, NULL, 0), HOST_STALL); /* test mode */
    assert_int_equal(host_out(0x00, 1, 1, 0, NULL, 0), HOST_STALL);
}
#endif

#if defined(USBD_PORT_ENDPOINTS) && USBD_PORT_ENDPOINTS == 1
/* The bootloader's build: the port has EP0 only, so there is no other endpoint to report
 * on or to halt, configured or not. */
static void test_ep0_only_port_has_no_other_endpoints(void **state)
{
    (void)state;
    uint8_t d[2];
    size_t n;
    assert_int_equal(configure(), HOST_OK);
    assert_int_equal(host_in(0x82, 0, 0, 0x00, 2, d, &n, NULL), HOST_OK);
    assert_int_equal(n, 2);
    assert_int_equal(d[0], 0);
    assert_int_equal(host_in(0x82, 0, 0, 0x80, 2, d, &n, NULL), HOST_OK);
    assert_int_equal(host_in(0x82, 0, 0, 0x81, 2, d, &n, NULL), HOST_STALL);
    assert_int_equal(host_in(0x82, 0, 0, 0x01, 2, d, &n, NULL), HOST_STALL);
    assert_int_equal(host_out(0x02, 3, 0, 0x81, NULL, 0), HOST_STALL); /* halt EP1 IN */
    assert_int_equal(host_out(0x02, 1, 0, 0x01, NULL, 0), HOST_STALL);
    /* EP0 takes the halt requests and stays as it is: a control pipe is never halted */
    assert_int_equal(host_out(0x02, 3, 0, 0x00, NULL, 0), HOST_OK);
    assert_int_equal(host_out(0x02, 1, 0, 0x80, NULL, 0), HOST_OK);
    for (unsigned i = 0; i < 32; i++)
        if (i != 0 && i != 16) /* EP0's own stalls come from STALLed requests above */
            assert_int_equal(port.stall_calls[i], 0);
    assert_int_equal(host_in(0x82, 0, 0, 0x00, 2, d, &n, NULL), HOST_OK);
    assert_int_equal(d[0], 0);
}
#endif

static void test_class_requests_go_to_their_interface(void **state)
{
    (void)state;
    uint8_t d[64];
    assert_int_equal(host_in(0xA1, 1, 4, 0, 4, d, NULL, NULL), HOST_STALL); /* unconfigured */
    assert_int_equal(class_a.setups, 0);
    assert_int_equal(configure(), HOST_OK);
    assert_int_equal(host_in(0xA1, 1, 4, 1, 4, d, NULL, NULL), HOST_OK);
    assert_int_equal(class_b.setups, 1);
    assert_int_equal(class_a.setups, 0);
    assert_int_equal(class_b.dones, 1); /* after the host's status OUT */

    const uint8_t payload[100] = {1, 2, 3};
    assert_int_equal(host_out(0x21, 2, 0, 0, payload, sizeof payload), HOST_OK);
    assert_int_equal(class_a.datas, 1);
    assert_int_equal(class_a.data_len, 100);
    assert_memory_equal(class_a.buf, payload, sizeof payload);
    assert_int_equal(class_a.dones, 1);

    const uint8_t refused[4] = {0xEE};
    assert_int_equal(host_out(0x21, 2, 0, 0, refused, sizeof refused), HOST_STALL);
    assert_int_equal(class_a.dones, 1);

    assert_int_equal(host_out(0x21, 3, 0, 0, NULL, 0), HOST_STALL);   /* class says no */
    assert_int_equal(host_out(0x21, 3, 0, 2, NULL, 0), HOST_STALL);   /* no interface 2 */
    assert_int_equal(host_out(0x41, 1, 0, 0, NULL, 0), HOST_STALL);   /* vendor */
    assert_int_equal(host_out(0x20, 1, 0, 0, NULL, 0), HOST_STALL);   /* class, device */
}

/* A host must not be able to write past a buffer: an OUT data stage longer than the
 * handler's room, or one on a standard request (none has an OUT data stage), stalls
 * at the setup, before a byte is received. */
static void test_out_data_longer_than_the_buffer_stalls(void **state)
{
    (void)state;
    assert_int_equal(configure(), HOST_OK);
    static uint8_t big[300];
    memset(big, 0x5A, sizeof big);
    memset(class_a.buf, 0, sizeof class_a.buf);
    assert_int_equal(host_out(0x21, 2, 0, 0, big, 257), HOST_STALL);
    assert_int_equal(class_a.datas, 0);
    assert_int_equal(class_a.buf[0], 0);
    assert_int_equal(host_out(0x21, 2, 0, 0, big, 256), HOST_OK); /* exactly the room: fine */
    assert_int_equal(host_out(0x21, 4, 0, 0, big, 1), HOST_STALL); /* no room said: none */
    assert_int_equal(host_out(0x00, 9, 1, 0, big, 8), HOST_STALL); /* SET_CONFIGURATION + data */
    assert_int_equal(host_out(0x01, 11, 0, 0, big, 40), HOST_STALL); /* SET_INTERFACE + data */
    assert_int_equal(host_out(0x00, 3, 1, 0, big, 2), HOST_STALL); /* SET_FEATURE + data */
}

static void test_short_data_stage_stalls(void **state)
{
    (void)state;
    assert_int_equal(configure(), HOST_OK);
    const uint8_t setup_packet[8] = {0x21, 2, 0, 0, 0, 0, 10, 0};
    port.stalled_in = port.stalled_out = false;
    usbd_port_on_setup(setup_packet);
    assert_true(port.out_armed);
    assert_int_equal(port.out_len, 10);
    usbd_port_on_out_done(0, 6);
    assert_true(port.stalled_in);
    assert_int_equal(class_a.datas, 0);
}

static void test_new_setup_abandons_the_old_transfer(void **state)
{
    (void)state;
    assert_int_equal(configure(), HOST_OK);
    const uint8_t setup_packet[8] = {0x21, 2, 0, 0, 0, 0, 10, 0};
    usbd_port_on_setup(setup_packet);
    uint8_t d[18];
    size_t n;
    assert_int_equal(host_in(0x80, 6, 0x0100, 0, 18, d, &n, NULL), HOST_OK);
    assert_int_equal(n, 18);
    assert_int_equal(class_a.datas, 0);
    assert_int_equal(class_a.dones, 0);
}

static void test_bus_reset_unconfigures_and_tells_the_classes(void **state)
{
    (void)state;
    assert_int_equal(configure(), HOST_OK);
    usbd_port_on_bus_reset();
    assert_false(usbd_configured());
    assert_int_equal(class_a.resets, 2); /* setup's reset and this one */
    assert_int_equal(class_b.resets, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_zlp_only_after_a_full_packet_shorter_than_asked, setup),
        cmocka_unit_test_setup(test_strings_are_utf16_and_cut_at_63, setup),
        cmocka_unit_test_setup(test_unsupported_descriptors_stall, setup),
        cmocka_unit_test_setup(test_set_address_before_the_status_stage, setup),
        cmocka_unit_test_setup(test_configuration, setup),
        cmocka_unit_test_setup(test_interfaces_and_alternate_settings, setup),
#if defined(USBD_PORT_ENDPOINTS) && USBD_PORT_ENDPOINTS == 1
        cmocka_unit_test_setup(test_ep0_only_port_has_no_other_endpoints, setup),
#else
        cmocka_unit_test_setup(test_get_status_and_features, setup),
#endif
        cmocka_unit_test_setup(test_class_requests_go_to_their_interface, setup),
        cmocka_unit_test_setup(test_out_data_longer_than_the_buffer_stalls, setup),
        cmocka_unit_test_setup(test_short_data_stage_stalls, setup),
        cmocka_unit_test_setup(test_new_setup_abandons_the_old_transfer, setup),
        cmocka_unit_test_setup(test_bus_reset_unconfigures_and_tells_the_classes, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
