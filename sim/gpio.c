/* l4sim model of the STM32L476 GPIO ports A..H, windows of 0x400 from 0x48000000.
 *
 * | off | register | reset (A / B / C-G / H)                         | notes |
 * |-----|----------|-------------------------------------------------|-------|
 * | 00  | MODER    | 0xABFFFFFF / 0xFFFFFEBF / 0xFFFFFFFF / 0x0000000F | 00 in, 01 out, 10 AF, 11 analog; A and B start with the debug pins in AF |
 * | 04  | OTYPER   | 0                                               | 1 = open drain |
 * | 08  | OSPEEDR  | 0x0C000000 / 0 / 0 / 0                          | stored |
 * | 0C  | PUPDR    | 0x64000000 / 0x00000100 / 0 / 0                 | 01 pull-up, 10 pull-down |
 * | 10  | IDR      | -                                               | RO: pin levels (analog pins read 0) |
 * | 14  | ODR      | 0                                               | |
 * | 18  | BSRR     | -                                               | WO; low half sets, high half resets, set wins |
 * | 1C  | LCKR     | 0                                               | LCKK 16; lock sequence W(1,k) W(0,k) W(1,k) R; locked until reset |
 * | 20  | AFRL     | 0                                               | AF of pins 0..7 |
 * | 24  | AFRH     | 0                                               | AF of pins 8..15 |
 * | 28  | BRR      | -                                               | WO; resets bits |
 * | 2C  | ASCR     | 0                                               | analog switch to the ADC; stored |
 *
 * Port H has only PH0, PH1 on the LQFP144 package; PG2..PG15 are powered by VDDIO2, so they
 * do nothing until PWR_CR2.IOSV=1 (warned on use). Writes need the port's RCC_AHB2ENR bit.
 * A floating input (no drive, no pull) reads 0 here; on silicon it is undefined.
 */
#include "gpio.h"

#include <stdlib.h>

#include "exti.h"
#include "pwr.h"
#include "rcc.h"

#define LCKR_LCKK (1u << 16)
#define MAX_WATCHERS 8

struct gpio;

struct gpio_port {
    struct gpio *g;
    unsigned index; /* 0 = A */
    uint32_t moder, otyper, ospeedr, pupdr, odr, afr[2], ascr;
    uint32_t lckr;
    unsigned lock_step; /* lock key sequence: writes seen so far */
    bool locked;
    uint16_t driven_mask, driven_level; /* the outside world */
    uint16_t last_out;                  /* output levels last reported to watchers */
    bool warned_iosv;
};

struct gpio {
    sim_t *sim;
    struct gpio_port port[GPIO_PORT_COUNT];
    struct {
        gpio_watch_fn fn;
        void *user;
    } watchers[MAX_WATCHERS];
    unsigned destroyed; /* windows destroyed so far: the last one frees */
};

static const uint32_t moder_reset[GPIO_PORT_COUNT] = {0xABFFFFFFu, 0xFFFFFEBFu, 0xFFFFFFFFu, 0xFFFFFFFFu,
                                                      0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0x0000000Fu};
static const uint32_t ospeedr_reset[GPIO_PORT_COUNT] = {0x0C000000u};
static const uint32_t pupdr_reset[GPIO_PORT_COUNT] = {0x64000000u, 0x00000100u};

static struct gpio_port *port_of(sim_t *sim, char port)
{
    struct gpio *g = sim_model(sim, SIM_M_GPIO);
    if (!g || port < 'A' || port > 'H')
        return NULL;
    return &g->port[port - 'A'];
}

static char port_letter(const struct gpio_port *p)
{
    return (char)('A' + p->index);
}

static unsigned field2(uint32_t reg, unsigned pin)
{
    return (reg >> (2 * pin)) & 3u;
}

/* What the pin's input buffer sees. */
static bool pin_level(const struct gpio_port *p, unsigned pin)
{
    unsigned mode = field2(p->moder, pin);
    if (mode == GPIO_MODE_ANALOG)
        return false;
    if (mode == GPIO_MODE_OUTPUT) {
        bool high = (p->odr >> pin) & 1u;
        bool open_drain = (p->otyper >> pin) & 1u;
        if (!open_drain || !high)
            return high;
        /* an open-drain output left high is released: it reads like an input */
    }
    if ((p->driven_mask >> pin) & 1u)
        return (p->driven_level >> pin) & 1u;
    unsigned pull = field2(p->pupdr, pin);
    return pull == 1;
}

