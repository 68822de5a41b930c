/* OTG_FS model: the L476's Synopsys DWC2 (3.10a) USB core in device mode, slave FIFOs.
 * Facts: shared/reference/otg-fs-device.md (§ numbers below); rules: docs/sim-usb.md.
 *
 * Register table (offset from 0x5000_0000, reset value, notes). † = sheet's "usual
 * default", not checked against RM0351 text: (unverified).
 *
 *  off    name        reset        notes
 *  0x000  GOTGCTL     0x0001_0000  (unverified) B-valid override 6/7; CIDSTS 16 = 1 (B-device); BSVLD 19 live
 *  0x004  GOTGINT     0            W1C; SEDET 2 set when B-session valid falls
 *  0x008  GAHBCFG     0            GINT 0, TXFELVL 7; DMAEN 5 refused (slave-only core)
 *  0x00C  GUSBCFG     0x0000_1440  (unverified) TRDT 13:10 = 5, PHYSEL 6; FHMOD 29 / FDMOD 30
 *  0x010  GRSTCTL     0x8000_0000  (unverified) CSRST 0, RXFFLSH 4, TXFFLSH 5 self-clear; TXFNUM 10:6; AHBIDL 31 = 1
 *  0x014  GINTSTS     0x0400_0020  (unverified) latched bits W1C; CMOD, OTGINT, RXFLVL, GINAKEFF,
 *                                  BOUTNAKEFF, IEPINT, OEPINT computed; NPTXFE 5 / PTXFE 26 read 1
 *  0x018  GINTMSK     0
 *  0x01C  GRXSTSR     0            peek at the RX status queue head (0 when empty)
 *  0x020  GRXSTSP     0            pop it: type 3 sets DOEPINT.XFRC, type 4 sets DOEPINT0.STUP
 *  0x024  GRXFSIZ     0x0000_0200  (unverified) RX FIFO depth in words, from word 0
 *  0x028  DIEPTXF0    0x0000_0200  (unverified) TX FIFO 0 start 15:0, depth 31:16
 *  0x038  GCCFG       0            PWRDWN 16, VBDEN 21; BCD detectors 0..3 read as a plain host port
 *  0x03C  CID         0x0000_2000  read-only here
 *  0x040  GSNPSID     0x4F54_310A  core 3.10a
 *  0x044  GHWCFG1..4  0, 0x229E_D520, 0x0200_D1E8, 0x17F0_8030
 *  0x054  GLPMCFG     0            stored, LPM not modelled
 *  0x05C  GDFIFOCFG   0            stored (TinyUSB writes it)
 *  0x104  DIEPTXF1..5 0x0200_0400  (unverified) start 15:0, depth 31:16; 0x118..0x13C (6..15)
 *                                  take zero writes (HAL clears 15 slots), anything else is reserved
 *  0x800  DCFG        0x0220_0000  (unverified) DSPD 1:0, DAD 10:4
 *  0x804  DCTL        0x0000_0002  (unverified) SDIS 1 = pull-up off; S/C GINAK, S/C GONAK
 *  0x808  DSTS        0x0000_0010  (unverified) SUSPSTS 0, ENUMSPD 2:1 (3 after ENUMDNE), FNSOF 21:8
 *  0x810  DIEPMSK     0
 *  0x814  DOEPMSK     0
 *  0x818  DAINT       0            computed from the EP interrupt bits and masks
 *  0x81C  DAINTMSK    0
 *  0x828  DVBUSDIS    0x0000_17D7  (unverified) stored, no effect
 *  0x82C  DVBUSPULSE  0x0000_05B8  (unverified) stored, no effect
 *  0x834  DIEPEMPMSK  0
 *  0x900  DIEPCTLn    0 (EP0: USBAEP=1) (unverified) +0x20 per EP, n = 0..5
 *  0x908  DIEPINTn    0x80         (unverified) TXFE 7 computed from the FIFO level
 *  0x910  DIEPTSIZn   0
 *  0x918  DTXFSTSn    live         free words in the EP's TX FIFO
 *  0xB00  DOEPCTLn    0 (EP0: USBAEP=1) (unverified)
 *  0xB08  DOEPINTn    0            STPKTRX 15 / STSPHSRX 5: the 3.10a quirk (§5 option b)
 *  0xB10  DOEPTSIZn   0
 *  0xE00  PCGCCTL     0            STPPCLK 0, GATEHCLK 1 stored (clock gating not modelled)
 *  0x1000 + n*0x1000  FIFO window n: reads pop the RX FIFO, writes push EP n's TX FIFO
 *  Host-mode registers (0x400..0x7FF), the debug RAM view and everything else: reserved here.
 */
#include "otgfs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpio.h"
#include "pwr.h"
#include "rcc.h"

/* ---- reset values kept in one place (a correction is one edit) ---- */
#define RST_GOTGCTL   0x00010000u /* (unverified) */
#define RST_GUSBCFG   0x00001440u /* (unverified) */
#define RST_GRXFSIZ   0x00000200u /* (unverified) */
#define RST_DIEPTXF0  0x00000200u /* (unverified) */
#define RST_DIEPTXF   0x02000400u /* (unverified) */
#define RST_DCFG      0x02200000u /* (unverified) */
#define RST_DCTL      0x00000002u /* (unverified) */
#define RST_DSTS_BITS 0x00000010u /* (unverified) */
#define RST_DVBUSDIS  0x000017D7u /* (unverified) */
#define RST_DVBUSPULSE 0x000005B8u /* (unverified) */
#define VAL_CID       0x00002000u
#define VAL_GSNPSID   0x4F54310Au
#define VAL_GHWCFG1   0x00000000u
#define VAL_GHWCFG2   0x229ED520u
#define VAL_GHWCFG3   0x0200D1E8u
#define VAL_GHWCFG4   0x17F08030u

/* Idle time before the core reports suspend (USB 2.0: 3 ms of J state). */
#define SUSPEND_IDLE_PS (3 * SIM_PS_PER_MS)

/* ---- bits ---- */
#define GOTGCTL_BVALOEN (1u << 6)
#define GOTGCTL_BVALOVAL (1u << 7)
#define GOTGCTL_CIDSTS (1u << 16)
#define GOTGCTL_BSVLD (1u << 19)
#define GOTGCTL_RW 0x00101EFEu
#define GOTGINT_SEDET (1u << 2)

#define GAHBCFG_GINT (1u << 0)
#define GAHBCFG_DMAEN (1u << 5)
#define GAHBCFG_TXFELVL (1u << 7)

#define GUSBCFG_FHMOD (1u << 29)
#define GUSBCFG_FDMOD (1u << 30)

#define GRSTCTL_CSRST (1u << 0)
#define GRSTCTL_RXFFLSH (1u << 4)
#define GRSTCTL_TXFFLSH (1u << 5)
#define GRSTCTL_TXFNUM_SHIFT 6
#define GRSTCTL_TXFNUM_MASK (0x1Fu << 6)
#define GRSTCTL_AHBIDL (1u << 31)

#define GINTSTS_CMOD (1u << 0)
#define GINTSTS_OTGINT (1u << 2)
#define GINTSTS_SOF (1u << 3)
#define GINTSTS_RXFLVL (1u << 4)
#define GINTSTS_NPTXFE (1u << 5)
#define GINTSTS_GINAKEFF (1u << 6)
#define GINTSTS_BOUTNAKEFF (1u << 7)
#define GINTSTS_ESUSP (1u << 10)
#define GINTSTS_USBSUSP (1u << 11)
#define GINTSTS_USBRST (1u << 12)
#define GINTSTS_ENUMDNE (1u << 13)
#define GINTSTS_IEPINT (1u << 18)
#define GINTSTS_OEPINT (1u << 19)
#define GINTSTS_PTXFE (1u << 26)
#define GINTSTS_WKUPINT (1u << 31)
/* bits software clears by writing 1 */
#define GINTSTS_W1C 0xF8F0FC0Au

#define GCCFG_DCDET (1u << 0)
#define GCCFG_PWRDWN (1u << 16)
#define GCCFG_DCDEN (1u << 18)
#define GCCFG_VBDEN (1u << 21)
#define GCCFG_RW 0x003F0000u

#define DCFG_DSPD_MASK 3u
#define DCFG_DAD_SHIFT 4
#define DCFG_DAD_MASK (0x7Fu << 4)

#define DCTL_RWUSIG (1u << 0)
#define DCTL_SDIS (1u << 1)
#define DCTL_GINSTS (1u << 2)
#define DCTL_GONSTS (1u << 3)
#define DCTL_SGINAK (1u << 7)
#define DCTL_CGINAK (1u << 8)
#define DCTL_SGONAK (1u << 9)
#define DCTL_CGONAK (1u << 10)
#define DCTL_STORED 0x00040873u /* RWUSIG, SDIS, TCTL, POPRGDNE, DSBESLRJCT */

#define EPCTL_MPSIZ 0x7FFu
#define EPCTL_USBAEP (1u << 15)
#define EPCTL_DPID (1u << 16)
#define EPCTL_NAKSTS (1u << 17)
#define EPCTL_EPTYP_SHIFT 18
#define EPCTL_EPTYP (3u << 18)
#define EPCTL_SNPM (1u << 20)
#define EPCTL_STALL (1u << 21)
#define EPCTL_TXFNUM_SHIFT 22
#define EPCTL_TXFNUM (0xFu << 22)
#define EPCTL_CNAK (1u << 26)
#define EPCTL_SNAK (1u << 27)
#define EPCTL_SD0PID (1u << 28)
#define EPCTL_SD1PID (1u << 29)
#define EPCTL_EPDIS (1u << 30)
#define EPCTL_EPENA (1u << 31)

