# `make demo` itself, so CI proves the README's first command works on a fresh machine.
add_test(NAME make_demo COMMAND bash ${CMAKE_SOURCE_DIR}/scripts/demo ${CMAKE_BINARY_DIR})
set_tests_properties(make_demo PROPERTIES LABELS e2e TIMEOUT 300)

# The demo's CDC-ACM port through the bridge with libusb, and the "update" command.
add_executable(cdc_client ${CMAKE_CURRENT_LIST_DIR}/../unit/cdc_client.c)
target_link_libraries(cdc_client PRIVATE PkgConfig::LIBUSB)
add_test(NAME app_cdc_bridge COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/app_cdc_bridge.sh
         $<TARGET_FILE:l4sim> ${L4_FIRMWARE_DIR} $<TARGET_FILE:cdc_client>)
set_tests_properties(app_cdc_bridge PROPERTIES LABELS e2e TIMEOUT 300)
