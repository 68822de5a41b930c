#include "dfu.h"

#include <string.h>

#include "image.h"
#include "target.h"

enum { PERM_READ = 1, PERM_ERASE = 2, PERM_WRITE = 4 }; /* dfu-util: type letter = 0x60 | perm */
enum { STR_MANUFACTURER = 1, STR_PRODUCT, STR_SERIAL, STR_ALT0 };

#define OPTION_BYTES_BASE 0x1FFF7800u
#define OPTION_BYTES_SIZE 40u
#define OTP_BASE 0x1FFF7000u
#define OTP_SIZE 1024u
#define MAX_FLASH_SEGMENTS 3u

struct segment {
    uint32_t start;
    uint32_t page_size;
    uint16_t pages;
    uint8_t perm;
};

enum job_kind { JOB_FAIL, JOB_SET_ADDRESS, JOB_ERASE, JOB_PROGRAM, JOB_UNPROTECT };
enum job_phase { PHASE_NONE, PHASE_QUEUED, PHASE_RUNNING, PHASE_DONE };

/* Option bytes are read-only here: only Read Unprotect changes them. OTP can be
 * programmed but never erased. */
static const struct segment option_bytes = {OPTION_BYTES_BASE, OPTION_BYTES_SIZE, 1, PERM_READ};
static const struct segment otp = {OTP_BASE, OTP_SIZE, 1, PERM_READ | PERM_WRITE};
static const char *const alt_names[DFU_ALT_COUNT] = {"@Internal Flash  ", "@Option Bytes  ",
                                                     "@OTP Memory "};

static struct {
    uint8_t state;
    uint8_t status;
    uint8_t alt;
    bool leave_pending;
    bool op_in_flight; /* a flash operation runs */
    bool op_orphaned;  /* ... and belongs to an aborted job: drain it, count it nowhere */
    uint32_t pointer;  /* DfuSe address pointer */

    uint8_t job_kind;
    uint8_t job_phase;
    uint8_t job_result;
    uint8_t mass_bank;   /* erase: bank mass-erased after the pages, 0 = none */
    uint16_t pages_left; /* erase: pages still to erase, ending at job_end */
    uint16_t dwords_left;
    uint16_t block_len;
    uint32_t block_addr;
    uint32_t job_next; /* program: next double word to look at; set address: the pointer */
    uint32_t job_end;

    struct segment flash[MAX_FLASH_SEGMENTS];
    uint8_t flash_segments;
    uint32_t page_size;
    void (*leave)(void);
    uint8_t reply[6];
    char serial[13];
    char text[64];
    uint8_t buf[DFU_TRANSFER_SIZE];
} dfu;

const uint8_t dfu_device_descriptor[18] = {
    18, 1, 0x00, 0x02, /* USB 2.0 */
    0, 0, 0, USBD_EP0_SIZE,
    L4DFU_USB_VID & 0xFF, L4DFU_USB_VID >> 8, L4DFU_USB_PID & 0xFF, L4DFU_USB_PID >> 8,
    L4DFU_USB_BCD_DEVICE & 0xFF, L4DFU_USB_BCD_DEVICE >> 8,
    STR_MANUFACTURER, STR_PRODUCT, STR_SERIAL, 1,
};

#define DFU_INTERFACE(alt) 9, 4, 0, (alt), 0, 0xFE, 0x01, 0x02, STR_ALT0 + (alt)
const uint8_t dfu_config_descriptor[9 + 9 * DFU_ALT_COUNT + 9] = {
    9, 2, sizeof dfu_config_descriptor, 0, 1, 1, 0, 0x80, 50, /* bus powered, 100 mA */
    DFU_INTERFACE(0), DFU_INTERFACE(1), DFU_INTERFACE(2),
    9, 0x21, DFU_ATTR_CAN_DNLOAD | DFU_ATTR_CAN_UPLOAD | DFU_ATTR_MANIFESTATION_TOLERANT,
    255, 0, /* wDetachTimeOut */
    DFU_TRANSFER_SIZE & 0xFF, DFU_TRANSFER_SIZE >> 8, 0x1A, 0x01,
};

enum dfu_state dfu_state(void)
{
    return (enum dfu_state)dfu.state;
}

enum dfu_status dfu_status(void)
{
    return (enum dfu_status)dfu.status;
}

