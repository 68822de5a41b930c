/* The umockdev bridge against a scripted host (bridge_fake.c): what the testbed shows,
 * what a real libusb program (bridge_client) and the real dfu-util get through it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bridge_fake.h"
#include "usb_bridge.h"

#ifndef BRIDGE_CLIENT
#error "BRIDGE_CLIENT (path of the bridge_client program) must be defined"
#endif

struct fixture {
    sim_t *sim;
    struct usbhost *host;
    struct usb_bridge *bridge;
};

static int setup_with(void **state, enum fake_set set, uint8_t address)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->sim = fake_sim_create();
    fake_sim_set_trace(f->sim, true);
    f->host = fake_host_create(f->sim, set, address);
    char *err = NULL;
    f->bridge = usb_bridge_start(f->sim, f->host, &err);
    if (!f->bridge)
        fprintf(stderr, "usb_bridge_start: %s\n", err ? err : "?");
    free(err);
    *state = f;
    return f->bridge ? 0 : -1;
}

static int setup_vendor(void **state)
{
    return setup_with(state, FAKE_SET_VENDOR, 5);
}

static int setup_dfu(void **state)
{
    return setup_with(state, FAKE_SET_DFU, 9);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    if (f->bridge)
        usb_bridge_stop(f->bridge);
    fake_host_destroy(f->host);
    fake_sim_destroy(f->sim);
    free(f);
    return 0;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    char *buf = calloc(1, 65536);
    *len = fread(buf, 1, 65535, fp);
    fclose(fp);
    return buf;
}

static char *testbed_file(struct fixture *f, const char *rel, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", usb_bridge_root_dir(f->bridge), rel);
    return read_file(path, len);
}

static bool node_is_fifo(struct fixture *f, unsigned devnum)
{
    char path[512];
    struct stat st;
    snprintf(path, sizeof path, "%s/dev/bus/usb/001/%03u", usb_bridge_root_dir(f->bridge), devnum);
    return stat(path, &st) == 0 && S_ISFIFO(st.st_mode);
}

static int run(struct fixture *f, const char *mode)
{
    char *argv[] = { BRIDGE_CLIENT, (char *)mode, NULL };
    int status = -1;
    assert_int_equal(usb_bridge_run_command(f->bridge, argv, &status), 0);
    return status;
}

/* ---- publishing ---- */

static void test_publishes_what_the_host_enumerated(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(usb_bridge_devnum(f->bridge), 5);
    size_t len, want_len;
    const uint8_t *want = fake_descriptors(FAKE_SET_VENDOR, &want_len);
    char *desc = testbed_file(f, "sys/bus/usb/devices/1-1/descriptors", &len);
    assert_non_null(desc);
    assert_int_equal(len, want_len);
    assert_memory_equal(desc, want, want_len);
    free(desc);
    char *devnum = testbed_file(f, "sys/bus/usb/devices/1-1/devnum", &len);
    assert_non_null(devnum);
    assert_string_equal(devnum, "5\n");
    free(devnum);
    char *busnum = testbed_file(f, "sys/bus/usb/devices/1-1/busnum", &len);
    assert_string_equal(busnum, "1\n");
    free(busnum);
    char *config = testbed_file(f, "sys/bus/usb/devices/1-1/bConfigurationValue", &len);
    assert_string_equal(config, "1\n");
    free(config);
    assert_true(node_is_fifo(f, 5));
}

static void test_follows_detach_and_new_generation(void **state)
{
    struct fixture *f = *state;
    fake_host_disconnect(f->host);
    usb_bridge_service(f->bridge);
    assert_int_equal(usb_bridge_devnum(f->bridge), 0);
    assert_false(node_is_fifo(f, 5));
    size_t len;
    assert_null(testbed_file(f, "sys/bus/usb/devices/1-1/descriptors", &len));

    fake_host_connect(f->host, FAKE_SET_DFU, 6);
    usb_bridge_service(f->bridge);
    assert_int_equal(usb_bridge_devnum(f->bridge), 6);
    assert_true(node_is_fifo(f, 6));
    size_t want_len;
    const uint8_t *want = fake_descriptors(FAKE_SET_DFU, &want_len);
    char *desc = testbed_file(f, "sys/bus/usb/devices/1-1/descriptors", &len);
    assert_non_null(desc);
    assert_int_equal(len, want_len);
    assert_memory_equal(desc, want, want_len);
    free(desc);

    /* a new enumeration at the same address is still a new device */
    fake_host_connect(f->host, FAKE_SET_DFU, 6);
    usb_bridge_service(f->bridge);
    struct usb_bridge_stats st;
    usb_bridge_stats(f->bridge, &st);
    assert_int_equal(st.publishes, 3);
    assert_int_equal(st.removals, 2);
    assert_true(node_is_fifo(f, 6));
    assert_non_null(strstr(fake_sim_trace_text(f->sim), "bridge: removed /dev/bus/usb/001/005"));
    assert_non_null(strstr(fake_sim_trace_text(f->sim), "bridge: published 0483:df11 as /dev/bus/usb/001/006"));
}