#define DIEPINT_XFRC (1u << 0)
#define DIEPINT_EPDISD (1u << 1)
#define DIEPINT_TOC (1u << 3)
#define DIEPINT_ITTXFE (1u << 4)
#define DIEPINT_INEPNE (1u << 6)
#define DIEPINT_TXFE (1u << 7)
#define DIEPINT_NAK (1u << 13)
#define DIEPINT_W1C 0x0000397Bu

#define DOEPINT_XFRC (1u << 0)
#define DOEPINT_EPDISD (1u << 1)
#define DOEPINT_STUP (1u << 3)
#define DOEPINT_STSPHSRX (1u << 5)
#define DOEPINT_B2BSTUP (1u << 6)
#define DOEPINT_NAK (1u << 13)
#define DOEPINT_STPKTRX (1u << 15)
#define DOEPINT_W1C 0x0000B37Bu

/* RX status word (GRXSTSR/GRXSTSP) */
#define PKTSTS_GOUTNAK 1u
#define PKTSTS_OUT_DATA 2u
#define PKTSTS_OUT_DONE 3u
#define PKTSTS_SETUP_DONE 4u
#define PKTSTS_SETUP_DATA 6u

#define NFIFO_TX OTGFS_NUM_EPS

struct fifo {
    uint32_t start, depth; /* words in the shared RAM */
    uint32_t rd, wr, fill; /* positions within the FIFO, words */
    bool checked;          /* layout checked since the sizes last changed */
};

struct otg_ep {
    uint32_t ctl;   /* stored bits: MPSIZ, USBAEP, NAKSTS, EPTYP, SNPM, STALL, TXFNUM, EPENA */
    uint32_t intr;  /* latched interrupt bits */
    uint32_t tsiz;
    uint8_t toggle; /* next data PID: 0 = DATA0 */
};

struct otgfs {
    sim_t *sim;

    uint32_t gotgctl, gotgint, gahbcfg, gusbcfg, grstctl;
    bool csrst_pending; /* CSRST written without a 48 MHz clock */
    uint32_t gintsts, gintmsk, grxfsiz, dieptxf0, gccfg, glpmcfg, gdfifocfg;
    uint32_t dieptxf[NFIFO_TX]; /* [1..5] used */
    uint32_t dcfg, dctl, dvbusdis, dvbuspulse, pcgcctl;
    bool ginak, gonak;
    uint32_t enumspd, fnsof;
    bool suspended;
    uint32_t diepmsk, doepmsk, daintmsk, diepempmsk;
    struct otg_ep in[OTGFS_NUM_EPS], out[OTGFS_NUM_EPS];

    uint32_t ram[OTGFS_RAM_WORDS];
    struct fifo rx, tx[NFIFO_TX];
    uint32_t rx_data_left; /* data words of the last popped status still to be read */

    /* bus side */
    bool pullup, bvalid, vbus;
    bool bus_active;        /* a reset has been seen since the pull-up appeared */
    bool in_reset;
    uint64_t last_activity; /* last bus event (token, SOF, reset end, pull-up) */
    uint8_t address;        /* the address the device answers to */
    bool address_pending;   /* DAD written: takes effect after the status-IN ZLP */
    uint8_t pending_address;

    /* EP0 control transfer as the core sees it */
    bool setup_done_pending;  /* SETUP-done word goes in at the next data/status token */
    bool control_write;       /* last SETUP was host-to-device with a data stage */
    bool control_write_data;  /* ... and OUT data has been accepted since */
    bool status_quirk_pushed; /* the extra STSPHSRX word went in for this transfer */

    bool quirk_310a;
    uint8_t last_setup[8]; /* for the trace: what an EP0 OUT data stage belongs to */

    const struct otgfs_host_ops *host_ops;
    void *host;

    bool warned_txfnum0[OTGFS_NUM_EPS];
    char blocker_text[256];
    char note_text[64];
};

static void update_irq(struct otgfs *o);
static void full_reset(struct otgfs *o);

struct otgfs *otgfs_of(sim_t *sim)
{
    return sim_model(sim, SIM_M_OTGFS);
}

static uint64_t now_of(struct otgfs *o)
{
    return sim_now(o->sim);
}

/* ------------------------------------------------------------------ FIFO RAM */

static void fifo_set_layout(struct fifo *f, uint32_t start, uint32_t depth)
{
    if (f->start != start || f->depth != depth) {
        f->start = start;
        f->depth = depth;
        f->rd = f->wr = f->fill = 0;
        f->checked = false;
    }
}

static void fifo_flush(struct fifo *f)
{
    f->rd = f->wr = f->fill = 0;
}

/* Beyond the 320 words the RAM address wraps (our reading; the silicon's exact
 * behaviour is unverified): data lands on top of another FIFO, as it would. */
static uint32_t *ram_word(struct otgfs *o, const struct fifo *f, uint32_t pos)
{
    uint32_t idx = f->start + (f->depth ? pos % f->depth : 0);
    return &o->ram[idx % OTGFS_RAM_WORDS];
}

static void tx_layout(struct otgfs *o)
{
    fifo_set_layout(&o->rx, 0, o->grxfsiz & 0xFFFFu);
    fifo_set_layout(&o->tx[0], o->dieptxf0 & 0xFFFFu, o->dieptxf0 >> 16);
    for (unsigned n = 1; n < NFIFO_TX; n++)
        fifo_set_layout(&o->tx[n], o->dieptxf[n] & 0xFFFFu, o->dieptxf[n] >> 16);
}

static const char *fifo_name(struct otgfs *o, const struct fifo *f, char *buf, size_t size)
{
    if (f == &o->rx)
        snprintf(buf, size, "RX FIFO (GRXFSIZ words 0..%u)", f->depth);
    else
        snprintf(buf, size, "TX FIFO %u (%s words %u..%u)", (unsigned)(f - o->tx),
                 f == &o->tx[0] ? "DIEPTXF0" : "DIEPTXFx", f->start, f->start + f->depth);
    return buf;
}

/* A FIFO is checked the first time it carries data after its size changed: firmware
 * writes the sizing registers one by one, so intermediate layouts overlap harmlessly. */
static void fifo_check(struct otgfs *o, struct fifo *f)
{
    if (f->checked)
        return;
    f->checked = true;
    char a[96], b[96];
    if (f->depth == 0) {
        sim_warn(o->sim, "OTG_FS: %s has depth 0: its data is lost", fifo_name(o, f, a, sizeof a));
        return;
    }
    if (f->start + f->depth > OTGFS_RAM_WORDS)
        sim_warn(o->sim, "OTG_FS: %s ends beyond the %u words of FIFO RAM: data there wraps onto other FIFOs",
                 fifo_name(o, f, a, sizeof a), OTGFS_RAM_WORDS);
    struct fifo *all[1 + NFIFO_TX];
    all[0] = &o->rx;
    for (unsigned n = 0; n < NFIFO_TX; n++)
        all[1 + n] = &o->tx[n];
    for (unsigned i = 0; i < 1 + NFIFO_TX; i++) {
        struct fifo *g = all[i];
        if (g == f || !g->checked || g->depth == 0)
            continue;
        if (f->start < g->start + g->depth && g->start < f->start + f->depth)
            sim_warn(o->sim, "OTG_FS: %s overlaps %s: their data corrupt each other", fifo_name(o, f, a, sizeof a),
                     fifo_name(o, g, b, sizeof b));
    }
}

static bool fifo_push(struct otgfs *o, struct fifo *f, uint32_t w)
{
    fifo_check(o, f);
    if (f->fill >= f->depth)
        return false;
    *ram_word(o, f, f->wr) = w;
    f->wr = (f->wr + 1) % f->depth;
    f->fill++;
    return true;
}

static uint32_t fifo_pop(struct otgfs *o, struct fifo *f)
{
    if (f->fill == 0)
        return 0;
    uint32_t w = *ram_word(o, f, f->rd);
    f->rd = (f->rd + 1) % f->depth;
    f->fill--;
    return w;
}

static uint32_t fifo_free(const struct fifo *f)
{
    return f->depth > f->fill ? f->depth - f->fill : 0;
}

static unsigned words_of(unsigned bytes)
{
    return (bytes + 3) / 4;
}

/* ------------------------------------------------------------------ endpoint helpers */

static unsigned ep0_mps(const struct otgfs *o)
{
    static const unsigned mps[4] = {64, 32, 16, 8};
    return mps[o->in[0].ctl & 3u];
}

static unsigned in_mps(const struct otgfs *o, unsigned n)
{
    return n == 0 ? ep0_mps(o) : (o->in[n].ctl & EPCTL_MPSIZ);
}

static unsigned out_mps(const struct otgfs *o, unsigned n)
{
    return n == 0 ? ep0_mps(o) : (o->out[n].ctl & EPCTL_MPSIZ);
}

static unsigned ep_type(const struct otg_ep *e, unsigned n)
{
    return n == 0 ? 0 : (e->ctl & EPCTL_EPTYP) >> EPCTL_EPTYP_SHIFT;
}

