/* l4sim model of the STM32L476 RCC (reset and clock control) at 0x40021000.
 *
 * | off | register    | reset       | notes |
 * |-----|-------------|-------------|-------|
 * | 00  | CR          | 0x00000063  | MSION, MSIRDY, MSIRANGE=6 (4 MHz); xxxRDY rise after the start-up times in rcc.h (unverified) |
 * | 04  | ICSCR       | 0x10400080  | HSITRIM=16; the factory calibration bytes HSICAL=0x40, MSICAL=0x80 are our pick (unverified) |
 * | 08  | CFGR        | 0x00000000  | SW, SWS (follows SW once the source is ready), HPRE, PPRE1/2, MCO |
 * | 0C  | PLLCFGR     | 0x00001000  | PLLSRC, PLLM, PLLN, P/Q/R outputs |
 * | 10  | PLLSAI1CFGR | 0x00001000  | shares PLLM and PLLSRC with the main PLL |
 * | 14  | PLLSAI2CFGR | 0x00001000  | stored; its outputs feed nothing modelled |
 * | 18  | CIER        | 0x00000000  | only 0 is accepted: ready interrupts are not modelled |
 * | 1C  | CIFR        | 0x00000000  | RO; stays 0 (flags are only set with CIER bits) |
 * | 20  | CICR        | -           | WO |
 * | 28-40 | xxxRSTR   | 0x00000000  | a 0->1 write resets the peripheral (rcc_on_periph_reset hooks) |
 * | 48  | AHB1ENR     | 0x00000100  | FLASHEN=1 |
 * | 4C-60 | other ENR | 0x00000000  | bus clocks; writes to a peripheral whose bit is clear are lost |
 * | 68-80 | xxxSMENR  | per sheet   | stored only (sleep is not modelled) |
 * | 88  | CCIPR       | 0x00000000  | USARTxSEL, LPUART1SEL, CLK48SEL (00 none: no HSI48 on the L476) |
 * | 90  | BDCR        | 0x00000000  | backup domain: survives system reset; writes need PWR_CR1.DBP; RTCSEL write-once; BDRST |
 * | 94  | CSR         | 0x0C000600  | power-on value (BORRSTF, PINRSTF, MSISRANGE=6); flags kept over system reset, RMVF clears |
 *
 * A system reset also sets PINRSTF besides its own flag, since internal resets drive the
 * NRST pin low (unverified for every cause). Everything not listed is sim_bad_access.
 */
#include "rcc.h"

#include <stdio.h>
#include <stdlib.h>

#include "pwr.h"
#include "rtc.h"

#if defined(__has_include)
#if __has_include("flash.h")
#include "flash.h"
#define RCC_HAVE_FLASH_LATENCY 1
#endif
#endif

/* CR bits */
#define CR_MSION (1u << 0)
#define CR_MSIRDY (1u << 1)
#define CR_MSIPLLEN (1u << 2)
#define CR_MSIRGSEL (1u << 3)
#define CR_MSIRANGE_SHIFT 4
#define CR_MSIRANGE_MASK (0xFu << 4)
#define CR_HSION (1u << 8)
#define CR_HSIKERON (1u << 9)
#define CR_HSIRDY (1u << 10)
#define CR_HSIASFS (1u << 11)
#define CR_HSEON (1u << 16)
#define CR_HSERDY (1u << 17)
#define CR_HSEBYP (1u << 18)
#define CR_CSSON (1u << 19)
#define CR_PLLON (1u << 24)
#define CR_PLLRDY (1u << 25)
#define CR_PLLSAI1ON (1u << 26)
#define CR_PLLSAI1RDY (1u << 27)
#define CR_PLLSAI2ON (1u << 28)
#define CR_PLLSAI2RDY (1u << 29)
#define CR_RESET 0x00000063u
#define CR_WRITABLE (CR_MSION | CR_MSIPLLEN | CR_MSIRGSEL | CR_MSIRANGE_MASK | CR_HSION | CR_HSIKERON | CR_HSIASFS | \
                     CR_HSEON | CR_HSEBYP | CR_CSSON | CR_PLLON | CR_PLLSAI1ON | CR_PLLSAI2ON)

#define ICSCR_RESET 0x10400080u
#define ICSCR_WRITABLE 0x1F00FF00u /* HSITRIM, MSITRIM */

#define CFGR_SW_MASK 0x3u
#define CFGR_SWS_SHIFT 2
#define CFGR_HPRE_SHIFT 4
#define CFGR_PPRE1_SHIFT 8
#define CFGR_PPRE2_SHIFT 11
#define CFGR_WRITABLE 0x7700BFF3u

#define PLLCFGR_RESET 0x00001000u
#define PLLCFGR_WRITABLE 0x07737F73u
#define PLLSAI1CFGR_WRITABLE 0x07737F00u
#define PLLSAI2CFGR_WRITABLE 0x07037F00u
#define PLL_PEN (1u << 16)
#define PLL_QEN (1u << 20)
#define PLL_REN (1u << 24)

#define BDCR_LSEON (1u << 0)
#define BDCR_LSERDY (1u << 1)
#define BDCR_LSEBYP (1u << 2)
#define BDCR_RTCSEL_MASK (3u << 8)
#define BDCR_BDRST (1u << 16)
#define BDCR_WRITABLE 0x0301833Du

#define CSR_LSION (1u << 0)
#define CSR_LSIRDY (1u << 1)
#define CSR_MSISRANGE_SHIFT 8
#define CSR_MSISRANGE_MASK (0xFu << 8)
#define CSR_RMVF (1u << 23)
#define CSR_OBLRSTF (1u << 25)
#define CSR_PINRSTF (1u << 26)
#define CSR_BORRSTF (1u << 27)
#define CSR_SFTRSTF (1u << 28)
#define CSR_IWDGRSTF (1u << 29)
#define CSR_WWDGRSTF (1u << 30)
#define CSR_FLAGS 0xFF000000u
#define CSR_POWER_ON 0x0C000600u

