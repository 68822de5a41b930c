# Firmware test programs (firmware/tests/*.c) run in l4sim: each prints on USART1 and
# ends with "PASS" or "FAIL: <reason>"; l4sim exits 0 once the console shows PASS and
# 1 on a fault or when the virtual run time is over.
function(l4_sim_firmware_test program)
  add_test(NAME sim_fw_${program}
    COMMAND ${L4_SIM} --load ${L4_FIRMWARE_DIR}/${program}-stm32l476g-eval.elf
                      --until-console PASS --run-for 5000 ${ARGN})
  set_tests_properties(sim_fw_${program} PROPERTIES
    FAIL_REGULAR_EXPRESSION "FAIL: "
    TIMEOUT 300
    LABELS "sim;firmware")
endfunction()

l4_sim_firmware_test(bringup)
l4_sim_firmware_test(exceptions)
l4_sim_firmware_test(flashtest)
l4_sim_firmware_test(watchdog)
# usbenum needs the virtual host on the USB connector.
l4_sim_firmware_test(usbenum --usb)
