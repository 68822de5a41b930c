/* The DFU 1.1 state machine (dfu-dfuse.md §1): every request in every state the
 * device can reach, with the state it leaves behind. */
#include "core_dfu_helpers.h"

#include "usbd.h"

static unsigned leaves;
static void count_leave(void)
{
    leaves++;
}

static int setup(void **state)
{
    (void)state;
    fake_chip_reset(1024 * 1024);
    leaves = 0;
    dfu_init(count_leave);
    usbd_init(&dfu_usb_device);
    host_enumerate();
    return 0;
}

static const uint8_t block[64] = {1, 2, 3, 4, 5, 6, 7, 8};

/* ---- ways to reach each state ---- */
static void to_idle(void) {}
static void to_dnload_sync(void)
{
    assert_int_equal(dfuse_command(DFUSE_CMD_SET_ADDRESS, 0x08004000), HOST_OK);
}
static void to_dnbusy(void)
{
    /* erase first so the block can be written; then a block whose work is running */
    assert_int_equal(command_and_wait(DFUSE_CMD_ERASE, 0x08004000, NULL).state,
                     DFU_STATE_DNLOAD_IDLE);
    assert_int_equal(command_and_wait(DFUSE_CMD_SET_ADDRESS, 0x08004000, NULL).state,
                     DFU_STATE_DNLOAD_IDLE);
    assert_int_equal(dnload(2, block, sizeof block), HOST_OK);
    assert_int_equal(get_status().state, DFU_STATE_DNBUSY);
}
static void to_dnload_idle(void)
{
    assert_int_equal(command_and_wait(DFUSE_CMD_SET_ADDRESS, 0x08004000, NULL).state,
                     DFU_STATE_DNLOAD_IDLE);
}
static void to_manifest_sync(void)
{
    assert_int_equal(dnload(2, NULL, 0), HOST_OK);
}
static void to_manifest(void)
{
    to_manifest_sync();
    assert_int_equal(get_status().state, DFU_STATE_MANIFEST);
}
static void to_upload_idle(void)
{
    uint8_t buf[2048];
    size_t n;
    assert_int_equal(host_in(IN_CLASS, DFU_UPLOAD, 2, 0, sizeof buf, buf, &n, NULL), HOST_OK);
    assert_int_equal(n, sizeof buf);
}
static void to_error(void)
{
    assert_int_equal(simple(DFU_CLRSTATUS), HOST_STALL);
}

enum req { R_DETACH, R_DNLOAD, R_DNLOAD0, R_UPLOAD, R_GETSTATUS, R_CLRSTATUS, R_GETSTATE,
           R_ABORT, R_UNKNOWN, R_WRONG_DIRECTION, R_COUNT };

static enum host_result send(enum req r)
{
    uint8_t buf[2048];
    switch (r) {
    case R_DETACH:
        return host_out(OUT_CLASS, DFU_DETACH, 1000, 0, NULL, 0);
    case R_DNLOAD:
        return dfuse_command(DFUSE_CMD_SET_ADDRESS, 0x08004000);
    case R_DNLOAD0:
        return dnload(2, NULL, 0);
    case R_UPLOAD:
        return host_in(IN_CLASS, DFU_UPLOAD, 2, 0, sizeof buf, buf, NULL, NULL);
    case R_GETSTATUS:
        return get_status().result;
    case R_CLRSTATUS:
        return simple(DFU_CLRSTATUS);
    case R_GETSTATE:
        return host_in(IN_CLASS, DFU_GETSTATE, 0, 0, 1, buf, NULL, NULL);
    case R_ABORT:
        return simple(DFU_ABORT);
    case R_UNKNOWN:
        return simple(7);
    default:
        return host_in(IN_CLASS, DFU_ABORT, 0, 0, 1, buf, NULL, NULL);
    }
}

#define S HOST_STALL
#define K HOST_OK
struct expect {
    enum host_result result;
    enum dfu_state next;
};
#define E DFU_STATE_ERROR

struct row {
    const char *name;
    void (*reach)(void);
    enum dfu_state state;
    struct expect e[R_COUNT];
};

/* Columns: DETACH, DNLOAD (a command), DNLOAD length 0, UPLOAD, GETSTATUS, CLRSTATUS,
 * GETSTATE, ABORT, an undefined request, a request with the wrong direction. */
