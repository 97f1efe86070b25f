# keysupd: API tests against a real daemon on loopback (tests/supervisor_api.sh),
# with a small signing device client (sup_devreq).
add_executable(sup_devreq ${CMAKE_SOURCE_DIR}/tests/sup_devreq.c)
target_link_libraries(sup_devreq PRIVATE keysup_host PkgConfig::CURL)
set_target_properties(sup_devreq PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)

ks_add_unit(test_sup_db ${CMAKE_SOURCE_DIR}/tests/test_sup_db.c)
target_link_libraries(test_sup_db PRIVATE keysup_sup)

add_test(NAME supervisor_api COMMAND bash ${CMAKE_SOURCE_DIR}/tests/supervisor_api.sh)
set_tests_properties(supervisor_api PROPERTIES TIMEOUT 300
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_TESTS=${CMAKE_BINARY_DIR}/tests;KS_WORK=${CMAKE_BINARY_DIR}/sup-api")
# The same suite with the registry in PostgreSQL (a private server, issue 14).
add_test(NAME supervisor_api_pg COMMAND bash ${CMAKE_SOURCE_DIR}/tests/supervisor_api.sh)
set_tests_properties(supervisor_api_pg PROPERTIES TIMEOUT 300
  ENVIRONMENT "KS_DB=postgresql;KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_TESTS=${CMAKE_BINARY_DIR}/tests;KS_WORK=${CMAKE_BINARY_DIR}/sup-api-pg")

# The incremental publisher against full rebuilds, byte for byte.
ks_add_unit(test_supervisor_publish ${CMAKE_SOURCE_DIR}/tests/test_supervisor_publish.c)
target_link_libraries(test_supervisor_publish PRIVATE keysup_sup)
set_tests_properties(test_supervisor_publish PROPERTIES TIMEOUT 300)

# A restored supervisor (issue 17 row 9): detection, new history, version floor.
ks_add_unit(test_sup_restore ${CMAKE_SOURCE_DIR}/tests/test_sup_restore.c)
target_link_libraries(test_sup_restore PRIVATE keysup_sup)

# The operator API's one JSON shape (docs/api.md, "Conventions").
ks_add_unit(test_api_shape ${CMAKE_SOURCE_DIR}/tests/test_api_shape.c)
target_link_libraries(test_api_shape PRIVATE keysup_sup)
