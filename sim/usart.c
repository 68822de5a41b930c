/* l4sim model of the STM32L476 USART1 (0x40013800), USART2 (0x40004400) and LPUART1 (0x40008000).
 *
 * | off | register | reset      | notes |
 * |-----|----------|------------|-------|
 * | 00  | CR1      | 0x00000000 | UE 0, RE 2, TE 3, IDLEIE 4, RXNEIE 5, TCIE 6, TXEIE 7, PCE 10, M0 12, OVER8 15 (USART only), M1 28 |
 * | 04  | CR2      | 0x00000000 | STOP[13:12] (00 1, 01 0.5, 10 2, 11 1.5 stop bits) |
 * | 08  | CR3      | 0x00000000 | OVRDIS 12; the rest stored |
 * | 0C  | BRR      | 0x00000000 | USART: fck/BRR (OVER8=0) or 2*fck/USARTDIV (OVER8=1); LPUART: 256*fck/BRR, BRR >= 0x300; written only with UE=0 |
 * | 10  | GTPR     | 0x00000000 | USART only; stored |
 * | 14  | RTOR     | 0x00000000 | USART only; stored |
 * | 18  | RQR      | -          | WO; RXFRQ 3 drops RXNE, TXFRQ 4 empties TDR |
 * | 1C  | ISR      | 0x000000C0 | RO; ORE 3, IDLE 4, RXNE 5, TC 6, TXE 7, BUSY 16, TEACK 21, REACK 22 (reset value unverified) |
 * | 20  | ICR      | -          | WO; ORECF 3, IDLECF 4, TCCF 6 |
 * | 24  | RDR      | 0x00000000 | RO; reading clears RXNE |
 * | 28  | TDR      | 0x00000000 | a byte written with UE+TE leaves one frame time later |
 *
 * Transmit: TDR feeds a shift register; a frame (start + data + parity + stop bits) at the
 * programmed rate takes usart_frame_ps(), then the byte reaches the console ("usart1", ...)
 * and TC rises if nothing follows. USART1 is the EVAL's console on CN9 (PB6 TX, AF7): a byte
 * sent while PB6 is not in AF7 does not leave the chip (warned once). The idle frame sent when
 * TE is set is not modelled. Receive: usart_inject() queues bytes that arrive one frame apart;
 * a byte arriving while RXNE is still set is lost with ORE (unless OVRDIS). IRQ lines (USART1
 * 37, USART2 38, LPUART1 70) are levels from RXNE/ORE, TXE, TC, IDLE and their enables.
 * Writes need the RCC enable bit; reads return 0 without it.
 */
#include "usart.h"

#include <stdlib.h>
#include <string.h>

#include "gpio.h"
#include "rcc.h"

#define CR1_UE (1u << 0)
#define CR1_RE (1u << 2)
#define CR1_TE (1u << 3)
#define CR1_IDLEIE (1u << 4)
#define CR1_RXNEIE (1u << 5)
#define CR1_TCIE (1u << 6)
#define CR1_TXEIE (1u << 7)
#define CR1_PCE (1u << 10)
#define CR1_M0 (1u << 12)
#define CR1_OVER8 (1u << 15)
#define CR1_M1 (1u << 28)
#define CR3_OVRDIS (1u << 12)
#define ISR_ORE (1u << 3)
#define ISR_IDLE (1u << 4)
#define ISR_RXNE (1u << 5)
#define ISR_TC (1u << 6)
#define ISR_TXE (1u << 7)
#define ISR_BUSY (1u << 16)
#define ISR_TEACK (1u << 21)
#define ISR_REACK (1u << 22)
#define RQR_RXFRQ (1u << 3)
#define RQR_TXFRQ (1u << 4)
#define RX_QUEUE_MAX 65536u

