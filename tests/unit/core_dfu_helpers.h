/* DFU-request helpers shared by the DFU class tests: each runs one control transfer
 * through usbd.c exactly as dfu-util's requests would arrive. */
#ifndef L4DFU_TESTS_CORE_DFU_HELPERS_H
#define L4DFU_TESTS_CORE_DFU_HELPERS_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "core_fakes.h"
#include "dfu.h"
#include "usbd_port.h"

#define OUT_CLASS 0x21
#define IN_CLASS 0xA1

struct status_reply {
    enum host_result result;
    uint8_t status;
    uint32_t poll_ms;
    uint8_t state;
};

static inline struct status_reply get_status(void)
{
    uint8_t r[6] = {0};
    size_t n = 0;
    struct status_reply s = {0};
    s.result = host_in(IN_CLASS, DFU_GETSTATUS, 0, 0, 6, r, &n, NULL);
    if (s.result == HOST_OK) {
        assert_int_equal(n, 6);
        s.status = r[0];
        s.poll_ms = (uint32_t)r[1] | (uint32_t)r[2] << 8 | (uint32_t)r[3] << 16;
        s.state = r[4];
        assert_int_equal(r[5], 0); /* iString */
    }
    return s;
}

static inline enum host_result dnload(uint16_t block, const void *data, uint16_t len)
{
    return host_out(OUT_CLASS, DFU_DNLOAD, block, 0, data, len);
}

static inline enum host_result dfuse_command(uint8_t cmd, uint32_t addr)
{
    const uint8_t c[5] = {cmd, (uint8_t)addr, (uint8_t)(addr >> 8), (uint8_t)(addr >> 16),
                          (uint8_t)(addr >> 24)};
    return dnload(0, c, 5);
}

static inline enum host_result simple(uint8_t request)
{
    return host_out(OUT_CLASS, request, 0, 0, NULL, 0);
}

/* Poll until the flash work is over: the fake answers BUSY a few times per operation. */
static inline void finish_work(void)
{
    fake_run_flash(dfu_poll);
}

/* The dfu-util loop for a command: first GETSTATUS must be DNBUSY, then work, then
 * the final state and status. */
static inline struct status_reply command_and_wait(uint8_t cmd, uint32_t addr, uint32_t *first_poll)
{
    assert_int_equal(dfuse_command(cmd, addr), HOST_OK);
    struct status_reply s = get_status();
    assert_int_equal(s.result, HOST_OK);
    assert_int_equal(s.state, DFU_STATE_DNBUSY);
    assert_int_equal(s.status, DFU_OK);
    if (first_poll != NULL)
        *first_poll = s.poll_ms;
    finish_work();
    return get_status();
}

#endif
