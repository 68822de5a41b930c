/* Test support: board bring-up and a tiny polled USB device driven through the OTG_FS
 * model's registers, as firmware would (see otgfs_testdev.h). */
#define _POSIX_C_SOURCE 200809L
#include "otgfs_testdev.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "otgfs.h"

uint32_t rd(sim_t *sim, uint32_t addr)
{
    return sim_bus_read(sim, addr, 4);
}

void wr(sim_t *sim, uint32_t addr, uint32_t value)
{
    sim_bus_write(sim, addr, value, 4);
}

void setb(sim_t *sim, uint32_t addr, uint32_t bits)
{
    wr(sim, addr, rd(sim, addr) | bits);
}

void clrb(sim_t *sim, uint32_t addr, uint32_t bits)
{
    wr(sim, addr, rd(sim, addr) & ~bits);
}

/* ------------------------------------------------------------------ board */

struct trace_slot {
    sim_t *sim;
    char path[64];
    char *text;
};
static struct trace_slot slots[8];

static struct trace_slot *slot_of(sim_t *sim)
{
    for (unsigned i = 0; i < 8; i++)
        if (slots[i].sim == sim)
            return &slots[i];
    return NULL;
}

sim_t *t_board(bool quirk)
{
    struct trace_slot *s = slot_of(NULL);
    if (!s)
        abort();
    snprintf(s->path, sizeof s->path, "/tmp/otgfs-test-%d-%u.trace", (int)getpid(), (unsigned)(s - slots));
    sim_config cfg;
    sim_config_defaults(&cfg);
    cfg.trace_mask = SIM_TR_USB;
    cfg.trace_file = s->path;
    cfg.console_file = "/dev/null";
    cfg.usb_quirk_310a = quirk;
    sim_t *sim = sim_create(&cfg);
    if (!sim)
        abort();
    /* the quirk is on by default: only switching it off takes a call (until sim_create
     * passes sim_config.usb_quirk_310a on by itself) */
    if (!quirk)
        otgfs_set_quirk_310a(sim, false);
    s->sim = sim;
    return sim;
}