struct usart {
    sim_t *sim;
    int which; /* 1, 2, 0 = LPUART1 */
    const char *name;
    uint32_t base;
    unsigned irq;
    enum rcc_periph clock;
    bool lpuart;
    uint32_t cr1, cr2, cr3, brr, gtpr, rtor;
    /* transmitter */
    bool tdr_full, shifting, tc;
    uint8_t tdr, shift;
    uint64_t shift_done_at;
    bool warned_pin;
    /* receiver */
    bool rxne, ore, idle;
    uint8_t rdr;
    uint8_t *rxq;
    size_t rxq_head, rxq_len, rxq_cap;
    uint64_t rx_next_at;
    bool irq_level;
};

static struct usart *usart_of(sim_t *sim, int which)
{
    enum sim_model_id id = which == 1 ? SIM_M_USART1 : which == 2 ? SIM_M_USART2 : SIM_M_LPUART1;
    return sim_model(sim, id);
}

static bool enabled(const struct usart *u, uint32_t bits)
{
    return (u->cr1 & (CR1_UE | bits)) == (CR1_UE | bits);
}

static uint64_t frame_ps(struct usart *u)
{
    uint32_t fck = rcc_usart_kernel_hz(u->sim, u->which);
    if (fck == 0 || u->brr == 0)
        return 0;
    unsigned m = ((u->cr1 & CR1_M1) ? 2u : 0u) | ((u->cr1 & CR1_M0) ? 1u : 0u);
    unsigned data_bits = m == 1 ? 9 : m == 2 ? 7 : 8; /* parity, if any, is one of these */
    static const unsigned stop_halves[4] = {2, 1, 4, 3};
    uint64_t halves = 2u * (1u + data_bits) + stop_halves[(u->cr2 >> 12) & 3u];
    if (u->lpuart)
        return halves * u->brr * (SIM_PS_PER_S / 512u) / fck; /* bit = BRR / (256 fck) */
    if (u->cr1 & CR1_OVER8) {
        uint64_t div = (u->brr & 0xFFF0u) | ((u->brr & 7u) << 1);
        return halves * div * (SIM_PS_PER_S / 4u) / fck; /* bit = USARTDIV / (2 fck) */
    }
    return halves * (u->brr & 0xFFFFu) * (SIM_PS_PER_S / 2u) / fck; /* bit = BRR / fck */
}

static uint32_t isr_value(const struct usart *u)
{
    uint32_t v = 0;
    if (!u->tdr_full)
        v |= ISR_TXE;
    if (u->tc)
        v |= ISR_TC;
    if (u->rxne)
        v |= ISR_RXNE;
    if (u->ore)
        v |= ISR_ORE;
    if (u->idle)
        v |= ISR_IDLE;
    if (u->rxq_len && enabled(u, CR1_RE))
        v |= ISR_BUSY;
    if (enabled(u, CR1_TE))
        v |= ISR_TEACK;
    if (enabled(u, CR1_RE))
        v |= ISR_REACK;
    return v;
}

static void update_irq(struct usart *u)
{
    bool level = ((u->cr1 & CR1_RXNEIE) && (u->rxne || u->ore)) || ((u->cr1 & CR1_TXEIE) && !u->tdr_full) ||
                 ((u->cr1 & CR1_TCIE) && u->tc) || ((u->cr1 & CR1_IDLEIE) && u->idle);
    if (!(u->cr1 & CR1_UE))
        level = false;
    if (level != u->irq_level) {
        u->irq_level = level;
        sim_irq_set(u->sim, u->irq, level);
    }
}

/* The console on the EVAL's CN9 is wired to PB6. */
static bool tx_pin_ok(struct usart *u)
{
    if (u->which != 1)
        return true;
    if (gpio_pin_mode(u->sim, 'B', 6) == GPIO_MODE_AF && gpio_pin_af(u->sim, 'B', 6) == 7)
        return true;
    if (!u->warned_pin) {
        u->warned_pin = true;
        sim_warn(u->sim, "USART1 sends while PB6 (the EVAL's CN9 TX) is not in alternate function 7 "
                         "(GPIOB MODER6=%u AF=%u): the byte does not leave the chip",
                 gpio_pin_mode(u->sim, 'B', 6), gpio_pin_af(u->sim, 'B', 6));
    }
    return false;
}