/* Which TX FIFO EP n's IN data lives in (dedicated FIFOs: DIEPCTLn.TXFNUM). */
static unsigned tx_fifo_of(struct otgfs *o, unsigned n)
{
    if (n == 0)
        return 0;
    unsigned f = (o->in[n].ctl & EPCTL_TXFNUM) >> EPCTL_TXFNUM_SHIFT;
    if (f >= NFIFO_TX) {
        sim_warn(o->sim, "OTG_FS: DIEPCTL%u.TXFNUM is %u: the L476 has TX FIFOs 0..5 only", n, f);
        f = 0;
    }
    if (f == 0 && !o->warned_txfnum0[n]) {
        o->warned_txfnum0[n] = true;
        sim_warn(o->sim, "OTG_FS: DIEPCTL%u.TXFNUM is 0: EP%u IN shares TX FIFO 0 with EP0", n, n);
    }
    return f;
}

static bool tx_fifo_empty_level(const struct otgfs *o, unsigned f)
{
    const struct fifo *x = &o->tx[f];
    if (o->gahbcfg & GAHBCFG_TXFELVL)
        return x->fill == 0;
    return x->fill * 2 <= x->depth;
}

static uint32_t diepint_read(struct otgfs *o, unsigned n)
{
    uint32_t v = o->in[n].intr;
    unsigned f = n == 0 ? 0 : (o->in[n].ctl & EPCTL_TXFNUM) >> EPCTL_TXFNUM_SHIFT;
    if (f < NFIFO_TX && tx_fifo_empty_level(o, f))
        v |= DIEPINT_TXFE;
    return v;
}

static uint32_t daint(struct otgfs *o)
{
    uint32_t v = 0;
    for (unsigned n = 0; n < OTGFS_NUM_EPS; n++) {
        uint32_t di = diepint_read(o, n);
        if ((di & o->diepmsk & ~DIEPINT_TXFE) || ((di & DIEPINT_TXFE) && (o->diepempmsk & (1u << n))))
            v |= 1u << n;
        if (o->out[n].intr & o->doepmsk)
            v |= 1u << (16 + n);
    }
    return v;
}

static bool host_mode(const struct otgfs *o)
{
    return (o->gusbcfg & GUSBCFG_FHMOD) != 0;
}

static bool rx_status_ready(const struct otgfs *o)
{
    return o->rx.fill > o->rx_data_left;
}

static uint32_t gintsts_read(struct otgfs *o)
{
    uint32_t v = o->gintsts | GINTSTS_NPTXFE | GINTSTS_PTXFE;
    if (host_mode(o))
        v |= GINTSTS_CMOD;
    if (o->gotgint)
        v |= GINTSTS_OTGINT;
    if (rx_status_ready(o))
        v |= GINTSTS_RXFLVL;
    if (o->ginak)
        v |= GINTSTS_GINAKEFF;
    if (o->gonak)
        v |= GINTSTS_BOUTNAKEFF;
    uint32_t d = daint(o) & o->daintmsk;
    if (d & 0xFFFFu)
        v |= GINTSTS_IEPINT;
    if (d >> 16)
        v |= GINTSTS_OEPINT;
    return v;
}

static void update_irq(struct otgfs *o)
{
    bool level = (o->gahbcfg & GAHBCFG_GINT) && (gintsts_read(o) & o->gintmsk);
    sim_irq_set(o->sim, OTGFS_IRQ, level);
}

/* ------------------------------------------------------------------ connect conditions */

static bool bvalid_now(struct otgfs *o)
{
    if (o->gotgctl & GOTGCTL_BVALOEN)
        return (o->gotgctl & GOTGCTL_BVALOVAL) != 0;
    /* VBUS sensing is one of PA9's additional functions: the comparator sees the pin
     * whatever its GPIO mode, so this is the cable's VBUS, not IDR. */
    return (o->gccfg & GCCFG_VBDEN) && o->vbus;
}

bool otgfs_clock_accurate(sim_t *sim, const char **why)
{
    bool accurate = true;
    const char *w = NULL;
    uint32_t hz = rcc_clk48_hz(sim, &accurate, &w);
    if (why)
        *why = w;
    return hz != 0 && accurate;
}

static const char *blocker(struct otgfs *o)
{
    sim_t *sim = o->sim;
    char *buf = o->blocker_text;
    const size_t bufsize = sizeof o->blocker_text;
    if (!rcc_periph_enabled(sim, RCC_P_OTGFS))
        return "RCC_AHB2ENR.OTGFSEN is 0: the OTG_FS core has no bus clock";
    bool accurate = true;
    const char *why = NULL;
    if (rcc_clk48_hz(sim, &accurate, &why) == 0) {
        snprintf(buf, bufsize, "no 48 MHz USB clock (RCC_CCIPR.CLK48SEL): %s",
                 why ? why : "the selected source is not running");
        return buf;
    }
    if (!pwr_usb_supply_valid(sim))
        return "PWR_CR2.USV is 0: VDDUSB is isolated, the USB pads are off";
    static const unsigned pins[2] = {11, 12};
    static const char *const pin_names[2] = {"DM", "DP"};
    for (unsigned i = 0; i < 2; i++) {
        unsigned mode = gpio_pin_mode(sim, 'A', pins[i]);
        unsigned af = gpio_pin_af(sim, 'A', pins[i]);
        if (mode != GPIO_MODE_AF || af != 10) {
            static const char *const mode_names[4] = {"input", "output", "alternate function", "analog"};
            snprintf(buf, bufsize,
                     "PA%u (OTG_FS_%s) is not in alternate function AF10 (GPIOA_MODER: %s, AFR: AF%u): the pin "
                     "is not connected to the USB transceiver",
                     pins[i], pin_names[i], mode_names[mode & 3u], af);
            return buf;
        }
    }
    if (!(o->gccfg & GCCFG_PWRDWN))
        return "OTG_FS GCCFG.PWRDWN is 0: the USB transceiver is powered down";
    if (!bvalid_now(o)) {
        if (o->gccfg & GCCFG_VBDEN)
            return "OTG_FS B-session not valid: GCCFG.VBDEN is 1 but there is no VBUS on PA9 (cable unplugged?)";
        return "OTG_FS B-session not valid: GCCFG.VBDEN is 0 and GOTGCTL.BVALOEN/BVALOVAL do not override it";
    }
    if (o->dctl & DCTL_SDIS)
        return "OTG_FS DCTL.SDIS is 1: soft disconnect, the D+ pull-up is off";
    if (host_mode(o))
        return "OTG_FS GUSBCFG.FHMOD is 1: the core is forced into host mode";
    return NULL;
}

const char *otgfs_connect_blocker(sim_t *sim)
{
    struct otgfs *o = otgfs_of(sim);
    if (!o)
        return "no OTG_FS model on this board";
    return blocker(o);
}

bool otgfs_pullup(sim_t *sim)
{
    return otgfs_connect_blocker(sim) == NULL;
}

/* Called after anything that may change the pull-up or B-session. */
static void check_connect(struct otgfs *o)
{
    bool bv = bvalid_now(o);
    if (o->bvalid && !bv) {
        o->gotgint |= GOTGINT_SEDET;
        update_irq(o);
    }
    o->bvalid = bv;
    bool up = blocker(o) == NULL;
    if (up == o->pullup)
        return;
    o->pullup = up;
    uint64_t now = now_of(o);
    o->bus_active = false;
    o->in_reset = false; /* a reset in progress ends with the connection */
    o->suspended = false;
    o->last_activity = now;
    sim_trace(o->sim, SIM_TR_USB, "USB D+ pull-up %s", up ? "on: the host can see the device" : "off");
    const char *why = NULL;
    if (up && !otgfs_clock_accurate(o->sim, &why))
        sim_warn(o->sim, "OTG_FS connects with a 48 MHz clock the host cannot follow (%s): the host will see "
                 "bit errors on every packet the device sends",
                 why ? why : "inaccurate");
    if (o->host_ops && o->host_ops->pullup_changed)
        o->host_ops->pullup_changed(o->host, up, now);
}

/* ------------------------------------------------------------------ RX queue */

static uint32_t rx_status(unsigned ep, unsigned bcnt, unsigned dpid, unsigned pktsts, uint32_t frame)
{
    return (ep & 0xFu) | ((bcnt & 0x7FFu) << 4) | ((dpid & 3u) << 15) | ((pktsts & 0xFu) << 17) |
           ((frame & 0xFu) << 21);
}

/* Room for a status word and `bytes` of data. */
static bool rx_room(struct otgfs *o, unsigned bytes, unsigned extra_words)
{
    return fifo_free(&o->rx) >= 1 + words_of(bytes) + extra_words;
}

static void rx_push_packet(struct otgfs *o, uint32_t status, const uint8_t *data, unsigned len)
{
    bool ok = fifo_push(o, &o->rx, status);
    for (unsigned i = 0; i < len; i += 4) {
        uint32_t w = 0;
        for (unsigned b = 0; b < 4 && i + b < len; b++)
            w |= (uint32_t)data[i + b] << (8 * b);
        ok = fifo_push(o, &o->rx, w) && ok;
    }
    if (!ok)
        sim_warn(o->sim, "OTG_FS: RX FIFO overflow (GRXFSIZ %u words): a status entry was lost", o->rx.depth);
}