static uint32_t segment_end(const struct segment *s)
{
    return s->start + s->page_size * s->pages;
}

static const struct segment *alt_segments(uint8_t alt, uint8_t *count)
{
    *count = 1;
    if (alt == 1)
        return &option_bytes;
    if (alt == 2)
        return &otp;
    *count = dfu.flash_segments;
    return dfu.flash;
}

/* Bytes from addr on (at most len) that lie in consecutive segments of the current alt
 * allowing `perm`. Where it stops short, *status says why: errADDRESS outside every
 * segment, errTARGET in a segment without the permission. */
static uint32_t usable_bytes(uint32_t addr, uint32_t len, uint8_t perm, uint8_t *status)
{
    uint8_t count;
    const struct segment *segs = alt_segments(dfu.alt, &count);
    uint32_t done = 0;
    while (done < len) {
        const struct segment *s = NULL;
        uint32_t at = addr + done;
        for (uint8_t i = 0; i < count; i++)
            if (at - segs[i].start < segment_end(&segs[i]) - segs[i].start)
                s = &segs[i];
        if (s == NULL || (s->perm & perm) != perm) {
            *status = s == NULL ? DFU_ERR_ADDRESS : DFU_ERR_TARGET;
            break;
        }
        uint32_t room = segment_end(s) - at;
        done = len - done <= room ? len : done + room;
    }
    return done;
}

/* ---- layout strings (dfu-util reads them with %d, so zero padding is harmless) ---- */

static char *put_decimal(char *p, uint32_t v, unsigned min_digits)
{
    char digits[10];
    unsigned n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0 || n < min_digits);
    while (n != 0)
        *p++ = digits[--n];
    return p;
}

const char *dfu_layout_string(uint8_t alt)
{
    static const char hex[] = "0123456789ABCDEF";
    uint8_t count;
    const struct segment *segs = alt_segments(alt, &count);
    char *p = dfu.text;
    for (const char *n = alt_names[alt]; *n != '\0'; n++)
        *p++ = *n;
    *p++ = '/';
    *p++ = '0';
    *p++ = 'x';
    for (int shift = 28; shift >= 0; shift -= 4)
        *p++ = hex[(segs[0].start >> shift) & 0xFu];
    *p++ = '/';
    for (uint8_t i = 0; i < count; i++) {
        uint32_t size = segs[i].page_size;
        bool kilo = size % 1024u == 0;
        if (i != 0)
            *p++ = ',';
        p = put_decimal(p, segs[i].pages, 2);
        *p++ = '*';
        p = put_decimal(p, kilo ? size / 1024u : size, 3);
        *p++ = kilo ? 'K' : 'B';
        *p++ = (char)(0x60 | segs[i].perm);
    }
    *p = '\0';
    return dfu.text;
}

static const char *dfu_string(uint8_t index)
{
    switch (index) {
    case STR_MANUFACTURER:
        return "l4dfu";
    case STR_PRODUCT:
        return "l4dfu bootloader";
    case STR_SERIAL:
        return dfu.serial;
    default: {
        uint8_t alt = (uint8_t)(index - STR_ALT0);
        return alt < DFU_ALT_COUNT ? dfu_layout_string(alt) : NULL;
    }
    }
}

/* ---- flash work ---- */

static void cancel_job(void)
{
    dfu.job_phase = PHASE_NONE;
    dfu.op_orphaned = dfu.op_in_flight;
}

static void finish_job(uint8_t result)
{
    dfu.job_phase = PHASE_DONE;
    dfu.job_result = result;
    if (dfu.state == DFU_STATE_DNBUSY)
        dfu.state = DFU_STATE_DNLOAD_SYNC; /* the spec's DNBUSY -> DNLOAD-SYNC */
}

static uint8_t expected_byte(uint32_t addr)
{
    uint32_t i = addr - dfu.block_addr;
    return i < dfu.block_len ? dfu.buf[i] : 0xFF;
}

/* The double word at addr as it must read after the block is written (0xFF pads).
 * True if it is all 0xFF. Called once per double word while the flash works, so the
 * common case (wholly inside the block) is a plain copy. */
