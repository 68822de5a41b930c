# Host tools: image metadata and the DfuSe reader/writer (library l4tools from tools/tools.cmake).
l4_unit_test(tools_image SOURCES ${CMAKE_CURRENT_LIST_DIR}/tools_image.c LIBS l4tools)
l4_unit_test(tools_dfuse SOURCES ${CMAKE_CURRENT_LIST_DIR}/tools_dfuse.c LIBS l4tools)
l4_unit_test(tools_sig SOURCES ${CMAKE_CURRENT_LIST_DIR}/tools_sig.c LIBS l4tools)

# The packer's image checker and the bootloader's (firmware/core/image.c) must agree.
set(L4_CORE_IMAGE ${CMAKE_CURRENT_LIST_DIR}/../../firmware/core/image.c)
if(EXISTS ${L4_CORE_IMAGE})
  l4_unit_test(tools_agreement
               SOURCES ${CMAKE_CURRENT_LIST_DIR}/tools_agreement.c ${L4_CORE_IMAGE}
               INCLUDES ${CMAKE_CURRENT_LIST_DIR}/../../firmware/core
               LIBS l4tools)
endif()

# End-to-end checks of l4dfu-pack, against Debian's dfu-suffix and dfuse-pack (dfu-util package).
foreach(script tools_crosscheck tools_refusals)
  add_test(NAME ${script}
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/../e2e/${script}.sh $<TARGET_FILE:l4dfu-pack>)
endforeach()
add_test(NAME tools_sign
         COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/../e2e/tools_sign.sh $<TARGET_FILE:l4dfu-sign> $<TARGET_FILE:l4dfu-pack>)