/* The SETUP-done word (and, with the quirk, the extra flagged completion before it)
 * enters the queue at the first data/status-stage token after the SETUP. */
static bool push_setup_done(struct otgfs *o)
{
    if (!o->setup_done_pending)
        return true;
    if (fifo_free(&o->rx) < (o->quirk_310a ? 2u : 1u))
        return false; /* no room for the status words: the token is NAKed until there is */
    o->setup_done_pending = false;
    if (o->quirk_310a)
        rx_push_packet(o, rx_status(0, 0, 0, PKTSTS_OUT_DONE, o->fnsof), NULL, 0);
    rx_push_packet(o, rx_status(0, 0, 0, PKTSTS_SETUP_DONE, o->fnsof), NULL, 0);
    return true;
}

static uint32_t pop_status(struct otgfs *o, bool pop)
{
    if (o->rx_data_left) {
        sim_warn(o->sim,
                 "OTG_FS: %s read with %u data word(s) of the previous packet unread: read ceil(BCNT/4) "
                 "words from the FIFO before the next status (the model drops them)",
                 pop ? "GRXSTSP" : "GRXSTSR", o->rx_data_left);
        while (o->rx_data_left) {
            fifo_pop(o, &o->rx);
            o->rx_data_left--;
        }
    }
    if (o->rx.fill == 0)
        return 0;
    uint32_t w = *ram_word(o, &o->rx, o->rx.rd);
    if (!pop)
        return w;
    fifo_pop(o, &o->rx);
    unsigned ep = w & 0xFu, bcnt = (w >> 4) & 0x7FFu, sts = (w >> 17) & 0xFu;
    if (sts == PKTSTS_OUT_DATA || sts == PKTSTS_SETUP_DATA)
        o->rx_data_left = words_of(bcnt);
    if (ep < OTGFS_NUM_EPS) {
        if (sts == PKTSTS_OUT_DONE)
            o->out[ep].intr |= DOEPINT_XFRC;
        else if (sts == PKTSTS_SETUP_DONE)
            o->out[ep].intr |= DOEPINT_STUP;
    }
    return w;
}

/* ------------------------------------------------------------------ resets */

static void core_soft_reset(struct otgfs *o)
{
    /* Our reading of "resets state, FIFOs and most CSRs" (§2): interrupt and transfer
     * state goes, configuration (GUSBCFG, GCCFG, DCFG, DCTL, FIFO sizes, masks) stays. */
    o->gintsts = 0;
    o->gotgint = 0;
    o->ginak = o->gonak = false;
    o->enumspd = 0;
    o->fnsof = 0;
    o->suspended = false;
    for (unsigned n = 0; n < OTGFS_NUM_EPS; n++) {
        o->in[n].intr = 0;
        o->out[n].intr = 0;
        o->in[n].ctl &= ~(EPCTL_EPENA | EPCTL_NAKSTS);
        o->out[n].ctl &= ~(EPCTL_EPENA | EPCTL_NAKSTS);
        fifo_flush(&o->tx[n]);
    }
    fifo_flush(&o->rx);
    o->rx_data_left = 0;
    o->setup_done_pending = false;
    o->address_pending = false;
}

static void full_reset(struct otgfs *o)
{
    o->gotgctl = RST_GOTGCTL;
    o->gotgint = 0;
    o->gahbcfg = 0;
    o->gusbcfg = RST_GUSBCFG;
    o->grstctl = 0;
    o->csrst_pending = false;
    o->gintsts = 0;
    o->gintmsk = 0;
    o->grxfsiz = RST_GRXFSIZ;
    o->dieptxf0 = RST_DIEPTXF0;
    o->gccfg = 0;
    o->glpmcfg = 0;
    o->gdfifocfg = 0;
    for (unsigned n = 0; n < NFIFO_TX; n++)
        o->dieptxf[n] = RST_DIEPTXF;
    o->dcfg = RST_DCFG;
    o->dctl = RST_DCTL;
    o->dvbusdis = RST_DVBUSDIS;
    o->dvbuspulse = RST_DVBUSPULSE;
    o->pcgcctl = 0;
    o->ginak = o->gonak = false;
    o->enumspd = 0;
    o->fnsof = 0;
    o->suspended = false;
    o->diepmsk = o->doepmsk = o->daintmsk = o->diepempmsk = 0;
    memset(o->in, 0, sizeof o->in);
    memset(o->out, 0, sizeof o->out);
    o->in[0].ctl = EPCTL_USBAEP;
    o->out[0].ctl = EPCTL_USBAEP;
    memset(o->ram, 0, sizeof o->ram);
    memset(&o->rx, 0, sizeof o->rx);
    memset(o->tx, 0, sizeof o->tx);
    o->rx.start = UINT32_MAX; /* force a layout refresh */
    tx_layout(o);
    o->rx_data_left = 0;
    o->address = 0;
    o->address_pending = false;
    o->setup_done_pending = false;
    o->control_write = o->control_write_data = o->status_quirk_pushed = false;
    memset(o->warned_txfnum0, 0, sizeof o->warned_txfnum0);
    update_irq(o);
}

static void on_rcc_reset(void *arg)
{
    struct otgfs *o = arg;
    sim_trace(o->sim, SIM_TR_USB, "USB OTG_FS reset by RCC_AHB2RSTR.OTGFSRST");
    full_reset(o);
    check_connect(o);
}

/* ------------------------------------------------------------------ register access */

static bool clocked(struct otgfs *o, uint32_t off, bool write)
{
    if (rcc_periph_enabled(o->sim, RCC_P_OTGFS))
        return true;
    sim_warn(o->sim, "OTG_FS %s at offset 0x%03x with RCC_AHB2ENR.OTGFSEN = 0: the core has no clock (%s)",
             write ? "write" : "read", off, write ? "ignored" : "reads 0");
    return false;
}

static uint32_t bad(struct otgfs *o, uint32_t off, bool write, uint32_t value)
{
    return sim_bad_access(o->sim, "OTG_FS", OTGFS_BASE + off, write, value);
}

static uint32_t epctl_read(const struct otgfs *o, const struct otg_ep *e, unsigned n, bool out)
{
    uint32_t v = e->ctl;
    if (n == 0) {
        v |= EPCTL_USBAEP;
        if (out)
            v = (v & ~3u) | (o->in[0].ctl & 3u); /* DOEPCTL0.MPSIZ follows EP0 IN */
    } else if (e->toggle && ep_type(e, n) != 1) {
        v |= EPCTL_DPID;
    }
    return v;
}

static void epctl_write(struct otgfs *o, unsigned n, bool out, uint32_t v)
{
    struct otg_ep *e = out ? &o->out[n] : &o->in[n];
    uint32_t keep_mask;
    if (n == 0) {
        keep_mask = out ? EPCTL_SNPM : (3u | EPCTL_TXFNUM);
    } else {
        keep_mask = EPCTL_MPSIZ | EPCTL_USBAEP | EPCTL_EPTYP | (out ? EPCTL_SNPM : EPCTL_TXFNUM);
    }
    /* STALL: on EP0 software can only set it (the core clears it at SETUP). */
    uint32_t stall = e->ctl & EPCTL_STALL;
    if (n == 0)
        stall |= v & EPCTL_STALL;
    else
        stall = v & EPCTL_STALL;
    e->ctl = (e->ctl & ~(keep_mask | EPCTL_STALL)) | (v & keep_mask) | stall;
    if (n == 0 && (v & EPCTL_EPTYP))
        sim_trace(o->sim, SIM_TR_USB, "USB D%sEPCTL0.EPTYP write ignored (read-only on EP0)", out ? "O" : "I");

    if (v & EPCTL_SNAK) {
        e->ctl |= EPCTL_NAKSTS;
        if (!out)
            e->intr |= DIEPINT_INEPNE;
    }
    if (v & EPCTL_CNAK)
        e->ctl &= ~EPCTL_NAKSTS;
    if (v & EPCTL_SD0PID)
        e->toggle = 0;
    if (v & EPCTL_SD1PID)
        e->toggle = 1;
    bool disable = (v & EPCTL_EPDIS) && !(out && n == 0);
    if (disable && (e->ctl & EPCTL_EPENA)) {
        e->ctl &= ~EPCTL_EPENA;
        e->intr |= DIEPINT_EPDISD; /* same bit (1) in DOEPINT */
        v &= ~EPCTL_EPENA;
    }
    if (v & EPCTL_EPENA) {
        e->ctl |= EPCTL_EPENA;
        if (!out && n != 0) {
            unsigned f = tx_fifo_of(o, n);
            unsigned mps = in_mps(o, n);
            if (o->tx[f].depth * 4 < mps)
                sim_warn(o->sim, "OTG_FS: TX FIFO %u holds %u bytes, less than EP%u IN's max packet %u: "
                         "its packets can never be sent",
                         f, o->tx[f].depth * 4, n, mps);
        }
    }
}

static void dctl_write(struct otgfs *o, uint32_t v)
{
    o->dctl = v & DCTL_STORED;
    if (v & DCTL_SGINAK)
        o->ginak = true;
    if (v & DCTL_CGINAK)
        o->ginak = false;
    if (v & DCTL_SGONAK)
        o->gonak = true;
    if (v & DCTL_CGONAK)
        o->gonak = false;
}

