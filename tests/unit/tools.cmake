# Host tools: image metadata and the DfuSe reader/writer (library l4tools from tools/tools.cmake).
l4_unit_test(tools_image SOURCES ${CMAKE_CURRENT_LIST_DIR}/tools_image.c LIBS l4tools)
l4_unit_test(tools_dfuse SOURCES ${CMAKE_CURRENT_LIST_DIR}/tools_dfuse.c LIBS l4tools)
