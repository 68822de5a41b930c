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
set_tests_properties(sim_fw_bringup PROPERTIES FAIL_REGULAR_EXPRESSION "FAIL: |button pressed")
# The same program with the tamper button held: it must read the press.
add_test(NAME sim_fw_bringup_button
  COMMAND ${L4_SIM} --load ${L4_FIRMWARE_DIR}/bringup-stm32l476g-eval.elf
                    --press-button --until-console "button pressed" --run-for 5000)
set_tests_properties(sim_fw_bringup_button PROPERTIES
  FAIL_REGULAR_EXPRESSION "FAIL: |button released" TIMEOUT 300 LABELS "sim;firmware")
l4_sim_firmware_test(exceptions)
l4_sim_firmware_test(flashtest)
l4_sim_firmware_test(watchdog)
l4_sim_firmware_test(wrptest)
# romroute ends in system memory, where l4sim's stand-in ROM stops the run.
add_test(NAME sim_fw_romroute
  COMMAND ${L4_SIM} --load ${L4_FIRMWARE_DIR}/romroute-stm32l476g-eval.elf --run-for 5000)
set_tests_properties(sim_fw_romroute PROPERTIES
  PASS_REGULAR_EXPRESSION "requesting the ROM bootloader.*entered system memory.*remapped at 0 .MEMRMP=001.; MSP 0x[0-9a-f]+ = the ROM's.*entered through its reset vector; thread mode, privileged, on MSP; SYSCLK 4.0 MHz .reset clock.*SysTick off; 0 NVIC interrupts enabled; OTG_FS clock off"
  FAIL_REGULAR_EXPRESSION "FAIL: " TIMEOUT 300 LABELS "sim;firmware")

# fbmode swaps the banks (SYSCFG FB_MODE): a copy of the program in bank 2 keeps it running.
add_test(NAME sim_fw_fbmode
  COMMAND ${L4_SIM} --load ${L4_FIRMWARE_DIR}/fbmode-stm32l476g-eval.elf
                    --load ${L4_FIRMWARE_DIR}/fbmode-stm32l476g-eval.bin@0x08080000
                    --until-console PASS --run-for 5000)
set_tests_properties(sim_fw_fbmode PROPERTIES
  FAIL_REGULAR_EXPRESSION "FAIL: " TIMEOUT 300 LABELS "sim;firmware")

# usbenum needs the virtual host on the USB connector.
l4_sim_firmware_test(usbenum --usb)
l4_sim_firmware_test(usbenum-irq --usb)
# Without the 3.10a extra EP0 entries, the program (rightly) fails if it sees any.
l4_sim_firmware_test(usbenum-noquirk --usb --no-usb-quirk)

# The bootloader starts a stamped application from slot A (l4dfu-pack adds length, CRC
# and version); the application checks the hand-over and prints PASS.
if(EXISTS ${CMAKE_SOURCE_DIR}/firmware/bootloader/main.c AND TARGET l4dfu-pack)
  set(stamped ${CMAKE_CURRENT_BINARY_DIR}/apphello-stamped.bin)
  add_test(NAME sim_fw_apphello
    COMMAND sh -c "\"$1\" --version 1.2.3 --bin \"$2\" \"$3\" && \"$4\" --load \"$5\" --load \"$2@0x08004000\" --until-console PASS --run-for 5000"
            sh $<TARGET_FILE:l4dfu-pack> ${stamped}
               ${L4_FIRMWARE_DIR}/apphello-stm32l476g-eval.bin ${L4_SIM}
               ${L4_FIRMWARE_DIR}/bootloader-stm32l476g-eval.elf)
  set_tests_properties(sim_fw_apphello PROPERTIES
    FAIL_REGULAR_EXPRESSION "FAIL: "
    TIMEOUT 300
    LABELS "sim;firmware")
endif()

# The bootloader built with L4_BOOTLOADER_WRP: its first start writes WRP1AR (pages 0..7)
# and reloads the option bytes; the next start hands a stamped wrpapp over, which finds
# the bootloader's pages refused with WRPERR and the application area writable.
if(EXISTS ${CMAKE_SOURCE_DIR}/firmware/bootloader/main.c AND TARGET l4dfu-pack)
  set(stamped ${CMAKE_CURRENT_BINARY_DIR}/wrpapp-stamped.bin)
  add_test(NAME sim_fw_wrpboot
    COMMAND sh -c "\"$1\" --version 1.0.0 --bin \"$2\" \"$3\" && \"$4\" --load \"$5\" --load \"$2@0x08004000\" --until-console PASS --run-for 5000 --trace flash"
            sh $<TARGET_FILE:l4dfu-pack> ${stamped}
               ${L4_FIRMWARE_DIR}/wrpapp-stm32l476g-eval.bin ${L4_SIM}
               ${L4_FIRMWARE_DIR}/bootloader-wrp-stm32l476g-eval.elf)
  set_tests_properties(sim_fw_wrpboot PROPERTIES
    PASS_REGULAR_EXPRESSION "OBL_LAUNCH.*option bytes loaded: [^\n]*WRP1A=0xff07ff00.*bootloader pages refused.*application area writable.*PASS"
    # Once WRP1AR covers the pages, later starts must not program the option bytes again.
    FAIL_REGULAR_EXPRESSION "FAIL: |start #[0-9]+ option-byte program.*start #[0-9]+ option-byte program"
    TIMEOUT 300
    LABELS "sim;firmware")
endif()

# The L4_BOOTLOADER_MINIMAL build (alt 0 only, no UPLOAD, no Read Unprotect) with the
# real dfu-util: it lists one alt, downloads and starts an application, refuses UPLOAD.
if(EXISTS ${CMAKE_SOURCE_DIR}/firmware/bootloader/main.c AND TARGET l4dfu-pack)
  add_test(NAME e2e_bootloader_minimal
    COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/bootloader_minimal.sh
            $<TARGET_FILE:l4sim> ${L4_FIRMWARE_DIR} $<TARGET_FILE:l4dfu-pack>)
  set_tests_properties(e2e_bootloader_minimal PROPERTIES TIMEOUT 240 LABELS "e2e")
endif()
