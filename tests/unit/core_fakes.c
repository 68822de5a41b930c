#include "core_fakes.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "usbd_port.h"

struct fake_chip chip;
struct fake_port port;
static bool op_active;

void fake_chip_reset(uint32_t flash_size)
{
    memset(&chip, 0, sizeof chip);
    chip.flash_size = flash_size;
    memset(chip.flash, 0xFF, sizeof chip.flash);
    memset(chip.otp, 0xFF, sizeof chip.otp);
    for (unsigned i = 0; i < FAKE_OPTION_SIZE; i++)
        chip.option_bytes[i] = (uint8_t)(0xA0 + i);
    op_active = false;
}

uint8_t *fake_memory(uint32_t addr)
{
    if (addr - FAKE_FLASH_BASE < chip.flash_size)
        return &chip.flash[addr - FAKE_FLASH_BASE];
    if (addr - FAKE_OPTION_BASE < FAKE_OPTION_SIZE)
        return &chip.option_bytes[addr - FAKE_OPTION_BASE];
    if (addr - FAKE_OTP_BASE < FAKE_OTP_SIZE)
        return &chip.otp[addr - FAKE_OTP_BASE];
    return NULL;
}

void fake_run_flash(void (*poll)(void))
{
    for (int i = 0; i < 10000000; i++) {
        poll();
        if (!op_active)
            return;
    }
}

uint32_t target_flash_base(void) { return FAKE_FLASH_BASE; }
uint32_t target_flash_size(void) { return chip.flash_size; }
uint32_t target_flash_page_size(void) { return FAKE_PAGE_SIZE; }
uint32_t target_flash_bank_size(void) { return chip.flash_size / 2; }
void target_init(void) {}
uint32_t target_millis(void) { return 0; }
bool target_button_pressed(void) { return chip.button; }
bool target_reset_was_power_on(void) { return chip.power_on; }
uint32_t target_handshake_read(void) { return chip.handshake; }
void target_handshake_write(uint32_t value) { chip.handshake = value; }
uint32_t target_bootcount_read(void) { return chip.bootcount; }
void target_bootcount_write(uint32_t value) { chip.bootcount = value; }

void target_reset(void)
{
    chip.resets++;
    if (chip.reset_jump == NULL)
        abort();
    longjmp(*chip.reset_jump, 1);
}

void target_start_image(uint32_t vectors)
{
    chip.started_image = vectors;
    if (chip.reset_jump == NULL)
        abort();
    longjmp(*chip.reset_jump, 2);
}

uint32_t target_crc32(const void *data, size_t len)
{
    return (uint32_t)crc32(0, data, (uInt)len);
}

uint32_t target_crc32_update(uint32_t crc, const void *data, size_t len)
{
    return (uint32_t)crc32(crc, data, (uInt)len);
}

void target_memory_read(uint32_t addr, void *dst, size_t len)
{
    uint8_t *out = dst;
    for (size_t i = 0; i < len; i++) {
        const uint8_t *m = fake_memory(addr + (uint32_t)i);
        out[i] = m != NULL ? *m : 0xEE; /* a bus fault on the chip; visible garbage here */
    }
}

void target_serial_number(char out[13])
{
    memcpy(out, "205C32845242", 13);
}

static bool write_protected(uint32_t start, uint32_t end)
{
    return start < chip.wrp_end && chip.wrp_start < end;
}

/* Every start: refuse a second operation, apply an injected failure, or do the work
 * now and report it over the next few polls as the chip's BSY would. */
static enum target_flash_status begin(enum target_flash_status result)
{
    op_active = true;
    chip.busy_polls = FAKE_POLLS_PER_OP;
    chip.pending = result;
    return TARGET_FLASH_BUSY;
}

static bool refuse_start(enum target_flash_status *result)
{
    if (op_active) {
        chip.op_started_while_busy++;
        *result = TARGET_FLASH_ERR_OTHER;
        return true;
    }
    if (chip.inject != TARGET_FLASH_OK) {
        *result = begin(chip.inject);
        chip.inject = TARGET_FLASH_OK;
        return true;
    }
    return false;
}