static bool expected_dword(uint32_t addr, uint32_t word[2])
{
    uint32_t i = addr - dfu.block_addr;
    if (i < dfu.block_len && dfu.block_len - i >= 8) {
        memcpy(word, &dfu.buf[i], 8);
    } else {
        uint8_t *bytes = (uint8_t *)word;
        for (unsigned b = 0; b < 8; b++)
            bytes[b] = expected_byte(addr + b);
    }
    return (word[0] & word[1]) == 0xFFFFFFFFu;
}

static uint8_t verify_block(void)
{
    for (uint32_t a = dfu.block_addr & ~7u; a < dfu.job_end; a += 8) {
        uint32_t want[2], got[2];
        expected_dword(a, want);
        target_memory_read(a, got, sizeof got);
        if (got[0] != want[0] || got[1] != want[1])
            return DFU_ERR_VERIFY;
    }
    return DFU_OK;
}

static bool in_bootloader(uint32_t addr)
{
    return addr - L4DFU_FLASH_BASE < L4DFU_BOOTLOADER_SIZE;
}

static uint8_t erase_error(enum target_flash_status s)
{
    return s == TARGET_FLASH_ERR_ADDRESS ? DFU_ERR_ADDRESS : DFU_ERR_ERASE;
}

static uint8_t program_error(enum target_flash_status s)
{
    if (s == TARGET_FLASH_ERR_ADDRESS)
        return DFU_ERR_ADDRESS;
    return s == TARGET_FLASH_ERR_WRITE_PROTECTED ? DFU_ERR_WRITE : DFU_ERR_PROG;
}

/* Starts the next flash operation of the running job, or finishes the job. */
static void start_next_op(void)
{
    enum target_flash_status s;
    if (dfu.job_kind == JOB_ERASE) {
        uint32_t page = dfu.job_end - dfu.pages_left * dfu.page_size;
        if (dfu.pages_left != 0 && in_bootloader(page)) {
            finish_job(DFU_ERR_TARGET);
            return;
        }
        if (dfu.pages_left != 0)
            s = target_flash_erase_page_start(page);
        else if (dfu.mass_bank != 0)
            s = target_flash_mass_erase_start(dfu.mass_bank);
        else {
            finish_job(DFU_OK);
            return;
        }
        if (s != TARGET_FLASH_OK && s != TARGET_FLASH_BUSY) {
            finish_job(erase_error(s));
            return;
        }
    } else {
        uint32_t word[2];
        uint32_t a = dfu.job_next;
        while (a < dfu.job_end && expected_dword(a, word))
            a += 8; /* erased flash already reads 0xFF; the verify checks it does */
        if (a >= dfu.job_end) {
            finish_job(verify_block());
            return;
        }
        if (in_bootloader(a)) {
            finish_job(DFU_ERR_TARGET);
            return;
        }
        dfu.job_next = a + 8;
        s = target_flash_program_start(a, word[0], word[1]);
        if (s != TARGET_FLASH_OK && s != TARGET_FLASH_BUSY) {
            finish_job(program_error(s));
            return;
        }
    }
    dfu.op_in_flight = true;
}

static void advance_job(void)
{
    if (dfu.op_in_flight) {
        enum target_flash_status s = target_flash_poll();
        if (s == TARGET_FLASH_BUSY)
            return;
        dfu.op_in_flight = false;
        if (dfu.op_orphaned) {
            dfu.op_orphaned = false;
        } else if (s != TARGET_FLASH_OK) {
            finish_job(dfu.job_kind == JOB_ERASE ? erase_error(s) : program_error(s));
            return;
        } else if (dfu.job_kind == JOB_PROGRAM) {
            dfu.dwords_left--;
        } else if (dfu.pages_left != 0) {
            dfu.pages_left--; /* pages go first, the bank mass erase last */
        } else {
            dfu.mass_bank = 0;
        }
    }
    if (dfu.job_phase == PHASE_RUNNING)
        start_next_op();
}

static void start_job(void)
{
    dfu.job_phase = PHASE_RUNNING;
    switch (dfu.job_kind) {
    case JOB_SET_ADDRESS:
        dfu.pointer = dfu.job_next;
        finish_job(DFU_OK);
        break;
    case JOB_UNPROTECT:
        /* Returns only when there was nothing to do or the option bytes refused. */
        finish_job(target_flash_read_unprotect() == TARGET_FLASH_OK ? DFU_OK : DFU_ERR_VENDOR);
        break;
    case JOB_ERASE:
    case JOB_PROGRAM:
        advance_job();
        break;
    default:
        finish_job(dfu.job_result);
        break;
    }
}