enum sysclk_src { SRC_MSI = 0, SRC_HSI = 1, SRC_HSE = 2, SRC_PLL = 3 };
static const char *const src_name[] = {"MSI", "HSI16", "HSE", "PLL"};

/* The plain registers: stored with a writable mask; RSTR/ENR get extra behaviour. */
enum plain_kind { PLAIN, ENR, RSTR, SMENR };
struct plain_reg {
    uint32_t off;
    const char *name;
    uint32_t reset;
    uint32_t writable;
    enum plain_kind kind;
};
static const struct plain_reg plain_regs[] = {
    {0x28, "AHB1RSTR", 0, 0x00011103u, RSTR},   {0x2C, "AHB2RSTR", 0, 0x000430FFu, RSTR},
    {0x30, "AHB3RSTR", 0, 0x00000101u, RSTR},   {0x38, "APB1RSTR1", 0, 0xF2FEC23Fu, RSTR},
    {0x3C, "APB1RSTR2", 0, 0x00000025u, RSTR},  {0x40, "APB2RSTR", 0, 0x01677C01u, RSTR},
    {0x48, "AHB1ENR", 0x100, 0x00011103u, ENR}, {0x4C, "AHB2ENR", 0, 0x000430FFu, ENR},
    {0x50, "AHB3ENR", 0, 0x00000101u, ENR},     {0x58, "APB1ENR1", 0, 0xF2FECA3Fu, ENR},
    {0x5C, "APB1ENR2", 0, 0x00000025u, ENR},    {0x60, "APB2ENR", 0, 0x01677C81u, ENR},
    {0x68, "AHB1SMENR", 0x00011303u, 0x00011303u, SMENR},
    {0x6C, "AHB2SMENR", 0x000532FFu, 0x000532FFu, SMENR},
    {0x70, "AHB3SMENR", 0x00000101u, 0x00000101u, SMENR},
    {0x78, "APB1SMENR1", 0xF2FECA3Fu, 0xF2FECA3Fu, SMENR},
    {0x7C, "APB1SMENR2", 0x00000025u, 0x00000025u, SMENR},
    {0x80, "APB2SMENR", 0x01677C01u, 0x01677C01u, SMENR},
    {0x88, "CCIPR", 0, 0xFFFFFFFFu, PLAIN},
};
#define N_PLAIN (sizeof plain_regs / sizeof plain_regs[0])

struct periph_bit {
    uint32_t enr_off; /* RSTR is 0x20 below */
    unsigned bit;
    const char *enable_name;
};
static const struct periph_bit periph_bits[RCC_P_COUNT] = {
    [RCC_P_GPIOA] = {0x4C, 0, "RCC_AHB2ENR.GPIOAEN"},     [RCC_P_GPIOB] = {0x4C, 1, "RCC_AHB2ENR.GPIOBEN"},
    [RCC_P_GPIOC] = {0x4C, 2, "RCC_AHB2ENR.GPIOCEN"},     [RCC_P_GPIOD] = {0x4C, 3, "RCC_AHB2ENR.GPIODEN"},
    [RCC_P_GPIOE] = {0x4C, 4, "RCC_AHB2ENR.GPIOEEN"},     [RCC_P_GPIOF] = {0x4C, 5, "RCC_AHB2ENR.GPIOFEN"},
    [RCC_P_GPIOG] = {0x4C, 6, "RCC_AHB2ENR.GPIOGEN"},     [RCC_P_GPIOH] = {0x4C, 7, "RCC_AHB2ENR.GPIOHEN"},
    [RCC_P_OTGFS] = {0x4C, 12, "RCC_AHB2ENR.OTGFSEN"},    [RCC_P_CRC] = {0x48, 12, "RCC_AHB1ENR.CRCEN"},
    [RCC_P_FLASH] = {0x48, 8, "RCC_AHB1ENR.FLASHEN"},     [RCC_P_PWR] = {0x58, 28, "RCC_APB1ENR1.PWREN"},
    [RCC_P_SYSCFG] = {0x60, 0, "RCC_APB2ENR.SYSCFGEN"},   [RCC_P_USART1] = {0x60, 14, "RCC_APB2ENR.USART1EN"},
    [RCC_P_USART2] = {0x58, 17, "RCC_APB1ENR1.USART2EN"}, [RCC_P_LPUART1] = {0x5C, 0, "RCC_APB1ENR2.LPUART1EN"},
};

#define MAX_RESET_HOOKS 4
struct reset_hook {
    void (*fn)(void *);
    void *arg;
};

struct rcc {
    sim_t *sim;
    /* Nothing lazily computed can change until the next write, reset or clock movement
     * (sync() is on every register read: a polling loop must not pay for it each time). */
    bool settled;
    uint32_t cr, icscr, cfgr, pllcfgr, pllsai1cfgr, pllsai2cfgr, cier, bdcr, csr;
    uint32_t plain[N_PLAIN];
    unsigned sws;
    /* when each oscillator will be (or was) ready: switch-on time plus its start-up (ps) */
    uint64_t msi_ready_at, hsi_ready_at, hse_ready_at, lse_ready_at, lsi_ready_at;
    /* when each PLL was last switched on (ps); it locks once its input is ready */
    uint64_t pll_on_at, sai1_on_at, sai2_on_at;
    bool lsi_forced;
    struct reset_hook hooks[RCC_P_COUNT][MAX_RESET_HOOKS];
    /* last clock configuration checked against the voltage range and flash latency */
    uint32_t checked_hclk, checked_sysclk;
    unsigned checked_range, checked_latency;
    uint32_t timed_hclk; /* HCLK the core was last told about */
    char why[200];
};

