/* target.h for the STM32L476 (everything but the flash driver, which is flash.c). */
#include "board.h"
#include "chip.h"
#include "layout.h"
#include "target.h"
#include "usbd_port.h"
#include "regs/cortex_m4.h"
#include "regs/crc.h"
#include "regs/gpio.h"
#include "regs/pwr.h"
#include "regs/rcc.h"
#include "regs/rtc.h"

#define UID_WORD(n) L4_REG32(0x1FFF7590u + 4u * (n))
#define SCB_ICSR_PENDSTCLR (1u << 25)
#define SCB_ICSR_PENDSVCLR (1u << 27)

static uint32_t reset_flags;
static void backup_write(unsigned index, uint32_t value);

/* target_millis() without an interrupt: SysTick runs free over its full 24 bits at HCLK
 * and each call adds the cycles since the previous call. Callers must call at least
 * once per wrap (2^24 cycles: 349 ms at 48 MHz); the bootloader's main loop does. */
static struct {
    uint32_t last_count;
    uint32_t cycles;
    uint32_t ms;
} millis_clock;

static void millis_start(void)
{
    SYST_RVR = SYST_MAX_RELOAD;
    SYST_CVR = 0u;
    SYST_CSR = SYST_CSR_ENABLE | SYST_CSR_CLKSOURCE;
    millis_clock.last_count = SYST_CVR;
}

uint32_t target_millis(void)
{
    uint32_t now = SYST_CVR;
    millis_clock.cycles += (millis_clock.last_count - now) & SYST_MAX_RELOAD; /* counts down */
    millis_clock.last_count = now;
    uint32_t cycles_per_ms = clock_hclk_hz() / 1000u;
    millis_clock.ms += millis_clock.cycles / cycles_per_ms;
    millis_clock.cycles %= cycles_per_ms;
    return millis_clock.ms;
}

void target_init(void)
{
    /* Latch why we reset, then clear the flags so the next reset reports afresh. */
    reset_flags = RCC_CSR;
    RCC_CSR |= RCC_CSR_RMVF;
    clock_init_48mhz();
    button_init();
    millis_start();
}

bool target_reset_was_power_on(void)
{
    return (reset_flags & RCC_CSR_BORRSTF) != 0u;
}

void target_reset(void)
{
    cpu_dsb();
    SCB_AIRCR = SCB_AIRCR_VECTKEY | (SCB_AIRCR & SCB_AIRCR_PRIGROUP_MASK) | SCB_AIRCR_SYSRESETREQ;
    cpu_dsb();
    for (;;) {
    }
}

/* The hand-over is a reset: the startup code finds "RUN!" and enters slot A before it
 * touches anything, so the image starts from the chip's reset state (clocks, GPIO, USB,
 * SysTick, NVIC) without code here to undo each of them. */
void target_start_image(uint32_t vectors)
{
    (void)vectors; /* slot A: the one image the startup code knows */
    backup_write(LAYOUT_BKP_HANDSHAKE, LAYOUT_HANDSHAKE_RUN);
    target_reset();
}

void button_init(void)
{
    gpio_config(BOARD_BUTTON_PORT, BOARD_BUTTON_PIN, GPIO_MODE_INPUT, GPIO_PULL_DOWN,
                GPIO_SPEED_LOW, 0u);
}

bool target_button_pressed(void)
{
    return gpio_read(BOARD_BUTTON_PORT, BOARD_BUTTON_PIN) == (BOARD_BUTTON_PRESSED_LEVEL != 0u);
}

/* ---- backup registers ---- */

static void backup_write(unsigned index, uint32_t value)
{
    RCC_APB1ENR1 |= RCC_APB1_1_PWR;
    (void)RCC_APB1ENR1;
    PWR_CR1 |= PWR_CR1_DBP;
    RTC_BKPR(index) = value;
}

uint32_t target_handshake_read(void)
{
    return RTC_BKPR(LAYOUT_BKP_HANDSHAKE);
}

void target_handshake_write(uint32_t value)
{
    backup_write(LAYOUT_BKP_HANDSHAKE, value);
}

uint32_t target_bootcount_read(void)
{
    return RTC_BKPR(LAYOUT_BKP_BOOTCOUNT);
}

void target_bootcount_write(uint32_t value)
{
    backup_write(LAYOUT_BKP_BOOTCOUNT, value);
}

/* ---- CRC unit ---- */

static uint32_t bit_reverse(uint32_t value)
{
    uint32_t reversed;
    __asm__("rbit %0, %1" : "=r"(reversed) : "r"(value));
    return reversed;
}

uint32_t target_crc32_update(uint32_t crc, const void *data, size_t len)
{
    const uint8_t *bytes = data;
    RCC_AHB1ENR |= RCC_AHB1_CRC;
    /* The unit's register holds the un-reflected, un-inverted remainder. */
    CRC_INIT = bit_reverse(~crc);
    CRC_CR = CRC_CR_REV_OUT | CRC_CR_REV_IN_WORD | CRC_CR_RESET;
    if (((uintptr_t)bytes & 3u) == 0u) {
        for (; len >= 4u; len -= 4u, bytes += 4u)
            CRC_DR = *(const uint32_t *)(const void *)bytes;
    }
    CRC_CR = CRC_CR_REV_OUT | CRC_CR_REV_IN_BYTE;
    for (; len != 0u; len--)
        CRC_DR8 = *bytes++;
    return ~CRC_DR;
}

uint32_t target_crc32(const void *data, size_t len)
{
    return target_crc32_update(0u, data, len);
}

/* A byte loop, not memcpy: newlib's memcpy costs the bootloader 300 bytes, and the
 * reads are small (one DFU block at a time). */
__attribute__((optimize("no-tree-loop-distribute-patterns"))) void
target_memory_read(uint32_t addr, void *dst, size_t len)
{
    const volatile uint8_t *src = (const volatile uint8_t *)(uintptr_t)addr;
    uint8_t *out = dst;
    while (len--)
        *out++ = *src++;
}

/* ---- identity ---- */

void target_serial_number(char out[13])
{
    /* 48 bits: UID words 0 + 2, then the upper half of word 1, most significant first. */
    uint32_t high = UID_WORD(0) + UID_WORD(2);
    uint32_t low = UID_WORD(1) & 0xFFFF0000u;
    for (unsigned i = 0; i < 12u; i++) {
        uint32_t digit = high >> 28;
        high = high << 4 | low >> 28;
        low <<= 4;
        out[i] = (char)(digit + (digit < 10u ? '0' : 'A' - 10u));
    }
    out[12] = '\0';
}

/* ---- LED1 ---- */

void led_init(void)
{
    gpio_config(BOARD_LED1_PORT, BOARD_LED1_PIN, GPIO_MODE_OUTPUT, GPIO_PULL_NONE,
                GPIO_SPEED_LOW, 0u);
    led_set(false);
}

void led_set(bool on)
{
    gpio_write(BOARD_LED1_PORT, BOARD_LED1_PIN, !on); /* active low */
}

bool led_is_on(void)
{
    return !((GPIO_ODR(BOARD_LED1_PORT) >> BOARD_LED1_PIN) & 1u);
}

void led_toggle(void)
{
    led_set(!led_is_on());
}