static void grstctl_write(struct otgfs *o, uint32_t v)
{
    o->grstctl = v & GRSTCTL_TXFNUM_MASK;
    if (v & GRSTCTL_CSRST) {
        if (rcc_clk48_hz(o->sim, NULL, NULL) == 0) {
            o->csrst_pending = true;
            sim_warn(o->sim, "OTG_FS GRSTCTL.CSRST cannot complete: no 48 MHz USB clock (RCC_CCIPR.CLK48SEL "
                     "and its source); it stays set until the clock runs (unverified behaviour)");
        } else {
            core_soft_reset(o);
        }
    }
    if (v & GRSTCTL_RXFFLSH) {
        fifo_flush(&o->rx);
        o->rx_data_left = 0;
    }
    if (v & GRSTCTL_TXFFLSH) {
        unsigned n = (v & GRSTCTL_TXFNUM_MASK) >> GRSTCTL_TXFNUM_SHIFT;
        if (n == 0x10) {
            for (unsigned i = 0; i < NFIFO_TX; i++)
                fifo_flush(&o->tx[i]);
        } else if (n < NFIFO_TX) {
            fifo_flush(&o->tx[n]);
        } else {
            sim_warn(o->sim, "OTG_FS GRSTCTL.TXFFLSH with TXFNUM %u: no such TX FIFO (0..5, 0x10 = all)", n);
        }
    }
}

static uint32_t grstctl_read(struct otgfs *o)
{
    if (o->csrst_pending && rcc_clk48_hz(o->sim, NULL, NULL) != 0) {
        o->csrst_pending = false;
        core_soft_reset(o);
        update_irq(o);
    }
    return o->grstctl | GRSTCTL_AHBIDL | (o->csrst_pending ? GRSTCTL_CSRST : 0);
}

static uint32_t fifo_window_read(struct otgfs *o, unsigned n)
{
    (void)n; /* every window pops the one RX FIFO */
    if (o->rx_data_left == 0) {
        sim_warn(o->sim, "OTG_FS: FIFO read with no packet data pending (pop GRXSTSP first): reads 0");
        return 0;
    }
    o->rx_data_left--;
    uint32_t w = fifo_pop(o, &o->rx);
    return w;
}

static void fifo_window_write(struct otgfs *o, unsigned n, uint32_t v)
{
    unsigned f = tx_fifo_of(o, n);
    if (!fifo_push(o, &o->tx[f], v))
        sim_warn(o->sim, "OTG_FS: write to EP%u's TX FIFO %u while it is full (DTXFSTS%u = 0): the word is lost",
                 n, f, n);
}

static uint32_t reg_read(struct otgfs *o, uint32_t off)
{
    if (off >= 0x1000u) {
        unsigned n = (off - 0x1000u) / OTGFS_FIFO_STRIDE;
        if (n < OTGFS_NUM_EPS)
            return fifo_window_read(o, n);
        return bad(o, off, false, 0);
    }
    if (off >= 0x900u && off < 0x900u + 0x20u * OTGFS_NUM_EPS) {
        unsigned n = (off - 0x900u) / 0x20u;
        switch (off & 0x1Fu) {
        case 0x00: return epctl_read(o, &o->in[n], n, false);
        case 0x08: return diepint_read(o, n);
        case 0x10: return o->in[n].tsiz;
        case 0x18: {
            unsigned f = n == 0 ? 0 : (o->in[n].ctl & EPCTL_TXFNUM) >> EPCTL_TXFNUM_SHIFT;
            return f < NFIFO_TX ? fifo_free(&o->tx[f]) : 0; /* no such FIFO: tx_fifo_of() warns on use */
        }
        default: return bad(o, off, false, 0);
        }
    }
    if (off >= 0xB00u && off < 0xB00u + 0x20u * OTGFS_NUM_EPS) {
        unsigned n = (off - 0xB00u) / 0x20u;
        switch (off & 0x1Fu) {
        case 0x00: return epctl_read(o, &o->out[n], n, true);
        case 0x08: return o->out[n].intr;
        case 0x10: return o->out[n].tsiz;
        default: return bad(o, off, false, 0);
        }
    }
    if (off >= 0x104u && off < 0x104u + 4u * (NFIFO_TX - 1))
        return o->dieptxf[1 + (off - 0x104u) / 4];
    switch (off) {
    case 0x000: return o->gotgctl | GOTGCTL_CIDSTS | (bvalid_now(o) ? GOTGCTL_BSVLD : 0);
    case 0x004: return o->gotgint;
    case 0x008: return o->gahbcfg;
    case 0x00C: return o->gusbcfg;
    case 0x010: return grstctl_read(o);
    case 0x014: return gintsts_read(o);
    case 0x018: return o->gintmsk;
    case 0x01C: return pop_status(o, false);
    case 0x020: {
        uint32_t w = pop_status(o, true);
        update_irq(o);
        return w;
    }
    case 0x024: return o->grxfsiz;
    case 0x028: return o->dieptxf0;
    case 0x038: {
        uint32_t v = o->gccfg;
        if ((v & GCCFG_DCDEN) && o->vbus)
            v |= GCCFG_DCDET; /* a plain host port: data contact made, no charger */
        return v;
    }
    case 0x03C: return VAL_CID;
    case 0x040: return VAL_GSNPSID;
    case 0x044: return VAL_GHWCFG1;
    case 0x048: return VAL_GHWCFG2;
    case 0x04C: return VAL_GHWCFG3;
    case 0x050: return VAL_GHWCFG4;
    case 0x054: return o->glpmcfg;
    case 0x05C: return o->gdfifocfg;
    case 0x800: return o->dcfg;
    case 0x804: return o->dctl | (o->ginak ? DCTL_GINSTS : 0) | (o->gonak ? DCTL_GONSTS : 0);
    case 0x808: return RST_DSTS_BITS | (o->suspended ? 1u : 0) | (o->enumspd << 1) | ((o->fnsof & 0x3FFFu) << 8);
    case 0x810: return o->diepmsk;
    case 0x814: return o->doepmsk;
    case 0x818: return daint(o);
    case 0x81C: return o->daintmsk;
    case 0x828: return o->dvbusdis;
    case 0x82C: return o->dvbuspulse;
    case 0x834: return o->diepempmsk;
    case 0xE00: return o->pcgcctl;
    default: return bad(o, off, false, 0);
    }
}

static void reg_write(struct otgfs *o, uint32_t off, uint32_t v)
{
    if (off >= 0x1000u) {
        unsigned n = (off - 0x1000u) / OTGFS_FIFO_STRIDE;
        if (n < OTGFS_NUM_EPS)
            fifo_window_write(o, n, v);
        else
            bad(o, off, true, v);
        return;
    }
    if (off >= 0x900u && off < 0x900u + 0x20u * OTGFS_NUM_EPS) {
        unsigned n = (off - 0x900u) / 0x20u;
        switch (off & 0x1Fu) {
        case 0x00: epctl_write(o, n, false, v); return;
        case 0x08: o->in[n].intr &= ~(v & DIEPINT_W1C); return;
        case 0x10: o->in[n].tsiz = v & (n == 0 ? 0x0018007Fu : 0x7FFFFFFFu); return;
        case 0x18: return; /* DTXFSTS is read-only; HAL never writes it, ignore quietly */
        default: bad(o, off, true, v); return;
        }
    }
    if (off >= 0xB00u && off < 0xB00u + 0x20u * OTGFS_NUM_EPS) {
        unsigned n = (off - 0xB00u) / 0x20u;
        switch (off & 0x1Fu) {
        case 0x00: epctl_write(o, n, true, v); return;
        case 0x08: o->out[n].intr &= ~(v & DOEPINT_W1C); return;
        case 0x10: o->out[n].tsiz = v & (n == 0 ? 0x6008007Fu : 0x1FFFFFFFu); return;
        default: bad(o, off, true, v); return;
        }
    }
    if (off >= 0x104u && off < 0x104u + 4u * (NFIFO_TX - 1)) {
        o->dieptxf[1 + (off - 0x104u) / 4] = v;
        tx_layout(o);
        return;
    }
    if (off >= 0x104u + 4u * (NFIFO_TX - 1) && off < 0x140u) {
        if (v != 0)
            bad(o, off, true, v); /* DIEPTXF6..15 do not exist on the L476 */
        return;
    }
    switch (off) {
    case 0x000: o->gotgctl = (o->gotgctl & ~GOTGCTL_RW) | (v & GOTGCTL_RW); break;
    case 0x004: o->gotgint &= ~v; break;
    case 0x008:
        if (v & GAHBCFG_DMAEN)
            sim_warn(o->sim, "OTG_FS GAHBCFG.DMAEN set: the L476's core is slave-only (GHWCFG2), no DMA; ignored");
        o->gahbcfg = v & 0x1DFu;
        break;
    case 0x00C:
        if ((v & GUSBCFG_FHMOD) && (v & GUSBCFG_FDMOD))
            sim_warn(o->sim, "OTG_FS GUSBCFG: FHMOD and FDMOD both set");
        o->gusbcfg = v;
        break;
    case 0x010: grstctl_write(o, v); break;
    case 0x014: o->gintsts &= ~(v & GINTSTS_W1C); break;
    case 0x018: o->gintmsk = v & ~1u; break;
    case 0x01C:
    case 0x020: break; /* read-only status queue; stacks never write it */
    case 0x024: o->grxfsiz = v & 0xFFFFu; tx_layout(o); break;
    case 0x028: o->dieptxf0 = v; tx_layout(o); break;
    case 0x038: o->gccfg = v & GCCFG_RW; break;
    case 0x054: o->glpmcfg = v; break;
    case 0x05C: o->gdfifocfg = v; break;
    case 0x800: {
        uint8_t new_addr = (uint8_t)((v & DCFG_DAD_MASK) >> DCFG_DAD_SHIFT);
        uint8_t old_addr = (uint8_t)((o->dcfg & DCFG_DAD_MASK) >> DCFG_DAD_SHIFT);
        o->dcfg = v;
        if (new_addr != old_addr) {
            /* SET_ADDRESS: both stacks write DAD before the status-stage ZLP; the device
             * keeps answering its old address until that ZLP is ACKed (§4). */
            if (new_addr == 0) {
                o->address = 0;
                o->address_pending = false;
            } else {
                o->pending_address = new_addr;
                o->address_pending = true;
            }
        }
        break;
    }
    case 0x804: dctl_write(o, v); break;
    case 0x808: break; /* DSTS read-only */
    case 0x810: o->diepmsk = v; break;
    case 0x814: o->doepmsk = v; break;
    case 0x818: break; /* DAINT read-only */
    case 0x81C: o->daintmsk = v; break;
    case 0x828: o->dvbusdis = v & 0xFFFFu; break;
    case 0x82C: o->dvbuspulse = v & 0xFFFu; break;
    case 0x834: o->diepempmsk = v & 0xFFFFu; break;
    case 0xE00: o->pcgcctl = v & 3u; break;
    default: bad(o, off, true, v); return;
    }
}

