#include "dfu.h"

#include "image.h"
#include "target.h"

enum { PERM_READ = 1, PERM_ERASE = 2, PERM_WRITE = 4 }; /* dfu-util: type letter = 0x60 | perm */
enum { STR_MANUFACTURER = 1, STR_PRODUCT, STR_SERIAL, STR_ALT0, STR_COUNT = STR_ALT0 + DFU_ALT_COUNT };

#define OPTION_BYTES_BASE 0x1FFF7800u
#define OPTION_BYTES_SIZE 40u
#define OTP_BASE 0x1FFF7000u
#define OTP_SIZE 1024u
#define PAGE_SIZE 2048u

enum job { JOB_NONE, JOB_ERASE, JOB_PROGRAM, JOB_UNPROTECT };

/* What one alternate setting reaches: [base, base + size) is readable; erase and
 * write (as perm allows) only from base + locked on. */
struct region {
    uint32_t base;
    uint32_t size;
    uint32_t locked;
    uint32_t perm;
};

/* Option bytes are read-only here (only Read Unprotect changes them); OTP can be
 * programmed but never erased. */
#if DFU_FULL
static const struct region fixed_regions[DFU_ALT_COUNT - 1] = {
    {OPTION_BYTES_BASE, OPTION_BYTES_SIZE, OPTION_BYTES_SIZE, PERM_READ},
    {OTP_BASE, OTP_SIZE, 0, PERM_READ | PERM_WRITE},
};
#endif

static struct {
    uint8_t state;
    uint8_t status;
    uint8_t alt;
    uint8_t job;
    uint8_t result;      /* the outcome of the last block or command, once job is NONE */
    bool busy_first;     /* the first GETSTATUS after a block says dfuDNBUSY (dfu-util
                          * requires it after a command) */
    bool in_flight;      /* a flash operation runs */
    bool leave_pending;
    uint8_t mass_bank;   /* erase: bank mass-erased after the pages, 0 = none */
    uint32_t pointer;    /* DfuSe address pointer */
    uint32_t next;       /* erase: the page in work; program: the double word in work */
    uint32_t end;
    uint32_t start;      /* program: the block's first double word (blk[0]) */
    uint32_t flash_size;
    void (*leave)(void);
    uint32_t reply[2]; /* GETSTATUS: bStatus, bwPollTimeout (LE24), bState, iString */
    char serial[13];
    /* One block as it must read in flash, double-word aligned: the data sits at its
     * address's offset in the first double word, 0xFF around it. Uploads use it too. */
    uint32_t blk[(DFU_TRANSFER_SIZE + 8) / 4];
} dfu;

/* The alt 0 layout for 1 MB; dfu_init rewrites the two page counts for the part's size. */
#define FLASH_LAYOUT_HEAD "@Internal Flash  /0x08000000/08*002Ka,"
#define FLASH_LAYOUT_PAGES(n) #n "*002Kg,"
static char flash_layout[] = FLASH_LAYOUT_HEAD "248*002Kg,256*002Kg";
/* The mass erase takes bank 2 whole: the bootloader must lie in bank 1 even on the
 * smallest (256 KB) part. */
_Static_assert(L4DFU_BOOTLOADER_SIZE <= 128u * 1024u, "the bootloader fits in bank 1");
_Static_assert(L4DFU_FLASH_BASE == 0x08000000u && L4DFU_BOOTLOADER_SIZE == 8 * PAGE_SIZE,
               "the layout string names the bootloader's address and pages");

static const char *const strings[STR_COUNT - 1] = {
    "l4dfu",
    "l4dfu bootloader",
    dfu.serial,
    flash_layout,
#if DFU_FULL
    "@Option Bytes  /0x1FFF7800/01*040Ba",
    "@OTP Memory /0x1FFF7000/01*001Ke",
#endif
};

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
    DFU_INTERFACE(0),