enum target_flash_status target_flash_erase_page_start(uint32_t addr)
{
    enum target_flash_status r;
    if (refuse_start(&r))
        return r;
    if (addr - FAKE_FLASH_BASE >= chip.flash_size)
        return begin(TARGET_FLASH_ERR_ADDRESS);
    uint32_t page = (addr - FAKE_FLASH_BASE) / FAKE_PAGE_SIZE;
    uint32_t start = FAKE_FLASH_BASE + page * FAKE_PAGE_SIZE;
    if (write_protected(start, start + FAKE_PAGE_SIZE))
        return begin(TARGET_FLASH_ERR_WRITE_PROTECTED);
    memset(&chip.flash[page * FAKE_PAGE_SIZE], 0xFF, FAKE_PAGE_SIZE);
    chip.page_erases[page]++;
    return begin(TARGET_FLASH_OK);
}

enum target_flash_status target_flash_mass_erase_start(unsigned bank)
{
    enum target_flash_status r;
    if (refuse_start(&r))
        return r;
    uint32_t bank_size = chip.flash_size / 2;
    if (bank < 1 || bank > 2)
        return begin(TARGET_FLASH_ERR_ADDRESS);
    uint32_t start = FAKE_FLASH_BASE + (bank - 1) * bank_size;
    if (write_protected(start, start + bank_size))
        return begin(TARGET_FLASH_ERR_WRITE_PROTECTED);
    memset(&chip.flash[(bank - 1) * bank_size], 0xFF, bank_size);
    chip.mass_erases[bank]++;
    return begin(TARGET_FLASH_OK);
}

enum target_flash_status target_flash_program_start(uint32_t addr, uint32_t lo, uint32_t hi)
{
    enum target_flash_status r;
    if (refuse_start(&r))
        return r;
    if (addr % 8 != 0)
        return begin(TARGET_FLASH_ERR_ALIGNMENT);
    uint8_t *m = fake_memory(addr);
    if (m == NULL || fake_memory(addr + 7) != m + 7 || addr - FAKE_OPTION_BASE < FAKE_OPTION_SIZE)
        return begin(TARGET_FLASH_ERR_ADDRESS);
    if (write_protected(addr, addr + 8))
        return begin(TARGET_FLASH_ERR_WRITE_PROTECTED);
    /* PROGERR unless the double word is erased; zeros may go over anything. */
    bool erased = true;
    for (int i = 0; i < 8; i++)
        erased &= m[i] == 0xFF;
    if (!erased && (lo | hi) != 0)
        return begin(TARGET_FLASH_ERR_NOT_ERASED);
    for (int i = 0; i < 4; i++) {
        m[i] = (uint8_t)(lo >> (8 * i));
        m[4 + i] = (uint8_t)(hi >> (8 * i));
    }
    chip.programs++;
    return begin(TARGET_FLASH_OK);
}

enum target_flash_status target_flash_poll(void)
{
    if (!op_active)
        return TARGET_FLASH_OK;
    if (chip.busy_polls > 0) {
        chip.busy_polls--;
        return TARGET_FLASH_BUSY;
    }
    op_active = false;
    return chip.pending;
}

void target_flash_lock(void) {}

unsigned target_flash_rdp_level(void)
{
    return chip.rdp_level;
}

enum target_flash_status target_flash_read_unprotect(void)
{
    chip.unprotect_calls++;
    if (chip.unprotect_result == TARGET_FLASH_OK && chip.rdp_level == 1) {
        /* what the chip does: mass erase everything, RDP 0, reset */
        memset(chip.flash, 0xFF, sizeof chip.flash);
        chip.rdp_level = 0;
        target_reset();
    }
    return chip.unprotect_result;
}

/* ---- port ---- */