static uint16_t idr_value(const struct gpio_port *p)
{
    uint16_t v = 0;
    for (unsigned pin = 0; pin < 16; pin++)
        if (pin_level(p, pin))
            v |= (uint16_t)(1u << pin);
    return v;
}

/* Levels of the pins this port drives as outputs, bit per pin (others 0) and the mask of them. */
static uint16_t output_mask(const struct gpio_port *p)
{
    uint16_t m = 0;
    for (unsigned pin = 0; pin < 16; pin++)
        if (field2(p->moder, pin) == GPIO_MODE_OUTPUT)
            m |= (uint16_t)(1u << pin);
    return m;
}

/* After any change: tell the watchers about outputs that changed and EXTI about edges. */
static void settle(struct gpio_port *p, uint16_t idr_before)
{
    struct gpio *g = p->g;
    uint16_t outs = output_mask(p);
    uint16_t levels = (uint16_t)(p->odr & outs);
    uint16_t changed = (uint16_t)((levels ^ p->last_out) & outs);
    /* a pin that just became an output reports its level too */
    for (unsigned pin = 0; pin < 16; pin++) {
        if (!((changed >> pin) & 1u))
            continue;
        bool level = (levels >> pin) & 1u;
        sim_trace(g->sim, SIM_TR_GPIO, "GPIO P%c%u -> %u", port_letter(p), pin, level);
        for (unsigned i = 0; i < MAX_WATCHERS; i++)
            if (g->watchers[i].fn)
                g->watchers[i].fn(g->watchers[i].user, port_letter(p), pin, level);
    }
    p->last_out = (uint16_t)((p->last_out & ~outs) | levels);
    uint16_t idr = idr_value(p);
    uint16_t edges = idr ^ idr_before;
    for (unsigned pin = 0; pin < 16; pin++)
        if ((edges >> pin) & 1u)
            exti_gpio_edge(g->sim, port_letter(p), pin, (idr >> pin) & 1u);
}

static enum rcc_periph port_clock(const struct gpio_port *p)
{
    return (enum rcc_periph)(RCC_P_GPIOA + p->index);
}

static uint32_t gpio_read(void *self, uint32_t offset, unsigned size)
{
    struct gpio_port *p = self;
    sim_t *sim = p->g->sim;
    uint32_t off = offset & ~3u;
    uint32_t v;
    switch (off) {
    case 0x00:
        v = p->moder;
        break;
    case 0x04:
        v = p->otyper;
        break;
    case 0x08:
        v = p->ospeedr;
        break;
    case 0x0C:
        v = p->pupdr;
        break;
    case 0x10:
        v = idr_value(p);
        break;
    case 0x14:
        v = p->odr;
        break;
    case 0x18:
    case 0x28:
        v = 0;
        break;
    case 0x1C:
        v = p->lckr | (p->locked ? LCKR_LCKK : 0);
        if (p->lock_step == 3)
            p->lock_step = 0; /* the read that completes the sequence */
        break;
    case 0x20:
        v = p->afr[0];
        break;
    case 0x24:
        v = p->afr[1];
        break;
    case 0x2C:
        v = p->ascr;
        break;
    default:
        return sim_bad_access(sim, "GPIO", GPIO_BASE + GPIO_PORT_STRIDE * p->index + offset, false, 0);
    }
    if (!rcc_periph_enabled(sim, port_clock(p)))
        return 0;
    unsigned shift = (offset & 3u) * 8;
    return size == 4 ? v : (v >> shift) & ((1u << (size * 8)) - 1);
}

/* Bits of a per-pin field register (width bits per pin) that belong to locked pins. */
static uint32_t locked_bits(const struct gpio_port *p, unsigned width, unsigned first_pin)
{
    if (!p->locked)
        return 0;
    uint32_t m = 0;
    for (unsigned i = 0; i < 32 / width; i++) {
        unsigned pin = first_pin + i;
        if (pin < 16 && ((p->lckr >> pin) & 1u))
            m |= ((1u << width) - 1) << (i * width);
    }
    return m;
}

