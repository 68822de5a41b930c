# The speed bench: l4sim against bare Unicorn on the same guest programs.
set(BENCH_GUESTS)
foreach(kind 0 1 2)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/bench_guest${kind}.elf)
  add_custom_command(
    OUTPUT ${out}
    COMMAND arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16 -O2
            -Wall -Wextra -Werror -nostdlib -nostartfiles -ffreestanding -DBENCH_KIND=${kind}
            -T ${CMAKE_CURRENT_SOURCE_DIR}/guest.ld -o ${out} ${CMAKE_CURRENT_SOURCE_DIR}/guest.c
    DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/guest.c ${CMAKE_CURRENT_SOURCE_DIR}/guest.ld)
  list(APPEND BENCH_GUESTS ${out})
endforeach()
add_custom_target(bench_guests ALL DEPENDS ${BENCH_GUESTS})
add_executable(sim_speed sim_speed.c)
target_link_libraries(sim_speed PRIVATE l4simcore)
add_dependencies(sim_speed bench_guests)