void usbd_port_init(void)
{
    void (*hook)(void) = port.poll_hook;
    memset(&port, 0, sizeof port);
    port.poll_hook = hook;
    port.initialised = true;
}
void usbd_port_connect(bool on) { port.connected = on; }
void usbd_port_deinit(void) { port.initialised = false; port.connected = false; }
void usbd_port_poll(void)
{
    if (port.poll_hook != NULL)
        port.poll_hook();
}
void usbd_port_set_address(uint8_t addr) { port.address = addr; }
void usbd_port_ep_open(uint8_t ep, enum usbd_ep_type type, uint16_t max_packet)
{
    (void)ep;
    (void)type;
    (void)max_packet;
}

void usbd_port_ep_send(uint8_t ep, const void *data, size_t len)
{
    if (ep != 0x80)
        return;
    port.in_armed = true;
    port.in_data = data;
    port.in_len = len;
}

void usbd_port_ep_receive(uint8_t ep, void *buf, size_t len)
{
    if (ep != 0)
        return;
    port.out_armed = true;
    port.out_buf = buf;
    port.out_len = len;
}

void usbd_port_ep_stall(uint8_t ep, bool stall)
{
    port.stall_calls[(ep & 0x0F) + ((ep & 0x80) ? 16 : 0)]++;
    if (ep == 0x80)
        port.stalled_in = stall;
    else if (ep == 0x00)
        port.stalled_out = stall;
}

static void send_setup(uint8_t type, uint8_t request, uint16_t value, uint16_t index,
                       uint16_t length)
{
    const uint8_t setup[8] = {type, request, (uint8_t)value, (uint8_t)(value >> 8),
                              (uint8_t)index, (uint8_t)(index >> 8), (uint8_t)length,
                              (uint8_t)(length >> 8)};
    port.stalled_in = port.stalled_out = false; /* a SETUP clears an EP0 STALL */
    port.in_armed = port.out_armed = false;
    usbd_port_on_setup(setup);
}

enum host_result host_in(uint8_t type, uint8_t request, uint16_t value, uint16_t index,
                         uint16_t length, uint8_t *got, size_t *got_len, bool *zlp)
{
    send_setup(type, request, value, index, length);
    if (port.stalled_in)
        return HOST_STALL;
    if (!port.in_armed || port.in_len > length)
        return HOST_BAD_SEQUENCE;
    if (got != NULL && port.in_len != 0)
        memcpy(got, port.in_data, port.in_len);
    if (got_len != NULL)
        *got_len = port.in_len;
    port.in_armed = false;
    usbd_port_on_in_done(0x80);
    bool extra_zlp = false;
    if (port.in_armed) {
        if (port.in_len != 0)
            return HOST_BAD_SEQUENCE;
        extra_zlp = true;
        port.in_armed = false;
        usbd_port_on_in_done(0x80);
    }
    if (zlp != NULL)
        *zlp = extra_zlp;
    if (!port.out_armed || port.out_len != 0)
        return HOST_BAD_SEQUENCE;
    port.out_armed = false;
    usbd_port_on_out_done(0, 0);
    return HOST_OK;
}

enum host_result host_out(uint8_t type, uint8_t request, uint16_t value, uint16_t index,
                          const void *data, uint16_t length)
{
    send_setup(type, request, value, index, length);
    if (port.stalled_out || port.stalled_in)
        return HOST_STALL;
    if (length != 0) {
        if (!port.out_armed || port.out_len != length)
            return HOST_BAD_SEQUENCE;
        memcpy(port.out_buf, data, length);
        port.out_armed = false;
        usbd_port_on_out_done(0, length);
        if (port.stalled_out || port.stalled_in)
            return HOST_STALL;
    }
    if (!port.in_armed || port.in_len != 0)
        return HOST_BAD_SEQUENCE;
    port.in_armed = false;
    usbd_port_on_in_done(0x80);
    return HOST_OK;
}

void host_enumerate(void)
{
    usbd_port_on_bus_reset();
    host_out(0x00, 5, 7, 0, NULL, 0);
    host_out(0x00, 9, 1, 0, NULL, 0);
}