#if DFU_FULL
    DFU_INTERFACE(1), DFU_INTERFACE(2),
#endif
    9, 0x21,
    DFU_ATTR_CAN_DNLOAD | (DFU_FULL ? DFU_ATTR_CAN_UPLOAD : 0) | DFU_ATTR_MANIFESTATION_TOLERANT,
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

const char *dfu_layout_string(uint8_t alt)
{
    return strings[STR_ALT0 - 1 + alt];
}

static const char *dfu_string(uint8_t index)
{
    return (uint8_t)(index - 1) < STR_COUNT - 1 ? strings[index - 1] : NULL;
}

/* Bytes from addr on (at most len) in the current alt's memory that allow `perm`.
 * Where it stops short, *status says why: errADDRESS outside the memory, errTARGET
 * where the permission is missing (the bootloader's pages are never changed). */
static uint32_t usable_bytes(uint32_t addr, uint32_t len, uint32_t perm, uint8_t *status)
{
    struct region r = {L4DFU_FLASH_BASE, dfu.flash_size, L4DFU_BOOTLOADER_SIZE,
                       PERM_READ | PERM_ERASE | PERM_WRITE};
#if DFU_FULL
    if (dfu.alt != 0)
        r = fixed_regions[dfu.alt - 1];
#endif
    uint32_t offset = addr - r.base;
    if (offset >= r.size) {
        *status = DFU_ERR_ADDRESS;
        return 0;
    }
    if ((perm & ~r.perm) != 0 || (perm > PERM_READ && offset < r.locked)) {
        *status = DFU_ERR_TARGET;
        return 0;
    }
    if (len > r.size - offset) {
        *status = DFU_ERR_ADDRESS;
        return r.size - offset;
    }
    return len;
}

/* ---- flash work: one operation at a time, started from the USB callbacks and
 * dfu_poll, so EP0 is served between operations ---- */

static const uint32_t *block_dword(uint32_t addr)
{
    return &dfu.blk[(addr - dfu.start) / 4];
}

static bool dword_erased(uint32_t addr)
{
    const uint32_t *w = block_dword(addr);
    return (w[0] & w[1]) == 0xFFFFFFFFu;
}

static bool in_bootloader(uint32_t addr)
{
    return addr - L4DFU_FLASH_BASE < L4DFU_BOOTLOADER_SIZE;
}

static void finish_job(uint8_t result)
{
    dfu.job = JOB_NONE;
    dfu.result = result;
    if (dfu.state == DFU_STATE_DNBUSY)
        dfu.state = DFU_STATE_DNLOAD_SYNC; /* the spec's DNBUSY -> DNLOAD-SYNC */
}

static void fail_job(enum target_flash_status s)
{
    uint8_t erase = dfu.job == JOB_ERASE;
    if (s == TARGET_FLASH_ERR_ADDRESS)
        finish_job(DFU_ERR_ADDRESS);
    else if (s == TARGET_FLASH_ERR_WRITE_PROTECTED && !erase)
        finish_job(DFU_ERR_WRITE);
    else
        finish_job(erase ? DFU_ERR_ERASE : DFU_ERR_PROG);
}

/* Erased flash already reads 0xFF, so those double words are not programmed; the
 * read-back at the end checks that they do. */
static uint8_t verify_block(void)
{
    for (uint32_t a = dfu.start; a < dfu.end; a += 8) {
        uint32_t got[2];
        const uint32_t *want = block_dword(a);
        target_memory_read(a, got, sizeof got);
        if (got[0] != want[0] || got[1] != want[1])
            return DFU_ERR_VERIFY;
    }
    return DFU_OK;
}

