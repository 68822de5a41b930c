/* l4dfu demo application: what an application needs for run-time DFU, and little else.
 *
 *  - LED1 blinks from SysTick (v1: 1 Hz, v2: 2 Hz, so an update shows on the board);
 *  - USART1 prints "l4dfu demo app v<version>" and each event (tests read these lines);
 *  - a CDC-ACM serial port echoes what it receives; the line "update" enters the l4dfu
 *    bootloader, "rom" enters ST's ROM bootloader;
 *  - the run-time DFU interface: `dfu-util -d 0483:5740,0483:df11 -e` (or -D) detaches;
 *  - l4dfu_confirm_boot() once the application is up.
 *
 * DEMO_USB_IRQ=1 handles USB in the OTG_FS interrupt; DEMO_USB_IRQ=0 polls it from the
 * main loop. Either way the USB device core, the CDC driver and the DFU run-time
 * interface (and so the receive callback and the DETACH action) run in that one
 * context; the main loop touches them only through usb_lock()/usb_unlock().
 */
#include <stdbool.h>
#include <stdint.h>

#include "cdc_acm.h"
#include "chip.h"
#include "dfu_runtime.h"
#include "l4dfu.h"
#include "usb_device.h"
#include "usbd.h"
#include "usbd_port.h"
#include "regs/cortex_m4.h"

#ifndef DEMO_USB_IRQ
#define DEMO_USB_IRQ 1
#endif
#define OTG_FS_IRQ 67u
/* The main loop waits this long for the reply to a command to reach the host. */
#define REPLY_DRAIN_MS 100u

#define VERSION_MAJOR ((L4_IMAGE_VERSION >> 24) & 0xFFu)
#define VERSION_MINOR ((L4_IMAGE_VERSION >> 16) & 0xFFu)
#define VERSION_PATCH (L4_IMAGE_VERSION & 0xFFFFu)
#define BLINK_HALF_PERIOD_MS (500u / (VERSION_MAJOR != 0u ? VERSION_MAJOR : 1u))

enum action { ACTION_NONE, ACTION_UPDATE, ACTION_ROM };

static volatile uint32_t ticks_ms;
static volatile enum action requested; /* set in the USB context, done by the main loop */
static char line[16];
static unsigned line_len; /* > sizeof line: the line overflowed and is ignored */

void SysTick_Handler(void)
{
    uint32_t now = ticks_ms + 1u;
    ticks_ms = now;
    if (now % BLINK_HALF_PERIOD_MS == 0u)
        led_toggle();
}

static void systick_start_1khz(void)
{
    SYST_RVR = clock_hclk_hz() / 1000u - 1u;
    SYST_CVR = 0u;
    SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_TICKINT | SYST_CSR_CLKSOURCE;
}

#if DEMO_USB_IRQ
void OTG_FS_IRQHandler(void)
{
    usbd_port_poll();
}

/* Masking the one interrupt (not all of them) keeps the LED blinking. The barriers make
 * the mask take effect before the next instruction and keep the compiler from moving
 * the USB state accesses out of the locked region. */
static void usb_lock(void)
{
    NVIC_ICER(OTG_FS_IRQ / 32u) = 1u << (OTG_FS_IRQ % 32u);
    cpu_dsb();
    cpu_isb();
}

static void usb_unlock(void)
{
    cpu_dsb();
    NVIC_ISER(OTG_FS_IRQ / 32u) = 1u << (OTG_FS_IRQ % 32u);
}
#else
static void usb_lock(void)
{
}

static void usb_unlock(void)
{
}
#endif

/* String literals only: the length is known at compile time. */
#define REPLY(text) cdc_acm_write(text, sizeof text - 1u)

