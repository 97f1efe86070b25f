# The declared supervisor API: docs/openapi.json is current, and every
# documented route and required field holds against a running keysupd.
add_test(NAME api_schema COMMAND bash ${CMAKE_SOURCE_DIR}/tests/api_schema.sh)
set_tests_properties(api_schema PROPERTIES TIMEOUT 120
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_TESTS=${CMAKE_BINARY_DIR}/tests;KS_SRC=${CMAKE_SOURCE_DIR};KS_WORK=${CMAKE_BINARY_DIR}/api-schema")

# The decoder itself: defaults, "was it given", each refusal's message.
ks_add_unit(test_api_schema ${CMAKE_SOURCE_DIR}/tests/test_api_schema.c)
target_link_libraries(test_api_schema PRIVATE keysup_sup)
