# End-to-end tests: the real, unmodified dfu-util (and a small libusb client) against the
# real bootloader and USB bring-up programs on l4sim, through the umockdev bridge. Every
# l4sim run uses --strict. None of them skips: they must run in CI.
# Each script takes: l4sim, the firmware build directory, l4dfu-pack, storm_client.

# The libusb client: GET_DESCRIPTOR storm, descriptor dump, raw DfuSe commands.
add_executable(storm_client ${CMAKE_SOURCE_DIR}/tests/unit/storm_client.c)
target_link_libraries(storm_client PRIVATE PkgConfig::LIBUSB)

function(l4_e2e_test name script)
  add_test(NAME e2e_${name}
           COMMAND bash ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/${script}.sh
                   $<TARGET_FILE:l4sim> ${L4_FIRMWARE_DIR} $<TARGET_FILE:l4dfu-pack>
                   $<TARGET_FILE:storm_client>)
  set_tests_properties(e2e_${name} PROPERTIES TIMEOUT 240 LABELS "e2e")
endfunction()

if(TARGET l4sim AND TARGET l4dfu-pack AND EXISTS ${CMAKE_SOURCE_DIR}/firmware/bootloader/main.c)
  foreach(test download_app mass_erase dfu_file protect dfuse_commands bad_crc button handshake
               handshake_detach power_cut)
    l4_e2e_test(bootloader_${test} bootloader_${test})
  endforeach()
  l4_e2e_test(usb_storm usb_storm)
  l4_e2e_test(usb_lsusb usb_lsusb)
endif()

# USB bring-up with one step missing (firmware/tests/variants.cmake builds the variants).
if(TARGET l4sim AND TARGET l4dfu-pack AND EXISTS ${CMAKE_SOURCE_DIR}/firmware/tests/variants.cmake)
  l4_e2e_test(usb_missing_steps usb_missing_steps)
endif()
