# Application side of run-time DFU on the host: the CDC-ACM driver, the run-time DFU
# interface and the l4dfu API (firmware/core), with the demo application's composite
# USB device (firmware/examples/demo/usb_device.c), against tests/unit/app_fakes.c.
set(L4_APP_CORE ${CMAKE_SOURCE_DIR}/firmware/core)
set(L4_APP_DEMO ${CMAKE_SOURCE_DIR}/firmware/examples/demo)
set(L4_APP_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/app_fakes.c
  ${L4_APP_CORE}/usbd.c
  ${L4_APP_CORE}/cdc_acm.c
  ${L4_APP_CORE}/dfu_runtime.c
  ${L4_APP_CORE}/l4dfu_app.c
  ${L4_APP_DEMO}/usb_device.c)

foreach(test app_descriptors app_cdc app_runtime)
  l4_unit_test(${test} SOURCES ${CMAKE_CURRENT_LIST_DIR}/${test}.c ${L4_APP_SOURCES}
               INCLUDES ${L4_APP_CORE} ${L4_APP_DEMO})
  target_compile_definitions(${test} PRIVATE L4_IMAGE_VERSION=0x01020003u)
endforeach()


# The demo on the virtual board: bootloader + stamped demo image in l4sim, driven by the
# virtual USB host (enumeration, CDC echo, DETACH, "update", "rom").
if(TARGET demo-images AND TARGET l4simcore)
  l4_unit_test(app_sim SOURCES ${CMAKE_CURRENT_LIST_DIR}/app_sim.c LIBS l4simcore)
  target_compile_definitions(app_sim PRIVATE L4_FIRMWARE_DIR="${L4_FIRMWARE_DIR}")
  add_dependencies(app_sim demo-images)
  set_tests_properties(app_sim PROPERTIES TIMEOUT 300 LABELS "sim;firmware")
endif()

# End to end with the real dfu-util through the umockdev bridge: v1 -> v2 in one command.
if(TARGET demo-images AND TARGET l4sim)
  add_test(NAME app_e2e_update
           COMMAND bash ${L4_APP_DEMO}/e2e_update.sh $<TARGET_FILE:l4sim> ${L4_FIRMWARE_DIR})
  set_tests_properties(app_e2e_update PROPERTIES TIMEOUT 600 SKIP_RETURN_CODE 77 LABELS "sim;e2e")
endif()
