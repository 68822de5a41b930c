/* OTG_FS model (sim/otgfs.c) at register level: the test plays a polled driver with
 * sim_bus_read/sim_bus_write and plays the host with the otgfs_wire_* calls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "otgfs.h"
#include "otgfs_testdev.h"

#define NVIC_ISPR2 0xE000E208u

static sim_t *ready(bool quirk)
{
    sim_t *sim = t_board(quirk);
    t_bringup(sim, T_ALL);
    assert_null(otgfs_connect_blocker(sim));
    return sim;
}

static void ep1_bulk_in(sim_t *sim)
{
    wr(sim, DIEPCTL(1), EP_USBAEP | EP_BULK | 64u | (1u << 22) | EP_SD0PID);
}

static void ep1_bulk_out(sim_t *sim)
{
    wr(sim, DOEPCTL(1), EP_USBAEP | EP_BULK | 64u | EP_SD0PID);
}

static enum otg_wire_result in_tok(sim_t *sim, uint8_t addr, uint8_t ep, uint8_t *buf, unsigned *len,
                                   enum otg_wire_pid *pid)
{
    return otgfs_wire_in(sim, addr, ep, buf, 1023, len, pid);
}

static const uint8_t get_dev_desc[8] = {0x80, 6, 0, 1, 0, 0, 64, 0};

static void test_identity_and_reset_values(void **state)
{
    (void)state;
    sim_t *sim = t_board(true);
    /* no bus clock yet: the core does not answer */
    assert_int_equal(rd(sim, GSNPSID), 0);
    assert_non_null(strstr(t_trace(sim), "OTGFSEN = 0"));
    setb(sim, T_RCC_AHB2ENR, 1u << 12);
    assert_int_equal(rd(sim, GSNPSID), 0x4F54310Au);
    assert_int_equal(rd(sim, CID), 0x2000u);
    assert_int_equal(rd(sim, OTG + 0x048), 0x229ED520u);
    assert_int_equal(rd(sim, OTG + 0x04C), 0x0200D1E8u);
    assert_int_equal(rd(sim, OTG + 0x050), 0x17F08030u);
    assert_int_equal(rd(sim, GRSTCTL), 0x80000000u);
    assert_int_equal(rd(sim, GINTSTS), 0x04000020u);
    assert_int_equal(rd(sim, GOTGCTL), 0x00010000u);
    assert_int_equal(rd(sim, GUSBCFG), 0x00001440u);
    assert_int_equal(rd(sim, GRXFSIZ), 0x200u);
    assert_int_equal(rd(sim, DIEPTXF0), 0x200u);
    assert_int_equal(rd(sim, DIEPTXF(1)), 0x02000400u);
    assert_int_equal(rd(sim, DCFG), 0x02200000u);
    assert_int_equal(rd(sim, DCTL), 2u);
    assert_int_equal(rd(sim, DSTS), 0x10u);
    assert_int_equal(rd(sim, DIEPINT(0)), IN_TXFE);
    assert_true(rd(sim, DIEPCTL(0)) & EP_USBAEP);
    assert_true(rd(sim, DOEPCTL(0)) & EP_USBAEP);
    assert_false(rd(sim, DIEPCTL(1)) & EP_USBAEP);
    /* RO identity registers keep their value */
    wr(sim, GSNPSID, 0);
    assert_int_equal(rd(sim, GSNPSID), 0x4F54310Au);
    t_destroy(sim);
}

static void test_soft_reset_needs_48mhz(void **state)
{
    (void)state;
    sim_t *sim = t_board(true);
    setb(sim, T_RCC_AHB2ENR, 1u << 12);
    wr(sim, GRSTCTL, 1u);
    assert_true(rd(sim, GRSTCTL) & 1u);
    assert_non_null(strstr(t_trace(sim), "CSRST cannot complete"));
    t_bringup(sim, T_CLK48);
    assert_int_equal(rd(sim, GRSTCTL), 0x80000000u);
    /* with the clock, CSRST and the flushes self-clear at once */
    wr(sim, GRSTCTL, 1u | (1u << 4) | (1u << 5) | (0x10u << 6));
    assert_int_equal(rd(sim, GRSTCTL) & 0x31u, 0);
    assert_true(rd(sim, GRSTCTL) & 0x80000000u);
    t_destroy(sim);
}

