# The report only when it changed (issue 13; docs/protocol.md "The report
# only when it changed"): the agent's hash, keysupd's held reports, a
# restart, and the same diagnosis whether reports go whole or short.
ks_add_unit(test_hbrep ${CMAKE_SOURCE_DIR}/tests/test_hbrep.c)
target_link_libraries(test_hbrep PRIVATE keysup_sup keysup_ctl)
add_test(NAME hbrep_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/hbrep_e2e.sh)
set_tests_properties(hbrep_e2e PROPERTIES TIMEOUT 150 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_TESTS=${CMAKE_BINARY_DIR}/tests;KS_WORK=${CMAKE_BINARY_DIR}/e2e-hbrep")
# The same on PostgreSQL (a private server, pg_lib.sh): the held reports
# stay per keysupd instance, the device lookup reads the database.
add_test(NAME hbrep_e2e_pg COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/hbrep_e2e.sh)
set_tests_properties(hbrep_e2e_pg PROPERTIES TIMEOUT 180 RUN_SERIAL TRUE
  ENVIRONMENT "KS_DB=postgresql;KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_TESTS=${CMAKE_BINARY_DIR}/tests;KS_WORK=${CMAKE_BINARY_DIR}/e2e-hbrep-pg")