static void write_config(struct gpio_port *p, uint32_t *reg, uint32_t value, unsigned width, unsigned first_pin,
                         const char *name)
{
    uint32_t locked = locked_bits(p, width, first_pin);
    if ((value ^ *reg) & locked)
        sim_warn(p->g->sim, "GPIO%c_%s: change of locked pins ignored (LCKR=0x%04x, locked until reset)",
                 port_letter(p), name, p->lckr & 0xFFFFu);
    *reg = (*reg & locked) | (value & ~locked);
}

static void write_lckr(struct gpio_port *p, uint32_t value)
{
    if (p->locked)
        return; /* frozen until the next reset */
    bool lckk = value & LCKR_LCKK;
    uint32_t key = value & 0xFFFFu;
    static const bool expect[3] = {true, false, true};
    if (p->lock_step > 0 && p->lock_step < 3 && (lckk != expect[p->lock_step] || key != p->lckr)) {
        sim_warn(p->g->sim, "GPIO%c_LCKR: lock sequence aborted (step %u: wrote LCKK=%u LCK=0x%04x)", port_letter(p),
                 p->lock_step + 1, lckk, key);
        p->lock_step = 0;
    }
    p->lckr = key;
    if (p->lock_step == 0 && !lckk)
        return;
    if (p->lock_step == 0) {
        p->lock_step = 1;
        return;
    }
    p->lock_step++;
    if (p->lock_step == 3) {
        p->locked = true;
        sim_trace(p->g->sim, SIM_TR_GPIO, "GPIO%c locked: LCK=0x%04x", port_letter(p), key);
    }
}

static void gpio_write(void *self, uint32_t offset, uint32_t value, unsigned size)
{
    struct gpio_port *p = self;
    sim_t *sim = p->g->sim;
    uint32_t off = offset & ~3u;
    if (off > 0x2C) {
        sim_bad_access(sim, "GPIO", GPIO_BASE + GPIO_PORT_STRIDE * p->index + offset, true, value);
        return;
    }
    if (off == 0x10) {
        sim_bad_access(sim, "GPIO (IDR is read-only)", GPIO_BASE + GPIO_PORT_STRIDE * p->index + offset, true, value);
        return;
    }
    if (!rcc_periph_enabled(sim, port_clock(p))) {
        sim_warn(sim, "GPIO%c write to offset 0x%02x lost: %s=0 (port clock off)", port_letter(p), off,
                 rcc_periph_enable_name(port_clock(p)));
        return;
    }
    if (size != 4) {
        unsigned shift = (offset & 3u) * 8;
        uint32_t mask = ((size == 1) ? 0xFFu : 0xFFFFu) << shift;
        /* BSRR/BRR are write-only strobes: the bytes not written act as zeros */
        uint32_t cur = (off == 0x18 || off == 0x28 || off == 0x1C) ? 0 : gpio_read(p, off, 4);
        value = (cur & ~mask) | ((value << shift) & mask);
    }
    if (p->index == 6 && !pwr_vddio2_valid(sim) && !p->warned_iosv && (off == 0x00 || off == 0x14 || off == 0x18)) {
        p->warned_iosv = true;
        sim_warn(sim, "GPIOG used while PWR_CR2.IOSV=0: PG2..PG15 are powered by VDDIO2 and stay dead until "
                      "IOSV is set");
    }
    uint16_t idr_before = idr_value(p);
    switch (off) {
    case 0x00:
        write_config(p, &p->moder, value, 2, 0, "MODER");
        break;
    case 0x04:
        write_config(p, &p->otyper, value & 0xFFFFu, 1, 0, "OTYPER");
        break;
    case 0x08:
        write_config(p, &p->ospeedr, value, 2, 0, "OSPEEDR");
        break;
    case 0x0C:
        write_config(p, &p->pupdr, value, 2, 0, "PUPDR");
        break;
    case 0x14:
        p->odr = value & 0xFFFFu;
        break;
    case 0x18: {
        uint32_t set = value & 0xFFFFu, clr = value >> 16;
        p->odr = (p->odr & ~clr) | set; /* set wins */
        break;
    }
    case 0x1C:
        write_lckr(p, value);
        break;
    case 0x20:
        write_config(p, &p->afr[0], value, 4, 0, "AFRL");
        break;
    case 0x24:
        write_config(p, &p->afr[1], value, 4, 8, "AFRH");
        break;
    case 0x28:
        p->odr &= ~(value & 0xFFFFu);
        break;
    case 0x2C:
        p->ascr = value & 0xFFFFu;
        break;
    }
    settle(p, idr_before);
}