static void start_shift(struct usart *u)
{
    uint64_t f = frame_ps(u);
    if (f == 0) {
        sim_warn(u->sim, "%s cannot send: %s", u->name,
                 u->brr == 0 ? "BRR=0 (no baud rate programmed)" : "its kernel clock is not running (RCC_CCIPR)");
        return; /* the byte waits in TDR until the rate is usable: the chip would hang the same way */
    }
    if (u->lpuart && u->brr < 0x300)
        sim_warn(u->sim, "LPUART1_BRR=0x%x is below the minimum 0x300", u->brr);
    else if (!u->lpuart && (u->brr & 0xFFFFu) < 16)
        sim_warn(u->sim, "%s_BRR=0x%x is below the minimum 16", u->name, u->brr);
    u->shift = u->tdr;
    u->tdr_full = false;
    u->shifting = true;
    u->shift_done_at = sim_now(u->sim) + f;
    sim_reschedule(u->sim);
}

static void process(struct usart *u, uint64_t now)
{
    while (u->shifting && now >= u->shift_done_at) {
        u->shifting = false;
        if (tx_pin_ok(u))
            sim_console_putc(u->sim, u->which == 1 ? "usart1" : u->which == 2 ? "usart2" : "lpuart1", u->shift);
        if (u->tdr_full) {
            uint64_t done = u->shift_done_at;
            start_shift(u);
            if (u->shifting)
                u->shift_done_at = done + (u->shift_done_at - now); /* back to back */
        } else {
            u->tc = true;
        }
    }
    while (u->rxq_len && now >= u->rx_next_at) {
        uint8_t b = u->rxq[u->rxq_head];
        u->rxq_head = (u->rxq_head + 1) % u->rxq_cap;
        u->rxq_len--;
        if (u->rxne && !(u->cr3 & CR3_OVRDIS)) {
            u->ore = true;
            sim_trace(u->sim, SIM_TR_MISC, "%s overrun: byte 0x%02x lost (RXNE still set)", u->name, b);
        } else {
            u->rdr = b;
            u->rxne = true;
        }
        if (u->rxq_len) {
            uint64_t f = frame_ps(u);
            u->rx_next_at += f ? f : 1;
        } else {
            u->idle = true; /* line idle after the last byte (one frame early: unverified detail) */
        }
    }
    update_irq(u);
}

static void drop_rx(struct usart *u)
{
    u->rxq_len = 0;
    u->rxq_head = 0;
}

static uint32_t usart_read(void *self, uint32_t offset, unsigned size)
{
    struct usart *u = self;
    uint32_t off = offset & ~3u, v;
    process(u, sim_now(u->sim));
    bool on = rcc_periph_enabled(u->sim, u->clock);
    switch (off) {
    case 0x00: v = u->cr1; break;
    case 0x04: v = u->cr2; break;
    case 0x08: v = u->cr3; break;
    case 0x0C: v = u->brr; break;
    case 0x10:
    case 0x14:
        if (u->lpuart)
            return sim_bad_access(u->sim, u->name, u->base + offset, false, 0);
        v = off == 0x10 ? u->gtpr : u->rtor;
        break;
    case 0x18:
    case 0x20: v = 0; break;
    case 0x1C: v = isr_value(u); break;
    case 0x24:
        v = u->rdr;
        if (on && u->rxne) {
            u->rxne = false;
            update_irq(u);
        }
        break;
    case 0x28: v = u->tdr; break;
    default: return sim_bad_access(u->sim, u->name, u->base + offset, false, 0);
    }
    if (!on)
        return 0;
    unsigned shift = (offset & 3u) * 8;
    return size == 4 ? v : (v >> shift) & ((1u << (size * 8)) - 1);
}

