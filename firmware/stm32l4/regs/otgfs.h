/* OTG_FS (Synopsys DWC2 core 3.10a) in device mode: RM0351 section "USB on-the-go
 * full-speed (OTG_FS)". Facts: shared/reference/otg-fs-device.md §1-2.
 * Needs RCC_AHB2ENR.OTGFSEN. */
#ifndef L4_REGS_OTGFS_H
#define L4_REGS_OTGFS_H

#include "mmio.h"

#define OTG_BASE 0x50000000u
#define OTG_IRQN 67u
#define OTG_ENDPOINTS 6u     /* EP0..EP5 */
#define OTG_FIFO_WORDS 320u  /* 1.25 KB of FIFO RAM, although GHWCFG3 says 512 */

/* Global */
#define OTG_GOTGCTL  L4_REG32(OTG_BASE + 0x000)
#define OTG_GOTGINT  L4_REG32(OTG_BASE + 0x004)
#define OTG_GAHBCFG  L4_REG32(OTG_BASE + 0x008)
#define OTG_GUSBCFG  L4_REG32(OTG_BASE + 0x00C)
#define OTG_GRSTCTL  L4_REG32(OTG_BASE + 0x010)
#define OTG_GINTSTS  L4_REG32(OTG_BASE + 0x014)
#define OTG_GINTMSK  L4_REG32(OTG_BASE + 0x018)
#define OTG_GRXSTSP  L4_REG32(OTG_BASE + 0x020)
#define OTG_GRXFSIZ  L4_REG32(OTG_BASE + 0x024)
#define OTG_DIEPTXF0 L4_REG32(OTG_BASE + 0x028)
#define OTG_GCCFG    L4_REG32(OTG_BASE + 0x038)
#define OTG_GSNPSID  L4_REG32(OTG_BASE + 0x040)
#define OTG_DIEPTXF(x) L4_REG32(OTG_BASE + 0x104 + 4u * ((x) - 1u)) /* x = 1..5 */

/* Device */
#define OTG_DCFG       L4_REG32(OTG_BASE + 0x800)
#define OTG_DCTL       L4_REG32(OTG_BASE + 0x804)
#define OTG_DSTS       L4_REG32(OTG_BASE + 0x808)
#define OTG_DIEPMSK    L4_REG32(OTG_BASE + 0x810)
#define OTG_DOEPMSK    L4_REG32(OTG_BASE + 0x814)
#define OTG_DAINT      L4_REG32(OTG_BASE + 0x818)
#define OTG_DAINTMSK   L4_REG32(OTG_BASE + 0x81C)
#define OTG_DIEPEMPMSK L4_REG32(OTG_BASE + 0x834)

#define OTG_DIEPCTL(n)  L4_REG32(OTG_BASE + 0x900 + 0x20u * (n))
#define OTG_DIEPINT(n)  L4_REG32(OTG_BASE + 0x908 + 0x20u * (n))
#define OTG_DIEPTSIZ(n) L4_REG32(OTG_BASE + 0x910 + 0x20u * (n))
#define OTG_DTXFSTS(n)  L4_REG32(OTG_BASE + 0x918 + 0x20u * (n))
#define OTG_DOEPCTL(n)  L4_REG32(OTG_BASE + 0xB00 + 0x20u * (n))
#define OTG_DOEPINT(n)  L4_REG32(OTG_BASE + 0xB08 + 0x20u * (n))
#define OTG_DOEPTSIZ(n) L4_REG32(OTG_BASE + 0xB10 + 0x20u * (n))

#define OTG_PCGCCTL L4_REG32(OTG_BASE + 0xE00)
/* Reads pop the shared RX FIFO; writes to window n push TX FIFO n. 32-bit only. */
#define OTG_FIFO(n) L4_REG32(OTG_BASE + 0x1000u * ((n) + 1u))