static struct rcc *rcc_of(sim_t *sim)
{
    return sim_model(sim, SIM_M_RCC);
}

static uint32_t *plain_reg(struct rcc *r, uint32_t off)
{
    for (unsigned i = 0; i < N_PLAIN; i++)
        if (plain_regs[i].off == off)
            return &r->plain[i];
    return NULL;
}

/* ---- oscillators ---- */

static bool started(struct rcc *r, uint64_t ready_at)
{
    return sim_now(r->sim) >= ready_at;
}

static bool msi_ready(struct rcc *r)
{
    return (r->cr & CR_MSION) && started(r, r->msi_ready_at);
}
static bool hsi_ready(struct rcc *r)
{
    return (r->cr & (CR_HSION | CR_HSIKERON)) && started(r, r->hsi_ready_at);
}
static bool hse_ready(struct rcc *r)
{
    /* The EVAL has a crystal, not an oscillator module: in bypass mode there is no clock. */
    return (r->cr & CR_HSEON) && !(r->cr & CR_HSEBYP) && started(r, r->hse_ready_at);
}
static bool lse_ready(struct rcc *r)
{
    return (r->bdcr & BDCR_LSEON) && !(r->bdcr & BDCR_LSEBYP) && started(r, r->lse_ready_at);
}
static bool lsi_ready(struct rcc *r)
{
    return ((r->csr & CSR_LSION) || r->lsi_forced) && started(r, r->lsi_ready_at);
}

static uint32_t msi_range_hz(unsigned range)
{
    static const uint32_t hz[12] = {100000,  200000,   400000,   800000,   1000000,  2000000,
                                    4000000, 8000000, 16000000, 24000000, 32000000, 48000000};
    return range < 12 ? hz[range] : 0;
}

static unsigned msi_range(struct rcc *r)
{
    if (r->cr & CR_MSIRGSEL)
        return (r->cr & CR_MSIRANGE_MASK) >> CR_MSIRANGE_SHIFT;
    return (r->csr & CSR_MSISRANGE_MASK) >> CSR_MSISRANGE_SHIFT;
}

static uint32_t msi_hz(struct rcc *r)
{
    return msi_ready(r) ? msi_range_hz(msi_range(r)) : 0;
}

static bool msi_trimmed(struct rcc *r)
{
    return (r->cr & CR_MSIPLLEN) && lse_ready(r);
}

/* ---- PLLs ---- */

static unsigned pll_src(struct rcc *r)
{
    return r->pllcfgr & 3u;
}

static const char *pll_src_name(unsigned src)
{
    static const char *const names[] = {"none", "MSI", "HSI16", "HSE"};
    return names[src & 3];
}

/* PLL input before the M divider, and whether that oscillator is ready. */
static uint32_t pll_input_hz(struct rcc *r, uint64_t *ready_at)
{
    switch (pll_src(r)) {
    case 1:
        *ready_at = r->msi_ready_at;
        return msi_hz(r);
    case 2:
        *ready_at = r->hsi_ready_at;
        return hsi_ready(r) ? RCC_HSI_HZ : 0;
    case 3:
        *ready_at = r->hse_ready_at;
        return hse_ready(r) ? RCC_HSE_HZ : 0;
    default:
        *ready_at = 0;
        return 0;
    }
}

static unsigned pll_m(struct rcc *r)
{
    return ((r->pllcfgr >> 4) & 7u) + 1;
}

/* VCO frequency of the PLL whose config register is `cfgr` (N in bits 14:8), 0 if not locked. */
static uint64_t pll_vco_hz(struct rcc *r, uint32_t cfgr, uint32_t on_bit, uint64_t on_at)
{
    if (!(r->cr & on_bit))
        return 0;
    uint64_t src_ready_at;
    uint32_t in = pll_input_hz(r, &src_ready_at);
    if (in == 0)
        return 0;
    uint64_t start = on_at > src_ready_at ? on_at : src_ready_at;
    if (sim_now(r->sim) < start + RCC_PLL_LOCK_PS)
        return 0;
    unsigned n = (cfgr >> 8) & 0x7Fu;
    return (uint64_t)in / pll_m(r) * n;
}

static uint64_t main_vco(struct rcc *r)
{
    return pll_vco_hz(r, r->pllcfgr, CR_PLLON, r->pll_on_at);
}
static uint64_t sai1_vco(struct rcc *r)
{
    return pll_vco_hz(r, r->pllsai1cfgr, CR_PLLSAI1ON, r->sai1_on_at);
}
static uint64_t sai2_vco(struct rcc *r)
{
    return pll_vco_hz(r, r->pllsai2cfgr, CR_PLLSAI2ON, r->sai2_on_at);
}

static unsigned pll_qr_div(uint32_t cfgr, unsigned shift)
{
    return 2u * (((cfgr >> shift) & 3u) + 1u);
}

static uint32_t pll_r_hz(struct rcc *r)
{
    uint64_t vco = main_vco(r);
    if (!vco || !(r->pllcfgr & PLL_REN))
        return 0;
    return (uint32_t)(vco / pll_qr_div(r->pllcfgr, 25));
}

