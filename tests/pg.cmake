# Issue 14: PostgreSQL, several keysupd, failover, backup and restore. Each
# test starts a private PostgreSQL server (tests/e2e/pg_lib.sh: initdb into a
# temporary directory, a free port) and stops it at the end.
# (supervisor_api_pg, the API suite on PostgreSQL, is in supervisor.cmake.)
add_test(NAME controller_e2e_pg COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/controller_e2e.sh)
set_tests_properties(controller_e2e_pg PROPERTIES TIMEOUT 300 RUN_SERIAL TRUE
  ENVIRONMENT "KS_DB=postgresql;KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/e2e-controller-pg")
# Two keysupd on one PostgreSQL, kill -9 of the publisher mid-burst (twice).
add_test(NAME failover_pg_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/failover_pg_e2e.sh)
set_tests_properties(failover_pg_e2e PROPERTIES TIMEOUT 300 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/e2e-failover-pg")
# keysup backup (online) -> changes -> keysup restore -> the printed steps.
add_test(NAME backup_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/backup_e2e.sh)
set_tests_properties(backup_e2e PROPERTIES TIMEOUT 300 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/e2e-backup")
add_test(NAME backup_e2e_pg COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/backup_e2e.sh)
set_tests_properties(backup_e2e_pg PROPERTIES TIMEOUT 300 RUN_SERIAL TRUE
  ENVIRONMENT "KS_DB=postgresql;KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/e2e-backup-pg")
# The storage interface's unit cases on PostgreSQL.
add_test(NAME test_sup_db_pg COMMAND bash ${CMAKE_SOURCE_DIR}/tests/pg_unit.sh)
set_tests_properties(test_sup_db_pg PROPERTIES TIMEOUT 120
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_TESTS=${CMAKE_BINARY_DIR}/tests;KS_WORK=${CMAKE_BINARY_DIR}/test-sup-db-pg")
# A signing-key rotation on one of two keysupd is taken by the other
# (sup_keyfollow.c), also by one that was down meanwhile.
add_test(NAME pg_rotate_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/pg_rotate_e2e.sh)
set_tests_properties(pg_rotate_e2e PROPERTIES TIMEOUT 180 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/e2e-pg-rotate")
# Licences and their enforcement on PostgreSQL (numbered SQL parameters).
add_test(NAME licence_e2e_pg COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/licence_e2e.sh)
set_tests_properties(licence_e2e_pg PROPERTIES TIMEOUT 180 RUN_SERIAL TRUE
  ENVIRONMENT "KS_DB=postgresql;KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/e2e-licence-pg")