static void write_cr1(struct usart *u, uint32_t value)
{
    uint32_t old = u->cr1;
    u->cr1 = value & (u->lpuart ? 0x1FFF7FFFu : 0x1FFFFFFFu);
    if ((old & CR1_UE) && !(u->cr1 & CR1_UE)) {
        /* disabling stops everything in flight */
        u->tdr_full = u->shifting = false;
        u->tc = true;
        u->rxne = u->ore = u->idle = false;
        drop_rx(u);
    }
    if ((old & CR1_UE) && ((old ^ u->cr1) & (CR1_M0 | CR1_M1 | CR1_OVER8 | CR1_PCE)))
        sim_warn(u->sim, "%s_CR1: word length, parity or OVER8 changed while UE=1 (allowed only with UE=0)", u->name);
    if (!(u->cr1 & CR1_RE) || !(u->cr1 & CR1_UE))
        drop_rx(u);
}

static void usart_write(void *self, uint32_t offset, uint32_t value, unsigned size)
{
    struct usart *u = self;
    uint32_t off = offset & ~3u;
    process(u, sim_now(u->sim));
    if (off > 0x28 || (u->lpuart && (off == 0x10 || off == 0x14)) || off == 0x1C || off == 0x24) {
        sim_bad_access(u->sim, u->name, u->base + offset, true, value);
        return;
    }
    if (!rcc_periph_enabled(u->sim, u->clock)) {
        sim_warn(u->sim, "%s write to offset 0x%02x lost: %s=0 (%s clock off)", u->name, off,
                 rcc_periph_enable_name(u->clock), u->name);
        return;
    }
    if (size != 4 && off != 0x28) {
        unsigned shift = (offset & 3u) * 8;
        uint32_t mask = ((size == 1) ? 0xFFu : 0xFFFFu) << shift;
        uint32_t cur = (off == 0x18 || off == 0x20) ? 0 : usart_read(u, off, 4);
        value = (cur & ~mask) | ((value << shift) & mask);
    }
    switch (off) {
    case 0x00:
        write_cr1(u, value);
        break;
    case 0x04:
        u->cr2 = value;
        break;
    case 0x08:
        u->cr3 = value;
        break;
    case 0x0C:
        if (u->cr1 & CR1_UE) {
            sim_warn(u->sim, "%s_BRR write lost: BRR can only be written while CR1.UE=0", u->name);
            break;
        }
        u->brr = value & (u->lpuart ? 0xFFFFFu : 0xFFFFu);
        break;
    case 0x10:
        u->gtpr = value & 0xFFFFu;
        break;
    case 0x14:
        u->rtor = value;
        break;
    case 0x18:
        if (value & RQR_RXFRQ)
            u->rxne = false;
        if ((value & RQR_TXFRQ) && u->tdr_full) {
            u->tdr_full = false;
            if (!u->shifting)
                u->tc = true;
        }
        break;
    case 0x20:
        if (value & (1u << 3))
            u->ore = false;
        if (value & (1u << 4))
            u->idle = false;
        if (value & (1u << 6))
            u->tc = false;
        break;
    case 0x28:
        if (!enabled(u, CR1_TE)) {
            sim_warn(u->sim, "%s_TDR write of 0x%02x lost: CR1.UE and CR1.TE must both be 1", u->name, value & 0xFFu);
            break;
        }
        if (u->tdr_full)
            sim_warn(u->sim, "%s_TDR written while TXE=0: byte 0x%02x overwrites 0x%02x", u->name, value & 0xFFu,
                     u->tdr);
        u->tdr = (uint8_t)value;
        u->tdr_full = true;
        u->tc = false;
        if (!u->shifting)
            start_shift(u);
        break;
    }
    update_irq(u);
}

static uint64_t usart_next_event(void *self)
{
    struct usart *u = self;
    uint64_t t = SIM_NEVER;
    if (u->shifting)
        t = u->shift_done_at;
    if (u->rxq_len && u->rx_next_at < t)
        t = u->rx_next_at;
    return t;
}

static void usart_advance(void *self, uint64_t now)
{
    process(self, now);
}