/* Time the queued or running job still needs, from the datasheet's typical figures. */
static uint32_t job_time_ms(void)
{
    uint32_t us = 0;
    if (dfu.job_kind == JOB_ERASE)
        us = dfu.pages_left * TARGET_FLASH_PAGE_ERASE_US +
             (dfu.mass_bank != 0 ? TARGET_FLASH_MASS_ERASE_US : 0);
    else if (dfu.job_kind == JOB_PROGRAM)
        us = dfu.dwords_left * TARGET_FLASH_PROGRAM_DW_US;
    else if (dfu.job_kind == JOB_UNPROTECT)
        us = 2 * TARGET_FLASH_MASS_ERASE_US; /* the 1 -> 0 regression erases both banks */
    return (us + 999u) / 1000u;
}

static void queue_erase(uint32_t first_page, uint32_t end, uint8_t mass_bank)
{
    dfu.job_kind = JOB_ERASE;
    dfu.job_end = end;
    dfu.pages_left = (uint16_t)((end - first_page) / dfu.page_size);
    dfu.mass_bank = mass_bank;
}

/* The application area: bank 1 after the bootloader page by page, and bank 2 (which
 * holds no bootloader) by bank mass erase. */
static void queue_mass_erase(void)
{
    uint32_t bank = target_flash_bank_size();
    bool dual = bank < target_flash_size();
    queue_erase(L4DFU_SLOT_A_BASE, target_flash_base() + bank, dual ? 2 : 0);
}

/* A DNLOAD data stage arrived: decide the work; its errors are reported by GETSTATUS,
 * as DfuSe hosts expect. false = a malformed request (STALL). */
static bool queue_dnload(uint16_t block, uint16_t len)
{
    uint8_t status = DFU_OK;
    dfu.job_kind = JOB_FAIL;
    dfu.job_result = DFU_OK;
    if (block == 0) {
        uint8_t cmd = dfu.buf[0];
        uint32_t addr;
        memcpy(&addr, &dfu.buf[1], sizeof addr); /* little endian, like the wire */
        if (len == 1 && cmd == DFUSE_CMD_ERASE) {
            if (dfu.alt != 0)
                dfu.job_result = DFU_ERR_TARGET;
            else
                queue_mass_erase();
        } else if (len == 1 && cmd == DFUSE_CMD_READ_UNPROTECT) {
            dfu.job_kind = JOB_UNPROTECT;
        } else if (len == 5 && cmd == DFUSE_CMD_SET_ADDRESS) {
            if (usable_bytes(addr, 1, 0, &status) == 1) {
                dfu.job_kind = JOB_SET_ADDRESS;
                dfu.job_next = addr;
            }
        } else if (len == 5 && cmd == DFUSE_CMD_ERASE) {
            if (usable_bytes(addr, 1, PERM_ERASE, &status) == 1) {
                uint32_t page = addr & ~(dfu.page_size - 1);
                queue_erase(page, page + dfu.page_size, 0);
            }
        } else {
            return false;
        }
    } else if (block == 1) {
        return false; /* unused in DfuSe */
    } else {
        uint32_t addr = dfu.pointer + (uint32_t)(block - 2) * DFU_TRANSFER_SIZE;
        if (usable_bytes(addr, len, PERM_WRITE, &status) == len) {
            dfu.job_kind = JOB_PROGRAM;
            dfu.block_addr = addr;
            dfu.block_len = len;
            dfu.job_next = addr & ~7u;
            dfu.job_end = (addr + len + 7u) & ~7u;
            dfu.dwords_left = 0;
            uint32_t word[2];
            for (uint32_t a = dfu.job_next; a < dfu.job_end; a += 8)
                dfu.dwords_left += !expected_dword(a, word);
        }
    }
    if (status != DFU_OK)
        dfu.job_result = status;
    dfu.job_phase = PHASE_QUEUED;
    dfu.state = DFU_STATE_DNLOAD_SYNC;
    return true;
}

/* ---- requests ---- */

