/* Test support for the OTG_FS model and the virtual host: a board brought up the way
 * firmware would (clocks, pins, VDDUSB), register pokes, and a tiny polled USB device
 * written against the registers in C on the host, playing the firmware's part. */
#ifndef OTGFS_TESTDEV_H
#define OTGFS_TESTDEV_H

#include <stdbool.h>
#include <stdint.h>

#include "sim.h"

/* ---- registers (facts: shared/reference/otg-fs-device.md, stm32l476-registers.md) ---- */
#define T_RCC_CR 0x40021000u
#define T_RCC_CFGR 0x40021008u
#define T_RCC_PLLCFGR 0x4002100Cu
#define T_RCC_AHB2RSTR 0x4002102Cu
#define T_RCC_AHB2ENR 0x4002104Cu
#define T_RCC_APB1ENR1 0x40021058u
#define T_RCC_CCIPR 0x40021088u
#define T_PWR_CR2 0x40007004u
#define T_FLASH_ACR 0x40022000u
#define T_GPIOA_MODER 0x48000000u
#define T_GPIOA_AFRH 0x48000024u

#define OTG 0x50000000u
#define GOTGCTL (OTG + 0x000)
#define GOTGINT (OTG + 0x004)
#define GAHBCFG (OTG + 0x008)
#define GUSBCFG (OTG + 0x00C)
#define GRSTCTL (OTG + 0x010)
#define GINTSTS (OTG + 0x014)
#define GINTMSK (OTG + 0x018)
#define GRXSTSR (OTG + 0x01C)
#define GRXSTSP (OTG + 0x020)
#define GRXFSIZ (OTG + 0x024)
#define DIEPTXF0 (OTG + 0x028)
#define GCCFG (OTG + 0x038)
#define CID (OTG + 0x03C)
#define GSNPSID (OTG + 0x040)
#define DIEPTXF(x) (OTG + 0x104 + 4 * ((x)-1))
#define DCFG (OTG + 0x800)
#define DCTL (OTG + 0x804)
#define DSTS (OTG + 0x808)
#define DIEPMSK (OTG + 0x810)
#define DOEPMSK (OTG + 0x814)
#define DAINT (OTG + 0x818)
#define DAINTMSK (OTG + 0x81C)
#define DIEPEMPMSK (OTG + 0x834)
#define DIEPCTL(n) (OTG + 0x900 + 0x20 * (n))
#define DIEPINT(n) (OTG + 0x908 + 0x20 * (n))
#define DIEPTSIZ(n) (OTG + 0x910 + 0x20 * (n))
#define DTXFSTS(n) (OTG + 0x918 + 0x20 * (n))
#define DOEPCTL(n) (OTG + 0xB00 + 0x20 * (n))
#define DOEPINT(n) (OTG + 0xB08 + 0x20 * (n))
#define DOEPTSIZ(n) (OTG + 0xB10 + 0x20 * (n))
#define PCGCCTL (OTG + 0xE00)
#define FIFO(n) (OTG + 0x1000 + 0x1000 * (n))

#define GINT_RXFLVL (1u << 4)
#define GINT_SOF (1u << 3)
#define GINT_ESUSP (1u << 10)
#define GINT_USBSUSP (1u << 11)
#define GINT_USBRST (1u << 12)
#define GINT_ENUMDNE (1u << 13)
#define GINT_IEPINT (1u << 18)
#define GINT_OEPINT (1u << 19)
#define GINT_WKUPINT (1u << 31)
#define EP_USBAEP (1u << 15)
#define EP_NAKSTS (1u << 17)
#define EP_STALL (1u << 21)
#define EP_CNAK (1u << 26)
#define EP_SNAK (1u << 27)
#define EP_SD0PID (1u << 28)
#define EP_EPDIS (1u << 30)
#define EP_EPENA (1u << 31)
#define EP_BULK (2u << 18)
#define IN_XFRC (1u << 0)
#define IN_EPDISD (1u << 1)
#define IN_INEPNE (1u << 6)
#define IN_TXFE (1u << 7)
#define OUT_XFRC (1u << 0)
#define OUT_STUP (1u << 3)
#define OUT_STSPHSRX (1u << 5)
#define OUT_NAK (1u << 13)
#define OUT_STPKTRX (1u << 15)