/* Starts the operation at dfu.next, or finishes the job. */
static void start_next_op(void)
{
    enum target_flash_status s;
    if (dfu.job == JOB_PROGRAM) {
        while (dfu.next < dfu.end && dword_erased(dfu.next))
            dfu.next += 8;
        if (dfu.next >= dfu.end) {
            finish_job(verify_block());
            return;
        }
    } else if (dfu.next >= dfu.end && dfu.mass_bank == 0) {
        finish_job(DFU_OK);
        return;
    }
    /* Policy, whatever the chip layer would allow: the bootloader's pages are never
     * erased or written. */
    if (in_bootloader(dfu.next)) {
        finish_job(DFU_ERR_TARGET);
        return;
    }
    if (dfu.job == JOB_PROGRAM) {
        const uint32_t *w = block_dword(dfu.next);
        s = target_flash_program_start(dfu.next, w[0], w[1]);
    } else if (dfu.next < dfu.end) {
        s = target_flash_erase_page_start(dfu.next);
    } else {
        s = target_flash_mass_erase_start(dfu.mass_bank);
    }
    if (s != TARGET_FLASH_OK && s != TARGET_FLASH_BUSY)
        fail_job(s);
    else
        dfu.in_flight = true;
}

static void advance_job(void)
{
    if (dfu.in_flight) {
        enum target_flash_status s = target_flash_poll();
        if (s == TARGET_FLASH_BUSY)
            return;
        dfu.in_flight = false;
        if (dfu.job == JOB_NONE)
            return;
        if (s != TARGET_FLASH_OK) {
            fail_job(s);
            return;
        }
        if (dfu.job == JOB_PROGRAM)
            dfu.next += 8;
        else if (dfu.next < dfu.end)
            dfu.next += PAGE_SIZE; /* pages go first, the bank mass erase last */
        else
            dfu.mass_bank = 0;
    }
    if (dfu.job == JOB_ERASE || dfu.job == JOB_PROGRAM)
        start_next_op();
}

/* Drops the job; an operation already on the flash is waited for (at most a page
 * erase), so the next job starts on an idle controller. */
static void cancel_job(void)
{
    dfu.job = JOB_NONE;
    while (dfu.in_flight && target_flash_poll() == TARGET_FLASH_BUSY) {
    }
    dfu.in_flight = false;
}

/* Time the job still needs (the operation in flight included), from the figures in
 * target.h and the CPU's share per double word, rounded up to whole ms. */
static uint32_t job_time_ms(void)
{
    uint32_t us = 0;
    if (dfu.job == JOB_ERASE) {
        us = (dfu.end - dfu.next) / PAGE_SIZE * TARGET_FLASH_PAGE_ERASE_US;
        if (dfu.mass_bank != 0)
            us += TARGET_FLASH_MASS_ERASE_US;
    } else if (dfu.job == JOB_PROGRAM) {
        for (uint32_t a = dfu.next; a < dfu.end; a += 8)
            us += dword_erased(a) ? 0 : DFU_PROGRAM_DW_US;
    } else if (DFU_FULL && dfu.job == JOB_UNPROTECT) {
        us = 2 * TARGET_FLASH_MASS_ERASE_US; /* the 1 -> 0 regression erases both banks */
    }
    return (us + 999u) / 1000u;
}

static uint32_t block_address(uint16_t block)
{
    return dfu.pointer + (uint32_t)(block - 2) * DFU_TRANSFER_SIZE;
}

/* A DNLOAD data stage arrived: start its work at once (its errors are reported by
 * GETSTATUS, as DfuSe hosts expect). false = a malformed request (STALL). */