static void test_in_transfer_fifo_accounting(void **state)
{
    (void)state;
    sim_t *sim = ready(true);
    ep1_bulk_in(sim);
    assert_int_equal(rd(sim, DTXFSTS(1)), 0x80u);
    wr(sim, DIEPTSIZ(1), (2u << 19) | 100u);
    setb(sim, DIEPCTL(1), EP_CNAK | EP_EPENA);
    uint8_t buf[1024];
    unsigned len = 99;
    enum otg_wire_pid pid;
    /* armed, but the packet is not in the FIFO yet */
    assert_int_equal(in_tok(sim, 0, 1, buf, &len, &pid), OTG_WIRE_NAK);
    assert_true(rd(sim, DIEPINT(1)) & (1u << 13)); /* NAK */
    assert_true(rd(sim, DIEPINT(1)) & (1u << 4));  /* ITTXFE */
    for (unsigned i = 0; i < 16; i++)
        wr(sim, FIFO(1), 0x03020100u + 0x04040404u * i);
    assert_int_equal(rd(sim, DTXFSTS(1)), 0x80u - 16);
    assert_int_equal(in_tok(sim, 0, 1, buf, &len, &pid), OTG_WIRE_ACK);
    assert_int_equal(len, 64);
    assert_int_equal(pid, OTG_PID_DATA0);
    for (unsigned i = 0; i < 64; i++)
        assert_int_equal(buf[i], i);
    assert_int_equal(rd(sim, DTXFSTS(1)), 0x80u);
    assert_int_equal(rd(sim, DIEPTSIZ(1)), (1u << 19) | 36u);
    assert_false(rd(sim, DIEPINT(1)) & IN_XFRC);
    for (unsigned i = 0; i < 9; i++)
        wr(sim, FIFO(1), 0xA5A5A5A5u);
    assert_int_equal(in_tok(sim, 0, 1, buf, &len, &pid), OTG_WIRE_ACK);
    assert_int_equal(len, 36);
    assert_int_equal(pid, OTG_PID_DATA1);
    assert_int_equal(rd(sim, DIEPTSIZ(1)), 0);
    assert_true(rd(sim, DIEPINT(1)) & IN_XFRC);
    assert_false(rd(sim, DIEPCTL(1)) & EP_EPENA);
    assert_int_equal(in_tok(sim, 0, 1, buf, &len, &pid), OTG_WIRE_NAK);
    /* a zero-length packet: PKTCNT 1, XFRSIZ 0, no FIFO write */
    wr(sim, DIEPTSIZ(1), 1u << 19);
    setb(sim, DIEPCTL(1), EP_CNAK | EP_EPENA);
    assert_int_equal(in_tok(sim, 0, 1, buf, &len, &pid), OTG_WIRE_ACK);
    assert_int_equal(len, 0);
    assert_int_equal(pid, OTG_PID_DATA0);
    /* a TX FIFO write when it is full is refused and reported */
    for (unsigned i = 0; i < 0x81; i++)
        wr(sim, FIFO(1), i);
    assert_int_equal(rd(sim, DTXFSTS(1)), 0);
    assert_non_null(strstr(t_trace(sim), "while it is full"));
    t_destroy(sim);
}

static void test_interrupts_and_irq_line(void **state)
{
    (void)state;
    sim_t *sim = ready(true);
    ep1_bulk_in(sim);
    wr(sim, DIEPTSIZ(1), (1u << 19) | 4u);
    setb(sim, DIEPCTL(1), EP_CNAK | EP_EPENA);
    wr(sim, FIFO(1), 0x11223344u);
    uint8_t buf[64];
    unsigned len;
    enum otg_wire_pid pid;
    assert_int_equal(in_tok(sim, 0, 1, buf, &len, &pid), OTG_WIRE_ACK);
    /* raw EP bit without masks: no DAINT, no IEPINT */
    assert_true(rd(sim, DIEPINT(1)) & IN_XFRC);
    assert_int_equal(rd(sim, DAINT), 0);
    assert_false(rd(sim, GINTSTS) & GINT_IEPINT);
    wr(sim, DIEPMSK, 1u);
    assert_int_equal(rd(sim, DAINT), 1u << 1);
    assert_false(rd(sim, GINTSTS) & GINT_IEPINT); /* DAINTMSK gates GINTSTS */
    wr(sim, DAINTMSK, 1u << 1);
    assert_true(rd(sim, GINTSTS) & GINT_IEPINT);
    /* IRQ 67 = GINT && (GINTSTS & GINTMSK) */
    wr(sim, GINTMSK, GINT_IEPINT);
    assert_false(rd(sim, NVIC_ISPR2) & (1u << 3));
    setb(sim, GAHBCFG, 1u);
    assert_true(rd(sim, NVIC_ISPR2) & (1u << 3));
    wr(sim, DIEPINT(1), IN_XFRC);
    assert_int_equal(rd(sim, DAINT), 0);
    assert_false(rd(sim, GINTSTS) & GINT_IEPINT);
    wr(sim, 0xE000E288u, 1u << 3); /* ICPR2: the line is low now, the pending bit clears */
    assert_false(rd(sim, NVIC_ISPR2) & (1u << 3));
    /* HAL's TX-empty path: DIEPEMPMSK lets TXFE raise the EP's DAINT bit */
    wr(sim, DIEPEMPMSK, 1u << 1);
    assert_int_equal(rd(sim, DAINT), 1u << 1);
    for (unsigned i = 0; i < 0x41; i++)
        wr(sim, FIFO(1), i);
    assert_false(rd(sim, DIEPINT(1)) & IN_TXFE); /* more than half full */
    assert_int_equal(rd(sim, DAINT), 0);
    t_destroy(sim);
}