static uint32_t otg_read(void *self, uint32_t off, unsigned size)
{
    struct otgfs *o = self;
    if (size != 4) {
        sim_warn(o->sim, "OTG_FS: %u-byte read at offset 0x%x: the core takes 32-bit accesses only", size, off);
        return bad(o, off, false, 0);
    }
    if (!clocked(o, off, false))
        return 0;
    return reg_read(o, off);
}

static void otg_write(void *self, uint32_t off, uint32_t v, unsigned size)
{
    struct otgfs *o = self;
    if (size != 4) {
        sim_warn(o->sim, "OTG_FS: %u-byte write at offset 0x%x: the core takes 32-bit accesses only", size, off);
        bad(o, off, true, v);
        return;
    }
    if (!clocked(o, off, true))
        return;
    reg_write(o, off, v);
    update_irq(o);
    check_connect(o);
}

/* ------------------------------------------------------------------ time */

static uint64_t otg_next_event(void *self)
{
    struct otgfs *o = self;
    uint64_t t = SIM_NEVER;
    if (o->pullup && !o->suspended && !o->in_reset)
        t = o->last_activity + SUSPEND_IDLE_PS;
    if (o->host_ops && o->host_ops->next_event) {
        uint64_t h = o->host_ops->next_event(o->host);
        if (h < t)
            t = h;
    }
    return t;
}

static void otg_advance(void *self, uint64_t now)
{
    struct otgfs *o = self;
    check_connect(o);
    if (o->host_ops && o->host_ops->advance)
        o->host_ops->advance(o->host, now);
    if (o->pullup && !o->suspended && !o->in_reset && now >= o->last_activity + SUSPEND_IDLE_PS) {
        o->suspended = true;
        o->gintsts |= GINTSTS_ESUSP | GINTSTS_USBSUSP;
        sim_trace(o->sim, SIM_TR_USB, "USB bus idle for 3 ms: suspend (ESUSP, USBSUSP)");
        update_irq(o);
    }
}

static void otg_reset(void *self, enum sim_reset_kind kind)
{
    (void)kind; /* the whole core resets with the chip either way */
    full_reset(self);
    check_connect(self);
}

static void otg_destroy(void *self)
{
    struct otgfs *o = self;
    if (o->host_ops && o->host_ops->destroy)
        o->host_ops->destroy(o->host);
    free(self);
}

static const sim_periph_ops otg_ops = {
    .name = "OTG_FS",
    .read = otg_read,
    .write = otg_write,
    .reset = otg_reset,
    .next_event = otg_next_event,
    .advance = otg_advance,
    .destroy = otg_destroy,
};

void otgfs_attach(sim_t *sim)
{
    struct otgfs *o = calloc(1, sizeof *o);
    if (!o)
        abort();
    o->sim = sim;
    sim_config defaults;
    sim_config_defaults(&defaults);
    o->quirk_310a = defaults.usb_quirk_310a;
    full_reset(o);
    /* registers 0x000-0xFFF, six FIFO windows, and the rest of the 256 KB block */
    sim_add_periph(sim, OTGFS_BASE, 0x40000u, &otg_ops, o);
    sim_set_model(sim, SIM_M_OTGFS, o);
    rcc_on_periph_reset(sim, RCC_P_OTGFS, on_rcc_reset, o);
}

void otgfs_set_quirk_310a(sim_t *sim, bool on)
{
    struct otgfs *o = otgfs_of(sim);
    if (o)
        o->quirk_310a = on;
}

void *otgfs_host(sim_t *sim, const struct otgfs_host_ops *ops)
{
    struct otgfs *o = otgfs_of(sim);
    return o && o->host_ops == ops ? o->host : NULL;
}

void otgfs_connect_host(sim_t *sim, const struct otgfs_host_ops *ops, void *host)
{
    struct otgfs *o = otgfs_of(sim);
    if (!o)
        return;
    o->host_ops = ops;
    o->host = ops ? host : NULL;
    sim_reschedule(sim);
}

/* ------------------------------------------------------------------ the wire */

static void bus_activity(struct otgfs *o)
{
    o->last_activity = now_of(o);
    if (o->suspended) {
        o->suspended = false;
        o->gintsts |= GINTSTS_WKUPINT;
        sim_trace(o->sim, SIM_TR_USB, "USB bus activity: resume (WKUPINT)");
    }
}

/* The device hears a token: pull-up on, not held in reset, addressed to it. The
 * pull-up is judged live; the host hears about changes from register writes and
 * advance(), never from inside its own wire calls. */
static bool listening(struct otgfs *o, uint8_t addr)
{
    if (blocker(o) != NULL || o->in_reset)
        return false;
    return addr == o->address;
}

static const char *result_name(enum otg_wire_result r)
{
    switch (r) {
    case OTG_WIRE_ACK: return "ACK";
    case OTG_WIRE_NAK: return "NAK";
    case OTG_WIRE_STALL: return "STALL";
    default: return "no answer";
    }
}

static void trace_data(struct otgfs *o, const char *what, uint8_t addr, unsigned ep, unsigned pid,
                       const uint8_t *data, unsigned len, enum otg_wire_result r, const char *note)
{
    if (!sim_tracing(o->sim, SIM_TR_USB))
        return;
    char hex[3 * 16 + 8];
    unsigned n = len < 16 ? len : 16, p = 0;
    hex[0] = 0;
    for (unsigned i = 0; i < n && data; i++)
        p += (unsigned)snprintf(hex + p, sizeof hex - p, "%s%02x", i ? " " : "", data[i]);
    if (len > n)
        snprintf(hex + p, sizeof hex - p, " ...");
    /* an IN that the device did not answer with data carries no data packet */
    if (!data && strcmp(what, "IN") == 0)
        sim_trace(o->sim, SIM_TR_USB, "USB frame %u  %-5s addr %u ep%u -> %s%s%s", o->fnsof, what, addr, ep,
                  result_name(r), note ? "  " : "", note ? note : "");
    else
        sim_trace(o->sim, SIM_TR_USB, "USB frame %u  %-5s addr %u ep%u DATA%u len %u [%s] -> %s%s%s", o->fnsof,
                  what, addr, ep, pid, len, hex, result_name(r), note ? "  " : "", note ? note : "");
}

enum otg_wire_result otgfs_wire_setup(sim_t *sim, uint8_t addr, const uint8_t setup[8])
{
    struct otgfs *o = otgfs_of(sim);
    if (!o)
        return OTG_WIRE_NO_RESPONSE;
    char desc[96];
    otgfs_decode_setup(setup, desc, sizeof desc);
    if (!listening(o, addr)) {
        sim_trace(sim, SIM_TR_USB, "USB frame %u  SETUP addr %u ep0 %s -> no answer", o->fnsof, addr, desc);
        return OTG_WIRE_NO_RESPONSE;
    }
    bus_activity(o);
    struct otg_ep *oe = &o->out[0];
    /* Back-to-back SETUPs: the newest wins, the earlier SETUP-done is never queued. */
    bool back_to_back = o->setup_done_pending;
    uint32_t stupcnt = (oe->tsiz >> 29) & 3u;
    if (stupcnt == 0 && back_to_back)
        oe->intr |= DOEPINT_B2BSTUP;
    if (stupcnt)
        oe->tsiz = (oe->tsiz & ~(3u << 29)) | ((stupcnt - 1) << 29);
    if (rx_room(o, 8, 0)) {
        rx_push_packet(o, rx_status(0, 8, 0, PKTSTS_SETUP_DATA, o->fnsof), setup, 8);
    } else {
        sim_warn(sim, "OTG_FS: RX FIFO full (%u of %u words used) when a SETUP arrived: the SETUP is lost",
                 o->rx.fill, o->rx.depth);
    }
    o->in[0].ctl &= ~EPCTL_STALL;
    o->out[0].ctl &= ~EPCTL_STALL;
    o->in[0].toggle = 1;
    o->out[0].toggle = 1;
    if (o->quirk_310a)
        oe->intr |= DOEPINT_STPKTRX;
    o->setup_done_pending = true;
    uint16_t wlength = (uint16_t)(setup[6] | setup[7] << 8);
    memcpy(o->last_setup, setup, 8);
    o->control_write = !(setup[0] & 0x80) && wlength > 0;
    o->control_write_data = false;
    o->status_quirk_pushed = false;
    sim_trace(sim, SIM_TR_USB, "USB frame %u  SETUP addr %u ep0 %s -> ACK", o->fnsof, addr, desc);
    update_irq(o);
    return OTG_WIRE_ACK;
}