static void port_reset(struct gpio_port *p)
{
    uint16_t idr_before = idr_value(p);
    p->moder = moder_reset[p->index];
    p->otyper = 0;
    p->ospeedr = ospeedr_reset[p->index];
    p->pupdr = pupdr_reset[p->index];
    p->odr = 0;
    p->afr[0] = p->afr[1] = 0;
    p->ascr = 0;
    p->lckr = 0;
    p->lock_step = 0;
    p->locked = false;
    p->warned_iosv = false;
    settle(p, idr_before);
}

static void gpio_reset(void *self, enum sim_reset_kind kind)
{
    (void)kind; /* what the outside world drives stays driven */
    port_reset(self);
}

static void gpio_periph_reset(void *arg)
{
    port_reset(arg);
}

static void gpio_destroy(void *self)
{
    struct gpio *g = ((struct gpio_port *)self)->g;
    if (++g->destroyed == GPIO_PORT_COUNT)
        free(g);
}

static const sim_periph_ops gpio_ops = {
    .name = "GPIO",
    .read = gpio_read,
    .write = gpio_write,
    .reset = gpio_reset,
    .destroy = gpio_destroy,
};

void gpio_attach(sim_t *sim)
{
    struct gpio *g = calloc(1, sizeof *g);
    if (!g)
        abort();
    g->sim = sim;
    sim_set_model(sim, SIM_M_GPIO, g);
    for (unsigned i = 0; i < GPIO_PORT_COUNT; i++) {
        struct gpio_port *p = &g->port[i];
        p->g = g;
        p->index = i;
        port_reset(p);
        sim_add_periph(sim, GPIO_BASE + GPIO_PORT_STRIDE * i, GPIO_PORT_STRIDE, &gpio_ops, p);
        rcc_on_periph_reset(sim, (enum rcc_periph)(RCC_P_GPIOA + i), gpio_periph_reset, p);
    }
}

unsigned gpio_pin_mode(sim_t *sim, char port, unsigned pin)
{
    struct gpio_port *p = port_of(sim, port);
    return p && pin < 16 ? field2(p->moder, pin) : GPIO_MODE_ANALOG;
}

unsigned gpio_pin_af(sim_t *sim, char port, unsigned pin)
{
    struct gpio_port *p = port_of(sim, port);
    if (!p || pin >= 16)
        return 0;
    return (p->afr[pin / 8] >> (4 * (pin % 8))) & 0xFu;
}

bool gpio_pin_level(sim_t *sim, char port, unsigned pin)
{
    struct gpio_port *p = port_of(sim, port);
    return p && pin < 16 && pin_level(p, pin);
}

void gpio_drive(sim_t *sim, char port, unsigned pin, int level)
{
    struct gpio_port *p = port_of(sim, port);
    if (!p || pin >= 16)
        return;
    uint16_t idr_before = idr_value(p);
    uint16_t bit = (uint16_t)(1u << pin);
    if (level < 0) {
        p->driven_mask &= (uint16_t)~bit;
    } else {
        p->driven_mask |= bit;
        p->driven_level = (uint16_t)(level ? p->driven_level | bit : p->driven_level & ~bit);
    }
    sim_trace(sim, SIM_TR_GPIO, "GPIO P%c%u driven %s", port, pin, level < 0 ? "released" : level ? "high" : "low");
    settle(p, idr_before);
}

void gpio_watch(sim_t *sim, gpio_watch_fn fn, void *user)
{
    struct gpio *g = sim_model(sim, SIM_M_GPIO);
    if (!g)
        return;
    for (unsigned i = 0; i < MAX_WATCHERS; i++) {
        if (!g->watchers[i].fn) {
            g->watchers[i].fn = fn;
            g->watchers[i].user = user;
            return;
        }
    }
    sim_warn(sim, "gpio_watch: too many watchers");
}

void board_tamper_button(sim_t *sim, bool pressed)
{
    gpio_drive(sim, BOARD_TAMPER_PORT, BOARD_TAMPER_PIN,
               pressed ? BOARD_TAMPER_PRESSED_LEVEL : -1 /* released: the pull-down decides */);
}
