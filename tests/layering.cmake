# One-way layering (issue 15): includes per layer, and the keysup CLI's link
# line and binary (no keysup_sup, SQLite or libmicrohttpd).
add_test(NAME layering COMMAND bash ${CMAKE_SOURCE_DIR}/tests/layering.sh ${CMAKE_SOURCE_DIR}
                               ${CMAKE_BINARY_DIR})
set_tests_properties(layering PROPERTIES TIMEOUT 60)
