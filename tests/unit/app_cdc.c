/* The CDC-ACM class driver through the device core, on the demo's composite device:
 * class requests (line coding, control lines, refusals), the bulk data path (receive
 * callback, re-arming, packetising, the ZLP after a full packet, the ring's wrap and
 * its limit) and what a bus reset does to it. */
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

#define CLASS_OUT 0x21 /* class, interface, host to device */
#define CLASS_IN 0xA1

static struct {
    uint8_t data[1024];
    size_t len;
    unsigned calls;
    bool echo;
    size_t limit; /* take at most this much per call (0: all) */
} rx;

static size_t on_receive(const uint8_t *data, size_t len)
{
    rx.calls++;
    if (rx.limit && len > rx.limit)
        len = rx.limit; /* an application with less room than the packet */
    if (rx.echo)
        len = cdc_acm_write(data, len);
    memcpy(rx.data + rx.len, data, len);
    rx.len += len;
    return len;
}

static int setup(void **state)
{
    (void)state;
    app_fake_reset();
    memset(&rx, 0, sizeof rx);
    cdc_acm_init(on_receive);
    dfu_runtime_init(NULL);
    usbd_init(&demo_usb_device);
    host_enumerate();
    return 0;
}

/* Reads IN transfers on the data endpoint until none is queued; records packet sizes. */
static size_t drain(uint8_t *out, size_t room, long sizes[], unsigned *count)
{
    size_t total = 0;
    unsigned n = 0;
    long len;
    while ((len = host_bulk_in(CDC_ACM_EP_DATA_IN, out + total, room - total)) >= 0) {
        assert_true(len <= 64);
        if (sizes != NULL)
            sizes[n] = len;
        n++;
        total += (size_t)len;
        assert_true(n < 100);
    }
    if (count != NULL)
        *count = n;
    return total;
}

static void line_coding_defaults_to_115200_8n1(void **state)
{
    (void)state;
    uint8_t got[8];
    size_t len = 0;
    assert_int_equal(host_control_in(CLASS_IN, CDC_REQ_GET_LINE_CODING, 0, 0, 7, got, &len),
                     HOST_OK);
    static const uint8_t expect[7] = {0x00, 0xC2, 0x01, 0x00, 0, 0, 8};
    assert_int_equal(len, 7);
    assert_memory_equal(got, expect, 7);
}

static void set_line_coding_is_reported_back(void **state)
{
    (void)state;
    static const uint8_t coding[7] = {0x80, 0x25, 0x00, 0x00, 2, 2, 7}; /* 9600 7E2 */
    assert_int_equal(host_control_out(CLASS_OUT, CDC_REQ_SET_LINE_CODING, 0, 0, coding, 7),
                     HOST_OK);
    uint8_t got[7];
    size_t len = 0;
    assert_int_equal(host_control_in(CLASS_IN, CDC_REQ_GET_LINE_CODING, 0, 0, 7, got, &len),
                     HOST_OK);
    assert_int_equal(len, 7);
    assert_memory_equal(got, coding, 7);
    struct cdc_acm_line_coding lc = cdc_acm_line_coding();
    assert_int_equal(lc.baud, 9600);
    assert_int_equal(lc.stop_bits, 2);
    assert_int_equal(lc.parity, 2);
    assert_int_equal(lc.data_bits, 7);
}

static void set_line_coding_of_wrong_length_stalls(void **state)
{
    (void)state;
    static const uint8_t coding[8] = {0x80, 0x25, 0, 0, 0, 0, 8, 0};
    assert_int_equal(host_control_out(CLASS_OUT, CDC_REQ_SET_LINE_CODING, 0, 0, coding, 6),
                     HOST_STALL);
    assert_int_equal(host_control_out(CLASS_OUT, CDC_REQ_SET_LINE_CODING, 0, 0, coding, 8),
                     HOST_STALL);
    assert_int_equal(cdc_acm_line_coding().baud, 115200);
    /* a GET that the host sends as OUT, and a SET sent as IN, are refused too */
    assert_int_equal(host_control_out(CLASS_OUT, CDC_REQ_GET_LINE_CODING, 0, 0, coding, 7),
                     HOST_STALL);
    assert_int_equal(host_control_in(CLASS_IN, CDC_REQ_SET_LINE_CODING, 0, 0, 7, NULL, NULL),
                     HOST_STALL);
}