static bool start_dnload(uint16_t block, uint16_t len)
{
    const uint8_t *cmd = (const uint8_t *)dfu.blk;
    uint32_t addr = block_address(block);
    uint8_t status = DFU_OK;
    dfu.busy_first = true;
    if (block == 0) {
        uint32_t arg = (uint32_t)cmd[1] | (uint32_t)cmd[2] << 8 | (uint32_t)cmd[3] << 16 |
                       (uint32_t)cmd[4] << 24;
        uint32_t page = arg & ~(PAGE_SIZE - 1);
        uint16_t form = (uint16_t)(len << 8 | cmd[0]);
        if (form == (1 << 8 | DFUSE_CMD_ERASE)) {
            /* Mass erase: the application area, bank 1 after the bootloader page by
             * page and bank 2 (as the address map shows it) whole. Never the bank
             * that holds the bootloader. */
            if (dfu.alt != 0) {
                status = DFU_ERR_TARGET;
            } else {
                dfu.job = JOB_ERASE;
                dfu.next = L4DFU_SLOT_A_BASE;
                dfu.end = L4DFU_FLASH_BASE + dfu.flash_size / 2;
                dfu.mass_bank = 2;
            }
        } else if (DFU_FULL && form == (1 << 8 | DFUSE_CMD_READ_UNPROTECT)) {
            dfu.job = JOB_UNPROTECT; /* after the DNBUSY reply: it may reset the chip */
        } else if (form == (5 << 8 | DFUSE_CMD_SET_ADDRESS)) {
            if (usable_bytes(arg, 1, 0, &status) == 1)
                dfu.pointer = arg;
        } else if (form == (5 << 8 | DFUSE_CMD_ERASE)) {
            if (usable_bytes(arg, 1, PERM_ERASE, &status) == 1) {
                dfu.job = JOB_ERASE;
                dfu.next = page;
                dfu.end = page + PAGE_SIZE;
                dfu.mass_bank = 0;
            }
        } else {
            return false;
        }
    } else if (block == 1) {
        return false; /* unused in DfuSe */
    } else if (usable_bytes(addr, len, PERM_WRITE, &status) == len) {
        dfu.job = JOB_PROGRAM;
        dfu.start = dfu.next = addr & ~7u;
        dfu.end = (addr + len + 7u) & ~7u;
    }
    dfu.result = status;
    dfu.state = DFU_STATE_DNLOAD_SYNC;
    advance_job();
    return true;
}

/* ---- requests ---- */

static bool fail(uint8_t status)
{
    dfu.state = DFU_STATE_ERROR;
    dfu.status = status;
    return false;
}

static bool refuse(void)
{
    cancel_job();
    return dfu.state == DFU_STATE_ERROR ? false : fail(DFU_ERR_STALLEDPKT);
}

static bool upload(const struct usbd_setup *r, uint8_t **data, uint16_t *len)
{
    static const uint8_t commands[] = {DFUSE_CMD_GET_COMMANDS, DFUSE_CMD_SET_ADDRESS,
                                       DFUSE_CMD_ERASE, DFUSE_CMD_READ_UNPROTECT};
    uint32_t n = sizeof commands;
    *data = (uint8_t *)commands;
    if (r->wValue == 1)
        return refuse();
    if (r->wValue != 0) {
        /* Under readout protection the bootloader must not hand the flash out. */
        if (target_flash_rdp_level() != 0)
            return fail(DFU_ERR_VENDOR);
        uint32_t addr = block_address(r->wValue);
        uint8_t status = DFU_OK;
        n = usable_bytes(addr, r->wLength < DFU_TRANSFER_SIZE ? r->wLength : DFU_TRANSFER_SIZE,
                         PERM_READ, &status);
        if (n == 0 && r->wLength != 0)
            return fail(status);
        target_memory_read(addr, dfu.blk, n);
        *data = (uint8_t *)dfu.blk;
    }
    if (n > r->wLength)
        n = r->wLength;
    *len = (uint16_t)n;
    /* A short frame ends the upload. */
    dfu.state = n < r->wLength ? DFU_STATE_IDLE : DFU_STATE_UPLOAD_IDLE;
    return true;
}