/* How many of our descriptors are device nodes in the testbed (the bridge's FIFOs). */
static unsigned open_nodes(struct fixture *f)
{
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s/dev/bus/usb/", usb_bridge_root_dir(f->bridge));
    unsigned n = 0;
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *e;
    while (dir && (e = readdir(dir)) != NULL) {
        char link[600], target[600];
        snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
        ssize_t len = readlink(link, target, sizeof target - 1);
        if (len > 0) {
            target[len] = 0;
            n += strncmp(target, prefix, strlen(prefix)) == 0;
        }
    }
    if (dir)
        closedir(dir);
    return n;
}

static void test_many_reenumerations_do_not_pile_up(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(open_nodes(f), 1);
    for (int i = 0; i < 50; i++) {
        fake_host_disconnect(f->host);
        usb_bridge_service(f->bridge);
        assert_int_equal(open_nodes(f), 0);
        fake_host_connect(f->host, FAKE_SET_VENDOR, (uint8_t)(2 + i % 100));
        usb_bridge_service(f->bridge);
        assert_int_equal(usb_bridge_devnum(f->bridge), 2 + i % 100);
    }
    assert_int_equal(open_nodes(f), 1);
    assert_int_equal(run(f, "list"), 0);
}

/* ---- a libusb client ---- */

static void test_libusb_client_transfers(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(run(f, "transfers"), 0);

    size_t len;
    const uint8_t *stored = fake_host_stored(f->host, &len);
    assert_int_equal(len, 9);
    assert_memory_equal(stored, "bridge-ok", 9);

    struct usb_bridge_stats st;
    usb_bridge_stats(f->bridge, &st);
    assert_true(st.urbs_submitted >= 15);
    assert_int_equal(st.urbs_reaped, st.urbs_submitted);
    assert_true(st.discards >= 1);
    assert_true(fake_host_cancels(f->host) >= 1);
    assert_int_equal(st.unknown_ioctls, 0);
    print_message("bridge: %llu URBs reaped, %llu empty reaps, %llu ioctls\n", (unsigned long long)st.urbs_reaped,
                  (unsigned long long)st.reap_empty, (unsigned long long)st.ioctls);
    /* the FIFO keeps the client asleep: about one empty reap per wake-up, not thousands */
    assert_true(st.reap_empty <= 2 * st.urbs_reaped + 10);
    assert_int_equal(fake_host_pending(f->host), 0);

    assert_true(fake_sim_was_paced(f->sim));
    assert_false(fake_sim_is_paced(f->sim));
    const char *trace = fake_sim_trace_text(f->sim);
    assert_non_null(strstr(trace, "SUBMITURB"));
    assert_non_null(strstr(trace, "done: status -32 (EPIPE)"));
    assert_non_null(strstr(trace, "REAPURBNDELAY -> URB"));
    assert_non_null(strstr(trace, "exited with status 0"));
    assert_int_equal(fake_sim_warnings(f->sim), 0);
}

static void test_several_commands_in_sequence(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < 3; i++)
        assert_int_equal(run(f, "list"), 0);
    assert_int_equal(run(f, "transfers"), 0);
    assert_int_equal(run(f, "list"), 0);
}

static void test_an_exited_client_lets_go(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(run(f, "abandon"), 0);
    /* its transfer was cancelled on the host and its claim dropped: the next one claims */
    assert_int_equal(fake_host_pending(f->host), 0);
    assert_int_equal(fake_host_cancels(f->host), 1);
    assert_int_equal(run(f, "transfers"), 0);
    assert_non_null(strstr(fake_sim_trace_text(f->sim), "bridge: client 1 closed /dev/bus/usb/001/005"));
}