/* Warn about a PLL configuration outside the datasheet's ranges when it is switched on. */
static void check_pll_config(struct rcc *r, const char *which, uint32_t cfgr)
{
    unsigned src = pll_src(r);
    unsigned n = (cfgr >> 8) & 0x7Fu;
    if (src == 0) {
        sim_warn(r->sim, "RCC: %s switched on with RCC_PLLCFGR.PLLSRC=00 (no input clock): it will never lock",
                 which);
        return;
    }
    uint32_t in = src == 1 ? msi_range_hz(msi_range(r)) : src == 2 ? RCC_HSI_HZ : RCC_HSE_HZ;
    uint32_t vco_in = in / pll_m(r);
    uint64_t vco = (uint64_t)vco_in * n;
    if (n < 8 || n > 86)
        sim_warn(r->sim, "RCC: %s N=%u outside 8..86", which, n);
    if (vco_in < 4000000u || vco_in > 16000000u)
        sim_warn(r->sim, "RCC: %s input %s/M = %u Hz outside the VCO input range 4..16 MHz", which,
                 pll_src_name(src), vco_in);
    if (vco < 64000000u || vco > 344000000u)
        sim_warn(r->sim, "RCC: %s VCO %llu Hz outside 64..344 MHz", which, (unsigned long long)vco);
}

/* ---- system clock ---- */

static uint32_t src_hz(struct rcc *r, unsigned src)
{
    switch (src) {
    case SRC_MSI:
        return msi_hz(r);
    case SRC_HSI:
        return hsi_ready(r) ? RCC_HSI_HZ : 0;
    case SRC_HSE:
        return hse_ready(r) ? RCC_HSE_HZ : 0;
    default:
        return pll_r_hz(r);
    }
}

static unsigned hpre_div(uint32_t cfgr)
{
    unsigned h = (cfgr >> CFGR_HPRE_SHIFT) & 0xFu;
    static const unsigned div[8] = {2, 4, 8, 16, 64, 128, 256, 512};
    return h < 8 ? 1 : div[h - 8];
}

static unsigned ppre_div(uint32_t cfgr, unsigned shift)
{
    unsigned p = (cfgr >> shift) & 7u;
    return p < 4 ? 1 : 1u << (p - 3);
}

static unsigned latency_needed(uint32_t hclk, unsigned range)
{
    static const uint32_t r1[] = {16000000, 32000000, 48000000, 64000000, 80000000};
    static const uint32_t r2[] = {6000000, 12000000, 18000000, 26000000};
    const uint32_t *t = range == 2 ? r2 : r1;
    unsigned n = range == 2 ? 4 : 5;
    for (unsigned ws = 0; ws < n; ws++)
        if (hclk <= t[ws])
            return ws;
    return n; /* beyond the range: no latency is enough */
}

/* The clock tree against the voltage range and the flash wait states: warned once per new
 * combination, when it changes. */
static void check_limits(struct rcc *r, uint32_t sysclk, uint32_t hclk)
{
    unsigned range = pwr_voltage_range(r->sim);
    unsigned latency = 0;
#ifdef RCC_HAVE_FLASH_LATENCY
    latency = flash_latency(r->sim);
#endif
    if (sysclk == r->checked_sysclk && hclk == r->checked_hclk && range == r->checked_range &&
        latency == r->checked_latency)
        return;
    r->checked_sysclk = sysclk;
    r->checked_hclk = hclk;
    r->checked_range = range;
    r->checked_latency = latency;
    if (range == 2 && sysclk > 26000000u)
        sim_warn(r->sim, "RCC: SYSCLK %u Hz is above the 26 MHz limit of voltage Range 2 (PWR_CR1.VOS=10): "
                         "select Range 1 first", sysclk);
    if (sysclk > 80000000u)
        sim_warn(r->sim, "RCC: SYSCLK %u Hz is above the L476's 80 MHz maximum", sysclk);
#ifdef RCC_HAVE_FLASH_LATENCY
    unsigned need = latency_needed(hclk, range);
    if (latency < need)
        sim_warn(r->sim, "RCC: HCLK %u Hz in Range %u needs FLASH_ACR.LATENCY>=%u, it is %u: flash reads would fail",
                 hclk, range, need, latency);
#else
    /* TODO: check FLASH_ACR.LATENCY once sim/flash.h declares flash_latency(). */
    (void)latency_needed;
#endif
}

/* Bring the lazily computed state up to now: SWS follows SW once the source is ready. */
static void sync(struct rcc *r)
{
    if (r->settled)
        return;
    unsigned sw = r->cfgr & CFGR_SW_MASK;
    if (sw != r->sws && src_hz(r, sw) != 0) {
        sim_trace(r->sim, SIM_TR_RCC, "RCC: system clock switched %s -> %s", src_name[r->sws], src_name[sw]);
        r->sws = sw;
    }
    uint32_t sysclk = src_hz(r, r->sws);
    uint32_t hclk = sysclk / hpre_div(r->cfgr);
    if (hclk != r->timed_hclk) {
        r->timed_hclk = hclk;
        sim_reschedule(r->sim); /* the core re-reads the CPU clock for instruction timing */
    }
    check_limits(r, sysclk, hclk);
    /* A switch still waiting for its source depends on time: stay unsettled. */
    r->settled = (r->cfgr & CFGR_SW_MASK) == r->sws;
}

/* The clock moved (and PWR/FLASH settings that the limit checks read may have changed). */
static void rcc_advance(void *self, uint64_t now)
{
    (void)now;
    ((struct rcc *)self)->settled = false;
}

/* ---- register access ---- */

static uint32_t cr_value(struct rcc *r)
{
    uint32_t v = r->cr & ~(CR_MSIRDY | CR_HSIRDY | CR_HSERDY | CR_PLLRDY | CR_PLLSAI1RDY | CR_PLLSAI2RDY);
    if (msi_ready(r))
        v |= CR_MSIRDY;
    if (hsi_ready(r))
        v |= CR_HSIRDY;
    if (hse_ready(r))
        v |= CR_HSERDY;
    if (main_vco(r))
        v |= CR_PLLRDY;
    if (sai1_vco(r))
        v |= CR_PLLSAI1RDY;
    if (sai2_vco(r))
        v |= CR_PLLSAI2RDY;
    return v;
}

