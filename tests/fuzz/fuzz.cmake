# 20-second fuzz runs of the .dfu reader and of the DFU device (tests/fuzz/run --smoke),
# registered only where clang can link libFuzzer. `make fuzz` runs it for longer.
set(L4_FUZZ_PROBE_DIR ${CMAKE_BINARY_DIR}/fuzz-probe)
file(MAKE_DIRECTORY ${L4_FUZZ_PROBE_DIR})
file(WRITE ${L4_FUZZ_PROBE_DIR}/probe.c
  "#include <stddef.h>\n#include <stdint.h>\n"
  "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\n"
  "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n")
find_program(L4_CLANG clang)
set(L4_HAVE_LIBFUZZER FALSE)
if(L4_CLANG)
  execute_process(
    COMMAND ${L4_CLANG} -fsanitize=fuzzer,address,undefined probe.c -o probe
    WORKING_DIRECTORY ${L4_FUZZ_PROBE_DIR}
    RESULT_VARIABLE L4_FUZZ_PROBE_RESULT OUTPUT_QUIET ERROR_QUIET)
  if(L4_FUZZ_PROBE_RESULT EQUAL 0)
    set(L4_HAVE_LIBFUZZER TRUE)
  endif()
endif()
if(L4_HAVE_LIBFUZZER)
  add_test(NAME tools_fuzz_smoke
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/run ${CMAKE_BINARY_DIR} --smoke)
  set_tests_properties(tools_fuzz_smoke PROPERTIES TIMEOUT 180
                       ENVIRONMENT "L4DFU_PACK=$<TARGET_FILE:l4dfu-pack>")
else()
  message(STATUS "clang with libFuzzer not found: tools_fuzz_smoke not registered")
endif()
