# Modelled DfuSe throughput of the bootloader through l4sim's virtual host.
if(EXISTS ${CMAKE_SOURCE_DIR}/sim/usbhost.c)
  add_executable(dfu_throughput dfu_throughput.c)
  target_link_libraries(dfu_throughput PRIVATE l4simcore)
endif()
if(EXISTS ${CMAKE_SOURCE_DIR}/sim/usbhost.c)
  add_executable(usb_control usb_control.c)
  target_link_libraries(usb_control PRIVATE l4simcore)
endif()