static void check_setup_queue(bool quirk)
{
    sim_t *sim = ready(quirk);
    assert_int_equal((rd(sim, DOEPTSIZ(0)) >> 29) & 3u, 0);
    wr(sim, DOEPTSIZ(0), (3u << 29) | (1u << 19) | 24u);
    setb(sim, DIEPCTL(0), EP_STALL);
    assert_int_equal(otgfs_wire_setup(sim, 0, get_dev_desc), OTG_WIRE_ACK);
    assert_false(rd(sim, DIEPCTL(0)) & EP_STALL);
    assert_true(rd(sim, GINTSTS) & GINT_RXFLVL);
    uint32_t peek = rd(sim, GRXSTSR);
    assert_int_equal(STS_TYPE(peek), 6);
    assert_int_equal(STS_BCNT(peek), 8);
    assert_int_equal(STS_EP(peek), 0);
    assert_int_equal(STS_DPID(peek), 0);
    assert_int_equal(rd(sim, GRXSTSP), peek);
    assert_int_equal(rd(sim, FIFO(0)), 0x01000680u);
    assert_int_equal(rd(sim, FIFO(0)), 0x00400000u);
    assert_int_equal((rd(sim, DOEPTSIZ(0)) >> 29) & 3u, 2);
    /* the SETUP-done word waits for the first data/status-stage token */
    assert_false(rd(sim, GINTSTS) & GINT_RXFLVL);
    assert_int_equal(rd(sim, DOEPINT(0)) & OUT_STPKTRX, quirk ? OUT_STPKTRX : 0);
    uint8_t buf[64];
    unsigned len;
    enum otg_wire_pid pid;
    assert_int_equal(in_tok(sim, 0, 0, buf, &len, &pid), OTG_WIRE_NAK);
    uint32_t w = rd(sim, GRXSTSP);
    if (quirk) {
        assert_int_equal(STS_TYPE(w), 3);
        assert_int_equal(STS_EP(w), 0);
        assert_int_equal(rd(sim, DOEPINT(0)) & (OUT_XFRC | OUT_STPKTRX), OUT_XFRC | OUT_STPKTRX);
        wr(sim, DOEPINT(0), OUT_XFRC | OUT_STPKTRX);
        w = rd(sim, GRXSTSP);
    }
    assert_int_equal(STS_TYPE(w), 4);
    assert_true(rd(sim, DOEPINT(0)) & OUT_STUP);
    assert_false(rd(sim, DOEPINT(0)) & OUT_XFRC);
    assert_false(rd(sim, GINTSTS) & GINT_RXFLVL);
    assert_int_equal(rd(sim, GRXSTSR), 0);
    /* a control write: the status-stage IN brings the STSPHSRX word with the quirk */
    wr(sim, DOEPINT(0), 0xFFFFu);
    static const uint8_t vendor_out[8] = {0x40, 1, 0, 0, 0, 0, 4, 0};
    assert_int_equal(otgfs_wire_setup(sim, 0, vendor_out), OTG_WIRE_ACK);
    rd(sim, GRXSTSP);
    rd(sim, FIFO(0));
    rd(sim, FIFO(0));
    wr(sim, DOEPTSIZ(0), (3u << 29) | (1u << 19) | 64u);
    setb(sim, DOEPCTL(0), EP_CNAK | EP_EPENA);
    static const uint8_t payload[4] = {1, 2, 3, 4};
    assert_int_equal(otgfs_wire_out(sim, 0, 0, OTG_PID_DATA1, payload, 4), OTG_WIRE_ACK);
    unsigned types[8], n = 0;
    while ((rd(sim, GINTSTS) & GINT_RXFLVL) && n < 8) {
        uint32_t s = rd(sim, GRXSTSP);
        types[n++] = STS_TYPE(s);
        if (STS_TYPE(s) == 2)
            assert_int_equal(rd(sim, FIFO(0)), 0x04030201u);
        if (STS_TYPE(s) == 3 && quirk && n == 1)
            wr(sim, DOEPINT(0), OUT_XFRC | OUT_STPKTRX);
    }
    if (quirk) {
        assert_int_equal(n, 4);
        assert_int_equal(types[0], 3);
        assert_int_equal(types[1], 4);
        assert_int_equal(types[2], 2);
        assert_int_equal(types[3], 3);
    } else {
        assert_int_equal(n, 3);
        assert_int_equal(types[0], 4);
        assert_int_equal(types[1], 2);
        assert_int_equal(types[2], 3);
    }
    /* a real completion is never left flagged */
    assert_int_equal(rd(sim, DOEPINT(0)) & (OUT_STPKTRX | OUT_STSPHSRX), 0);
    wr(sim, DOEPINT(0), 0xFFFFu);
    assert_int_equal(in_tok(sim, 0, 0, buf, &len, &pid), OTG_WIRE_NAK);
    if (quirk) {
        assert_true(rd(sim, DOEPINT(0)) & OUT_STSPHSRX);
        uint32_t s = rd(sim, GRXSTSP);
        assert_int_equal(STS_TYPE(s), 3);
    } else {
        assert_int_equal(rd(sim, DOEPINT(0)), 0);
        assert_false(rd(sim, GINTSTS) & GINT_RXFLVL);
    }
    t_destroy(sim);
}