/* DfuSe puts a command in the data of DNLOAD block 0 (dfu-dfuse.md §2): name it. */
static const char *dfuse_command_note(struct otgfs *o, const uint8_t *d, unsigned len)
{
    const uint8_t *s = o->last_setup;
    if (s[0] != 0x21 || s[1] != 1 || s[2] != 0 || s[3] != 0)
        return NULL;
    char *note = o->note_text;
    const size_t notesize = sizeof o->note_text;
    uint32_t a = len >= 5 ? (uint32_t)d[1] | (uint32_t)d[2] << 8 | (uint32_t)d[3] << 16 | (uint32_t)d[4] << 24 : 0;
    if (d[0] == 0x21 && len == 5)
        snprintf(note, notesize, "DfuSe SET_ADDRESS_POINTER 0x%08x", a);
    else if (d[0] == 0x41 && len == 5)
        snprintf(note, notesize, "DfuSe ERASE page at 0x%08x", a);
    else if (d[0] == 0x41 && len == 1)
        snprintf(note, notesize, "DfuSe MASS ERASE");
    else if (d[0] == 0x92 && len == 1)
        snprintf(note, notesize, "DfuSe READ_UNPROTECT");
    else
        snprintf(note, notesize, "DfuSe command 0x%02x (unknown)", d[0]);
    return note;
}

enum otg_wire_result otgfs_wire_out(sim_t *sim, uint8_t addr, uint8_t ep, enum otg_wire_pid pid,
                                    const uint8_t *data, unsigned len)
{
    struct otgfs *o = otgfs_of(sim);
    if (!o)
        return OTG_WIRE_NO_RESPONSE;
    enum otg_wire_result r;
    const char *note = NULL;
    if (!listening(o, addr) || ep >= OTGFS_NUM_EPS) {
        r = OTG_WIRE_NO_RESPONSE;
        goto out;
    }
    bus_activity(o);
    struct otg_ep *e = &o->out[ep];
    if (ep == 0 && !push_setup_done(o)) {
        e->intr |= DOEPINT_NAK;
        r = OTG_WIRE_NAK;
        note = "(RX FIFO full: no room for the SETUP-done word)";
        goto out;
    }
    if (ep != 0 && !(e->ctl & EPCTL_USBAEP)) {
        r = OTG_WIRE_NO_RESPONSE;
        note = "(endpoint not active: DOEPCTL.USBAEP = 0)";
        goto out;
    }
    unsigned mps = out_mps(o, ep);
    if (len > mps) {
        r = OTG_WIRE_NO_RESPONSE;
        note = "(babble: longer than the endpoint's max packet)";
        goto out;
    }
    if (e->ctl & EPCTL_STALL) {
        r = OTG_WIRE_STALL;
        goto out;
    }
    bool expected_toggle = ep_type(e, ep) == 1 || pid == e->toggle;
    if (!(e->ctl & EPCTL_EPENA) || (e->ctl & EPCTL_NAKSTS) || o->gonak) {
        e->intr |= DOEPINT_NAK;
        r = OTG_WIRE_NAK;
        note = !(e->ctl & EPCTL_EPENA) ? "(not armed)" : (o->gonak ? "(global OUT NAK)" : "(NAK set)");
        goto out;
    }
    if (!expected_toggle) {
        /* The host resends a packet whose ACK it missed: ACK it again, keep nothing. */
        r = OTG_WIRE_ACK;
        note = "(data toggle mismatch: duplicate dropped)";
        goto out;
    }
    uint32_t pktcnt = ep == 0 ? (e->tsiz >> 19) & 1u : (e->tsiz >> 19) & 0x3FFu;
    uint32_t xfrsiz = ep == 0 ? e->tsiz & 0x7Fu : e->tsiz & 0x7FFFFu;
    if (pktcnt == 0) {
        sim_warn(sim, "OTG_FS: EP%u OUT enabled with DOEPTSIZ%u.PKTCNT = 0: the core NAKs", ep, ep);
        e->intr |= DOEPINT_NAK;
        r = OTG_WIRE_NAK;
        goto out;
    }
    bool completes = pktcnt == 1 || len < mps;
    if (!rx_room(o, len, completes ? 1 : 0)) {
        e->intr |= DOEPINT_NAK;
        r = OTG_WIRE_NAK;
        note = "(RX FIFO full)";
        goto out;
    }
    rx_push_packet(o, rx_status(ep, len, pid ? 2u : 0u, PKTSTS_OUT_DATA, o->fnsof), data, len);
    xfrsiz = len > xfrsiz ? 0 : xfrsiz - len;
    pktcnt--;
    if (ep == 0)
        e->tsiz = (e->tsiz & ~0x0008007Fu) | xfrsiz | (pktcnt << 19);
    else
        e->tsiz = (e->tsiz & ~0x1FFFFFFFu) | xfrsiz | (pktcnt << 19);
    e->toggle ^= 1;
    if (completes) {
        rx_push_packet(o, rx_status(ep, 0, 0, PKTSTS_OUT_DONE, o->fnsof), NULL, 0);
        e->ctl &= ~EPCTL_EPENA;
        e->ctl |= EPCTL_NAKSTS; /* (unverified) */
    }
    if (ep == 0 && o->control_write)
        o->control_write_data = true;
    r = OTG_WIRE_ACK;
    if (ep == 0 && len > 0)
        note = dfuse_command_note(o, data, len);
out:
    trace_data(o, "OUT", addr, ep, pid, data, len, r, note);
    update_irq(o);
    return r;
}

enum otg_wire_result otgfs_wire_in(sim_t *sim, uint8_t addr, uint8_t ep, uint8_t *buf, unsigned max,
                                   unsigned *len, enum otg_wire_pid *pid)
{
    struct otgfs *o = otgfs_of(sim);
    *len = 0;
    if (!o)
        return OTG_WIRE_NO_RESPONSE;
    enum otg_wire_result r;
    const char *note = NULL;
    unsigned n = 0;
    unsigned sent_pid = 0;
    if (!listening(o, addr) || ep >= OTGFS_NUM_EPS) {
        r = OTG_WIRE_NO_RESPONSE;
        goto out;
    }
    bus_activity(o);
    struct otg_ep *e = &o->in[ep];
    if (ep == 0) {
        if (!push_setup_done(o) ||
            (o->quirk_310a && o->control_write && o->control_write_data && !o->status_quirk_pushed &&
             fifo_free(&o->rx) < 1)) {
            r = OTG_WIRE_NAK;
            note = "(RX FIFO full: no room for an EP0 status word)";
            goto out;
        }
        /* 3.10a: the status stage of a control write starts with an extra flagged
         * completion word (§5 option b). */
        if (o->quirk_310a && o->control_write && o->control_write_data && !o->status_quirk_pushed) {
            o->status_quirk_pushed = true;
            o->out[0].intr |= DOEPINT_STSPHSRX;
            rx_push_packet(o, rx_status(0, 0, 0, PKTSTS_OUT_DONE, o->fnsof), NULL, 0);
        }
    }
    if (ep != 0 && !(e->ctl & EPCTL_USBAEP)) {
        r = OTG_WIRE_NO_RESPONSE;
        note = "(endpoint not active: DIEPCTL.USBAEP = 0)";
        goto out;
    }
    if (e->ctl & EPCTL_STALL) {
        r = OTG_WIRE_STALL;
        goto out;
    }
    if (!(e->ctl & EPCTL_EPENA) || (e->ctl & EPCTL_NAKSTS) || (o->ginak && ep_type(e, ep) != 1)) {
        r = OTG_WIRE_NAK;
        note = !(e->ctl & EPCTL_EPENA) ? "(not armed)" : (o->ginak ? "(global IN NAK)" : "(NAK set)");
        goto out;
    }
    uint32_t pktcnt = ep == 0 ? (e->tsiz >> 19) & 3u : (e->tsiz >> 19) & 0x3FFu;
    uint32_t xfrsiz = ep == 0 ? e->tsiz & 0x7Fu : e->tsiz & 0x7FFFFu;
    if (pktcnt == 0) {
        sim_warn(sim, "OTG_FS: EP%u IN enabled with DIEPTSIZ%u.PKTCNT = 0: the core NAKs", ep, ep);
        r = OTG_WIRE_NAK;
        goto out;
    }
    unsigned mps = in_mps(o, ep);
    n = xfrsiz < mps ? xfrsiz : mps;
    unsigned f = tx_fifo_of(o, ep);
    if (o->tx[f].fill < words_of(n)) {
        e->intr |= DIEPINT_ITTXFE;
        r = OTG_WIRE_NAK;
        note = "(packet not yet in the TX FIFO)";
        n = 0;
        goto out;
    }
    uint8_t pkt[1024];
    for (unsigned i = 0; i < words_of(n); i++) {
        uint32_t w = fifo_pop(o, &o->tx[f]);
        for (unsigned b = 0; b < 4 && i * 4 + b < n; b++)
            pkt[i * 4 + b] = (uint8_t)(w >> (8 * b));
    }
    if (n > max) {
        sim_trace(sim, SIM_TR_USB, "USB EP%u IN packet of %u bytes exceeds the host's %u: babble", ep, n, max);
        n = max;
    }
    memcpy(buf, pkt, n);
    sent_pid = ep_type(e, ep) == 1 ? 0 : e->toggle;
    *pid = sent_pid ? OTG_PID_DATA1 : OTG_PID_DATA0;
    *len = n;
    /* the host's ACK */
    xfrsiz -= n <= xfrsiz ? n : xfrsiz;
    pktcnt--;
    if (ep == 0)
        e->tsiz = (e->tsiz & ~0x0018007Fu) | xfrsiz | (pktcnt << 19);
    else
        e->tsiz = (e->tsiz & ~0x1FFFFFFFu) | xfrsiz | (pktcnt << 19);
    e->toggle ^= 1;
    if (pktcnt == 0) {
        e->ctl &= ~EPCTL_EPENA;
        e->intr |= DIEPINT_XFRC;
    }
    if (ep == 0 && o->address_pending) {
        o->address_pending = false;
        o->address = o->pending_address;
        sim_trace(sim, SIM_TR_USB, "USB device now answers address %u", o->address);
    }
    r = OTG_WIRE_ACK;
out:
    if (r == OTG_WIRE_NAK)
        o->in[ep].intr |= DIEPINT_NAK; /* "a NAK was transmitted" */
    trace_data(o, "IN", addr, ep, sent_pid, r == OTG_WIRE_ACK ? buf : NULL, n, r, note);
    update_irq(o);
    return r;
}