static bool refuse(void)
{
    if (dfu.state != DFU_STATE_ERROR && dfu.state != DFU_STATE_MANIFEST_WAIT_RESET) {
        dfu.state = DFU_STATE_ERROR;
        dfu.status = DFU_ERR_STALLEDPKT;
    }
    cancel_job();
    return false;
}

static bool fail(uint8_t status)
{
    dfu.state = DFU_STATE_ERROR;
    dfu.status = status;
    return false;
}

static bool upload(const struct usbd_setup *r, uint8_t **data, uint16_t *len)
{
    uint16_t n;
    if (r->wValue == 0) {
        static const uint8_t commands[] = {DFUSE_CMD_GET_COMMANDS, DFUSE_CMD_SET_ADDRESS,
                                           DFUSE_CMD_ERASE, DFUSE_CMD_READ_UNPROTECT};
        *data = (uint8_t *)commands;
        n = sizeof commands;
    } else if (r->wValue == 1) {
        return refuse();
    } else {
        /* Under readout protection the bootloader must not hand the flash out. */
        if (target_flash_rdp_level() != 0)
            return fail(DFU_ERR_VENDOR);
        uint32_t addr = dfu.pointer + (uint32_t)(r->wValue - 2) * DFU_TRANSFER_SIZE;
        uint8_t status = DFU_OK;
        n = (uint16_t)usable_bytes(addr, r->wLength < DFU_TRANSFER_SIZE ? r->wLength
                                                                        : DFU_TRANSFER_SIZE,
                                   PERM_READ, &status);
        if (n == 0 && r->wLength != 0)
            return fail(status);
        target_memory_read(addr, dfu.buf, n);
        *data = dfu.buf;
    }
    if (n > r->wLength)
        n = r->wLength;
    *len = n;
    /* A short frame ends the upload. */
    dfu.state = n < r->wLength ? DFU_STATE_IDLE : DFU_STATE_UPLOAD_IDLE;
    return true;
}

static void get_status(void)
{
    uint32_t poll_ms = 0;
    if (dfu.state == DFU_STATE_DNLOAD_SYNC || dfu.state == DFU_STATE_DNBUSY) {
        if (dfu.job_phase == PHASE_DONE) {
            cancel_job();
            if (dfu.job_result == DFU_OK) {
                dfu.state = DFU_STATE_DNLOAD_IDLE;
            } else {
                dfu.state = DFU_STATE_ERROR;
                dfu.status = dfu.job_result;
            }
        } else {
            /* Queued work starts once this reply is delivered (see DONE below). */
            dfu.state = DFU_STATE_DNBUSY;
            poll_ms = job_time_ms();
        }
    } else if (dfu.state == DFU_STATE_MANIFEST_SYNC) {
        dfu.state = DFU_STATE_MANIFEST;
    }
    dfu.reply[0] = dfu.status;
    dfu.reply[1] = (uint8_t)poll_ms;
    dfu.reply[2] = (uint8_t)(poll_ms >> 8);
    dfu.reply[3] = (uint8_t)(poll_ms >> 16);
    dfu.reply[4] = dfu.state;
    dfu.reply[5] = 0;
}

#define IN_STATE(s) (1u << DFU_STATE_##s)
/* Where each request is valid (DFU 1.1 state table; GETSTATUS in dfuDNBUSY is the poll
 * that arrives once bwPollTimeout has passed). */
static const uint16_t valid_in[DFU_ABORT + 1] = {
    [DFU_DETACH] = 0,
    [DFU_DNLOAD] = IN_STATE(IDLE) | IN_STATE(DNLOAD_IDLE),
    [DFU_UPLOAD] = IN_STATE(IDLE) | IN_STATE(UPLOAD_IDLE),
    [DFU_GETSTATUS] = 0x7FFu & ~IN_STATE(MANIFEST_WAIT_RESET),
    [DFU_CLRSTATUS] = IN_STATE(ERROR),
    [DFU_GETSTATE] = 0x7FFu & ~(IN_STATE(DNBUSY) | IN_STATE(MANIFEST_WAIT_RESET)),
    [DFU_ABORT] = IN_STATE(IDLE) | IN_STATE(DNLOAD_IDLE) | IN_STATE(UPLOAD_IDLE),
};

