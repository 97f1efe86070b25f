# The host key file and the offline `keysup` CLI.
ks_add_unit(test_keyfile ${CMAKE_SOURCE_DIR}/tests/test_keyfile.c)

add_test(NAME cli_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/cli_e2e.sh)
set_tests_properties(cli_e2e PROPERTIES
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/cli-e2e")

# The C formats against an independent Python reading of docs/formats.md.
add_test(NAME formats_reference COMMAND bash ${CMAKE_SOURCE_DIR}/tests/ref/ref_e2e.sh)
set_tests_properties(formats_reference PROPERTIES
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/ref-e2e")