static void test_raw_usbfs_answers(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(run(f, "raw"), 0);
    struct usb_bridge_stats st;
    usb_bridge_stats(f->bridge, &st);
    assert_int_equal(st.unknown_ioctls, 1); /* HUB_PORTINFO */
    assert_non_null(strstr(fake_sim_trace_text(f->sim), "is not emulated"));
}

static void test_reenumeration_is_seen_by_a_waiting_client(void **state)
{
    struct fixture *f = *state;
    unsigned before = usb_bridge_devnum(f->bridge);
    assert_int_equal(run(f, "reenum"), 0);
    assert_int_not_equal(usb_bridge_devnum(f->bridge), 0);
    assert_int_not_equal(usb_bridge_devnum(f->bridge), before);
    struct usb_bridge_stats st;
    usb_bridge_stats(f->bridge, &st);
    assert_int_equal(st.publishes, 2);
    assert_int_equal(st.removals, 1);
}

static void test_old_handle_fails_after_detach(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(run(f, "gone"), 0);
}

static void test_reset_keeps_an_unchanged_device(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(run(f, "reset"), 0);
    assert_int_equal(fake_host_port_resets(f->host), 1);
    struct usb_bridge_stats st;
    usb_bridge_stats(f->bridge, &st);
    assert_int_equal(st.publishes, 1);
    assert_int_equal(st.removals, 0);
}

static void test_missing_command_is_reported(void **state)
{
    struct fixture *f = *state;
    char *argv[] = { "/nonexistent/l4sim-no-such-program", NULL };
    int status = 0;
    assert_int_equal(usb_bridge_run_command(f->bridge, argv, &status), -1);
}

/* ---- the real dfu-util ---- */

static void test_dfu_util_lists_the_device(void **state)
{
    struct fixture *f = *state;
    char out[256];
    snprintf(out, sizeof out, "%s/dfu-util-list.txt", usb_bridge_root_dir(f->bridge));
    char cmd[512];
    snprintf(cmd, sizeof cmd, "dfu-util -l > '%s' 2>&1", out);
    char *argv[] = { "sh", "-c", cmd, NULL };
    for (int round = 0; round < 2; round++) {
        int status = -1;
        assert_int_equal(usb_bridge_run_command(f->bridge, argv, &status), 0);
        size_t len;
        char *text = read_file(out, &len);
        assert_non_null(text);
        if (!strstr(text, "Found DFU: [0483:df11]"))
            fprintf(stderr, "dfu-util said:\n%s\n", text);
        assert_int_equal(status, 0);
        assert_non_null(strstr(text, "Found DFU: [0483:df11] ver=2200, devnum=9, cfg=1, intf=0"));
        assert_non_null(strstr(text, "alt=0, name=\"@Internal Flash  /0x08000000/256*002Kg\""));
        assert_non_null(strstr(text, "alt=1, name=\"@Option Bytes  /0x1FFF7800/01*040 e\""));
        assert_non_null(strstr(text, "serial=\"DFU00001\""));
        free(text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_publishes_what_the_host_enumerated, setup_vendor, teardown),
        cmocka_unit_test_setup_teardown(test_follows_detach_and_new_generation, setup_vendor, teardown),
        cmocka_unit_test_setup_teardown(test_many_reenumerations_do_not_pile_up, setup_vendor, teardown),
        cmocka_unit_test_setup_teardown(test_libusb_client_transfers, setup_vendor, teardown),
        cmocka_unit_test_setup_teardown(test_several_commands_in_sequence, setup_vendor, teardown),
        cmocka_unit_test_setup_teardown(test_an_exited_client_lets_go, setup_vendor, teardown),
        cmocka_unit_test_setup_teardown(test_raw_usbfs_answers, setup_vendor, teardown),
        cmocka_unit_test_setup_teardown(test_reenumeration_is_seen_by_a_waiting_client, setup_vendor, teardown),
        cmocka_unit_test_setup_teardown(test_old_handle_fails_after_detach, setup_vendor, teardown),
        cmocka_unit_test_setup_teardown(test_reset_keeps_an_unchanged_device, setup_vendor, teardown),
        cmocka_unit_test_setup_teardown(test_missing_command_is_reported, setup_vendor, teardown),
        cmocka_unit_test_setup_teardown(test_dfu_util_lists_the_device, setup_dfu, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