static bool dfu_setup(const struct usbd_setup *r, uint8_t **data, uint16_t *len)
{
    static const uint8_t in_requests = 1u << DFU_UPLOAD | 1u << DFU_GETSTATUS | 1u << DFU_GETSTATE;
    uint8_t req = r->bRequest;
    if (req > DFU_ABORT || ((valid_in[req] >> dfu.state) & 1u) == 0 ||
        ((r->bmRequestType & USBD_DIR_IN) != 0) != ((in_requests >> req) & 1u))
        return refuse();

    switch (req) {
    case DFU_DNLOAD:
        if (r->wLength > DFU_TRANSFER_SIZE)
            return refuse();
        if (r->wLength == 0) {
            /* DfuSe "leave", accepted in dfuIDLE too: dfu-util sends it there after a
             * .dfu download (ABORT, then the zero-length DNLOAD). */
            dfu.state = DFU_STATE_MANIFEST_SYNC;
            return true;
        }
        *data = dfu.buf;
        return true;
    case DFU_UPLOAD:
        return upload(r, data, len);
    case DFU_GETSTATUS:
        get_status();
        *len = 6;
        break;
    case DFU_GETSTATE:
        dfu.reply[0] = dfu.state;
        *len = 1;
        break;
    default: /* CLRSTATUS, ABORT */
        dfu.state = DFU_STATE_IDLE;
        dfu.status = DFU_OK;
        return true;
    }
    *data = dfu.reply;
    return true;
}

static bool dfu_control(const struct usbd_setup *r, enum usbd_stage stage, uint8_t **data,
                        uint16_t *len)
{
    switch (stage) {
    case USBD_STAGE_SETUP:
        return dfu_setup(r, data, len);
    case USBD_STAGE_DATA:
        return queue_dnload(r->wValue, *len) || refuse();
    default:
        if (r->bRequest == DFU_GETSTATUS && dfu.state == DFU_STATE_DNBUSY &&
            dfu.job_phase == PHASE_QUEUED)
            start_job();
        else if (r->bRequest == DFU_GETSTATUS && dfu.state == DFU_STATE_MANIFEST)
            dfu.leave_pending = true;
        return true;
    }
}

static bool dfu_set_alt(uint8_t iface, uint8_t alt)
{
    (void)iface;
    if (alt >= DFU_ALT_COUNT)
        return false;
    dfu.alt = alt;
    return true;
}

static void dfu_bus_reset(void)
{
    dfu.state = DFU_STATE_IDLE;
    dfu.status = DFU_OK;
    dfu.alt = 0;
    dfu.leave_pending = false;
    cancel_job();
}

static const struct usbd_class dfu_class = {dfu_control, dfu_set_alt, dfu_bus_reset};
static const struct usbd_class *const dfu_interfaces[] = {&dfu_class};

const struct usbd_device dfu_usb_device = {
    .device_descriptor = dfu_device_descriptor,
    .config_descriptor = dfu_config_descriptor,
    .string = dfu_string,
    .interfaces = dfu_interfaces,
    .interface_count = 1,
};

void dfu_init(void (*leave)(void))
{
    uint32_t base = target_flash_base();
    uint32_t size = target_flash_size();
    uint32_t bank = target_flash_bank_size();
    uint32_t page = target_flash_page_size();
    uint16_t boot_pages = (uint16_t)(L4DFU_BOOTLOADER_SIZE / page);
    dfu.page_size = page;
    dfu.leave = leave;
    dfu.pointer = base;
    dfu.flash[0] = (struct segment){base, page, boot_pages, PERM_READ};
    dfu.flash[1] = (struct segment){L4DFU_SLOT_A_BASE, page, (uint16_t)(bank / page - boot_pages),
                                    PERM_READ | PERM_ERASE | PERM_WRITE};
    dfu.flash[2] = (struct segment){base + bank, page, (uint16_t)((size - bank) / page),
                                    PERM_READ | PERM_ERASE | PERM_WRITE};
    dfu.flash_segments = bank < size ? 3 : 2;
    target_serial_number(dfu.serial);
    dfu_bus_reset();
}

void dfu_poll(void)
{
    if (dfu.leave_pending) {
        dfu.leave_pending = false;
        dfu.leave();
        dfu.state = DFU_STATE_IDLE; /* manifestation-tolerant, if leave() came back */
    }
    advance_job();
}
