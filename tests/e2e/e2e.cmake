# End-to-end tests: the real, unmodified dfu-util (and a small libusb client) against the
# real bootloader and USB bring-up programs on l4sim, through the umockdev bridge. Every
# l4sim run uses --strict. None of them skips: they must run in CI.
if(TARGET l4sim AND TARGET l4dfu-pack
   AND EXISTS ${CMAKE_SOURCE_DIR}/firmware/bootloader/main.c)
  foreach(test download_app mass_erase dfu_file protect bad_crc button handshake handshake_detach)
    add_test(NAME e2e_bootloader_${test}
             COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/bootloader_${test}.sh
                     $<TARGET_FILE:l4sim> ${L4_FIRMWARE_DIR} $<TARGET_FILE:l4dfu-pack>)
    set_tests_properties(e2e_bootloader_${test} PROPERTIES TIMEOUT 240 LABELS "e2e")
  endforeach()
endif()

# USB bring-up with one step missing (firmware/tests/variants.cmake builds the variants).
if(TARGET l4sim AND TARGET l4dfu-pack AND EXISTS ${CMAKE_SOURCE_DIR}/firmware/tests/variants.cmake)
  add_test(NAME e2e_usb_missing_steps
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/usb_missing_steps.sh
                   $<TARGET_FILE:l4sim> ${L4_FIRMWARE_DIR} $<TARGET_FILE:l4dfu-pack>)
  set_tests_properties(e2e_usb_missing_steps PROPERTIES TIMEOUT 240 LABELS "e2e")
endif()

# A libusb client against the bootloader: a GET_DESCRIPTOR storm, and the descriptors the
# host reads compared with what the firmware declares.
add_executable(storm_client ${CMAKE_SOURCE_DIR}/tests/unit/storm_client.c)
target_link_libraries(storm_client PRIVATE PkgConfig::LIBUSB)
if(TARGET l4sim AND TARGET l4dfu-pack AND EXISTS ${CMAKE_SOURCE_DIR}/firmware/bootloader/main.c)
  foreach(test storm lsusb)
    add_test(NAME e2e_usb_${test}
             COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/usb_${test}.sh
                     $<TARGET_FILE:l4sim> ${L4_FIRMWARE_DIR} $<TARGET_FILE:l4dfu-pack>
                     $<TARGET_FILE:storm_client>)
    set_tests_properties(e2e_usb_${test} PROPERTIES TIMEOUT 240 LABELS "e2e")
  endforeach()
endif()