/* GOTGCTL */
#define OTG_GOTGCTL_BVALOEN  (1u << 6)
#define OTG_GOTGCTL_BVALOVAL (1u << 7)
/* GAHBCFG */
#define OTG_GAHBCFG_GINT (1u << 0)
/* GUSBCFG */
#define OTG_GUSBCFG_PHYSEL     (1u << 6)
#define OTG_GUSBCFG_TRDT_SHIFT 10
#define OTG_GUSBCFG_TRDT_MASK  (0xFu << 10)
#define OTG_GUSBCFG_FHMOD      (1u << 29)
#define OTG_GUSBCFG_FDMOD      (1u << 30)
/* GRSTCTL */
#define OTG_GRSTCTL_CSRST       (1u << 0)
#define OTG_GRSTCTL_RXFFLSH     (1u << 4)
#define OTG_GRSTCTL_TXFFLSH     (1u << 5)
#define OTG_GRSTCTL_TXFNUM_ALL  (0x10u << 6)
#define OTG_GRSTCTL_AHBIDL      (1u << 31)
/* GINTSTS / GINTMSK */
#define OTG_GINT_CMOD    (1u << 0)
#define OTG_GINT_RXFLVL  (1u << 4)
#define OTG_GINT_USBSUSP (1u << 11)
#define OTG_GINT_USBRST  (1u << 12)
#define OTG_GINT_ENUMDNE (1u << 13)
#define OTG_GINT_IEPINT  (1u << 18)
#define OTG_GINT_OEPINT  (1u << 19)
/* GRXSTSP */
#define OTG_GRXSTS_EPNUM(w)  ((w) & 0xFu)
#define OTG_GRXSTS_BCNT(w)   (((w) >> 4) & 0x7FFu)
#define OTG_GRXSTS_PKTSTS(w) (((w) >> 17) & 0xFu)
#define OTG_PKTSTS_OUT_DATA      2u
#define OTG_PKTSTS_OUT_COMPLETE  3u
#define OTG_PKTSTS_SETUP_DONE    4u
#define OTG_PKTSTS_SETUP_DATA    6u
/* GCCFG (L4 layout, not F4's) */
#define OTG_GCCFG_PWRDWN (1u << 16)
#define OTG_GCCFG_VBDEN  (1u << 21)
/* GSNPSID */
#define OTG_GSNPSID_310A 0x4F54310Au

/* DCFG */
#define OTG_DCFG_DSPD_FS48  3u
#define OTG_DCFG_DAD_SHIFT  4
#define OTG_DCFG_DAD_MASK   (0x7Fu << 4)
/* DCTL */
#define OTG_DCTL_RWUSIG (1u << 0)
#define OTG_DCTL_SDIS   (1u << 1)
#define OTG_DCTL_CGINAK (1u << 8)

/* DIEPCTL / DOEPCTL */
#define OTG_EPCTL_MPSIZ_MASK 0x7FFu
#define OTG_EPCTL_USBAEP     (1u << 15)
#define OTG_EPCTL_EPTYP_SHIFT 18
#define OTG_EPCTL_STALL      (1u << 21)
#define OTG_EPCTL_TXFNUM_SHIFT 22
#define OTG_EPCTL_CNAK       (1u << 26)
#define OTG_EPCTL_SNAK       (1u << 27)
#define OTG_EPCTL_SD0PID     (1u << 28)
#define OTG_EPCTL_EPDIS      (1u << 30)
#define OTG_EPCTL_EPENA      (1u << 31)
/* DIEPINT / DOEPINT (write 1 to clear) */
#define OTG_EPINT_XFRC     (1u << 0)
#define OTG_EPINT_EPDISD   (1u << 1)
#define OTG_DOEPINT_STUP     (1u << 3)
#define OTG_DOEPINT_STSPHSRX (1u << 5)  /* 3.10a: status phase received */
#define OTG_DOEPINT_STPKTRX  (1u << 15) /* 3.10a: SETUP packet received */
/* DIEPTSIZ / DOEPTSIZ */
#define OTG_TSIZ_PKTCNT_SHIFT 19
#define OTG_TSIZ_PKTCNT_ONE   (1u << 19)
#define OTG_DOEPTSIZ_STUPCNT_3 (3u << 29)

#endif