static void test_setup_queue_quirk_on(void **state)
{
    (void)state;
    check_setup_queue(true);
}

static void test_setup_queue_quirk_off(void **state)
{
    (void)state;
    check_setup_queue(false);
}

static void test_out_transfer_toggles_nak(void **state)
{
    (void)state;
    sim_t *sim = ready(true);
    ep1_bulk_out(sim);
    uint8_t data[64];
    for (unsigned i = 0; i < 64; i++)
        data[i] = (uint8_t)(0x40 + i);
    /* not armed: NAK and the NAK interrupt bit */
    assert_int_equal(otgfs_wire_out(sim, 0, 1, OTG_PID_DATA0, data, 64), OTG_WIRE_NAK);
    assert_true(rd(sim, DOEPINT(1)) & OUT_NAK);
    wr(sim, DOEPTSIZ(1), (2u << 19) | 128u);
    setb(sim, DOEPCTL(1), EP_CNAK | EP_EPENA);
    assert_int_equal(otgfs_wire_out(sim, 0, 1, OTG_PID_DATA0, data, 64), OTG_WIRE_ACK);
    /* the host missed our ACK and resends DATA0: ACKed again, not stored twice */
    assert_int_equal(otgfs_wire_out(sim, 0, 1, OTG_PID_DATA0, data, 64), OTG_WIRE_ACK);
    assert_int_equal(otgfs_wire_out(sim, 0, 1, OTG_PID_DATA1, data, 10), OTG_WIRE_ACK);
    uint32_t s = rd(sim, GRXSTSP);
    assert_int_equal(STS_TYPE(s), 2);
    assert_int_equal(STS_EP(s), 1);
    assert_int_equal(STS_BCNT(s), 64);
    assert_int_equal(STS_DPID(s), 0);
    for (unsigned i = 0; i < 16; i++)
        assert_int_equal(rd(sim, FIFO(0)),
                         (uint32_t)data[4 * i] | (uint32_t)data[4 * i + 1] << 8 | (uint32_t)data[4 * i + 2] << 16 |
                             (uint32_t)data[4 * i + 3] << 24);
    s = rd(sim, GRXSTSP);
    assert_int_equal(STS_TYPE(s), 2);
    assert_int_equal(STS_BCNT(s), 10);
    assert_int_equal(STS_DPID(s), 2);
    for (unsigned i = 0; i < 3; i++)
        rd(sim, FIFO(0));
    assert_false(rd(sim, DOEPINT(1)) & OUT_XFRC);
    s = rd(sim, GRXSTSP);
    assert_int_equal(STS_TYPE(s), 3);
    assert_true(rd(sim, DOEPINT(1)) & OUT_XFRC);
    assert_false(rd(sim, GINTSTS) & GINT_RXFLVL);
    assert_int_equal(rd(sim, DOEPTSIZ(1)), 128u - 74u);
    assert_false(rd(sim, DOEPCTL(1)) & EP_EPENA);
    assert_int_equal(otgfs_wire_out(sim, 0, 1, OTG_PID_DATA0, data, 8), OTG_WIRE_NAK);
    /* toggles: DPID follows, SD0PID resets */
    assert_int_equal(rd(sim, DOEPCTL(1)) & (1u << 16), 0);
    t_destroy(sim);
}

