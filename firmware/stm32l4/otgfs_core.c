/* OTG_FS bring-up and FIFO access shared by usb_otgfs.c and usb_ep0.c (otgfs_core.h).
 *
 * VBUS: the EVAL's PA9 sensing is optional, so the drivers do not use it (VBDEN = 0)
 * and override B-valid instead (BVALOEN = BVALOVAL = 1). The device therefore cannot
 * see an unplug as a session end; the bootloader does not need to.
 */
#include <stdbool.h>

#include "board.h"
#include "chip.h"
#include "otgfs_core.h"
#include "usbd_port.h"
#include "regs/gpio.h"
#include "regs/otgfs.h"
#include "regs/pwr.h"
#include "regs/rcc.h"

/* Bounded waits: a core without its 48 MHz clock never finishes a reset, and the
 * bootloader must not hang on that. */
#define CORE_WAIT_POLLS 200000u

/* FIFO RAM (320 words): RX 128, then TX0 32, TX1 64, TX2 32, TX3 64 (words). RX holds
 * the 8-word SETUP space, one 64-byte packet per endpoint plus status entries. */
#define RX_FIFO_WORDS 128u
static const uint16_t tx_fifo_words[4] = { 32u, 64u, 32u, 64u };
_Static_assert(USBD_PORT_ENDPOINTS <= 4u, "FIFO RAM is laid out for EP0..EP3");

bool otgfs_wait_clear(volatile uint32_t *reg, uint32_t mask)
{
    for (uint32_t polls = CORE_WAIT_POLLS; polls != 0u; polls--) {
        if ((*reg & mask) == 0u)
            return true;
    }
    return false;
}

static void wait_ahb_idle(void)
{
    for (uint32_t polls = CORE_WAIT_POLLS; polls != 0u; polls--) {
        if (OTG_GRSTCTL & OTG_GRSTCTL_AHBIDL)
            return;
    }
}

void otgfs_flush_tx_fifo(uint32_t txfnum_field)
{
    OTG_GRSTCTL = OTG_GRSTCTL_TXFFLSH | txfnum_field;
    otgfs_wait_clear(&OTG_GRSTCTL, OTG_GRSTCTL_TXFFLSH);
}

void otgfs_fifo_write(unsigned ep, const uint8_t *src, uint32_t len)
{
    for (uint32_t i = 0; i < len; i += 4u) {
        uint32_t word;
        __builtin_memcpy(&word, src + i, 4u);
        OTG_FIFO(ep) = word;
    }
}

void otgfs_fifo_read(uint8_t *dst, uint32_t len, uint32_t room)
{
    uint32_t keep = len < room ? len : room;
    for (uint32_t i = 0; i < len; i += 4u) {
        uint32_t word = OTG_FIFO(0);
        for (uint32_t b = i; b < i + 4u && b < keep; b++, word >>= 8)
            dst[b] = (uint8_t)word;
    }
}

static void fifo_layout(void)
{
    uint32_t start = RX_FIFO_WORDS;
    OTG_GRXFSIZ = RX_FIFO_WORDS;
    OTG_DIEPTXF0 = ((uint32_t)tx_fifo_words[0] << 16) | start;
    start += tx_fifo_words[0];
    for (unsigned x = 1; x < USBD_PORT_ENDPOINTS; x++) {
        OTG_DIEPTXF(x) = ((uint32_t)tx_fifo_words[x] << 16) | start;
        start += tx_fifo_words[x];
    }
}

