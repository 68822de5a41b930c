# Modelled DfuSe throughput of the bootloader through l4sim's virtual host.
if(EXISTS ${CMAKE_SOURCE_DIR}/sim/usbhost.c)
  add_executable(dfu_throughput dfu_throughput.c)
  target_link_libraries(dfu_throughput PRIVATE l4simcore)
endif()
