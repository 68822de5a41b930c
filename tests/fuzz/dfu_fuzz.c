/* libFuzzer harness for the bootloader's USB device core and DFU/DfuSe class
 * (firmware/core/usbd.c, dfu.c) on the host fakes of tests/unit/core_fakes.c.
 *
 * The input is a script of host actions: control transfers with any request, value,
 * index, length and data, flash work, bus resets. Whatever the host sends, the device
 * must keep its promises:
 *   - the bootloader's own pages (0x08000000-0x08003FFF) are never erased or written;
 *   - never two flash operations at once;
 *   - the DFU state is one of the spec's, and dfuERROR always carries a status;
 *   - nothing the sanitizers object to.
 * A broken promise aborts, which libFuzzer reports with the input that did it. */
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core_fakes.h"
#include "dfu.h"
#include "usbd.h"

#define BOOTLOADER_BYTES 0x4000u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t bootloader_pattern[BOOTLOADER_BYTES];
static unsigned leaves;

static void on_leave(void)
{
    leaves++;
}

struct script {
    const uint8_t *p;
    size_t left;
};

static uint8_t take8(struct script *s)
{
    if (!s->left)
        return 0;
    s->left--;
    return *s->p++;
}

static uint16_t take16(struct script *s)
{
    uint16_t lo = take8(s);
    return (uint16_t)(lo | (take8(s) << 8));
}

static void check_promises(void)
{
    if (chip.unprotect_calls == 0 && memcmp(chip.flash, bootloader_pattern, BOOTLOADER_BYTES) != 0)
        abort(); /* the bootloader's pages changed */
    for (unsigned page = 0; page < BOOTLOADER_BYTES / FAKE_PAGE_SIZE; page++)
        if (chip.page_erases[page])
            abort();
    if (chip.mass_erases[1] && chip.unprotect_calls == 0)
        abort(); /* bank 1 holds the bootloader: never mass-erased */
    if (chip.op_started_while_busy)
        abort();
    enum dfu_state st = dfu_state();
    if (st > DFU_STATE_ERROR)
        abort();
    if (st == DFU_STATE_ERROR && dfu_status() == DFU_OK)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t buf[4096];
    struct script s = {data, size};
    jmp_buf reset_point;

    fake_chip_reset(take8(&s) & 1 ? 512u * 1024u : 1024u * 1024u);
    for (unsigned i = 0; i < BOOTLOADER_BYTES; i++)
        bootloader_pattern[i] = (uint8_t)(i * 7 + 3);
    memcpy(chip.flash, bootloader_pattern, BOOTLOADER_BYTES);
    chip.rdp_level = take8(&s) % 3;
    chip.reset_jump = &reset_point;
    leaves = 0;
    if (setjmp(reset_point) != 0) {
        /* target_reset / target_start_image: the device is gone; the promises still hold */
        check_promises();
        return 0;
    }
    dfu_init(on_leave);
    usbd_init(&dfu_usb_device);
    host_enumerate();

    for (unsigned steps = 0; s.left && steps < 64; steps++) {
        uint8_t op = take8(&s);
        switch (op % 6) {
        case 0:
        case 1: { /* a class or standard OUT request with data */
            static const uint8_t types[4] = {0x21, 0x01, 0x00, 0x41};
            uint8_t type = types[op >> 6];
            uint8_t request = take8(&s) % 8;
            uint16_t value = take16(&s) % 8; /* block numbers, alt settings */
            uint16_t index = take8(&s) % 4;
            uint16_t length = take16(&s) % (sizeof buf + 1);
            size_t n = length < s.left ? length : s.left;
            memset(buf, 0xA5, length);
            memcpy(buf, s.p, n);
            s.p += n;
            s.left -= n;
            if (type == 0x21 && request == 1 && value == 0 && length >= 5 && (op & 0x20)) {
                /* a DfuSe command with an address near the interesting edges */
                static const uint32_t addrs[] = {0x08000000u, 0x08003800u, 0x08003FFFu, 0x08004000u,
                                                 0x0807F800u, 0x08080000u, 0x080FF800u, 0x08100000u,
                                                 0x1FFF7000u, 0x1FFF7800u, 0x07FFF800u, 0xFFFFFFFFu};
                uint32_t a = addrs[buf[1] % (sizeof addrs / sizeof addrs[0])] + (buf[2] & 0x0F);
                buf[0] = buf[0] & 1 ? 0x41 : 0x21;
                memcpy(&buf[1], &a, 4);
            }
            host_out(type, request, value, index, buf, length);
            break;
        }
        case 2: { /* an IN request */
            uint8_t type = op & 0x40 ? 0xA1 : 0x80;
            uint8_t request = take8(&s) % 8;
            uint16_t value = take16(&s);
            uint16_t index = take8(&s) % 4;
            uint16_t length = take16(&s) % (sizeof buf + 1);
            size_t got = 0;
            bool zlp = false;
            host_in(type, request, value, index, length, buf, &got, &zlp);
            if (got > length)
                abort();
            break;
        }
        case 3: /* let the flash work finish */
            fake_run_flash(dfu_poll);
            break;
        case 4: /* one main-loop pass */
            dfu_poll();
            break;
        case 5: /* bus reset and enumeration, as a host after a replug */
            host_enumerate();
            break;
        }
        check_promises();
    }
    fake_run_flash(dfu_poll);
    check_promises();
    return 0;
}