static void control_line_state(void **state)
{
    (void)state;
    assert_int_equal(cdc_acm_control_lines(), 0);
    assert_int_equal(host_control_out(CLASS_OUT, CDC_REQ_SET_CONTROL_LINE_STATE, 0x0003, 0,
                                      NULL, 0),
                     HOST_OK);
    assert_int_equal(cdc_acm_control_lines(), CDC_CONTROL_DTR | CDC_CONTROL_RTS);
    assert_int_equal(host_control_out(CLASS_OUT, CDC_REQ_SET_CONTROL_LINE_STATE, 0x0002, 0,
                                      NULL, 0),
                     HOST_OK);
    assert_int_equal(cdc_acm_control_lines(), CDC_CONTROL_RTS);
    /* the terminal closes: DTR drops */
    assert_int_equal(host_control_out(CLASS_OUT, CDC_REQ_SET_CONTROL_LINE_STATE, 0x0000, 0,
                                      NULL, 0),
                     HOST_OK);
    assert_int_equal(cdc_acm_control_lines(), 0);
    assert_int_equal(host_control_out(CLASS_OUT, CDC_REQ_SET_CONTROL_LINE_STATE, 0x0001, 0,
                                      NULL, 0),
                     HOST_OK);
    usbd_port_on_bus_reset();
    assert_int_equal(cdc_acm_control_lines(), 0);
}

static void unsupported_requests_stall(void **state)
{
    (void)state;
    /* SEND_BREAK is not in the ACM capabilities */
    assert_int_equal(host_control_out(CLASS_OUT, 0x23, 100, 0, NULL, 0), HOST_STALL);
    /* SEND_ENCAPSULATED_COMMAND / GET_ENCAPSULATED_RESPONSE */
    uint8_t cmd[4] = {0};
    assert_int_equal(host_control_out(CLASS_OUT, 0x00, 0, 0, cmd, 4), HOST_STALL);
    assert_int_equal(host_control_in(CLASS_IN, 0x01, 0, 0, 64, NULL, NULL), HOST_STALL);
    /* line coding addressed to the data interface */
    assert_int_equal(host_control_in(CLASS_IN, CDC_REQ_GET_LINE_CODING, 0, DEMO_IFACE_CDC_DATA,
                                     7, NULL, NULL),
                     HOST_STALL);
    /* the pipe still works after the stalls */
    assert_int_equal(host_control_in(CLASS_IN, CDC_REQ_GET_LINE_CODING, 0, 0, 7, NULL, NULL),
                     HOST_OK);
}

static void alternate_settings_other_than_zero_stall(void **state)
{
    (void)state;
    assert_int_equal(host_control_out(0x01, 11, 1, DEMO_IFACE_CDC_COMM, NULL, 0), HOST_STALL);
    assert_int_equal(host_control_out(0x01, 11, 1, DEMO_IFACE_CDC_DATA, NULL, 0), HOST_STALL);
    assert_int_equal(host_control_out(0x01, 11, 0, DEMO_IFACE_CDC_DATA, NULL, 0), HOST_OK);
    assert_true(fake.out_armed[1]);
}

static void requests_before_configuration_stall(void **state)
{
    (void)state;
    usbd_port_on_bus_reset();
    assert_int_equal(host_control_in(CLASS_IN, CDC_REQ_GET_LINE_CODING, 0, 0, 7, NULL, NULL),
                     HOST_STALL);
}

static void received_packets_reach_the_callback_and_rearm(void **state)
{
    (void)state;
    assert_int_equal(host_bulk_out(CDC_ACM_EP_DATA_OUT, "hello", 5), HOST_OK);
    assert_int_equal(rx.calls, 1);
    assert_int_equal(rx.len, 5);
    assert_memory_equal(rx.data, "hello", 5);
    assert_true(fake.out_armed[1]);
    assert_int_equal(fake.out_cap[1], 64);

    uint8_t full[64];
    for (unsigned i = 0; i < sizeof full; i++)
        full[i] = (uint8_t)(i * 7);
    assert_int_equal(host_bulk_out(CDC_ACM_EP_DATA_OUT, full, 64), HOST_OK);
    assert_int_equal(rx.calls, 2);
    assert_memory_equal(rx.data + 5, full, 64);
    assert_true(fake.out_armed[1]);
}

static void write_before_configuration_is_refused(void **state)
{
    (void)state;
    usbd_port_on_bus_reset();
    assert_int_equal(cdc_acm_write("abc", 3), 0);
    assert_false(fake.in_armed[1]);
    assert_true(cdc_acm_tx_idle());
}

