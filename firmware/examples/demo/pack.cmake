# Host side of the demo build (included by tests/unit/app.cmake, which the host tree
# reads): stamps the four demo images with tools/l4dfu-pack and wraps them as DfuSe
# files, next to the firmware build's outputs:
#   build/firmware/demo-<irq|poll>-v<1|2>-<board>.dfu         for dfu-util -D
#   build/firmware/demo-<irq|poll>-v<1|2>-<board>-stamped.bin  for l4sim --load ...@08004000
# The suffix carries the bootloader's ID (0483:DF11): dfu-util accepts a file whose ID
# matches either the run-time device (0483:5740) or the DFU-mode device.
if(TARGET l4dfu-pack AND TARGET firmware)
  set(demo_board stm32l476g-eval)
  set(demo_outputs)
  set(demo_commands)
  foreach(mode irq poll)
    foreach(major 1 2)
      set(base ${L4_FIRMWARE_DIR}/demo-${mode}-v${major}-${demo_board})
      list(APPEND demo_commands
        COMMAND $<TARGET_FILE:l4dfu-pack> --version ${major}.0.0
                --bin ${base}-stamped.bin --dfu ${base}.dfu ${base}.bin)
    endforeach()
  endforeach()
  # A target, not an output rule: the firmware is an external build that always runs,
  # so CMake cannot see when its .bin files change; packing four small files is cheap.
  add_custom_target(demo-images ALL ${demo_commands}
    COMMENT "demo: stamping and packing the demo images"
    VERBATIM)
  add_dependencies(demo-images firmware l4dfu-pack)
endif()