static void test_rx_fifo_full_naks(void **state)
{
    (void)state;
    sim_t *sim = ready(true);
    wr(sim, GRXFSIZ, 20); /* 20 words: one 64-byte packet and its status fit, two do not */
    ep1_bulk_out(sim);
    wr(sim, DOEPTSIZ(1), (4u << 19) | 256u);
    setb(sim, DOEPCTL(1), EP_CNAK | EP_EPENA);
    uint8_t data[64] = {0};
    assert_int_equal(otgfs_wire_out(sim, 0, 1, OTG_PID_DATA0, data, 64), OTG_WIRE_ACK);
    assert_int_equal(otgfs_wire_out(sim, 0, 1, OTG_PID_DATA1, data, 64), OTG_WIRE_NAK);
    rd(sim, GRXSTSP);
    for (unsigned i = 0; i < 16; i++)
        rd(sim, FIFO(0));
    assert_int_equal(otgfs_wire_out(sim, 0, 1, OTG_PID_DATA1, data, 64), OTG_WIRE_ACK);
    t_destroy(sim);
}

static void test_setup_done_waits_for_rx_room(void **state)
{
    (void)state;
    sim_t *sim = ready(true);
    wr(sim, GRXFSIZ, 4); /* the SETUP takes 3 words, the quirk's two EP0 words do not fit */
    assert_int_equal(otgfs_wire_setup(sim, 0, get_dev_desc), OTG_WIRE_ACK);
    uint8_t buf[64];
    unsigned len;
    enum otg_wire_pid pid;
    assert_int_equal(in_tok(sim, 0, 0, buf, &len, &pid), OTG_WIRE_NAK);
    assert_non_null(strstr(t_trace(sim), "no room for an EP0 status word"));
    assert_int_equal(STS_TYPE(rd(sim, GRXSTSP)), 6);
    rd(sim, FIFO(0));
    rd(sim, FIFO(0));
    assert_false(rd(sim, GINTSTS) & GINT_RXFLVL);
    assert_int_equal(in_tok(sim, 0, 0, buf, &len, &pid), OTG_WIRE_NAK);
    assert_int_equal(STS_TYPE(rd(sim, GRXSTSP)), 3);
    assert_int_equal(STS_TYPE(rd(sim, GRXSTSP)), 4);
    assert_true(rd(sim, DOEPINT(0)) & OUT_STUP);
    t_destroy(sim);
}

static void test_stall(void **state)
{
    (void)state;
    sim_t *sim = ready(true);
    ep1_bulk_in(sim);
    ep1_bulk_out(sim);
    setb(sim, DIEPCTL(1), EP_STALL);
    setb(sim, DOEPCTL(1), EP_STALL);
    uint8_t buf[64];
    unsigned len;
    enum otg_wire_pid pid;
    assert_int_equal(in_tok(sim, 0, 1, buf, &len, &pid), OTG_WIRE_STALL);
    assert_int_equal(otgfs_wire_out(sim, 0, 1, OTG_PID_DATA0, buf, 8), OTG_WIRE_STALL);
    /* EP1 STALL stays until software clears it, even across a SETUP */
    assert_int_equal(otgfs_wire_setup(sim, 0, get_dev_desc), OTG_WIRE_ACK);
    assert_int_equal(in_tok(sim, 0, 1, buf, &len, &pid), OTG_WIRE_STALL);
    clrb(sim, DIEPCTL(1), EP_STALL);
    assert_int_equal(in_tok(sim, 0, 1, buf, &len, &pid), OTG_WIRE_NAK);
    /* EP0: software can only set STALL; the next SETUP clears both directions */
    setb(sim, DIEPCTL(0), EP_STALL);
    setb(sim, DOEPCTL(0), EP_STALL);
    clrb(sim, DIEPCTL(0), EP_STALL);
    assert_true(rd(sim, DIEPCTL(0)) & EP_STALL);
    assert_int_equal(in_tok(sim, 0, 0, buf, &len, &pid), OTG_WIRE_STALL);
    assert_int_equal(otgfs_wire_out(sim, 0, 0, OTG_PID_DATA1, NULL, 0), OTG_WIRE_STALL);
    assert_int_equal(otgfs_wire_setup(sim, 0, get_dev_desc), OTG_WIRE_ACK);
    assert_false(rd(sim, DIEPCTL(0)) & EP_STALL);
    assert_false(rd(sim, DOEPCTL(0)) & EP_STALL);
    t_destroy(sim);
}