static uint32_t reg_value(struct rcc *r, uint32_t off, bool *ok)
{
    *ok = true;
    switch (off) {
    case 0x00:
        return cr_value(r);
    case 0x04:
        return r->icscr;
    case 0x08:
        return (r->cfgr & ~(3u << CFGR_SWS_SHIFT)) | (r->sws << CFGR_SWS_SHIFT);
    case 0x0C:
        return r->pllcfgr;
    case 0x10:
        return r->pllsai1cfgr;
    case 0x14:
        return r->pllsai2cfgr;
    case 0x18:
        return r->cier;
    case 0x1C:
        return 0;
    case 0x90:
        return (r->bdcr & ~BDCR_LSERDY) | (lse_ready(r) ? BDCR_LSERDY : 0);
    case 0x94:
        return (r->csr & ~CSR_LSIRDY) | (lsi_ready(r) ? CSR_LSIRDY : 0);
    default: {
        uint32_t *p = plain_reg(r, off);
        if (p)
            return *p;
        *ok = false;
        return 0;
    }
    }
}

static uint32_t rcc_read(void *self, uint32_t offset, unsigned size)
{
    struct rcc *r = self;
    uint32_t off = offset & ~3u;
    sync(r);
    bool ok;
    uint32_t v = reg_value(r, off, &ok);
    if (!ok || off == 0x20)
        return sim_bad_access(r->sim, "RCC", RCC_BASE + offset, false, 0);
    unsigned shift = (offset & 3u) * 8;
    return size == 4 ? v : (v >> shift) & ((1u << (size * 8)) - 1);
}

/* Refuse to stop the oscillator SYSCLK runs on, directly or through the PLL. */
static bool stops_sysclk(struct rcc *r, uint32_t old_cr, uint32_t new_cr, uint32_t on_bit, unsigned src,
                         unsigned pllsrc)
{
    if (!(old_cr & on_bit) || (new_cr & on_bit))
        return false;
    if (r->sws == src || (r->sws == SRC_PLL && pll_src(r) == pllsrc && src != SRC_PLL))
        return true;
    return false;
}

static void write_cr(struct rcc *r, uint32_t value)
{
    uint32_t old = r->cr;
    uint32_t v = (old & ~CR_WRITABLE) | (value & CR_WRITABLE);
    v |= old & (CR_MSIRGSEL | CR_CSSON); /* set-only bits */
    uint64_t now = sim_now(r->sim);

    static const struct {
        uint32_t bit;
        unsigned src, pllsrc;
        const char *name;
    } osc[] = {{CR_MSION, SRC_MSI, 1, "MSION"},
               {CR_HSION, SRC_HSI, 2, "HSION"},
               {CR_HSEON, SRC_HSE, 3, "HSEON"},
               {CR_PLLON, SRC_PLL, 99, "PLLON"}};
    for (unsigned i = 0; i < 4; i++) {
        if (stops_sysclk(r, old, v, osc[i].bit, osc[i].src, osc[i].pllsrc)) {
            sim_warn(r->sim, "RCC_CR.%s=0 refused: SYSCLK runs on %s (RCC_CFGR.SWS=%u)", osc[i].name,
                     src_name[r->sws], r->sws);
            v |= osc[i].bit;
        }
    }
    if ((v ^ old) & CR_MSIRANGE_MASK) {
        if ((old & CR_MSION) && !msi_ready(r)) {
            sim_warn(r->sim, "RCC_CR.MSIRANGE change refused: MSI is on but not ready (MSIRDY=0)");
            v = (v & ~CR_MSIRANGE_MASK) | (old & CR_MSIRANGE_MASK);
        }
    }
    if ((v & CR_MSIPLLEN) && !(old & CR_MSIPLLEN) && !lse_ready(r))
        sim_warn(r->sim, "RCC_CR.MSIPLLEN=1 while the LSE is not ready (RCC_BDCR.LSERDY=0): MSI stays untrimmed "
                         "until it is");
    if (((v ^ old) & CR_HSEBYP) && (old & CR_HSEON)) {
        sim_warn(r->sim, "RCC_CR.HSEBYP change refused: it can only change while HSEON=0");
        v = (v & ~CR_HSEBYP) | (old & CR_HSEBYP);
    }
    if ((v & CR_HSEBYP) && (v & CR_HSEON) && !(old & CR_HSEON))
        sim_warn(r->sim, "RCC_CR.HSEBYP=1: the STM32L476G-EVAL has an 8 MHz crystal, not an external clock; "
                         "HSERDY will not rise");

    if ((v & CR_MSION) && !(old & CR_MSION))
        r->msi_ready_at = now + RCC_MSI_STARTUP_PS;
    if ((v & (CR_HSION | CR_HSIKERON)) && !(old & (CR_HSION | CR_HSIKERON)))
        r->hsi_ready_at = now + RCC_HSI_STARTUP_PS;
    if ((v & CR_HSEON) && !(old & CR_HSEON))
        r->hse_ready_at = now + RCC_HSE_STARTUP_PS;
    if ((v & CR_PLLON) && !(old & CR_PLLON)) {
        r->pll_on_at = now;
        check_pll_config(r, "main PLL", r->pllcfgr);
    }
    if ((v & CR_PLLSAI1ON) && !(old & CR_PLLSAI1ON)) {
        r->sai1_on_at = now;
        check_pll_config(r, "PLLSAI1", r->pllsai1cfgr);
    }
    if ((v & CR_PLLSAI2ON) && !(old & CR_PLLSAI2ON))
        r->sai2_on_at = now;
    r->cr = v;
}

static void write_pllcfg(struct rcc *r, uint32_t *reg, uint32_t writable, uint32_t value, uint32_t on_bit,
                         const char *name)
{
    if ((r->cr & on_bit) && ((value ^ *reg) & writable))
        sim_warn(r->sim, "RCC_%s written while the PLL is on: configure it only while it is off", name);
    *reg = (*reg & ~writable) | (value & writable);
}

