/* DFU 1.1 class with ST's DfuSe extensions (bcdDFUVersion 0x011A): the DFU-mode
 * device the bootloader presents. docs/dfu-protocol.md describes it state by state.
 * Flash work starts when a block arrives and runs one operation at a time, advanced
 * from dfu_poll(), so EP0 is serviced between operations. */
#ifndef L4DFU_DFU_H
#define L4DFU_DFU_H

#include <stdint.h>

#include "target.h"
#include "usbd.h"

#ifndef L4DFU_USB_VID
#define L4DFU_USB_VID 0x0483u
#endif
#ifndef L4DFU_USB_PID
#define L4DFU_USB_PID 0xDF11u
#endif
#define L4DFU_USB_BCD_DEVICE 0x2200u

#define DFU_TRANSFER_SIZE 2048u
/* bwPollTimeout per double word to program: the datasheet's time plus what the CPU
 * spends between two operations (measured in l4sim: bench/dfu_throughput). */
#define DFU_PROGRAM_DW_US (TARGET_FLASH_PROGRAM_DW_US + 4u)
/* L4_BOOTLOADER_MINIMAL (a build option, off by default): alt 0 (internal flash) only,
 * no UPLOAD and no Read Unprotect. Option bytes and OTP are then reached through ST's
 * ROM bootloader (the ROM route stays). docs/bootloader-size.md says what it saves. */
#ifdef L4_BOOTLOADER_MINIMAL
#define DFU_ALT_COUNT 1u
#define DFU_FULL 0
#else
#define DFU_ALT_COUNT 3u
#define DFU_FULL 1
#endif
#define DFU_ATTR_CAN_DNLOAD 0x01u
#define DFU_ATTR_CAN_UPLOAD 0x02u
#define DFU_ATTR_MANIFESTATION_TOLERANT 0x04u
#define DFU_ATTR_WILL_DETACH 0x08u

enum dfu_request { DFU_DETACH, DFU_DNLOAD, DFU_UPLOAD, DFU_GETSTATUS, DFU_CLRSTATUS,
                   DFU_GETSTATE, DFU_ABORT };

enum dfu_state {
    DFU_STATE_APP_IDLE, DFU_STATE_APP_DETACH, DFU_STATE_IDLE, DFU_STATE_DNLOAD_SYNC,
    DFU_STATE_DNBUSY, DFU_STATE_DNLOAD_IDLE, DFU_STATE_MANIFEST_SYNC, DFU_STATE_MANIFEST,
    DFU_STATE_MANIFEST_WAIT_RESET, DFU_STATE_UPLOAD_IDLE, DFU_STATE_ERROR,
};

enum dfu_status {
    DFU_OK, DFU_ERR_TARGET, DFU_ERR_FILE, DFU_ERR_WRITE, DFU_ERR_ERASE, DFU_ERR_CHECK_ERASED,
    DFU_ERR_PROG, DFU_ERR_VERIFY, DFU_ERR_ADDRESS, DFU_ERR_NOTDONE, DFU_ERR_FIRMWARE,
    DFU_ERR_VENDOR, DFU_ERR_USBR, DFU_ERR_POR, DFU_ERR_UNKNOWN, DFU_ERR_STALLEDPKT,
};

/* DfuSe commands: the first byte of a DNLOAD with wBlockNum 0. */
#define DFUSE_CMD_GET_COMMANDS 0x00u
#define DFUSE_CMD_SET_ADDRESS 0x21u
#define DFUSE_CMD_ERASE 0x41u
#define DFUSE_CMD_READ_UNPROTECT 0x92u

/* Reads the flash geometry from target.h. `leave` runs from dfu_poll() once the host
 * has read the dfuMANIFEST status that follows a zero-length DNLOAD (the bootloader
 * resets there so the boot decision checks and starts the new image). */
void dfu_init(void (*leave)(void));
void dfu_poll(void);

extern const struct usbd_device dfu_usb_device;
extern const uint8_t dfu_device_descriptor[18];
extern const uint8_t dfu_config_descriptor[9 + 9 * DFU_ALT_COUNT + 9];

enum dfu_state dfu_state(void);
enum dfu_status dfu_status(void);
/* The layout string of `alt` (alternate setting names are dfu-util memory maps). */
const char *dfu_layout_string(uint8_t alt);

#endif