static const struct row table[] = {
    {"dfuIDLE", to_idle, DFU_STATE_IDLE,
     {{S, E}, {K, DFU_STATE_DNLOAD_SYNC}, {K, DFU_STATE_MANIFEST_SYNC}, {K, DFU_STATE_UPLOAD_IDLE},
      {K, DFU_STATE_IDLE}, {S, E}, {K, DFU_STATE_IDLE}, {K, DFU_STATE_IDLE}, {S, E}, {S, E}}},
    {"dfuDNLOAD-SYNC", to_dnload_sync, DFU_STATE_DNLOAD_SYNC,
     {{S, E}, {S, E}, {S, E}, {S, E}, {K, DFU_STATE_DNLOAD_SYNC /* work done at once */},
      {S, E}, {K, DFU_STATE_DNLOAD_SYNC}, {S, E}, {S, E}, {S, E}}},
    {"dfuDNBUSY", to_dnbusy, DFU_STATE_DNBUSY,
     {{S, E}, {S, E}, {S, E}, {S, E}, {K, DFU_STATE_DNBUSY}, {S, E}, {S, E}, {S, E}, {S, E},
      {S, E}}},
    {"dfuDNLOAD-IDLE", to_dnload_idle, DFU_STATE_DNLOAD_IDLE,
     {{S, E}, {K, DFU_STATE_DNLOAD_SYNC}, {K, DFU_STATE_MANIFEST_SYNC}, {S, E},
      {K, DFU_STATE_DNLOAD_IDLE}, {S, E}, {K, DFU_STATE_DNLOAD_IDLE}, {K, DFU_STATE_IDLE}, {S, E},
      {S, E}}},
    {"dfuMANIFEST-SYNC", to_manifest_sync, DFU_STATE_MANIFEST_SYNC,
     {{S, E}, {S, E}, {S, E}, {S, E}, {K, DFU_STATE_MANIFEST}, {S, E},
      {K, DFU_STATE_MANIFEST_SYNC}, {S, E}, {S, E}, {S, E}}},
    {"dfuMANIFEST", to_manifest, DFU_STATE_MANIFEST,
     {{S, E}, {S, E}, {S, E}, {S, E}, {K, DFU_STATE_MANIFEST}, {S, E}, {K, DFU_STATE_MANIFEST},
      {S, E}, {S, E}, {S, E}}},
    {"dfuUPLOAD-IDLE", to_upload_idle, DFU_STATE_UPLOAD_IDLE,
     {{S, E}, {S, E}, {S, E}, {K, DFU_STATE_UPLOAD_IDLE}, {K, DFU_STATE_UPLOAD_IDLE}, {S, E},
      {K, DFU_STATE_UPLOAD_IDLE}, {K, DFU_STATE_IDLE}, {S, E}, {S, E}}},
    {"dfuERROR", to_error, DFU_STATE_ERROR,
     {{S, E}, {S, E}, {S, E}, {S, E}, {K, E}, {K, DFU_STATE_IDLE}, {K, E}, {S, E}, {S, E},
      {S, E}}},
};

static void test_every_request_in_every_state(void **state)
{
    static const char *const req_names[R_COUNT] = {
        "DETACH", "DNLOAD", "DNLOAD(0)", "UPLOAD", "GETSTATUS", "CLRSTATUS", "GETSTATE",
        "ABORT", "request 7", "ABORT as IN"};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        for (int r = 0; r < R_COUNT; r++) {
            setup(state);
            table[i].reach();
            assert_int_equal(dfu_state(), table[i].state);
            enum dfu_status before = dfu_status();
            enum host_result got = send((enum req)r);
            if (got != table[i].e[r].result || dfu_state() != table[i].e[r].next)
                fail_msg("%s + %s: got %s, state %d; expected %s, state %d", table[i].name,
                         req_names[r], got == HOST_OK ? "ACK" : "STALL", dfu_state(),
                         table[i].e[r].result == HOST_OK ? "ACK" : "STALL", table[i].e[r].next);
            /* A refused request names itself in bStatus, unless an error was already
             * pending (dfuERROR keeps the first cause). */
            if (got == HOST_STALL)
                assert_int_equal(dfu_status(),
                                 table[i].state == DFU_STATE_ERROR ? before : DFU_ERR_STALLEDPKT);
            assert_int_equal(chip.op_started_while_busy, 0);
        }
    }
}

