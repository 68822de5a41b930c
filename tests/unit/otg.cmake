# l4sim OTG_FS model (sim/otgfs.c) and virtual USB host (sim/usbhost.c): register-level tests
# where the test plays the firmware (a polled driver on sim_bus_read/sim_bus_write) and,
# for the model alone, the host (otgfs_wire_*).
set(OTG_TESTDEV ${CMAKE_CURRENT_LIST_DIR}/otgfs_testdev.c)
l4_unit_test(otgfs_model SOURCES ${CMAKE_CURRENT_LIST_DIR}/otgfs_model.c ${OTG_TESTDEV} LIBS l4simcore)
l4_unit_test(usbhost_enum SOURCES ${CMAKE_CURRENT_LIST_DIR}/usbhost_enum.c ${OTG_TESTDEV} LIBS l4simcore)
