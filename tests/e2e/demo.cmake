# `make demo` itself, so CI proves the README's first command works on a fresh machine.
add_test(NAME make_demo COMMAND bash ${CMAKE_SOURCE_DIR}/scripts/demo ${CMAKE_BINARY_DIR})
set_tests_properties(make_demo PROPERTIES LABELS e2e TIMEOUT 300)
