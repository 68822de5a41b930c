# Host tools: the image/.dfu library and the command-line programs on top of it.
add_library(l4tools STATIC
  ${CMAKE_CURRENT_LIST_DIR}/dfuse_file.c
  ${CMAKE_CURRENT_LIST_DIR}/l4image.c
  ${CMAKE_CURRENT_LIST_DIR}/l4sig.c
  ${CMAKE_CURRENT_LIST_DIR}/fileio.c)
target_include_directories(l4tools PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(l4tools PUBLIC PkgConfig::ZLIB PkgConfig::SODIUM)

add_executable(l4dfu-pack ${CMAKE_CURRENT_LIST_DIR}/l4dfu-pack.c)
target_link_libraries(l4dfu-pack PRIVATE l4tools)

add_executable(l4dfu-sign ${CMAKE_CURRENT_LIST_DIR}/l4dfu-sign.c)
target_link_libraries(l4dfu-sign PRIVATE l4tools)