static void write_cfgr(struct rcc *r, uint32_t value)
{
    uint32_t old = r->cfgr;
    r->cfgr = (old & ~CFGR_WRITABLE) | (value & CFGR_WRITABLE);
    unsigned sw = r->cfgr & CFGR_SW_MASK;
    if (sw != (old & CFGR_SW_MASK) && src_hz(r, sw) == 0) {
        if (sw == SRC_PLL && (r->cr & CR_PLLON) && !(r->pllcfgr & PLL_REN))
            sim_warn(r->sim, "RCC_CFGR.SW=PLL but RCC_PLLCFGR.PLLREN=0: the PLL's R output is off, the switch "
                             "waits");
        else
            sim_warn(r->sim, "RCC_CFGR.SW=%s selects a clock that is not ready: SWS stays %s until it is",
                     src_name[sw], src_name[r->sws]);
    }
}

static void write_bdcr(struct rcc *r, uint32_t value)
{
    if (!pwr_backup_writable(r->sim)) {
        sim_warn(r->sim, "RCC_BDCR write of 0x%08x lost: the backup domain is write-protected (PWR_CR1.DBP=0)",
                 value);
        return;
    }
    uint32_t old = r->bdcr;
    uint32_t v = (old & ~BDCR_WRITABLE) | (value & BDCR_WRITABLE);
    if ((v & BDCR_BDRST) && !(old & BDCR_BDRST)) {
        sim_trace(r->sim, SIM_TR_RCC, "RCC: backup domain reset (BDCR.BDRST)");
        r->bdcr = BDCR_BDRST;
        rtc_backup_domain_reset(r->sim);
        return;
    }
    if (old & BDCR_BDRST) /* held in reset: only BDRST itself can change */
        v = (value & BDCR_BDRST);
    if ((old & BDCR_RTCSEL_MASK) && ((v ^ old) & BDCR_RTCSEL_MASK)) {
        sim_warn(r->sim, "RCC_BDCR.RTCSEL change refused: it is write-once until a backup domain reset (BDRST)");
        v = (v & ~BDCR_RTCSEL_MASK) | (old & BDCR_RTCSEL_MASK);
    }
    if (((v ^ old) & BDCR_LSEBYP) && (old & BDCR_LSEON)) {
        sim_warn(r->sim, "RCC_BDCR.LSEBYP change refused: it can only change while LSEON=0");
        v = (v & ~BDCR_LSEBYP) | (old & BDCR_LSEBYP);
    }
    if ((v & BDCR_LSEON) && !(old & BDCR_LSEON))
        r->lse_ready_at = sim_now(r->sim) + RCC_LSE_STARTUP_PS;
    r->bdcr = v;
}

static void write_csr(struct rcc *r, uint32_t value)
{
    if (value & CSR_RMVF)
        r->csr &= ~CSR_FLAGS;
    if ((value & CSR_LSION) && !(r->csr & CSR_LSION) && !r->lsi_forced)
        r->lsi_ready_at = sim_now(r->sim) + RCC_LSI_STARTUP_PS;
    unsigned srange = (value & CSR_MSISRANGE_MASK) >> CSR_MSISRANGE_SHIFT;
    uint32_t keep_range = r->csr & CSR_MSISRANGE_MASK;
    if (srange < 4 || srange > 7) {
        if ((value & CSR_MSISRANGE_MASK) != keep_range)
            sim_warn(r->sim, "RCC_CSR.MSISRANGE=%u refused: only 4..7 (1, 2, 4, 8 MHz) are allowed", srange);
    } else {
        keep_range = value & CSR_MSISRANGE_MASK;
    }
    r->csr = (r->csr & CSR_FLAGS) | keep_range | (value & CSR_LSION);
}

static void run_reset_hooks(struct rcc *r, uint32_t rstr_off, uint32_t rising)
{
    for (unsigned p = 0; p < RCC_P_COUNT; p++) {
        if (periph_bits[p].enr_off - 0x20 != rstr_off || !(rising & (1u << periph_bits[p].bit)))
            continue;
        sim_trace(r->sim, SIM_TR_RCC, "RCC: peripheral reset via %s", periph_bits[p].enable_name);
        for (unsigned i = 0; i < MAX_RESET_HOOKS; i++)
            if (r->hooks[p][i].fn)
                r->hooks[p][i].fn(r->hooks[p][i].arg);
    }
}

static void rcc_write(void *self, uint32_t offset, uint32_t value, unsigned size)
{
    struct rcc *r = self;
    uint32_t off = offset & ~3u;
    r->settled = false;
    sync(r);
    if (size != 4) {
        bool ok;
        uint32_t cur = reg_value(r, off, &ok);
        unsigned shift = (offset & 3u) * 8;
        uint32_t mask = ((size == 1) ? 0xFFu : 0xFFFFu) << shift;
        if (off == 0x94)
            cur &= ~CSR_RMVF;
        value = (cur & ~mask) | ((value << shift) & mask);
    }
    sim_trace(r->sim, SIM_TR_RCC, "RCC write 0x%02x = 0x%08x", off, value);
    switch (off) {
    case 0x00:
        write_cr(r, value);
        break;
    case 0x04:
        r->icscr = (r->icscr & ~ICSCR_WRITABLE) | (value & ICSCR_WRITABLE);
        break;
    case 0x08:
        write_cfgr(r, value);
        break;
    case 0x0C:
        write_pllcfg(r, &r->pllcfgr, PLLCFGR_WRITABLE, value, CR_PLLON, "PLLCFGR");
        break;
    case 0x10:
        write_pllcfg(r, &r->pllsai1cfgr, PLLSAI1CFGR_WRITABLE, value, CR_PLLSAI1ON, "PLLSAI1CFGR");
        break;
    case 0x14:
        write_pllcfg(r, &r->pllsai2cfgr, PLLSAI2CFGR_WRITABLE, value, CR_PLLSAI2ON, "PLLSAI2CFGR");
        break;
    case 0x18:
        if (value != 0)
            sim_bad_access(r->sim, "RCC (CIER: clock ready interrupts not modelled)", RCC_BASE + off, true, value);
        break;
    case 0x20:
        break; /* CICR: nothing is ever flagged, nothing to clear */
    case 0x90:
        write_bdcr(r, value);
        break;
    case 0x94:
        write_csr(r, value);
        break;
    default: {
        uint32_t *p = plain_reg(r, off);
        if (!p) {
            sim_bad_access(r->sim, "RCC", RCC_BASE + offset, true, value);
            return;
        }
        const struct plain_reg *d = &plain_regs[p - r->plain];
        uint32_t old = *p;
        *p = (old & ~d->writable) | (value & d->writable);
        if (d->kind == RSTR)
            run_reset_hooks(r, off, *p & ~old);
        break;
    }
    }
    r->settled = false;
    sync(r);
}