static void test_nak_handshakes(void **state)
{
    (void)state;
    sim_t *sim = ready(true);
    ep1_bulk_in(sim);
    ep1_bulk_out(sim);
    wr(sim, DIEPTSIZ(1), (1u << 19) | 4u);
    setb(sim, DIEPCTL(1), EP_CNAK | EP_EPENA);
    wr(sim, FIFO(1), 0xCAFEF00Du);
    setb(sim, DIEPCTL(1), EP_SNAK);
    assert_true(rd(sim, DIEPCTL(1)) & EP_NAKSTS);
    assert_true(rd(sim, DIEPINT(1)) & IN_INEPNE);
    uint8_t buf[64];
    unsigned len;
    enum otg_wire_pid pid;
    assert_int_equal(in_tok(sim, 0, 1, buf, &len, &pid), OTG_WIRE_NAK);
    setb(sim, DIEPCTL(1), EP_CNAK);
    assert_false(rd(sim, DIEPCTL(1)) & EP_NAKSTS);
    assert_int_equal(in_tok(sim, 0, 1, buf, &len, &pid), OTG_WIRE_ACK);
    assert_int_equal(len, 4);
    /* EPDIS on an enabled endpoint: EPDISD, EPENA and EPDIS clear */
    wr(sim, DIEPTSIZ(1), (1u << 19) | 4u);
    setb(sim, DIEPCTL(1), EP_CNAK | EP_EPENA);
    setb(sim, DIEPCTL(1), EP_SNAK);
    setb(sim, DIEPCTL(1), EP_EPDIS);
    assert_true(rd(sim, DIEPINT(1)) & IN_EPDISD);
    assert_int_equal(rd(sim, DIEPCTL(1)) & (EP_EPENA | EP_EPDIS), 0);
    /* global OUT NAK */
    wr(sim, DOEPTSIZ(1), (1u << 19) | 64u);
    setb(sim, DOEPCTL(1), EP_CNAK | EP_EPENA);
    setb(sim, DCTL, 1u << 9);
    assert_true(rd(sim, DCTL) & (1u << 3));
    assert_true(rd(sim, GINTSTS) & (1u << 7));
    assert_int_equal(otgfs_wire_out(sim, 0, 1, OTG_PID_DATA0, buf, 8), OTG_WIRE_NAK);
    /* a SETUP still gets through a global OUT NAK */
    assert_int_equal(otgfs_wire_setup(sim, 0, get_dev_desc), OTG_WIRE_ACK);
    setb(sim, DCTL, 1u << 10);
    assert_false(rd(sim, DCTL) & (1u << 3));
    assert_false(rd(sim, GINTSTS) & (1u << 7));
    assert_int_equal(otgfs_wire_out(sim, 0, 1, OTG_PID_DATA0, buf, 8), OTG_WIRE_ACK);
    /* global IN NAK */
    wr(sim, DIEPTSIZ(1), (1u << 19) | 4u);
    setb(sim, DIEPCTL(1), EP_CNAK | EP_EPENA);
    wr(sim, FIFO(1), 1u);
    setb(sim, DCTL, 1u << 7);
    assert_true(rd(sim, GINTSTS) & (1u << 6));
    assert_int_equal(in_tok(sim, 0, 1, buf, &len, &pid), OTG_WIRE_NAK);
    setb(sim, DCTL, 1u << 8);
    assert_int_equal(in_tok(sim, 0, 1, buf, &len, &pid), OTG_WIRE_ACK);
    t_destroy(sim);
}

static void test_flushes(void **state)
{
    (void)state;
    sim_t *sim = ready(true);
    ep1_bulk_in(sim);
    for (unsigned i = 0; i < 10; i++)
        wr(sim, FIFO(1), i);
    assert_int_equal(rd(sim, DTXFSTS(1)), 0x80u - 10);
    wr(sim, GRSTCTL, (1u << 6) | (1u << 5));
    assert_int_equal(rd(sim, DTXFSTS(1)), 0x80u);
    assert_false(rd(sim, GRSTCTL) & (1u << 5));
    assert_int_equal(otgfs_wire_setup(sim, 0, get_dev_desc), OTG_WIRE_ACK);
    assert_true(rd(sim, GINTSTS) & GINT_RXFLVL);
    wr(sim, GRSTCTL, 1u << 4);
    assert_false(rd(sim, GINTSTS) & GINT_RXFLVL);
    assert_int_equal(rd(sim, GRXSTSR), 0);
    t_destroy(sim);
}