/* Least GUSBCFG.TRDT for an HCLK at full speed (sheet §7, from HAL's table). */
static unsigned trdt_needed(uint32_t hclk)
{
    static const struct {
        uint32_t below_hz;
        unsigned trdt;
    } table[] = {{15000000u, 0xF}, {16000000u, 0xE}, {17200000u, 0xD}, {18500000u, 0xC}, {20000000u, 0xB},
                 {21800000u, 0xA}, {24000000u, 0x9}, {27700000u, 0x8}, {32000000u, 0x7}};
    for (unsigned i = 0; i < sizeof table / sizeof table[0]; i++)
        if (hclk < table[i].below_hz)
            return table[i].trdt;
    return 6;
}

void otgfs_wire_reset(sim_t *sim, bool asserted)
{
    struct otgfs *o = otgfs_of(sim);
    if (!o)
        return;
    if (blocker(o) != NULL)
        return;
    if (asserted) {
        o->in_reset = true;
        o->suspended = false;
        o->gintsts |= GINTSTS_USBRST;
        o->address = 0;
        o->address_pending = false;
        o->setup_done_pending = false;
        for (unsigned n = 1; n < OTGFS_NUM_EPS; n++) {
            o->in[n].ctl &= ~EPCTL_USBAEP;
            o->out[n].ctl &= ~EPCTL_USBAEP;
        }
        for (unsigned n = 0; n < OTGFS_NUM_EPS; n++)
            o->in[n].toggle = o->out[n].toggle = 0;
        sim_trace(sim, SIM_TR_USB, "USB bus reset begins (USBRST)");
    } else if (o->in_reset) {
        o->in_reset = false;
        o->bus_active = true;
        o->enumspd = 3;
        o->gintsts |= GINTSTS_ENUMDNE;
        o->last_activity = now_of(o);
        if ((o->dcfg & DCFG_DSPD_MASK) != 3)
            sim_warn(sim, "OTG_FS DCFG.DSPD is %u, not 3 (full speed, internal PHY): the L476 only does 3",
                     o->dcfg & DCFG_DSPD_MASK);
        unsigned trdt = (o->gusbcfg >> 10) & 0xFu;
        uint32_t hclk = rcc_hclk_hz(sim);
        unsigned need = trdt_needed(hclk);
        if (hclk < 14200000u)
            sim_warn(sim, "OTG_FS: HCLK is %u Hz, below the 14.2 MHz the core needs at full speed", hclk);
        else if (trdt < need)
            sim_warn(sim, "OTG_FS GUSBCFG.TRDT is %u but HCLK %u Hz needs at least %u: IN FIFO underruns "
                     "(not modelled beyond this warning)",
                     trdt, hclk, need);
        sim_trace(sim, SIM_TR_USB, "USB bus reset ends: full speed (ENUMDNE, ENUMSPD = 3)");
    }
    update_irq(o);
}

void otgfs_wire_sof(sim_t *sim, uint16_t frame)
{
    struct otgfs *o = otgfs_of(sim);
    if (!o)
        return;
    if (blocker(o) != NULL || o->in_reset)
        return;
    bus_activity(o);
    o->fnsof = frame & 0x7FFu;
    o->gintsts |= GINTSTS_SOF;
    update_irq(o);
}

void otgfs_wire_vbus(sim_t *sim, bool on)
{
    struct otgfs *o = otgfs_of(sim);
    gpio_drive(sim, 'A', 9, on ? 1 : 0);
    if (!o)
        return;
    o->vbus = on;
    sim_trace(sim, SIM_TR_USB, "USB VBUS %s", on ? "on" : "off");
    check_connect(o);
}

/* ------------------------------------------------------------------ decoding for traces */

static const char *desc_type_name(unsigned t)
{
    switch (t) {
    case 1: return "DEVICE";
    case 2: return "CONFIGURATION";
    case 3: return "STRING";
    case 4: return "INTERFACE";
    case 5: return "ENDPOINT";
    case 6: return "DEVICE_QUALIFIER";
    case 7: return "OTHER_SPEED_CONFIGURATION";
    case 0x0F: return "BOS";
    case 0x21: return "DFU_FUNCTIONAL";
    default: return NULL;
    }
}

const char *otgfs_decode_setup(const uint8_t s[8], char *buf, unsigned size)
{
    unsigned bm = s[0], req = s[1];
    unsigned value = (unsigned)(s[2] | s[3] << 8), index = (unsigned)(s[4] | s[5] << 8),
             length = (unsigned)(s[6] | s[7] << 8);
    unsigned type = (bm >> 5) & 3u;
    static const char *const std_names[] = {"GET_STATUS", "CLEAR_FEATURE", NULL, "SET_FEATURE", NULL,
                                            "SET_ADDRESS", "GET_DESCRIPTOR", "SET_DESCRIPTOR",
                                            "GET_CONFIGURATION", "SET_CONFIGURATION", "GET_INTERFACE",
                                            "SET_INTERFACE", "SYNCH_FRAME"};
    static const char *const dfu_names[] = {"DFU_DETACH", "DFU_DNLOAD", "DFU_UPLOAD", "DFU_GETSTATUS",
                                            "DFU_CLRSTATUS", "DFU_GETSTATE", "DFU_ABORT"};
    if (type == 0 && req < sizeof std_names / sizeof std_names[0] && std_names[req]) {
        if (req == 6 || req == 7) {
            const char *dn = desc_type_name(value >> 8);
            char tbuf[16];
            if (!dn) {
                snprintf(tbuf, sizeof tbuf, "type 0x%02x", value >> 8);
                dn = tbuf;
            }
            snprintf(buf, size, "%s(%s, index %u, lang 0x%04x, len %u)", std_names[req], dn, value & 0xFFu, index,
                     length);
        } else if (req == 5) {
            snprintf(buf, size, "SET_ADDRESS(%u)", value);
        } else if (req == 9) {
            snprintf(buf, size, "SET_CONFIGURATION(%u)", value);
        } else if (req == 11) {
            snprintf(buf, size, "SET_INTERFACE(interface %u, alt %u)", index, value);
        } else if (req == 1 || req == 3) {
            snprintf(buf, size, "%s(%s, feature %u, index 0x%x)", std_names[req],
                     (bm & 0x1F) == 2 ? "endpoint" : (bm & 0x1F) == 1 ? "interface" : "device", value, index);
        } else {
            snprintf(buf, size, "%s(value 0x%x, index 0x%x, len %u)", std_names[req], value, index, length);
        }
    } else if (type == 1 && (bm & 0x1F) == 1 && req < 7) {
        if (req == 1 || req == 2)
            snprintf(buf, size, "%s(block %u, interface %u, len %u)", dfu_names[req], value, index, length);
        else if (req == 0)
            snprintf(buf, size, "DFU_DETACH(timeout %u ms, interface %u)", value, index);
        else
            snprintf(buf, size, "%s(interface %u, len %u)", dfu_names[req], index, length);
    } else {
        static const char *const kinds[] = {"standard", "class", "vendor", "reserved"};
        snprintf(buf, size, "%s request 0x%02x (bmRequestType 0x%02x, value 0x%04x, index 0x%04x, len %u)",
                 kinds[type], req, bm, value, index, length);
    }
    return buf;
}