static void rcc_reset(void *self, enum sim_reset_kind kind)
{
    struct rcc *r = self;
    r->settled = false;
    uint64_t now = sim_now(r->sim);
    r->cr = CR_RESET;
    r->icscr = ICSCR_RESET;
    r->cfgr = 0;
    r->sws = SRC_MSI;
    r->pllcfgr = r->pllsai1cfgr = r->pllsai2cfgr = PLLCFGR_RESET;
    r->cier = 0;
    for (unsigned i = 0; i < N_PLAIN; i++)
        r->plain[i] = plain_regs[i].reset;
    /* MSI comes out of reset running and ready. */
    r->msi_ready_at = now;
    r->lsi_forced = false;
    uint32_t flags = r->csr & CSR_FLAGS;
    if (kind == SIM_RESET_POWER_ON) {
        r->bdcr = 0;
        r->csr = CSR_POWER_ON;
    } else {
        switch (sim_last_reset_cause(r->sim)) {
        case SIM_CAUSE_POWER_ON:
            flags |= CSR_BORRSTF | CSR_PINRSTF;
            break;
        case SIM_CAUSE_SOFTWARE:
            flags |= CSR_SFTRSTF | CSR_PINRSTF;
            break;
        case SIM_CAUSE_IWDG:
            flags |= CSR_IWDGRSTF | CSR_PINRSTF;
            break;
        case SIM_CAUSE_WWDG:
            flags |= CSR_WWDGRSTF | CSR_PINRSTF;
            break;
        case SIM_CAUSE_PIN:
            flags |= CSR_PINRSTF;
            break;
        case SIM_CAUSE_OPTION_LOAD:
            flags |= CSR_OBLRSTF | CSR_PINRSTF;
            break;
        }
        r->csr = flags | (6u << CSR_MSISRANGE_SHIFT);
    }
    r->checked_hclk = r->checked_sysclk = 0;
    r->checked_range = r->checked_latency = 0;
}

static const sim_periph_ops rcc_ops = {
    .name = "RCC",
    .read = rcc_read,
    .write = rcc_write,
    .reset = rcc_reset,
    .advance = rcc_advance,
    .destroy = free,
};

void rcc_attach(sim_t *sim)
{
    struct rcc *r = calloc(1, sizeof *r);
    if (!r)
        abort();
    r->sim = sim;
    sim_set_model(sim, SIM_M_RCC, r);
    rcc_reset(r, SIM_RESET_POWER_ON);
    sim_add_periph(sim, RCC_BASE, RCC_SIZE, &rcc_ops, r);
}

/* ---- queries ---- */

bool rcc_periph_enabled(sim_t *sim, enum rcc_periph p)
{
    struct rcc *r = rcc_of(sim);
    if (!r || p >= RCC_P_COUNT)
        return r == NULL;
    uint32_t *enr = plain_reg(r, periph_bits[p].enr_off);
    return (*enr >> periph_bits[p].bit) & 1u;
}

const char *rcc_periph_enable_name(enum rcc_periph p)
{
    return p < RCC_P_COUNT ? periph_bits[p].enable_name : "?";
}

uint32_t rcc_sysclk_hz(sim_t *sim)
{
    struct rcc *r = rcc_of(sim);
    if (!r)
        return 4000000u;
    sync(r);
    return src_hz(r, r->sws);
}

uint32_t rcc_hclk_hz(sim_t *sim)
{
    struct rcc *r = rcc_of(sim);
    if (!r)
        return 4000000u;
    return rcc_sysclk_hz(sim) / hpre_div(r->cfgr);
}

uint32_t rcc_pclk_hz(sim_t *sim, int apb)
{
    struct rcc *r = rcc_of(sim);
    if (!r)
        return 4000000u;
    return rcc_hclk_hz(sim) / ppre_div(r->cfgr, apb == 2 ? CFGR_PPRE2_SHIFT : CFGR_PPRE1_SHIFT);
}