static void test_bus_reset_sof_suspend(void **state)
{
    (void)state;
    sim_t *sim = ready(true);
    ep1_bulk_in(sim);
    otgfs_wire_reset(sim, true);
    assert_true(rd(sim, GINTSTS) & GINT_USBRST);
    assert_false(rd(sim, GINTSTS) & GINT_ENUMDNE);
    assert_false(rd(sim, DIEPCTL(1)) & EP_USBAEP);
    /* held in reset, the device hears nothing */
    assert_int_equal(otgfs_wire_setup(sim, 0, get_dev_desc), OTG_WIRE_NO_RESPONSE);
    sim_advance(sim, 10 * SIM_PS_PER_MS);
    assert_false(rd(sim, GINTSTS) & GINT_USBSUSP);
    otgfs_wire_reset(sim, false);
    assert_true(rd(sim, GINTSTS) & GINT_ENUMDNE);
    assert_int_equal((rd(sim, DSTS) >> 1) & 3u, 3);
    wr(sim, GINTSTS, GINT_USBRST | GINT_ENUMDNE);
    otgfs_wire_sof(sim, 5);
    assert_true(rd(sim, GINTSTS) & GINT_SOF);
    assert_int_equal((rd(sim, DSTS) >> 8) & 0x3FFFu, 5);
    wr(sim, GINTSTS, GINT_SOF);
    assert_false(rd(sim, GINTSTS) & GINT_SOF);
    sim_advance(sim, 2 * SIM_PS_PER_MS);
    assert_false(rd(sim, GINTSTS) & GINT_USBSUSP);
    sim_advance(sim, 2 * SIM_PS_PER_MS);
    assert_true(rd(sim, GINTSTS) & GINT_USBSUSP);
    assert_true(rd(sim, GINTSTS) & GINT_ESUSP);
    assert_true(rd(sim, DSTS) & 1u);
    otgfs_wire_sof(sim, 6);
    assert_true(rd(sim, GINTSTS) & GINT_WKUPINT);
    assert_false(rd(sim, DSTS) & 1u);
    t_destroy(sim);
}

static void test_set_address_takes_effect_after_status(void **state)
{
    (void)state;
    sim_t *sim = ready(true);
    static const uint8_t set_address[8] = {0x00, 5, 9, 0, 0, 0, 0, 0};
    assert_int_equal(otgfs_wire_setup(sim, 0, set_address), OTG_WIRE_ACK);
    wr(sim, DCFG, (rd(sim, DCFG) & ~(0x7Fu << 4)) | (9u << 4));
    /* still address 0 until the status ZLP went out */
    assert_int_equal(otgfs_wire_setup(sim, 9, get_dev_desc), OTG_WIRE_NO_RESPONSE);
    uint8_t buf[8];
    unsigned len;
    enum otg_wire_pid pid;
    assert_int_equal(in_tok(sim, 0, 0, buf, &len, &pid), OTG_WIRE_NAK);
    wr(sim, DIEPTSIZ(0), 1u << 19);
    setb(sim, DIEPCTL(0), EP_CNAK | EP_EPENA);
    assert_int_equal(in_tok(sim, 0, 0, buf, &len, &pid), OTG_WIRE_ACK);
    assert_int_equal(len, 0);
    assert_int_equal(pid, OTG_PID_DATA1);
    assert_int_equal(otgfs_wire_setup(sim, 0, get_dev_desc), OTG_WIRE_NO_RESPONSE);
    assert_int_equal(otgfs_wire_setup(sim, 9, get_dev_desc), OTG_WIRE_ACK);
    t_destroy(sim);
}

static void test_fifo_layout_faults_corrupt(void **state)
{
    (void)state;
    sim_t *sim = ready(true);
    /* TX FIFO 0 on top of the RX FIFO (words 0..15) */
    wr(sim, DIEPTXF0, (16u << 16) | 0u);
    for (unsigned i = 0; i < 4; i++)
        wr(sim, FIFO(0), 0x5A5A5A5Au);
    assert_int_equal(otgfs_wire_setup(sim, 0, get_dev_desc), OTG_WIRE_ACK);
    assert_non_null(strstr(t_trace(sim), "overlaps"));
    wr(sim, DIEPTSIZ(0), (1u << 19) | 16u);
    setb(sim, DIEPCTL(0), EP_CNAK | EP_EPENA);
    uint8_t buf[64];
    unsigned len;
    enum otg_wire_pid pid;
    assert_int_equal(in_tok(sim, 0, 0, buf, &len, &pid), OTG_WIRE_ACK);
    assert_int_equal(len, 16);
    static const uint8_t sent[4] = {0x5A, 0x5A, 0x5A, 0x5A};
    assert_memory_not_equal(buf, sent, 4); /* the SETUP's status word landed on it */
    /* beyond the 320 words of RAM */
    wr(sim, DIEPTXF(1), (0x40u << 16) | 0x120u);
    ep1_bulk_in(sim);
    wr(sim, FIFO(1), 1u);
    assert_non_null(strstr(t_trace(sim), "beyond the 320 words"));
    t_destroy(sim);
}

