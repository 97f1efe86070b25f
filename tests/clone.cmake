# Clone detection across controllers (issue 11 item 3, KSE-214): the rule as
# pure functions, then two controllers and a supervisor end to end.
ks_add_unit(test_clone ${CMAKE_SOURCE_DIR}/tests/test_clone.c)
target_link_libraries(test_clone PRIVATE keysup_sup)

add_test(NAME clone_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/clone_e2e.sh)
set_tests_properties(clone_e2e PROPERTIES TIMEOUT 120 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/e2e-clone")
# The same on PostgreSQL (a private server, tests/e2e/pg_lib.sh): the rule's
# SQL runs on both backends.
add_test(NAME clone_e2e_pg COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/clone_e2e.sh)
set_tests_properties(clone_e2e_pg PROPERTIES TIMEOUT 180 RUN_SERIAL TRUE
  ENVIRONMENT "KS_DB=postgresql;KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/e2e-clone-pg")
