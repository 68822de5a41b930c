#include "dfu_runtime.h"

#include "boot.h"
#include "dfu.h"
#include "target.h"

static struct {
    uint8_t state;
    uint8_t reply[6];
    void (*detach)(void);
} rt;

void dfu_runtime_enter_bootloader(void)
{
    target_handshake_write(BOOT_HANDSHAKE_DFU);
    target_reset();
}

void dfu_runtime_init(void (*detach)(void))
{
    rt.detach = detach != NULL ? detach : dfu_runtime_enter_bootloader;
    rt.state = DFU_STATE_APP_IDLE;
}

/* Application states answer only DETACH, GETSTATUS and GETSTATE; anything else
 * STALLs and the state stays. */
static bool runtime_control(const struct usbd_setup *r, enum usbd_stage stage, uint8_t **data,
                            uint16_t *len)
{
    bool in = (r->bmRequestType & USBD_DIR_IN) != 0;
    if (stage == USBD_STAGE_DONE) {
        if (r->bRequest == DFU_DETACH && rt.state == DFU_STATE_APP_DETACH)
            rt.detach();
        return true;
    }
    if (stage != USBD_STAGE_SETUP)
        return false;
    switch (r->bRequest) {
    case DFU_DETACH:
        if (in || rt.state != DFU_STATE_APP_IDLE)
            return false;
        rt.state = DFU_STATE_APP_DETACH;
        return true;
    case DFU_GETSTATUS:
        rt.reply[0] = DFU_OK;
        rt.reply[1] = rt.reply[2] = rt.reply[3] = 0;
        rt.reply[4] = rt.state;
        rt.reply[5] = 0;
        *len = 6;
        break;
    case DFU_GETSTATE:
        rt.reply[0] = rt.state;
        *len = 1;
        break;
    default:
        return false;
    }
    *data = rt.reply;
    return in;
}

static bool runtime_set_alt(uint8_t iface, uint8_t alt)
{
    (void)iface;
    return alt == 0;
}

/* A bus reset in appDETACH would mean "enter DFU mode" for a device without
 * WillDetach; ours has left the bus by then, so a reset only returns to appIDLE. */
static void runtime_bus_reset(void)
{
    rt.state = DFU_STATE_APP_IDLE;
}

const struct usbd_class dfu_runtime_class = {runtime_control, runtime_set_alt, runtime_bus_reset};
