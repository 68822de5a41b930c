# l4sim FLASH model (sim/flash.c): registers, program/erase rules and timing, option bytes,
# the board image file and power cuts. Driven through sim_bus_read/sim_bus_write on a sim_create()d board.
l4_unit_test(flash_model SOURCES ${CMAKE_CURRENT_LIST_DIR}/flash_model.c LIBS l4simcore)
l4_unit_test(flash_persist SOURCES ${CMAKE_CURRENT_LIST_DIR}/flash_persist.c LIBS l4simcore)
