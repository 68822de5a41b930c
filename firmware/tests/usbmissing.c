/* usbmissing: the USB bring-up with one step the silicon needs left out, to prove that
 * l4sim refuses to connect and names that step (tests/e2e/usb_missing_steps.sh). The
 * OTG_FS driver (usbd_port_init) does the whole bring-up in one call, so each variant lets
 * it run and then takes its one step back before the soft connect, leaving the chip as if
 * the step had never been done. Exactly one USBMISSING_* is defined per variant; with
 * none (usbmissing-complete) the device must enumerate.
 *
 *   USBMISSING_CLK48     RCC_CCIPR.CLK48SEL back to 00: no 48 MHz clock selected
 *   USBMISSING_USV       PWR_CR2.USV back to 0: VDDUSB not declared valid
 *   USBMISSING_PINS      PA11/PA12 back to their reset mode (analog, AF0)
 *   USBMISSING_PWRDWN    OTG_GCCFG.PWRDWN back to 0: transceiver powered down
 *   USBMISSING_BSESSION  no B-session valid: neither the override nor VBUS detection
 *   USBMISSING_SDIS      DCTL.SDIS left set: usbd_port_connect is never called
 *
 * Ends with "enumerated: configured" or "not enumerated"; the test reads l4sim's
 * --diagnose-usb verdict, not only this line. */
#include "board.h"
#include "target.h"
#include "testlib.h"
#include "usbd.h"
#include "usbd_port.h"
#include "regs/gpio.h"
#include "regs/otgfs.h"
#include "regs/pwr.h"
#include "regs/rcc.h"

static const uint8_t device_descriptor[18] = {
    18, 1, 0x00, 0x02, /* bLength, DEVICE, bcdUSB 2.00 */
    0xFF, 0x00, 0x00,  /* vendor-specific class */
    64,                /* bMaxPacketSize0 */
    0x83, 0x04,        /* idVendor 0x0483 */
    0xF1, 0xDF,        /* idProduct 0xDFF1 (test device) */
    0x00, 0x01,        /* bcdDevice 1.00 */
    0, 0, 0,           /* no strings */
    1,                 /* bNumConfigurations */
};

static const uint8_t config_descriptor[18] = {
    9, 2, 18, 0, 1, 1, 0, 0x80, 50, /* one interface, bus-powered, 100 mA */
    9, 4, 0, 0, 0, 0xFF, 0x00, 0x00, 0, /* interface 0, alt 0, no endpoints, vendor */
};

static const char *no_strings(uint8_t index)
{
    (void)index;
    return 0;
}

static bool no_requests(const struct usbd_setup *req, enum usbd_stage stage, uint8_t **data,
                        uint16_t *len)
{
    (void)req;
    (void)stage;
    (void)data;
    (void)len;
    return false;
}

static bool only_alt0(uint8_t iface, uint8_t alt)
{
    (void)iface;
    return alt == 0u;
}

static void nothing_to_reset(void)
{
}

static const struct usbd_class vendor_interface = {
    .control = no_requests,
    .set_alt = only_alt0,
    .bus_reset = nothing_to_reset,
};
static const struct usbd_class *const interfaces[] = { &vendor_interface };

static const struct usbd_device device = {
    .device_descriptor = device_descriptor,
    .config_descriptor = config_descriptor,
    .string = no_strings,
    .interfaces = interfaces,
    .interface_count = 1,
};

static void leave_out_one_step(void)
{
#if defined(USBMISSING_CLK48)
    RCC_CCIPR &= ~RCC_CCIPR_CLK48SEL_MASK;
#elif defined(USBMISSING_USV)
    PWR_CR2 &= ~PWR_CR2_USV;
#elif defined(USBMISSING_PINS)
    gpio_config(BOARD_USB_PORT, BOARD_USB_DM_PIN, GPIO_MODE_ANALOG, GPIO_PULL_NONE, GPIO_SPEED_LOW, 0u);
    gpio_config(BOARD_USB_PORT, BOARD_USB_DP_PIN, GPIO_MODE_ANALOG, GPIO_PULL_NONE, GPIO_SPEED_LOW, 0u);
#elif defined(USBMISSING_PWRDWN)
    OTG_GCCFG &= ~OTG_GCCFG_PWRDWN;
#elif defined(USBMISSING_BSESSION)
    OTG_GCCFG &= ~OTG_GCCFG_VBDEN;
    OTG_GOTGCTL &= ~(OTG_GOTGCTL_BVALOEN | OTG_GOTGCTL_BVALOVAL);
#endif
}

int main(void)
{
    target_init();
    test_begin("usbmissing");
    usbd_init(&device);
    leave_out_one_step();
#ifndef USBMISSING_SDIS
    usbd_port_connect(true);
#endif
    uint32_t start = target_millis();
    while (!usbd_configured() && target_millis() - start < 1000u)
        usbd_port_poll();
    if (usbd_configured())
        console_puts("enumerated: configured\n");
    else
        console_puts("not enumerated\n");
    console_flush();
    for (;;) {
    }
}
