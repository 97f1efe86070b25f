# Issue 13 (fleet scale): bulk import/export and storms, end to end.
add_test(NAME bulk_import_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/bulk_import_e2e.sh)
set_tests_properties(bulk_import_e2e PROPERTIES TIMEOUT 120 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/e2e-bulk-import")
