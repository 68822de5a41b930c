/* usbenum: a minimal USB device (one vendor-specific interface, no endpoints besides
 * EP0) on the real device core (core/usbd.c) and our OTG_FS driver. l4sim's virtual host
 * enumerates it; the program reports PASS once the host has set the configuration, and
 * prints what it saw on the way. Built twice: polled from the main loop (usbenum), and
 * with USBENUM_IRQ driven from the OTG_FS interrupt as applications do (usbenum-irq). */
#include "target.h"
#include "testlib.h"
#include "usbd.h"
#include "usbd_port.h"
#include "regs/cortex_m4.h"
#include "regs/otgfs.h"

static const uint8_t device_descriptor[18] = {
    18, 1,          /* bLength, DEVICE */
    0x00, 0x02,     /* bcdUSB 2.00 */
    0xFF, 0x00, 0x00, /* vendor-specific class */
    64,             /* bMaxPacketSize0 */
    0x83, 0x04,     /* idVendor 0x0483 */
    0xF0, 0xDF,     /* idProduct 0xDFF0 (test device) */
    0x00, 0x01,     /* bcdDevice 1.00 */
    1, 2, 3,        /* iManufacturer, iProduct, iSerialNumber */
    1,              /* bNumConfigurations */
};

static const uint8_t config_descriptor[18] = {
    9, 2, 18, 0,    /* bLength, CONFIGURATION, wTotalLength 18 */
    1, 1, 0,        /* bNumInterfaces, bConfigurationValue, iConfiguration */
    0x80, 50,       /* bus-powered, 100 mA */
    9, 4, 0, 0, 0,  /* INTERFACE 0, alt 0, no endpoints */
    0xFF, 0x00, 0x00, 0, /* vendor-specific, iInterface 0 */
};

static char serial[13];

static const char *string_text(uint8_t index)
{
    switch (index) {
    case 1:
        return "l4dfu";
    case 2:
        return "l4dfu usbenum test";
    case 3:
        return serial;
    default:
        return 0;
    }
}

static volatile uint32_t bus_resets;

static bool vendor_control(const struct usbd_setup *req, enum usbd_stage stage, uint8_t **data,
                           uint16_t *len)
{
    (void)req;
    (void)stage;
    (void)data;
    (void)len;
    return false;
}

static bool vendor_set_alt(uint8_t iface, uint8_t alt)
{
    (void)iface;
    return alt == 0u;
}

static void vendor_bus_reset(void)
{
    bus_resets++;
}

static const struct usbd_class vendor_interface = {
    .control = vendor_control,
    .set_alt = vendor_set_alt,
    .bus_reset = vendor_bus_reset,
};
static const struct usbd_class *const interfaces[] = { &vendor_interface };

static const struct usbd_device device = {
    .device_descriptor = device_descriptor,
    .config_descriptor = config_descriptor,
    .string = string_text,
    .interfaces = interfaces,
    .interface_count = 1,
};

extern uint32_t usbd_port_quirk_entries_dropped;

#ifdef USBENUM_IRQ
static volatile uint32_t usb_interrupts;

void OTG_FS_IRQHandler(void)
{
    usb_interrupts++;
    usbd_port_poll();
}
#endif

int main(void)
{
    target_init(); /* 48 MHz from MSI locked to the LSE, CLK48SEL = MSI, SysTick clock */
    test_begin("usbenum");
    target_serial_number(serial);
    console_puts("serial ");
    console_puts(serial);
    console_putc('\n');

    usbd_init(&device);
#ifdef USBENUM_IRQ
    NVIC_ISER(OTG_IRQN / 32u) = 1u << (OTG_IRQN % 32u);
#endif
    usbd_port_connect(true);
    uint32_t start = target_millis();
    uint32_t reported_resets = 0;
    while (!usbd_configured()) {
#ifndef USBENUM_IRQ
        usbd_port_poll();
#endif
        if (bus_resets != reported_resets) {
            reported_resets = bus_resets;
            console_puts("bus reset\n");
        }
        if (target_millis() - start > 3000u)
            test_fail("not configured within 3 s of connecting");
    }
    console_puts("configured after ");
    console_put_dec(target_millis() - start);
    console_puts(" ms (modelled)\n");
    console_put_dec(usbd_port_quirk_entries_dropped);
    console_puts(" core 3.10a extra EP0 entries dropped\n");
#ifdef USBENUM_NO_QUIRK
    test_check_eq(usbd_port_quirk_entries_dropped, 0u,
                  "dropped entries from a core without the quirk");
#else
    /* Every SETUP brings one on 3.10a silicon (and in l4sim by default). */
    test_check(usbd_port_quirk_entries_dropped >= 8u,
               "the 3.10a extra EP0 entries were not recognised");
#endif
#ifdef USBENUM_IRQ
    console_put_dec(usb_interrupts);
    console_puts(" OTG_FS interrupts\n");
    test_check(usb_interrupts != 0u, "configured without a single OTG_FS interrupt");
    /* Every event was acknowledged: the line must be low again once the bus is idle
     * (the SOF and suspend interrupts are not enabled). */
    cpu_irq_disable();
    usbd_port_poll();
    test_check_eq(OTG_GINTSTS & OTG_GINTMSK & ~OTG_GINT_USBSUSP, 0u,
                  "OTG_FS interrupt still asserted after handling");
    cpu_irq_enable();
#endif
    test_pass();
}