#define STS_TYPE(w) (((w) >> 17) & 0xFu)
#define STS_EP(w) ((w)&0xFu)
#define STS_BCNT(w) (((w) >> 4) & 0x7FFu)
#define STS_DPID(w) (((w) >> 15) & 3u)

uint32_t rd(sim_t *sim, uint32_t addr);
void wr(sim_t *sim, uint32_t addr, uint32_t value);
void setb(sim_t *sim, uint32_t addr, uint32_t bits);
void clrb(sim_t *sim, uint32_t addr, uint32_t bits);

/* A board whose trace (SIM_TR_USB and warnings) goes to a temporary file. */
sim_t *t_board(bool quirk);
/* Everything traced/warned so far (valid until the next call). */
const char *t_trace(sim_t *sim);
void t_destroy(sim_t *sim);

/* SoC prerequisites, one by one, as firmware does them. */
enum t_step {
    T_CLOCK_ENABLE = 1u << 0, /* RCC_AHB2ENR.OTGFSEN (and GPIOAEN) */
    T_CLK48 = 1u << 1,        /* HSE -> PLL, Q = 48 MHz, SYSCLK 48 MHz, CLK48SEL = PLL Q */
    T_USV = 1u << 2,          /* PWREN, PWR_CR2.USV */
    T_PINS = 1u << 3,         /* PA11/PA12 AF10 */
    T_PWRDWN = 1u << 4,       /* GCCFG.PWRDWN */
    T_BVALID = 1u << 5,       /* GOTGCTL.BVALOEN|BVALOVAL */
    T_CONNECT = 1u << 6,      /* DCTL.SDIS = 0 */
    T_ALL = 0x7F,
};
/* Clock from HSI16 through the PLL instead: runs, but not accurate enough for USB. */
void t_clk48_from_hsi(sim_t *sim);
/* Do the steps in `steps` (core init between T_PWRDWN and T_CONNECT as HAL does). */
void t_bringup(sim_t *sim, unsigned steps);

/* ---- the test device ---- */
struct tdev {
    sim_t *sim;
    bool drop_flagged_completions; /* TinyUSB >= 0.21 handling of the 3.10a words */
    bool irq_driven;               /* only act when IRQ 67 is pending, feed IN data on TXFE */
    bool tinyusb_fifos;            /* size FIFOs at each bus reset, TX top-down from word 320 */
    unsigned irqs;                 /* interrupts taken */
    uint8_t setup[8];
    /* EP0 IN */
    const uint8_t *in0;
    uint32_t in0_left, in0_chunk;
    bool in0_zlp_after, in0_is_status, in0_busy;
    /* EP0 OUT data stage */
    bool ctrl_out;
    uint8_t ctrl_buf[512];
    uint32_t ctrl_len, ctrl_expected;
    uint8_t vendor[512];
    uint32_t vendor_len;
    /* bulk EP1 */
    uint8_t bulk_out[4096];
    uint32_t bulk_out_len;
    bool bulk_out_done;
    const uint8_t *bulk_in;
    uint32_t bulk_in_len, bulk_in_written;
    bool bulk_in_done;
    uint8_t config;
    /* what happened */
    uint32_t rx_log[1024];
    uint32_t rx_log_doepint[1024];
    unsigned rx_n;
    unsigned resets, enum_dones, setups, flagged_dropped, suspends;
    uint8_t setup_log[64][8];
};

extern const uint8_t tdev_device_desc[18];
extern const uint8_t tdev_config_desc[32];

void tdev_init(struct tdev *d, sim_t *sim);
void tdev_poll(struct tdev *d);
/* Interrupt-driven mode, as HAL does it: GINTMSK, endpoint masks, GINT; IN data for EP1 is
 * written from the TXFE interrupt (DIEPEMPMSK). */
void tdev_use_irq(struct tdev *d);
/* Advance virtual time by `us` microseconds, polling the device every 20 us. */
void tdev_run_us(struct tdev *d, uint64_t us);
void tdev_bulk_out_arm(struct tdev *d, uint32_t max_len);
void tdev_bulk_in_send(struct tdev *d, const uint8_t *data, uint32_t len);

#endif
