# USB bring-up variants: the same small program (tests/usbmissing.c) with one step the
# silicon needs left out per variant, plus the complete one. tests/e2e/usb_missing_steps.sh
# runs each in l4sim and checks that only the complete one enumerates and that
# --diagnose-usb names the missing step.
set(usbmissing_sources ${L4_FW_DIR}/tests/usbmissing.c ${L4_FW_DIR}/tests/testlib.c
    ${L4_FW_DIR}/core/usbd.c)
l4_firmware_program(usbmissing-complete LINKER standalone.ld SOURCES ${usbmissing_sources})
foreach(step clk48 usv pins pwrdwn bsession sdis)
  string(TOUPPER ${step} define)
  l4_firmware_program(usbmissing-${step} LINKER standalone.ld SOURCES ${usbmissing_sources}
    DEFINES USBMISSING_${define})
endforeach()
