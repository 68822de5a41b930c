# l4sim peripheral models other than FLASH and OTG_FS (sim/rcc.c, pwr.c, rtc.c, gpio.c, exti.c,
# syscfg.c, iwdg.c, crc.c, usart.c): each driven through sim_bus_read/sim_bus_write at the real
# register addresses of a sim_create()d board, with virtual time moved by sim_advance().
foreach(t models_rcc models_backup models_gpio models_iwdg models_crc models_usart)
  if(EXISTS ${CMAKE_CURRENT_LIST_DIR}/${t}.c)
    l4_unit_test(${t} SOURCES ${CMAKE_CURRENT_LIST_DIR}/${t}.c ${CMAKE_CURRENT_LIST_DIR}/models_util.c
                 LIBS l4simcore PkgConfig::ZLIB)
  endif()
endforeach()