static void run_command(void)
{
    static const char update[] = "update", rom[] = "rom";
    bool is_update = line_len == sizeof update - 1u, is_rom = line_len == sizeof rom - 1u;
    for (unsigned i = 0; i < line_len; i++) {
        is_update = is_update && line[i] == update[i];
        is_rom = is_rom && line[i] == rom[i];
    }
    if (is_update) {
        REPLY("\r\nentering the l4dfu bootloader\r\n");
        requested = ACTION_UPDATE;
    } else if (is_rom) {
        REPLY("\r\nentering the ROM bootloader\r\n");
        requested = ACTION_ROM;
    }
}

/* The CDC receive callback (USB context): echo, and collect a line for run_command.
 * Takes only what the echo has room for; the class offers the rest again once the host
 * has read some of the echo (and holds the host's writes meanwhile). */
static size_t on_receive(const uint8_t *data, size_t len)
{
    len = cdc_acm_write(data, len);
    for (size_t i = 0; i < len; i++) {
        char c = (char)data[i];
        if (c == '\r' || c == '\n') {
            if (line_len != 0u && line_len <= sizeof line)
                run_command();
            line_len = 0u;
        } else if (line_len <= sizeof line) {
            if (line_len < sizeof line)
                line[line_len] = c;
            line_len++;
        }
    }
    return len;
}

/* DETACH from the host (USB context, after the status stage): the host already has
 * its answer, so the device may leave the bus now. */
static void on_detach(void)
{
    console_puts("dfu: detach, entering the l4dfu bootloader\n");
    console_flush();
    l4dfu_request_update();
}

static bool usb_reply_sent(void)
{
    usb_lock();
    bool idle = cdc_acm_tx_idle();
    usb_unlock();
    return idle;
}

static bool usb_configured_now(void)
{
    usb_lock();
    bool configured = usbd_configured();
    usb_unlock();
    return configured;
}

static void __attribute__((noreturn)) perform(enum action action)
{
    uint32_t start = ticks_ms;
    while (!usb_reply_sent() && ticks_ms - start < REPLY_DRAIN_MS) {
        if (!DEMO_USB_IRQ)
            usbd_port_poll();
    }
    if (action == ACTION_UPDATE) {
        console_puts("cdc: update, entering the l4dfu bootloader\n");
        console_flush();
        l4dfu_request_update();
    }
    console_puts("cdc: rom, entering the ROM bootloader\n");
    console_flush();
    l4dfu_enter_rom_bootloader();
}

int main(void)
{
    bool usb_clock_trimmed = clock_init_usb48();
    console_init();
    console_puts("l4dfu demo app v");
    console_put_dec(VERSION_MAJOR);
    console_putc('.');
    console_put_dec(VERSION_MINOR);
    console_putc('.');
    console_put_dec(VERSION_PATCH);
    console_puts(DEMO_USB_IRQ ? " (usb: interrupt)\n" : " (usb: polled)\n");
    if (!usb_clock_trimmed)
        console_puts("warning: no LSE, the USB clock is untrimmed\n");

    led_init();
    systick_start_1khz();

    /* "Up" for this demo means: clocks, console and timer run. A product would confirm
     * later, once its own self-test passed. */
    console_puts("boot attempt ");
    console_put_dec(l4dfu_boot_attempts());
    console_puts(", confirmed\n");
    l4dfu_confirm_boot();

    cdc_acm_init(on_receive);
    dfu_runtime_init(on_detach);
    usbd_init(&demo_usb_device);
#if DEMO_USB_IRQ
    NVIC_IPR8(OTG_FS_IRQ) = 0x80u; /* below SysTick (0), so the blink never stalls */
    usb_unlock();
#endif
    usbd_port_connect(true);

    bool was_configured = false;
    for (;;) {
        if (!DEMO_USB_IRQ)
            usbd_port_poll();
        bool configured = usb_configured_now();
        if (configured != was_configured) {
            console_puts(configured ? "usb: configured\n" : "usb: not configured\n");
            was_configured = configured;
        }
        if (requested != ACTION_NONE)
            perform(requested);
        if (DEMO_USB_IRQ)
            __asm__ volatile("wfi");
    }
}
