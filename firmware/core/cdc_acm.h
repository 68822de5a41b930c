/* CDC-ACM class driver: a virtual serial port (Linux /dev/ttyACMn, Windows COMn with the
 * in-box usbser.sys) for applications built on the device core (usbd.h).
 *
 * One function, two interfaces: the communications interface (class 02/02/01) takes the
 * line-coding requests and owns an interrupt IN notification endpoint; the data
 * interface (0A/00/00) carries the bytes on a bulk OUT / bulk IN pair of 64-byte packets.
 * The application puts CDC_ACM_DESCRIPTORS into its configuration descriptor, the two
 * classes below into its interface table and cdc_acm_endpoint_done into endpoint_done.
 *
 * Context: every function here must be called from the context that runs
 * usbd_port_poll() (the main loop of a polled application, the OTG_FS interrupt handler
 * of an interrupt-driven one). The receive callback runs in that context too, so
 * writing from inside it is the simple way to answer. No registers, no heap. */
#ifndef L4DFU_CDC_ACM_H
#define L4DFU_CDC_ACM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "usbd.h"

#define CDC_ACM_PACKET_SIZE 64u
#define CDC_ACM_NOTIFY_PACKET_SIZE 16u /* SERIAL_STATE (10 bytes) fits in one packet */
#define CDC_ACM_NOTIFY_INTERVAL_MS 16u

/* Endpoint addresses. The OTG_FS port gives IN endpoint 1 the larger TX FIFO, so the
 * bulk data goes there. An application with more endpoints may move them. */
#ifndef CDC_ACM_EP_DATA_OUT
#define CDC_ACM_EP_DATA_OUT 0x01u
#endif
#ifndef CDC_ACM_EP_DATA_IN
#define CDC_ACM_EP_DATA_IN 0x81u
#endif
#ifndef CDC_ACM_EP_NOTIFY
#define CDC_ACM_EP_NOTIFY 0x82u
#endif

/* Bytes waiting for the host; a write that does not fit is cut (cdc_acm_write says how
 * much it took). */
#ifndef CDC_ACM_TX_BUFFER
#define CDC_ACM_TX_BUFFER 256u
#endif

/* Class requests (CDC PSTN 1.2, §6.3). */
#define CDC_REQ_SET_LINE_CODING 0x20u
#define CDC_REQ_GET_LINE_CODING 0x21u
#define CDC_REQ_SET_CONTROL_LINE_STATE 0x22u
#define CDC_CONTROL_DTR 0x01u
#define CDC_CONTROL_RTS 0x02u

/* ACM bmCapabilities: bit 1 = SET/GET_LINE_CODING, SET_CONTROL_LINE_STATE and
 * SERIAL_STATE. SEND_BREAK (bit 2) is not offered, so the host does not send it. */
#define CDC_ACM_CAPABILITIES 0x02u

#define CDC_ACM_DESCRIPTORS_LENGTH 66u

/* The interface association, both interfaces, their functional descriptors and the
 * three endpoints (66 bytes). The data interface is comm_iface + 1. */
#define CDC_ACM_DESCRIPTORS(comm_iface, istring)                                            \
    /* IAD: host drivers bind both interfaces as one function */                            \
    8, 0x0B, (comm_iface), 2, 0x02, 0x02, 0x01, 0,                                            \
    9, 4, (comm_iface), 0, 1, 0x02, 0x02, 0x01, (istring),                                    \
    5, 0x24, 0x00, 0x10, 0x01,                       /* header, bcdCDC 1.10 */                \
    5, 0x24, 0x01, 0x00, (comm_iface) + 1,           /* call management: none */              \
    4, 0x24, 0x02, CDC_ACM_CAPABILITIES,             /* abstract control management */        \
    5, 0x24, 0x06, (comm_iface), (comm_iface) + 1,   /* union: control, then data */          \
    7, 5, CDC_ACM_EP_NOTIFY, 0x03, CDC_ACM_NOTIFY_PACKET_SIZE, 0, CDC_ACM_NOTIFY_INTERVAL_MS, \
    9, 4, (comm_iface) + 1, 0, 2, 0x0A, 0x00, 0x00, 0,                                        \
    7, 5, CDC_ACM_EP_DATA_OUT, 0x02, CDC_ACM_PACKET_SIZE, 0, 0,                               \
    7, 5, CDC_ACM_EP_DATA_IN, 0x02, CDC_ACM_PACKET_SIZE, 0, 0

/* As on the wire (7 bytes, little-endian): what the host last asked for. The port has
 * no UART behind it, so the values are only remembered and reported back. */
struct cdc_acm_line_coding {
    uint32_t baud;
    uint8_t stop_bits; /* 0: 1, 1: 1.5, 2: 2 */
    uint8_t parity;    /* 0 none, 1 odd, 2 even, 3 mark, 4 space */
    uint8_t data_bits;
};

/* `receive` gets the bytes of each OUT packet (1..64) and returns how many it took.
 * What it did not take is offered again later — after each packet the device sends, and
 * on cdc_acm_rx_retry() — and until all of it is taken the OUT endpoint stays unarmed,
 * so the host's writes wait (USB's own flow control: the device NAKs) instead of bytes
 * being lost. `receive` may be NULL (incoming bytes are dropped). */
typedef size_t (*cdc_acm_receive_fn)(const uint8_t *data, size_t len);
void cdc_acm_init(cdc_acm_receive_fn receive);
/* The application has room again for bytes it refused (call from the USB context). */
void cdc_acm_rx_retry(void);

/* Queues up to len bytes for the host and returns how many were taken: 0 while the
 * device is not configured, less than len when the buffer is full (the host is not
 * reading). A transfer that ends on a full packet is followed by a zero-length one, so
 * the host's read completes. */
size_t cdc_acm_write(const void *data, size_t len);
/* Nothing queued and nothing in flight: the host has every byte written so far. */
bool cdc_acm_tx_idle(void);

/* The host's SET_CONTROL_LINE_STATE bits (CDC_CONTROL_DTR: a terminal has the port open). */
uint8_t cdc_acm_control_lines(void);
struct cdc_acm_line_coding cdc_acm_line_coding(void);

/* For usbd_device.endpoint_done: completions on the CDC endpoints (others are ignored). */
void cdc_acm_endpoint_done(uint8_t ep, size_t len);

extern const struct usbd_class cdc_acm_comm_class;
extern const struct usbd_class cdc_acm_data_class;

#endif
