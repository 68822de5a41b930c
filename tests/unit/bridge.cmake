# The umockdev bridge (sim/usb_bridge.c) against a scripted stand-in host, with a real
# libusb client (bridge_client) and the real dfu-util run under it.
add_executable(bridge_client ${CMAKE_CURRENT_LIST_DIR}/bridge_client.c)
target_include_directories(bridge_client PRIVATE ${CMAKE_CURRENT_LIST_DIR} ${CMAKE_SOURCE_DIR}/sim)
target_link_libraries(bridge_client PRIVATE PkgConfig::LIBUSB)

l4_unit_test(bridge_test
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/bridge_test.c ${CMAKE_CURRENT_LIST_DIR}/bridge_fake.c
          ${CMAKE_SOURCE_DIR}/sim/usb_bridge.c
  LIBS PkgConfig::UMOCKDEV pthread
  INCLUDES ${CMAKE_SOURCE_DIR}/sim ${CMAKE_CURRENT_LIST_DIR})
target_compile_definitions(bridge_test PRIVATE BRIDGE_CLIENT="$<TARGET_FILE:bridge_client>")
add_dependencies(bridge_test bridge_client)
set_tests_properties(bridge_test PROPERTIES TIMEOUT 120)

# End to end: the real dfu-util, the bootloader in l4sim, the real virtual host.
if(EXISTS ${CMAKE_SOURCE_DIR}/firmware/bootloader/main.c)
  add_test(NAME bridge_e2e_dfu_util
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/../e2e/bridge_dfu_util.sh ${L4_SIM} ${L4_FIRMWARE_DIR})
  set_tests_properties(bridge_e2e_dfu_util PROPERTIES TIMEOUT 300 SKIP_RETURN_CODE 77 LABELS "sim;e2e")
endif()