void usbd_port_init(void)
{
    /* SoC side: the 48 MHz kernel clock (SYSCLK must already be >= 32 MHz, see TRDT),
     * VDDUSB valid, the controller's clock, DM/DP on AF10. */
    clock_enable_usb48();
    RCC_APB1ENR1 |= RCC_APB1_1_PWR;
    (void)RCC_APB1ENR1;
    PWR_CR2 |= PWR_CR2_USV;
    gpio_config(BOARD_USB_PORT, BOARD_USB_DM_PIN, GPIO_MODE_AF, GPIO_PULL_NONE,
                GPIO_SPEED_VERY_HIGH, BOARD_USB_AF);
    gpio_config(BOARD_USB_PORT, BOARD_USB_DP_PIN, GPIO_MODE_AF, GPIO_PULL_NONE,
                GPIO_SPEED_VERY_HIGH, BOARD_USB_AF);
    RCC_AHB2ENR |= RCC_AHB2_OTGFS;
    (void)RCC_AHB2ENR;

    /* Core reset with the FS PHY selected. */
    OTG_GAHBCFG = 0u;
    OTG_GUSBCFG |= OTG_GUSBCFG_PHYSEL;
    wait_ahb_idle();
    OTG_GRSTCTL = OTG_GRSTCTL_CSRST;
    otgfs_wait_clear(&OTG_GRSTCTL, OTG_GRSTCTL_CSRST);
    wait_ahb_idle();

    OTG_GCCFG = OTG_GCCFG_PWRDWN; /* transceiver on, VBUS detection off */
    /* Forced device mode; TRDT 6 suits any HCLK >= 32 MHz (48 and 80 MHz here). */
    OTG_GUSBCFG = (OTG_GUSBCFG & ~(OTG_GUSBCFG_FHMOD | OTG_GUSBCFG_TRDT_MASK)) |
                  OTG_GUSBCFG_FDMOD | (6u << OTG_GUSBCFG_TRDT_SHIFT);
    for (uint32_t polls = CORE_WAIT_POLLS; polls != 0u && (OTG_GINTSTS & OTG_GINT_CMOD); polls--) {
    }
    OTG_GOTGCTL |= OTG_GOTGCTL_BVALOEN | OTG_GOTGCTL_BVALOVAL;
    OTG_PCGCCTL = 0u;
    OTG_DCTL |= OTG_DCTL_SDIS; /* stay disconnected until usbd_port_connect */
    OTG_DCFG = OTG_DCFG_DSPD_FS48;

    fifo_layout();
    otgfs_flush_tx_fifo(OTG_GRSTCTL_TXFNUM_ALL);
    OTG_GRSTCTL = OTG_GRSTCTL_RXFFLSH;
    otgfs_wait_clear(&OTG_GRSTCTL, OTG_GRSTCTL_RXFFLSH);

    OTG_DIEPMSK = OTG_EPINT_XFRC;
    OTG_DOEPMSK = OTG_EPINT_XFRC | OTG_DOEPINT_STUP;
    OTG_DAINTMSK = 0u;
    OTG_GINTSTS = 0xFFFFFFFFu;
    OTG_GINTMSK = OTG_GINT_RXFLVL | OTG_GINT_USBSUSP | OTG_GINT_USBRST | OTG_GINT_ENUMDNE |
                  OTG_GINT_IEPINT | OTG_GINT_OEPINT;
    /* The global enable is harmless when polled: the IRQ only fires once an
     * application enables it in the NVIC. */
    OTG_GAHBCFG = OTG_GAHBCFG_GINT;
}

void usbd_port_connect(bool on)
{
    if (on)
        OTG_DCTL &= ~OTG_DCTL_SDIS;
    else
        OTG_DCTL |= OTG_DCTL_SDIS;
}

void usbd_port_deinit(void)
{
    /* Never started (a boot straight into the application): nothing to undo, and the
     * core's registers are not to be touched without its clock. */
    if (!(RCC_AHB2ENR & RCC_AHB2_OTGFS))
        return;
    OTG_DCTL |= OTG_DCTL_SDIS;
    /* Hold the disconnect long enough (>= 10 ms at 48-80 MHz) for the host to see it
     * before whatever runs next connects again. */
    for (volatile uint32_t spin = 250000u; spin != 0u; spin--) {
    }
    OTG_GRSTCTL = OTG_GRSTCTL_CSRST;
    otgfs_wait_clear(&OTG_GRSTCTL, OTG_GRSTCTL_CSRST);
    OTG_GCCFG = 0u;
    RCC_AHB2RSTR |= RCC_AHB2_OTGFS;
    RCC_AHB2RSTR &= ~RCC_AHB2_OTGFS;
    RCC_AHB2ENR &= ~RCC_AHB2_OTGFS;
}

void usbd_port_set_address(uint8_t addr)
{
    OTG_DCFG = (OTG_DCFG & ~OTG_DCFG_DAD_MASK) | ((uint32_t)addr << OTG_DCFG_DAD_SHIFT);
}

void otgfs_ep0_abort_in(void)
{
    if (!(OTG_DIEPCTL(0) & OTG_EPCTL_EPENA))
        return;
    OTG_DIEPCTL(0) |= OTG_EPCTL_SNAK;
    OTG_DIEPCTL(0) |= OTG_EPCTL_EPDIS;
    otgfs_wait_clear(&OTG_DIEPCTL(0), OTG_EPCTL_EPENA);
    OTG_DIEPINT(0) = 0xFFFFu;
    otgfs_flush_tx_fifo(0u);
}

void otgfs_enumeration_done(void)
{
    OTG_GINTSTS = OTG_GINT_ENUMDNE;
    OTG_DIEPCTL(0) &= ~3u; /* MPSIZ 0 = 64 bytes */
    OTG_DCTL |= OTG_DCTL_CGINAK;
}
