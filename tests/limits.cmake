# Per-route request body limits (sup_route.body, the schema's body kind):
# max_body for ordinary routes, import_max_body for the bulk import.
add_test(NAME body_limit_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/body_limit_e2e.sh)
set_tests_properties(body_limit_e2e PROPERTIES TIMEOUT 60
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/e2e-body-limit")