static void test_trace_decodes_requests(void **state)
{
    (void)state;
    char buf[128];
    assert_string_equal(otgfs_decode_setup(get_dev_desc, buf, sizeof buf),
                        "GET_DESCRIPTOR(DEVICE, index 0, lang 0x0000, len 64)");
    static const uint8_t dnload[8] = {0x21, 1, 2, 0, 0, 0, 0, 8};
    assert_string_equal(otgfs_decode_setup(dnload, buf, sizeof buf), "DFU_DNLOAD(block 2, interface 0, len 2048)");
    static const uint8_t getstatus[8] = {0xA1, 3, 0, 0, 0, 0, 6, 0};
    assert_string_equal(otgfs_decode_setup(getstatus, buf, sizeof buf), "DFU_GETSTATUS(interface 0, len 6)");
    sim_t *sim = ready(true);
    otgfs_wire_setup(sim, 0, dnload);
    otgfs_wire_setup(sim, 3, dnload);
    /* a DfuSe command in block 0's data stage */
    static const uint8_t block0[8] = {0x21, 1, 0, 0, 0, 0, 5, 0};
    static const uint8_t erase[5] = {0x41, 0x00, 0x40, 0x00, 0x08};
    otgfs_wire_setup(sim, 0, block0);
    wr(sim, GRSTCTL, 1u << 4);
    wr(sim, DOEPTSIZ(0), (1u << 19) | 64u);
    setb(sim, DOEPCTL(0), EP_CNAK | EP_EPENA);
    assert_int_equal(otgfs_wire_out(sim, 0, 0, OTG_PID_DATA1, erase, 5), OTG_WIRE_ACK);
    const char *t = t_trace(sim);
    assert_non_null(strstr(t, "-> ACK  DfuSe ERASE page at 0x08004000"));
    assert_non_null(strstr(t, "SETUP addr 0 ep0 DFU_DNLOAD(block 2, interface 0, len 2048) -> ACK"));
    assert_non_null(strstr(t, "SETUP addr 3 ep0 DFU_DNLOAD(block 2, interface 0, len 2048) -> no answer"));
    t_destroy(sim);
}

static void test_rcc_reset_and_sdis(void **state)
{
    (void)state;
    sim_t *sim = ready(true);
    assert_true(otgfs_pullup(sim));
    setb(sim, DCTL, 2u);
    assert_false(otgfs_pullup(sim));
    assert_int_equal(otgfs_wire_setup(sim, 0, get_dev_desc), OTG_WIRE_NO_RESPONSE);
    clrb(sim, DCTL, 2u);
    assert_true(otgfs_pullup(sim));
    /* forced host mode: CMOD reads 1 and the device pull-up goes */
    wr(sim, GUSBCFG, (rd(sim, GUSBCFG) & ~(1u << 30)) | (1u << 29));
    assert_true(rd(sim, GINTSTS) & 1u);
    assert_non_null(strstr(otgfs_connect_blocker(sim), "GUSBCFG.FHMOD is 1"));
    wr(sim, GUSBCFG, (rd(sim, GUSBCFG) & ~(1u << 29)) | (1u << 30));
    assert_false(rd(sim, GINTSTS) & 1u);
    assert_true(otgfs_pullup(sim));
    /* RCC_AHB2RSTR.OTGFSRST: everything back to reset values, pull-up off */
    setb(sim, T_RCC_AHB2RSTR, 1u << 12);
    clrb(sim, T_RCC_AHB2RSTR, 1u << 12);
    assert_int_equal(rd(sim, DCTL), 2u);
    assert_int_equal(rd(sim, GCCFG), 0);
    assert_false(otgfs_pullup(sim));
    t_destroy(sim);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identity_and_reset_values),
        cmocka_unit_test(test_soft_reset_needs_48mhz),
        cmocka_unit_test(test_in_transfer_fifo_accounting),
        cmocka_unit_test(test_interrupts_and_irq_line),
        cmocka_unit_test(test_setup_queue_quirk_on),
        cmocka_unit_test(test_setup_queue_quirk_off),
        cmocka_unit_test(test_out_transfer_toggles_nak),
        cmocka_unit_test(test_rx_fifo_full_naks),
        cmocka_unit_test(test_setup_done_waits_for_rx_room),
        cmocka_unit_test(test_stall),
        cmocka_unit_test(test_nak_handshakes),
        cmocka_unit_test(test_flushes),
        cmocka_unit_test(test_bus_reset_sof_suspend),
        cmocka_unit_test(test_set_address_takes_effect_after_status),
        cmocka_unit_test(test_fifo_layout_faults_corrupt),
        cmocka_unit_test(test_trace_decodes_requests),
        cmocka_unit_test(test_rcc_reset_and_sdis),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
