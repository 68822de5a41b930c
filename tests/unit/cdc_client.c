/* A libusb program run under l4sim's USB bridge against the demo application (0483:5740):
 * what a terminal program does with the CDC-ACM port, with checks.
 *
 *   cdc_client echo     bulk OUT text and a 1000-byte burst, bulk IN until all of it is
 *                       echoed back in order; a 3000-byte paste written in one transfer
 *                       while the echo is read (flow control); an interrupt IN read of the notification
 *                       endpoint times out cleanly (the demo sends no SERIAL_STATE)
 *   cdc_client update   sends "update\r": the application hands over to the bootloader
 *                       (the device leaves the bus; dfu-util -l then finds 0483:df11)
 * Exit 0 when every check held; otherwise says which one failed and exits 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libusb.h>

#define VID 0x0483
#define PID 0x5740
#define DATA_IFACE 1
#define EP_OUT 0x01
#define EP_IN 0x81
#define EP_NOTIFY 0x82

struct paste {
    int out_done, out_status, out_len;
    uint8_t in_buf[64];
    uint8_t got[4096];
    int got_len, in_status;
};

static void LIBUSB_CALL out_cb(struct libusb_transfer *t)
{
    struct paste *p = t->user_data;
    p->out_done = 1;
    p->out_status = t->status;
    p->out_len = t->actual_length;
}

static void LIBUSB_CALL in_cb(struct libusb_transfer *t)
{
    struct paste *p = t->user_data;
    p->in_status = t->status;
    if (t->status == LIBUSB_TRANSFER_COMPLETED) {
        memcpy(p->got + p->got_len, t->buffer, (size_t)t->actual_length);
        p->got_len += t->actual_length;
    }
}

static int fail(const char *what, int rc);

/* A terminal pasting len bytes in one write while it keeps reading: the OUT transfer and
 * the IN reads are in flight at the same time; the device holds the write (NAK) while its
 * echo ring is full, and everything comes back in order. */
static int paste(libusb_context *ctx, libusb_device_handle *h, const uint8_t *data, int len)
{
    static struct paste p;
    memset(&p, 0, sizeof p);
    struct libusb_transfer *out = libusb_alloc_transfer(0), *in = libusb_alloc_transfer(0);
    libusb_fill_bulk_transfer(out, h, EP_OUT, (unsigned char *)data, len, out_cb, &p, 5000);
    if (libusb_submit_transfer(out))
        return fail("submit paste", -1);
    while (p.got_len < len) {
        p.in_status = -1;
        libusb_fill_bulk_transfer(in, h, EP_IN, p.in_buf, sizeof p.in_buf, in_cb, &p, 5000);
        if (libusb_submit_transfer(in))
            return fail("submit read", -1);
        while (p.in_status == -1)
            libusb_handle_events(ctx);
        if (p.in_status != LIBUSB_TRANSFER_COMPLETED)
            return fail("read during paste", -1);
    }
    while (!p.out_done)
        libusb_handle_events(ctx);
    libusb_free_transfer(out);
    libusb_free_transfer(in);
    if (p.out_status != LIBUSB_TRANSFER_COMPLETED || p.out_len != len)
        return fail("paste write", -1);
    if (p.got_len != len || memcmp(p.got, data, (size_t)len) != 0)
        return fail("pasted bytes echoed differently", 0);
    return 0;
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "cdc_client: %s: %s\n", what, rc < 0 ? libusb_error_name(rc) : "wrong data");
    return 1;
}

/* Send len bytes, read until the same bytes came back (the demo echoes). */
static int echo(libusb_device_handle *h, const uint8_t *out, int len)
{
    int n = 0, rc = libusb_bulk_transfer(h, EP_OUT, (unsigned char *)out, len, &n, 2000);
    if (rc || n != len)
        return fail("bulk OUT", rc);
    static uint8_t back[4096];
    int got = 0;
    while (got < len) {
        rc = libusb_bulk_transfer(h, EP_IN, back + got, 64, &n, 2000);
        if (rc)
            return fail("bulk IN", rc);
        got += n;
    }
    if (got != len || memcmp(out, back, (size_t)len) != 0)
        return fail("echoed bytes differ", 0);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2 || (strcmp(argv[1], "echo") && strcmp(argv[1], "update"))) {
        fprintf(stderr, "usage: cdc_client echo|update\n");
        return 2;
    }
    libusb_context *ctx;
    if (libusb_init(&ctx))
        return fail("libusb_init", -1);
    libusb_device_handle *h = libusb_open_device_with_vid_pid(ctx, VID, PID);
    if (!h)
        return fail("no 0483:5740 device", LIBUSB_ERROR_NO_DEVICE);
    int rc = libusb_claim_interface(h, DATA_IFACE);
    if (rc)
        return fail("claim data interface", rc);
    int status = 0;
    if (strcmp(argv[1], "echo") == 0) {
        const char *text = "hello from libusb through l4sim\r\n";
        status |= echo(h, (const uint8_t *)text, (int)strlen(text));
        /* A paste of 1000 bytes, written in 64-byte pieces while the echo is read: the
         * device's 256-byte echo ring holds the host's writes (NAK) when it is full. */
        static uint8_t burst[1000];
        for (unsigned i = 0; i < sizeof burst; i++)
            burst[i] = (uint8_t)('0' + i % 64); /* no '\r': not a command line */
        for (int off = 0; off < (int)sizeof burst && !status; off += 64) {
            int n = (int)sizeof burst - off < 64 ? (int)sizeof burst - off : 64;
            status |= echo(h, burst + off, n);
        }
        /* and as one paste, larger than the device's echo ring, read while it is written */
        static uint8_t big[3000];
        for (unsigned i = 0; i < sizeof big; i++)
            big[i] = (uint8_t)('A' + i % 26);
        if (!status)
            status |= paste(ctx, h, big, (int)sizeof big);
        rc = libusb_claim_interface(h, 0);
        if (rc)
            return fail("claim communications interface", rc);
        uint8_t note[16];
        int n = 0;
        rc = libusb_interrupt_transfer(h, EP_NOTIFY, note, sizeof note, &n, 100);
        if (rc != LIBUSB_ERROR_TIMEOUT)
            status |= fail("notification endpoint should time out (nothing to notify)", rc);
        /* and the data pipe still works after the cancelled transfer */
        status |= echo(h, (const uint8_t *)"again\r\n", 7);
        if (!status)
            printf("cdc_client: echo ok (%zu + %zu + 3000 pasted + 7 bytes), notification timeout ok\n", strlen(text),
                   sizeof burst);
    } else {
        int n = 0;
        rc = libusb_bulk_transfer(h, EP_OUT, (unsigned char *)"update\r", 7, &n, 2000);
        if (rc || n != 7)
            status |= fail("send update", rc);
        else
            printf("cdc_client: update sent\n");
    }
    libusb_release_interface(h, DATA_IFACE);
    libusb_close(h);
    libusb_exit(ctx);
    return status;
}