static void get_status(void)
{
    uint32_t poll_ms = 0;
    uint8_t shown = dfu.state;
    if (dfu.state == DFU_STATE_DNLOAD_SYNC || dfu.state == DFU_STATE_DNBUSY) {
        if (dfu.job != JOB_NONE || dfu.busy_first) {
            dfu.busy_first = false;
            shown = DFU_STATE_DNBUSY;
            poll_ms = job_time_ms();
            dfu.state = dfu.job != JOB_NONE ? DFU_STATE_DNBUSY : DFU_STATE_DNLOAD_SYNC;
        } else if (dfu.result == DFU_OK) {
            shown = dfu.state = DFU_STATE_DNLOAD_IDLE;
        } else {
            shown = DFU_STATE_ERROR;
            fail(dfu.result);
        }
    } else if (dfu.state == DFU_STATE_MANIFEST_SYNC) {
        shown = dfu.state = DFU_STATE_MANIFEST;
    }
    dfu.reply[0] = dfu.status | poll_ms << 8; /* little endian, like the wire */
    dfu.reply[1] = shown;
}

#define IN_STATE(s) (1u << DFU_STATE_##s)
/* Where each request is valid (DFU 1.1 state table; GETSTATUS in dfuDNBUSY is the poll
 * that arrives once bwPollTimeout has passed). */
static const uint16_t valid_in[DFU_ABORT + 1] = {
    [DFU_DETACH] = 0,
    [DFU_DNLOAD] = IN_STATE(IDLE) | IN_STATE(DNLOAD_IDLE),
    [DFU_UPLOAD] = DFU_FULL ? IN_STATE(IDLE) | IN_STATE(UPLOAD_IDLE) : 0,
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

    *data = (uint8_t *)dfu.reply;
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
        for (unsigned i = 0; i < sizeof dfu.blk / 4; i++)
            dfu.blk[i] = 0xFFFFFFFFu;
        *data = (uint8_t *)dfu.blk;
        if (r->wValue >= 2)
            *data += block_address(r->wValue) & 7u;
        *len = r->wLength; /* checked above: the block buffer has room for it */
        return true;
    case DFU_UPLOAD:
        return DFU_FULL && upload(r, data, len);
    case DFU_GETSTATUS:
        get_status();
        *len = 6;
        return true;
    case DFU_GETSTATE:
        dfu.reply[0] = dfu.state;
        *len = 1;
        return true;
    default: /* CLRSTATUS, ABORT */
        dfu.state = DFU_STATE_IDLE;
        dfu.status = DFU_OK;
        return true;
    }
}

static bool dfu_control(const struct usbd_setup *r, enum usbd_stage stage, uint8_t **data,
                        uint16_t *len)
{
    if (stage == USBD_STAGE_SETUP)
        return dfu_setup(r, data, len);
    if (stage == USBD_STAGE_DATA)
        return start_dnload(r->wValue, *len) || refuse();
    /* The status stage of a GETSTATUS ended: the host has its answer. */
    if (r->bRequest == DFU_GETSTATUS) {
        if (DFU_FULL && dfu.job == JOB_UNPROTECT) /* returns only if nothing was to do, or refused */
            finish_job(target_flash_read_unprotect() == TARGET_FLASH_OK ? DFU_OK : DFU_ERR_VENDOR);
        else if (dfu.state == DFU_STATE_MANIFEST)
            dfu.leave_pending = true;
    }
    return true;
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

static void put3(char *p, uint32_t v)
{
    for (unsigned i = 3; i-- != 0; v /= 10)
        p[i] = (char)('0' + v % 10);
}

void dfu_init(void (*leave)(void))
{
    uint32_t bank_pages = target_flash_bank_size() / PAGE_SIZE;
    dfu.flash_size = target_flash_size();
    dfu.leave = leave;
    dfu.pointer = L4DFU_FLASH_BASE;
    put3(&flash_layout[sizeof FLASH_LAYOUT_HEAD - 1], bank_pages - 8);
    put3(&flash_layout[sizeof FLASH_LAYOUT_HEAD - 1 + sizeof FLASH_LAYOUT_PAGES(248) - 1],
         bank_pages);
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