static void write_after_deconfiguration_is_refused(void **state)
{
    (void)state;
    assert_int_equal(host_control_out(0x00, 9, 0, 0, NULL, 0), HOST_OK);
    assert_false(usbd_configured());
    assert_int_equal(cdc_acm_write("abc", 3), 0);
    assert_false(fake.in_armed[1]);
    assert_int_equal(host_control_out(0x00, 9, 1, 0, NULL, 0), HOST_OK);
    assert_int_equal(cdc_acm_write("abc", 3), 3);
}

static void short_write_is_one_packet(void **state)
{
    (void)state;
    assert_true(cdc_acm_tx_idle());
    assert_int_equal(cdc_acm_write("abc", 3), 3);
    assert_false(cdc_acm_tx_idle());
    uint8_t got[256];
    long sizes[8];
    unsigned n = 0;
    assert_int_equal(drain(got, sizeof got, sizes, &n), 3);
    assert_int_equal(n, 1);
    assert_memory_equal(got, "abc", 3);
    assert_true(cdc_acm_tx_idle());
}

static void full_packet_is_followed_by_a_zlp(void **state)
{
    (void)state;
    uint8_t msg[64], got[256];
    for (unsigned i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(0x40 + i);
    assert_int_equal(cdc_acm_write(msg, 64), 64);
    long sizes[8];
    unsigned n = 0;
    assert_int_equal(drain(got, sizeof got, sizes, &n), 64);
    assert_int_equal(n, 2);
    assert_int_equal(sizes[0], 64);
    assert_int_equal(sizes[1], 0);
    assert_memory_equal(got, msg, 64);
    assert_true(cdc_acm_tx_idle());

    /* 100 bytes end on a short packet: no ZLP */
    uint8_t big[100];
    memset(big, 0x5A, sizeof big);
    assert_int_equal(cdc_acm_write(big, 100), 100);
    assert_int_equal(drain(got, sizeof got, sizes, &n), 100);
    assert_int_equal(n, 2);
    assert_int_equal(sizes[0], 64);
    assert_int_equal(sizes[1], 36);
}

/* Bytes written while a packet is on the bus join the queue and follow it. */
static void writes_during_a_transfer_are_queued(void **state)
{
    (void)state;
    assert_int_equal(cdc_acm_write("first ", 6), 6);
    assert_int_equal(cdc_acm_write("second", 6), 6);
    assert_int_equal(fake.in_sends[1], 1); /* one transfer at a time */
    uint8_t got[64];
    long sizes[8];
    unsigned n = 0;
    assert_int_equal(drain(got, sizeof got, sizes, &n), 12);
    assert_int_equal(n, 2);
    assert_memory_equal(got, "first second", 12);
}

static void buffer_limit_and_wrap(void **state)
{
    (void)state;
    uint8_t src[400], got[512];
    for (unsigned i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)(i ^ 0xA5);
    /* The host is not reading: the ring takes what fits, and says so. */
    assert_int_equal(cdc_acm_write(src, 300), CDC_ACM_TX_BUFFER);
    assert_int_equal(cdc_acm_write(src, 10), 0);
    long sizes[16];
    unsigned n = 0;
    assert_int_equal(drain(got, sizeof got, sizes, &n), CDC_ACM_TX_BUFFER);
    assert_memory_equal(got, src, CDC_ACM_TX_BUFFER);
    assert_int_equal(sizes[n - 1], 0); /* 256 = 4 full packets, then the ZLP */

    /* Leave the ring's tail near its end, then write across it. */
    assert_int_equal(cdc_acm_write(src, 200), 200);
    assert_int_equal(drain(got, sizeof got, NULL, NULL), 200);
    assert_int_equal(cdc_acm_write(src + 200, 120), 120);
    assert_int_equal(drain(got, sizeof got, sizes, &n), 120);
    assert_memory_equal(got, src + 200, 120);
    for (unsigned i = 0; i < n; i++)
        assert_true(sizes[i] <= 64);
    assert_true(cdc_acm_tx_idle());
}

static void echo_from_the_receive_callback(void **state)
{
    (void)state;
    rx.echo = true;
    assert_int_equal(host_bulk_out(CDC_ACM_EP_DATA_OUT, "ping\r", 5), HOST_OK);
    uint8_t got[64];
    assert_int_equal(drain(got, sizeof got, NULL, NULL), 5);
    assert_memory_equal(got, "ping\r", 5);
}

/* Flow control: bytes the application does not take stay in the class, the OUT endpoint
 * stays unarmed (the host's next write is NAKed, nothing is lost), and the rest is
 * offered again on cdc_acm_rx_retry() until all of it is taken. */
static void refused_bytes_wait_and_hold_the_host(void **state)
{
    (void)state;
    rx.limit = 10;
    uint8_t pkt[40];
    for (unsigned i = 0; i < sizeof pkt; i++)
        pkt[i] = (uint8_t)('a' + i % 26);
    assert_int_equal(host_bulk_out(CDC_ACM_EP_DATA_OUT, pkt, sizeof pkt), HOST_OK);
    assert_int_equal(rx.len, 10);
    assert_false(fake.out_armed[1]); /* the host waits */
    cdc_acm_rx_retry();
    cdc_acm_rx_retry();
    assert_int_equal(rx.len, 30);
    assert_false(fake.out_armed[1]);
    cdc_acm_rx_retry();
    assert_int_equal(rx.len, 40);
    assert_memory_equal(rx.data, pkt, sizeof pkt);
    assert_true(fake.out_armed[1]); /* all taken: the next packet may come */
}

/* The echo case: a burst larger than the TX ring is echoed whole, in order, as the host
 * reads; the device holds the host's writes while its ring is full. */
static void echo_burst_larger_than_the_ring(void **state)
{
    (void)state;
    rx.echo = true;
    static uint8_t burst[1000], got[1000];
    for (unsigned i = 0; i < sizeof burst; i++)
        burst[i] = (uint8_t)(i * 13 + 1);
    size_t sent = 0, echoed = 0;
    while (echoed < sizeof burst) {
        if (sent < sizeof burst && fake.out_armed[1]) {
            size_t n = sizeof burst - sent < 64 ? sizeof burst - sent : 64;
            assert_int_equal(host_bulk_out(CDC_ACM_EP_DATA_OUT, burst + sent, n), HOST_OK);
            sent += n;
        } else {
            size_t n = drain(got + echoed, sizeof got - echoed, NULL, NULL);
            assert_true(n > 0); /* progress: either the host can write or read */
            echoed += n;
        }
    }
    assert_int_equal(sent, sizeof burst);
    assert_memory_equal(got, burst, sizeof burst);
}

/* A bus reset in the middle of a transfer drops the queue; a new configuration starts
 * from an empty ring. */
static void bus_reset_drops_the_queue(void **state)
{
    (void)state;
    assert_int_equal(cdc_acm_write("stale data", 10), 10);
    usbd_port_on_bus_reset();
    memset(fake.in_armed, 0, sizeof fake.in_armed); /* the port forgets its transfers */
    assert_true(cdc_acm_tx_idle());
    assert_int_equal(cdc_acm_write("x", 1), 0);
    host_enumerate();
    assert_int_equal(cdc_acm_write("new", 3), 3);
    uint8_t got[64];
    assert_int_equal(drain(got, sizeof got, NULL, NULL), 3);
    assert_memory_equal(got, "new", 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(line_coding_defaults_to_115200_8n1, setup),
        cmocka_unit_test_setup(set_line_coding_is_reported_back, setup),
        cmocka_unit_test_setup(set_line_coding_of_wrong_length_stalls, setup),
        cmocka_unit_test_setup(control_line_state, setup),
        cmocka_unit_test_setup(unsupported_requests_stall, setup),
        cmocka_unit_test_setup(alternate_settings_other_than_zero_stall, setup),
        cmocka_unit_test_setup(requests_before_configuration_stall, setup),
        cmocka_unit_test_setup(received_packets_reach_the_callback_and_rearm, setup),
        cmocka_unit_test_setup(write_before_configuration_is_refused, setup),
        cmocka_unit_test_setup(write_after_deconfiguration_is_refused, setup),
        cmocka_unit_test_setup(short_write_is_one_packet, setup),
        cmocka_unit_test_setup(full_packet_is_followed_by_a_zlp, setup),
        cmocka_unit_test_setup(writes_during_a_transfer_are_queued, setup),
        cmocka_unit_test_setup(buffer_limit_and_wrap, setup),
        cmocka_unit_test_setup(echo_from_the_receive_callback, setup),
        cmocka_unit_test_setup(refused_bytes_wait_and_hold_the_host, setup),
        cmocka_unit_test_setup(echo_burst_larger_than_the_ring, setup),
        cmocka_unit_test_setup(bus_reset_drops_the_queue, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
