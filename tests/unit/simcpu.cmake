# The l4sim core (CPU, exceptions, time) on a bare ARM program built here with the cross compiler.
set(SIMCPU_PROG ${CMAKE_CURRENT_BINARY_DIR}/simcpu_prog.elf)
add_custom_command(
  OUTPUT ${SIMCPU_PROG}
  COMMAND arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -O1
          -Wall -Wextra -Werror -nostdlib -nostartfiles -ffreestanding
          -T ${CMAKE_CURRENT_SOURCE_DIR}/unit/simcpu_prog.ld
          -o ${SIMCPU_PROG} ${CMAKE_CURRENT_SOURCE_DIR}/unit/simcpu_prog.c
  DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/unit/simcpu_prog.c ${CMAKE_CURRENT_SOURCE_DIR}/unit/simcpu_prog.ld
  COMMENT "Building the l4sim core test program")
add_custom_target(simcpu_prog ALL DEPENDS ${SIMCPU_PROG})
l4_unit_test(sim_core_cpu SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/simcpu_test.c LIBS l4simcore)
target_compile_definitions(sim_core_cpu PRIVATE SIMCPU_PROG="${SIMCPU_PROG}")
add_dependencies(sim_core_cpu simcpu_prog)