static void test_clrstatus_clears_the_error(void **state)
{
    (void)state;
    to_error();
    struct status_reply s = get_status();
    assert_int_equal(s.state, DFU_STATE_ERROR);
    assert_int_equal(s.status, DFU_ERR_STALLEDPKT);
    assert_int_equal(simple(DFU_CLRSTATUS), HOST_OK);
    s = get_status();
    assert_int_equal(s.state, DFU_STATE_IDLE);
    assert_int_equal(s.status, DFU_OK);
}

static void test_manifest_then_leave_after_status_stage(void **state)
{
    (void)state;
    to_manifest_sync();
    dfu_poll();
    assert_int_equal(leaves, 0); /* not before the host has read dfuMANIFEST */
    struct status_reply s = get_status();
    assert_int_equal(s.status, DFU_OK);
    assert_int_equal(s.state, DFU_STATE_MANIFEST);
    assert_int_equal(leaves, 0); /* leaving runs from the main loop, not the USB callback */
    dfu_poll();
    assert_int_equal(leaves, 1);
}

static void test_bus_reset_returns_to_idle_and_drops_the_job(void **state)
{
    (void)state;
    to_dnbusy();
    unsigned programs = chip.programs;
    usbd_port_on_bus_reset();
    assert_int_equal(dfu_state(), DFU_STATE_IDLE);
    finish_work();
    /* the one double word in flight finishes; nothing more is started */
    assert_int_equal(chip.programs, programs);
    assert_int_equal(chip.op_started_while_busy, 0);
}

static void test_abort_while_busy_stalls_and_stops_the_work(void **state)
{
    (void)state;
    to_dnbusy();
    unsigned programs = chip.programs;
    assert_int_equal(simple(DFU_ABORT), HOST_STALL);
    finish_work();
    assert_int_equal(chip.programs, programs);
    struct status_reply s = get_status();
    assert_int_equal(s.state, DFU_STATE_ERROR);
    assert_int_equal(s.status, DFU_ERR_STALLEDPKT);
    /* and the device recovers: clear, then a new block is written from scratch */
    assert_int_equal(simple(DFU_CLRSTATUS), HOST_OK);
    assert_int_equal(command_and_wait(DFUSE_CMD_ERASE, 0x08004000, NULL).status, DFU_OK);
    assert_int_equal(command_and_wait(DFUSE_CMD_SET_ADDRESS, 0x08004000, NULL).status, DFU_OK);
    assert_int_equal(dnload(2, block, sizeof block), HOST_OK);
    assert_int_equal(get_status().state, DFU_STATE_DNBUSY);
    finish_work();
    s = get_status();
    assert_int_equal(s.state, DFU_STATE_DNLOAD_IDLE);
    assert_memory_equal(fake_memory(0x08004000), block, sizeof block);
}

static void test_dfu_requests_need_a_configuration(void **state)
{
    (void)state;
    usbd_port_on_bus_reset();
    assert_int_equal(get_status().result, HOST_STALL);
}

static void test_malformed_dnloads_stall(void **state)
{
    (void)state;
    static uint8_t big[4096];
    assert_int_equal(dnload(2, big, 2049), HOST_STALL); /* above wTransferSize */
    setup(state);
    assert_int_equal(dnload(1, block, 8), HOST_STALL); /* block 1 is unused in DfuSe */
    setup(state);
    const uint8_t unknown[] = {0x55};
    assert_int_equal(dnload(0, unknown, 1), HOST_STALL);
    setup(state);
    const uint8_t short_address[] = {DFUSE_CMD_SET_ADDRESS, 0, 0x40};
    assert_int_equal(dnload(0, short_address, 3), HOST_STALL);
    assert_int_equal(dfu_status(), DFU_ERR_STALLEDPKT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_every_request_in_every_state, setup),
        cmocka_unit_test_setup(test_clrstatus_clears_the_error, setup),
        cmocka_unit_test_setup(test_manifest_then_leave_after_status_stage, setup),
        cmocka_unit_test_setup(test_bus_reset_returns_to_idle_and_drops_the_job, setup),
        cmocka_unit_test_setup(test_abort_while_busy_stalls_and_stops_the_work, setup),
        cmocka_unit_test_setup(test_dfu_requests_need_a_configuration, setup),
        cmocka_unit_test_setup(test_malformed_dnloads_stall, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