const char *t_trace(sim_t *sim)
{
    struct trace_slot *s = slot_of(sim);
    if (!s)
        return "";
    free(s->text);
    s->text = NULL;
    fflush(NULL); /* the simulator's trace stream is buffered */
    FILE *f = fopen(s->path, "r");
    if (!f)
        return "";
    size_t cap = 1 << 16, n = 0;
    s->text = malloc(cap);
    size_t got;
    while ((got = fread(s->text + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n < 4096) {
            cap *= 2;
            s->text = realloc(s->text, cap);
        }
    }
    s->text[n] = 0;
    fclose(f);
    return s->text;
}

void t_destroy(sim_t *sim)
{
    struct trace_slot *s = slot_of(sim);
    sim_destroy(sim);
    if (s) {
        remove(s->path);
        free(s->text);
        memset(s, 0, sizeof *s);
    }
}

static void wait_bit(sim_t *sim, uint32_t addr, uint32_t mask, uint32_t value)
{
    for (int i = 0; i < 1000 && (rd(sim, addr) & mask) != value; i++)
        sim_advance(sim, 10 * SIM_PS_PER_US);
}

static void pll_48(sim_t *sim, bool from_hse)
{
    if (from_hse) {
        setb(sim, T_RCC_CR, 1u << 16); /* HSEON */
        wait_bit(sim, T_RCC_CR, 1u << 17, 1u << 17);
    } else {
        setb(sim, T_RCC_CR, 1u << 8); /* HSION */
        wait_bit(sim, T_RCC_CR, 1u << 10, 1u << 10);
    }
    /* 8 MHz HSE: M=1, N=24 -> VCO 192 MHz; Q /4 = 48 MHz, R /4 = 48 MHz.
     * 16 MHz HSI: M=2, N=24 -> same. */
    uint32_t src = from_hse ? 3u : 2u, m = from_hse ? 0u : 1u;
    wr(sim, T_RCC_PLLCFGR, src | (m << 4) | (24u << 8) | (1u << 20) | (1u << 21) | (1u << 24) | (1u << 25));
    setb(sim, T_RCC_CR, 1u << 24); /* PLLON */
    wait_bit(sim, T_RCC_CR, 1u << 25, 1u << 25);
    wr(sim, T_FLASH_ACR, (rd(sim, T_FLASH_ACR) & ~7u) | 2u); /* 2 wait states at 48 MHz */
    wr(sim, T_RCC_CFGR, (rd(sim, T_RCC_CFGR) & ~3u) | 3u);   /* SYSCLK = PLL */
    wait_bit(sim, T_RCC_CFGR, 0xCu, 0xCu);
    wr(sim, T_RCC_CCIPR, (rd(sim, T_RCC_CCIPR) & ~(3u << 26)) | (2u << 26)); /* CLK48 = PLL Q */
}

void t_clk48_from_hsi(sim_t *sim)
{
    pll_48(sim, false);
}

void t_bringup(sim_t *sim, unsigned steps)
{
    if (steps & T_CLOCK_ENABLE)
        setb(sim, T_RCC_AHB2ENR, (1u << 12) | 1u);
    else
        setb(sim, T_RCC_AHB2ENR, 1u); /* GPIOA only */
    if (steps & T_CLK48)
        pll_48(sim, true);
    if (steps & T_USV) {
        setb(sim, T_RCC_APB1ENR1, 1u << 28);
        setb(sim, T_PWR_CR2, 1u << 10);
    }
    if (steps & T_PINS) {
        uint32_t moder = rd(sim, T_GPIOA_MODER);
        moder = (moder & ~((3u << 22) | (3u << 24))) | (2u << 22) | (2u << 24);
        wr(sim, T_GPIOA_MODER, moder);
        uint32_t afrh = rd(sim, T_GPIOA_AFRH);
        afrh = (afrh & ~(0xFFu << 12)) | (0xAu << 12) | (0xAu << 16);
        wr(sim, T_GPIOA_AFRH, afrh);
    }
    if (!(steps & T_CLOCK_ENABLE))
        return;
    /* core init, HAL order */
    clrb(sim, GAHBCFG, 1u);
    setb(sim, GUSBCFG, 1u << 6);
    wr(sim, GRSTCTL, 1u);
    wait_bit(sim, GRSTCTL, 1u, 0);
    if (steps & T_PWRDWN)
        setb(sim, GCCFG, 1u << 16);
    wr(sim, GUSBCFG, (rd(sim, GUSBCFG) & ~((3u << 29) | (0xFu << 10))) | (1u << 30) | (6u << 10));
    if (steps & T_BVALID)
        setb(sim, GOTGCTL, (1u << 6) | (1u << 7));
    wr(sim, PCGCCTL, 0);
    setb(sim, DCFG, 3u);
    wr(sim, GRSTCTL, (0x10u << 6) | (1u << 5));
    wr(sim, GRSTCTL, 1u << 4);
    wr(sim, GRXFSIZ, 0x80);
    wr(sim, DIEPTXF0, 0x00400080);
    wr(sim, DIEPTXF(1), 0x008000C0);
    wr(sim, GINTSTS, 0xBFFFFFFFu);
    if (steps & T_CONNECT)
        clrb(sim, DCTL, 2u);
}

/* ------------------------------------------------------------------ the device */

const uint8_t tdev_device_desc[18] = {18, 1, 0x00, 0x02, 0, 0, 0, 64, 0x09, 0x12, 0x01, 0x00,
                                      0x00, 0x01, 1, 2, 3, 1};
const uint8_t tdev_config_desc[32] = {9, 2, 32, 0, 1, 1, 0, 0x80, 50,
                                      9, 4, 0, 0, 2, 0xFF, 0, 0, 0,
                                      7, 5, 0x81, 2, 64, 0, 0,
                                      7, 5, 0x01, 2, 64, 0, 0};
static const uint8_t str0[4] = {4, 3, 0x09, 0x04};
static const uint8_t str1[12] = {12, 3, 'l', 0, '4', 0, 'd', 0, 'f', 0, 'u', 0};
static const uint8_t str2[10] = {10, 3, 't', 0, 'e', 0, 's', 0, 't', 0};
static const uint8_t str3[10] = {10, 3, '0', 0, '0', 0, '0', 0, '1', 0};

void tdev_init(struct tdev *d, sim_t *sim)
{
    memset(d, 0, sizeof *d);
    d->sim = sim;
    d->drop_flagged_completions = true;
}

static void write_packet(sim_t *sim, unsigned ep, const uint8_t *p, uint32_t len)
{
    for (uint32_t i = 0; i < len; i += 4) {
        uint32_t w = 0;
        for (unsigned b = 0; b < 4 && i + b < len; b++)
            w |= (uint32_t)p[i + b] << (8 * b);
        wr(sim, FIFO(ep), w);
    }
}

static void ep0_next_packet(struct tdev *d)
{
    uint32_t chunk = d->in0_left < 64 ? d->in0_left : 64;
    d->in0_chunk = chunk;
    d->in0_busy = true;
    wr(d->sim, DIEPTSIZ(0), (1u << 19) | chunk);
    setb(d->sim, DIEPCTL(0), EP_CNAK | EP_EPENA);
    write_packet(d->sim, 0, d->in0, chunk);
}

static void ep0_send(struct tdev *d, const uint8_t *data, uint32_t len, uint16_t wlength)
{
    if (len > wlength)
        len = wlength;
    d->in0 = data;
    d->in0_left = len;
    d->in0_is_status = len == 0 && wlength == 0;
    d->in0_zlp_after = len < wlength && len % 64 == 0 && len > 0;
    ep0_next_packet(d);
}

static void ep0_out_arm(struct tdev *d)
{
    wr(d->sim, DOEPTSIZ(0), (3u << 29) | (1u << 19) | 64u);
    setb(d->sim, DOEPCTL(0), EP_CNAK | EP_EPENA);
}

static void ep0_stall(struct tdev *d)
{
    setb(d->sim, DIEPCTL(0), EP_STALL);
    setb(d->sim, DOEPCTL(0), EP_STALL);
}

static void handle_setup(struct tdev *d)
{
    const uint8_t *s = d->setup;
    uint16_t value = (uint16_t)(s[2] | s[3] << 8), wlength = (uint16_t)(s[6] | s[7] << 8);
    if (d->setups < 64)
        memcpy(d->setup_log[d->setups], s, 8);
    d->setups++;
    if (s[0] == 0x80 && s[1] == 6) {
        const uint8_t *p = NULL;
        uint32_t n = 0;
        switch (value >> 8) {
        case 1: p = tdev_device_desc, n = 18; break;
        case 2: p = tdev_config_desc, n = 32; break;
        case 3:
            switch (value & 0xFF) {
            case 0: p = str0, n = sizeof str0; break;
            case 1: p = str1, n = sizeof str1; break;
            case 2: p = str2, n = sizeof str2; break;
            case 3: p = str3, n = sizeof str3; break;
            }
            break;
        }
        if (!p) {
            ep0_stall(d);
            return;
        }
        ep0_send(d, p, n, wlength);
    } else if (s[0] == 0x00 && s[1] == 5) {
        wr(d->sim, DCFG, (rd(d->sim, DCFG) & ~(0x7Fu << 4)) | ((value & 0x7Fu) << 4));
        ep0_send(d, NULL, 0, 0);
    } else if (s[0] == 0x00 && s[1] == 9) {
        d->config = (uint8_t)value;
        wr(d->sim, DIEPCTL(1), EP_USBAEP | EP_BULK | 64u | (1u << 22) | EP_SD0PID | EP_SNAK);
        wr(d->sim, DOEPCTL(1), EP_USBAEP | EP_BULK | 64u | EP_SD0PID | EP_SNAK);
        ep0_send(d, NULL, 0, 0);
    } else if (s[0] == 0x40 && s[1] == 1 && wlength <= sizeof d->ctrl_buf) {
        d->ctrl_out = true;
        d->ctrl_len = 0;
        d->ctrl_expected = wlength;
        ep0_out_arm(d);
    } else if (s[0] == 0xC0 && s[1] == 2) {
        ep0_send(d, d->vendor, d->vendor_len, wlength);
    } else if (s[0] == 0x02 && s[1] == 1 && value == 0) {
        uint8_t ep = s[4];
        uint32_t reg = (ep & 0x80) ? DIEPCTL(ep & 0xF) : DOEPCTL(ep & 0xF);
        wr(d->sim, reg, (rd(d->sim, reg) & ~EP_STALL) | EP_SD0PID);
        ep0_send(d, NULL, 0, 0);
    } else if (s[0] == 0x02 && s[1] == 3 && value == 0) {
        uint8_t ep = s[4];
        setb(d->sim, (ep & 0x80) ? DIEPCTL(ep & 0xF) : DOEPCTL(ep & 0xF), EP_STALL);
        ep0_send(d, NULL, 0, 0);
    } else {
        ep0_stall(d);
    }
}

static void on_bus_reset(struct tdev *d)
{
    sim_t *sim = d->sim;
    d->resets++;
    clrb(sim, DCFG, 0x7Fu << 4);
    wr(sim, GRSTCTL, (0x10u << 6) | (1u << 5));
    for (unsigned n = 0; n < 6; n++) {
        wr(sim, DIEPINT(n), 0xFB7F);
        wr(sim, DOEPINT(n), 0xFB7F);
        clrb(sim, DOEPCTL(n), EP_STALL);
        setb(sim, DOEPCTL(n), EP_SNAK);
    }
    if (d->tinyusb_fifos) {
        /* TinyUSB's rule: RX = 14 + 2 * (MPS/4 + 1) + 2 * EPs words, TX from the top down */
        uint32_t rx = 14 + 2 * (64 / 4 + 1) + 2 * 6, top = 320;
        wr(sim, GRXFSIZ, rx);
        top -= 16;
        wr(sim, DIEPTXF0, (16u << 16) | top);
        top -= 16;
        wr(sim, DIEPTXF(1), (16u << 16) | top);
    }
    wr(sim, DOEPTSIZ(0), (3u << 29) | (1u << 19) | 24u);
    d->in0_busy = false;
    d->ctrl_out = false;
    d->config = 0;
}

static void ep0_in_done(struct tdev *d)
{
    d->in0_busy = false;
    if (d->in0_is_status) {
        d->in0_is_status = false;
        return;
    }
    d->in0 += d->in0_chunk;
    d->in0_left -= d->in0_chunk;
    if (d->in0_left > 0) {
        ep0_next_packet(d);
    } else if (d->in0_zlp_after) {
        d->in0_zlp_after = false;
        ep0_next_packet(d);
    } else if (!(d->setup[0] & 0x80)) {
        /* status ZLP of a control write finished */
    } else {
        /* control read data stage over: take the host's status OUT */
        wr(d->sim, DOEPTSIZ(0), (3u << 29) | (1u << 19) | 0u);
        setb(d->sim, DOEPCTL(0), EP_CNAK | EP_EPENA);
    }
}

static void feed_bulk_in(struct tdev *d)
{
    if (!d->bulk_in || d->bulk_in_written >= d->bulk_in_len) {
        if (d->irq_driven)
            clrb(d->sim, DIEPEMPMSK, 1u << 1);
        return;
    }
    if (d->irq_driven && !(rd(d->sim, DIEPINT(1)) & IN_TXFE))
        return;
    uint32_t chunk = d->bulk_in_len - d->bulk_in_written;
    if (chunk > 64)
        chunk = 64;
    if (rd(d->sim, DTXFSTS(1)) < (chunk + 3) / 4)
        return;
    write_packet(d->sim, 1, d->bulk_in + d->bulk_in_written, chunk);
    d->bulk_in_written += chunk;
}

void tdev_bulk_out_arm(struct tdev *d, uint32_t max_len)
{
    uint32_t pkts = (max_len + 63) / 64;
    d->bulk_out_len = 0;
    d->bulk_out_done = false;
    wr(d->sim, DOEPTSIZ(1), (pkts << 19) | max_len);
    setb(d->sim, DOEPCTL(1), EP_CNAK | EP_EPENA);
}

void tdev_bulk_in_send(struct tdev *d, const uint8_t *data, uint32_t len)
{
    uint32_t pkts = len ? (len + 63) / 64 : 1;
    d->bulk_in = data;
    d->bulk_in_len = len;
    d->bulk_in_written = 0;
    d->bulk_in_done = false;
    wr(d->sim, DIEPTSIZ(1), (pkts << 19) | len);
    setb(d->sim, DIEPCTL(1), EP_CNAK | EP_EPENA);
    if (d->irq_driven)
        setb(d->sim, DIEPEMPMSK, 1u << 1); /* the data goes in from the TXFE interrupt */
    else
        feed_bulk_in(d);
}

void tdev_use_irq(struct tdev *d)
{
    sim_t *sim = d->sim;
    d->irq_driven = true;
    wr(sim, GINTMSK, GINT_RXFLVL | GINT_USBRST | GINT_ENUMDNE | GINT_IEPINT | GINT_OEPINT | GINT_USBSUSP);
    wr(sim, DIEPMSK, IN_XFRC);
    wr(sim, DOEPMSK, OUT_XFRC | OUT_STUP);
    wr(sim, DAINTMSK, 0x00030003u);
    setb(sim, GAHBCFG, 1u);
}

static void read_words(sim_t *sim, uint8_t *dst, uint32_t bcnt)
{
    for (uint32_t i = 0; i < bcnt; i += 4) {
        uint32_t w = rd(sim, FIFO(0));
        for (unsigned b = 0; b < 4 && i + b < bcnt; b++)
            dst[i + b] = (uint8_t)(w >> (8 * b));
    }
}

void tdev_poll(struct tdev *d)
{
    sim_t *sim = d->sim;
    uint32_t s = rd(sim, GINTSTS);
    if (s & GINT_USBRST) {
        wr(sim, GINTSTS, GINT_USBRST);
        on_bus_reset(d);
    }
    if (s & GINT_ENUMDNE) {
        wr(sim, GINTSTS, GINT_ENUMDNE);
        d->enum_dones++;
        clrb(sim, DIEPCTL(0), 3u);
        setb(sim, DCTL, 1u << 8);
    }
    if (s & GINT_USBSUSP) {
        wr(sim, GINTSTS, GINT_USBSUSP | GINT_ESUSP);
        d->suspends++;
    }
    /* IN completions before RX entries */
    if (rd(sim, DIEPINT(0)) & IN_XFRC) {
        wr(sim, DIEPINT(0), IN_XFRC);
        ep0_in_done(d);
    }
    if (rd(sim, DIEPINT(1)) & IN_XFRC) {
        wr(sim, DIEPINT(1), IN_XFRC);
        d->bulk_in_done = true;
    }
    feed_bulk_in(d);
    while (rd(sim, GINTSTS) & GINT_RXFLVL) {
        uint32_t st = rd(sim, GRXSTSP);
        unsigned ep = STS_EP(st), bcnt = STS_BCNT(st);
        if (d->rx_n < 1024) {
            d->rx_log[d->rx_n] = st;
            d->rx_log_doepint[d->rx_n] = rd(sim, DOEPINT(ep));
            d->rx_n++;
        }
        switch (STS_TYPE(st)) {
        case 6: read_words(sim, d->setup, 8); break;
        case 4:
            wr(sim, DOEPINT(0), OUT_STUP | OUT_STPKTRX);
            handle_setup(d);
            break;
        case 2:
            if (ep == 0) {
                uint8_t tmp[64];
                read_words(sim, tmp, bcnt);
                if (d->ctrl_out && d->ctrl_len + bcnt <= sizeof d->ctrl_buf) {
                    memcpy(d->ctrl_buf + d->ctrl_len, tmp, bcnt);
                    d->ctrl_len += bcnt;
                }
            } else if (ep == 1) {
                uint8_t tmp[1024];
                read_words(sim, tmp, bcnt);
                if (d->bulk_out_len + bcnt <= sizeof d->bulk_out) {
                    memcpy(d->bulk_out + d->bulk_out_len, tmp, bcnt);
                    d->bulk_out_len += bcnt;
                }
            } else {
                uint8_t tmp[1024];
                read_words(sim, tmp, bcnt);
            }
            break;
        case 3: {
            uint32_t di = rd(sim, DOEPINT(ep));
            if (ep == 0 && d->drop_flagged_completions && (di & (OUT_STPKTRX | OUT_STSPHSRX))) {
                wr(sim, DOEPINT(0), OUT_XFRC | OUT_STPKTRX | OUT_STSPHSRX);
                d->flagged_dropped++;
                break;
            }
            wr(sim, DOEPINT(ep), OUT_XFRC);
            if (ep == 0 && d->ctrl_out) {
                if (d->ctrl_len < d->ctrl_expected) {
                    ep0_out_arm(d);
                } else {
                    d->ctrl_out = false;
                    memcpy(d->vendor, d->ctrl_buf, d->ctrl_len);
                    d->vendor_len = d->ctrl_len;
                    ep0_send(d, NULL, 0, 0);
                }
            } else if (ep == 1) {
                d->bulk_out_done = true;
            }
            break;
        }
        default: break;
        }
    }
}

#define NVIC_ISPR2 0xE000E208u
#define NVIC_ICPR2 0xE000E288u
#define OTG_IRQ_BIT (1u << (67 - 64))

void tdev_run_us(struct tdev *d, uint64_t us)
{
    for (uint64_t t = 0; t < us; t += 20) {
        sim_advance(d->sim, 20 * SIM_PS_PER_US);
        if (d->irq_driven) {
            if (!(rd(d->sim, NVIC_ISPR2) & OTG_IRQ_BIT))
                continue;
            wr(d->sim, NVIC_ICPR2, OTG_IRQ_BIT);
            d->irqs++;
        }
        tdev_poll(d);
    }
}
