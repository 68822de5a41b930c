/* The STM32L476G-EVAL: which models sit on the bus. Each model's attach function
 * creates it, registers its address window(s) and its slot (sim_set_model). */
#include "board.h"

void board_attach_models(sim_t *sim)
{
    (void)sim;
    /* model attach calls, one line each, in bus order */
}
