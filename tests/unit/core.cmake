# Firmware core (firmware/core) on the host, against fakes of target.h and usbd_port.h.
set(L4_CORE_SRC ${CMAKE_SOURCE_DIR}/firmware/core)
set(L4_CORE_TESTS ${CMAKE_CURRENT_LIST_DIR})
set(L4_CORE_USB ${L4_CORE_TESTS}/core_fakes.c ${L4_CORE_SRC}/usbd.c)

l4_unit_test(core_dfu_states SOURCES ${L4_CORE_TESTS}/core_dfu_states.c ${L4_CORE_USB}
             ${L4_CORE_SRC}/dfu.c LIBS PkgConfig::ZLIB INCLUDES ${L4_CORE_SRC})
l4_unit_test(core_dfu_transfer SOURCES ${L4_CORE_TESTS}/core_dfu_transfer.c ${L4_CORE_USB}
             ${L4_CORE_SRC}/dfu.c LIBS PkgConfig::ZLIB INCLUDES ${L4_CORE_SRC})
l4_unit_test(core_dfu_descriptors SOURCES ${L4_CORE_TESTS}/core_dfu_descriptors.c ${L4_CORE_USB}
             ${L4_CORE_SRC}/dfu.c LIBS PkgConfig::ZLIB INCLUDES ${L4_CORE_SRC})
l4_unit_test(core_usbd SOURCES ${L4_CORE_TESTS}/core_usbd.c ${L4_CORE_USB}
             LIBS PkgConfig::ZLIB INCLUDES ${L4_CORE_SRC})
# The same core as the bootloader builds it: a port with EP0 only.
l4_unit_test(core_usbd_ep0 SOURCES ${L4_CORE_TESTS}/core_usbd.c ${L4_CORE_USB}
             LIBS PkgConfig::ZLIB INCLUDES ${L4_CORE_SRC})
target_compile_definitions(core_usbd_ep0 PRIVATE USBD_PORT_ENDPOINTS=1u)
l4_unit_test(core_image SOURCES ${L4_CORE_TESTS}/core_image.c ${L4_CORE_SRC}/image.c
             LIBS PkgConfig::ZLIB INCLUDES ${L4_CORE_SRC})
l4_unit_test(core_boot SOURCES ${L4_CORE_TESTS}/core_boot.c ${L4_CORE_SRC}/boot.c
             INCLUDES ${L4_CORE_SRC})
l4_unit_test(core_dfu_runtime SOURCES ${L4_CORE_TESTS}/core_dfu_runtime.c ${L4_CORE_USB}
             ${L4_CORE_SRC}/dfu_runtime.c LIBS PkgConfig::ZLIB INCLUDES ${L4_CORE_SRC})

# The bootloader's main() itself, renamed, reading slot A from the fake flash.
set(L4_BOOTLOADER_MAIN ${CMAKE_SOURCE_DIR}/firmware/bootloader/main.c)
l4_unit_test(core_bootloader SOURCES ${L4_CORE_TESTS}/core_bootloader.c ${L4_CORE_USB}
             ${L4_CORE_SRC}/dfu.c ${L4_CORE_SRC}/boot.c ${L4_CORE_SRC}/image.c
             ${L4_BOOTLOADER_MAIN} LIBS PkgConfig::ZLIB INCLUDES ${L4_CORE_SRC})
set_source_files_properties(${L4_BOOTLOADER_MAIN} PROPERTIES
  COMPILE_DEFINITIONS "main=bootloader_main;L4DFU_SLOT_A_MEMORY=fake_memory(L4DFU_SLOT_A_BASE)"
  COMPILE_OPTIONS "-include;${L4_CORE_TESTS}/core_fakes.h")

# The DFU tests again over the usbd core as the bootloader builds it: one fixed device
# (the DFU class called directly) on a port with EP0 only.
foreach(test core_dfu_states core_dfu_transfer core_dfu_descriptors)
  l4_unit_test(${test}_bl SOURCES ${L4_CORE_TESTS}/${test}.c ${L4_CORE_USB}
               ${L4_CORE_SRC}/dfu.c LIBS PkgConfig::ZLIB INCLUDES ${L4_CORE_SRC})
  target_compile_definitions(${test}_bl PRIVATE USBD_PORT_ENDPOINTS=1u
                             USBD_FIXED_DEVICE=dfu_usb_device)
endforeach()

# The bootloader's own EP0 layer (firmware/stm32l4/usb_ep0.c) as built, on l4sim's
# virtual host.
l4_unit_test(core_usb_ep0 SOURCES ${L4_CORE_TESTS}/core_usb_ep0.c LIBS l4simcore)
target_compile_definitions(core_usb_ep0 PRIVATE
  L4_BOOTLOADER_ELF="${L4_FIRMWARE_DIR}/bootloader-stm32l476g-eval.elf")