/* 48 MHz from a PLL's Q output: what is missing, in RCC words. */
static uint32_t pll_q_clock(struct rcc *r, const char *pll, uint32_t cfgr, uint32_t on_bit, uint64_t vco,
                            const char *cfg_name, const char **why)
{
    uint64_t unused;
    if (!(r->cr & on_bit)) {
        snprintf(r->why, sizeof r->why, "RCC_CCIPR.CLK48SEL selects %s Q but RCC_CR.%sON=0 (%s off)", pll, pll, pll);
    } else if (pll_src(r) == 0) {
        snprintf(r->why, sizeof r->why, "RCC_CCIPR.CLK48SEL selects %s Q but RCC_PLLCFGR.PLLSRC=00: no PLL input",
                 pll);
    } else if (pll_input_hz(r, &unused) == 0) {
        snprintf(r->why, sizeof r->why, "RCC_CCIPR.CLK48SEL selects %s Q but its input %s is not ready", pll,
                 pll_src_name(pll_src(r)));
    } else if (!vco) {
        snprintf(r->why, sizeof r->why, "RCC_CCIPR.CLK48SEL selects %s Q but %s is not locked yet (RCC_CR.%sRDY=0)",
                 pll, pll, pll);
    } else if (!(cfgr & PLL_QEN)) {
        snprintf(r->why, sizeof r->why, "RCC_CCIPR.CLK48SEL selects %s Q but RCC_%s.%sQEN=0 (Q output off)", pll,
                 cfg_name, pll);
    } else {
        return (uint32_t)(vco / pll_qr_div(cfgr, 21));
    }
    *why = r->why;
    return 0;
}

uint32_t rcc_clk48_hz(sim_t *sim, bool *accurate, const char **why)
{
    bool acc_dummy;
    const char *why_dummy;
    if (!accurate)
        accurate = &acc_dummy;
    if (!why)
        why = &why_dummy;
    *accurate = false;
    *why = NULL;
    struct rcc *r = rcc_of(sim);
    if (!r) {
        *why = "no RCC model";
        return 0;
    }
    sync(r);
    uint32_t *ccipr = plain_reg(r, 0x88);
    unsigned sel = (*ccipr >> 26) & 3u;
    uint32_t hz = 0;
    bool from_msi = false;
    switch (sel) {
    case 0:
        *why = "RCC_CCIPR.CLK48SEL=00: no 48 MHz clock selected (the L476 has no HSI48)";
        return 0;
    case 1:
        hz = pll_q_clock(r, "PLLSAI1", r->pllsai1cfgr, CR_PLLSAI1ON, sai1_vco(r), "PLLSAI1CFGR", why);
        from_msi = pll_src(r) == 1;
        break;
    case 2:
        hz = pll_q_clock(r, "PLL", r->pllcfgr, CR_PLLON, main_vco(r), "PLLCFGR", why);
        from_msi = pll_src(r) == 1;
        break;
    case 3:
        if (!(r->cr & CR_MSION)) {
            *why = "RCC_CCIPR.CLK48SEL=11 selects MSI but RCC_CR.MSION=0";
            return 0;
        }
        if (!msi_ready(r)) {
            *why = "RCC_CCIPR.CLK48SEL=11 selects MSI but it is not ready (RCC_CR.MSIRDY=0)";
            return 0;
        }
        hz = msi_hz(r);
        from_msi = true;
        break;
    }
    if (hz == 0)
        return 0;
    if (hz != 48000000u) {
        if (sel == 3)
            snprintf(r->why, sizeof r->why,
                     "CLK48 from MSI runs at %u Hz, not 48 MHz: set RCC_CR.MSIRANGE=11 with MSIRGSEL=1", hz);
        else
            snprintf(r->why, sizeof r->why, "CLK48 from %s Q runs at %u Hz, not 48 MHz", sel == 1 ? "PLLSAI1" : "PLL",
                     hz);
        *why = r->why;
        return hz;
    }
    if (from_msi && !msi_trimmed(r)) {
        *why = "CLK48 from MSI without RCC_CR.MSIPLLEN=1 and LSE ready (RCC_BDCR.LSERDY): MSI is only "
               "accurate to +-0.6 % or worse, USB enumeration would be unreliable";
        return hz;
    }
    if (!from_msi && pll_src(r) == 2) {
        *why = "CLK48 from a PLL fed by HSI16: about +-1 % over temperature, outside USB's +-0.25 %";
        return hz;
    }
    *accurate = true;
    return hz;
}

bool rcc_lsi_on(sim_t *sim)
{
    struct rcc *r = rcc_of(sim);
    return r && lsi_ready(r);
}

bool rcc_lse_ready(sim_t *sim)
{
    struct rcc *r = rcc_of(sim);
    return r && lse_ready(r);
}

uint32_t rcc_usart_kernel_hz(sim_t *sim, int which)
{
    struct rcc *r = rcc_of(sim);
    if (!r)
        return 4000000u;
    uint32_t ccipr = *plain_reg(r, 0x88);
    unsigned shift = which == 1 ? 0 : which == 2 ? 2 : 10;
    switch ((ccipr >> shift) & 3u) {
    case 0:
        return rcc_pclk_hz(sim, which == 1 ? 2 : 1);
    case 1:
        return rcc_sysclk_hz(sim);
    case 2:
        return hsi_ready(r) ? RCC_HSI_HZ : 0;
    default:
        return lse_ready(r) ? RCC_LSE_HZ : 0;
    }
}

void rcc_on_periph_reset(sim_t *sim, enum rcc_periph p, void (*fn)(void *), void *arg)
{
    struct rcc *r = rcc_of(sim);
    if (!r || p >= RCC_P_COUNT) {
        sim_warn(sim, "rcc_on_periph_reset: no RCC model attached yet (attach RCC first)");
        return;
    }
    for (unsigned i = 0; i < MAX_RESET_HOOKS; i++) {
        if (!r->hooks[p][i].fn) {
            r->hooks[p][i].fn = fn;
            r->hooks[p][i].arg = arg;
            return;
        }
    }
    sim_warn(sim, "rcc_on_periph_reset: too many hooks for %s", periph_bits[p].enable_name);
}

void rcc_force_lsi(sim_t *sim, bool on)
{
    struct rcc *r = rcc_of(sim);
    if (!r)
        return;
    if (on && !r->lsi_forced && !(r->csr & CSR_LSION))
        r->lsi_ready_at = sim_now(sim) + RCC_LSI_STARTUP_PS;
    r->lsi_forced = on;
}
