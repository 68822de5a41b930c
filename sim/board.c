/* The STM32L476G-EVAL: which models sit on the bus. Each model's attach function
 * creates it, registers its address window(s) and its slot (sim_set_model). */
#include "board.h"
#include "rcc.h"
#include "pwr.h"
#include "rtc.h"
#include "iwdg.h"
#include "usart.h"
#include "syscfg.h"
#include "exti.h"
#include "crc.h"
#include "gpio.h"
#include "flash.h"
#include "otgfs.h"

void board_attach_models(sim_t *sim)
{
    (void)sim;
    /* model attach calls, one line each, in bus order */
    rcc_attach(sim); /* first, out of bus order: the others register reset hooks with it */
    pwr_attach(sim);
    rtc_attach(sim);
    iwdg_attach(sim);
    usart_attach(sim); /* USART2, LPUART1, USART1 */
    syscfg_attach(sim);
    exti_attach(sim);
    crc_attach(sim);
    gpio_attach(sim);
    flash_attach(sim);
    otgfs_attach(sim);
}