static void usart_reset_state(struct usart *u)
{
    u->cr1 = u->cr2 = u->cr3 = u->brr = u->gtpr = u->rtor = 0;
    u->tdr_full = u->shifting = false;
    u->tc = true;
    u->tdr = u->shift = 0;
    u->rxne = u->ore = u->idle = false;
    u->rdr = 0;
    u->warned_pin = false;
    drop_rx(u);
    update_irq(u);
}

static void usart_reset(void *self, enum sim_reset_kind kind)
{
    (void)kind;
    usart_reset_state(self);
}

static void usart_periph_reset(void *arg)
{
    usart_reset_state(arg);
}

static void usart_destroy(void *self)
{
    struct usart *u = self;
    free(u->rxq);
    free(u);
}

static const sim_periph_ops usart_ops = {
    .name = "USART",
    .read = usart_read,
    .write = usart_write,
    .reset = usart_reset,
    .next_event = usart_next_event,
    .advance = usart_advance,
    .destroy = usart_destroy,
};

static void attach_one(sim_t *sim, int which, const char *name, uint32_t base, unsigned irq, enum rcc_periph clock,
                       enum sim_model_id id)
{
    struct usart *u = calloc(1, sizeof *u);
    if (!u)
        abort();
    u->sim = sim;
    u->which = which;
    u->name = name;
    u->base = base;
    u->irq = irq;
    u->clock = clock;
    u->lpuart = which == 0;
    usart_reset_state(u);
    sim_set_model(sim, id, u);
    sim_add_periph(sim, base, USART_SIZE, &usart_ops, u);
    rcc_on_periph_reset(sim, clock, usart_periph_reset, u);
}

void usart_attach(sim_t *sim)
{
    attach_one(sim, 2, "USART2", USART2_BASE, USART2_IRQ, RCC_P_USART2, SIM_M_USART2);
    attach_one(sim, 0, "LPUART1", LPUART1_BASE, LPUART1_IRQ, RCC_P_LPUART1, SIM_M_LPUART1);
    attach_one(sim, 1, "USART1", USART1_BASE, USART1_IRQ, RCC_P_USART1, SIM_M_USART1);
}

void usart_inject(sim_t *sim, int which, const uint8_t *data, size_t len)
{
    struct usart *u = usart_of(sim, which);
    if (!u || len == 0)
        return;
    process(u, sim_now(sim));
    if (!rcc_periph_enabled(sim, u->clock) || !enabled(u, CR1_RE)) {
        sim_warn(sim, "%s: %zu received byte(s) lost: the receiver is off (%s)", u->name, len,
                 !rcc_periph_enabled(sim, u->clock) ? rcc_periph_enable_name(u->clock) : "CR1.UE and CR1.RE must be 1");
        return;
    }
    if (u->rxq_len + len > RX_QUEUE_MAX) {
        sim_warn(sim, "%s: injection queue full, %zu byte(s) dropped", u->name, len);
        return;
    }
    if (u->rxq_len + len > u->rxq_cap) {
        size_t cap = u->rxq_cap ? u->rxq_cap : 256;
        while (cap < u->rxq_len + len)
            cap *= 2;
        uint8_t *q = malloc(cap);
        if (!q)
            abort();
        for (size_t i = 0; i < u->rxq_len; i++)
            q[i] = u->rxq[(u->rxq_head + i) % u->rxq_cap];
        free(u->rxq);
        u->rxq = q;
        u->rxq_cap = cap;
        u->rxq_head = 0;
    }
    if (u->rxq_len == 0) {
        uint64_t f = frame_ps(u);
        u->rx_next_at = sim_now(sim) + (f ? f : 1);
        u->idle = false;
    }
    for (size_t i = 0; i < len; i++)
        u->rxq[(u->rxq_head + u->rxq_len + i) % u->rxq_cap] = data[i];
    u->rxq_len += len;
    sim_reschedule(sim);
}

uint64_t usart_frame_ps(sim_t *sim, int which)
{
    struct usart *u = usart_of(sim, which);
    return u ? frame_ps(u) : 0;
}
