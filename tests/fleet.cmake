# Issue 13 (fleet scale): bulk import/export and storms, end to end.
add_test(NAME bulk_import_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/bulk_import_e2e.sh)
set_tests_properties(bulk_import_e2e PROPERTIES TIMEOUT 120 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/e2e-bulk-import")
add_test(NAME storm_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/storm_e2e.sh)
set_tests_properties(storm_e2e PROPERTIES TIMEOUT 300 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_TESTS=${CMAKE_BINARY_DIR}/tests;KS_WORK=${CMAKE_BINARY_DIR}/e2e-storm")
add_test(NAME site_fold_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/site_fold_e2e.sh)
set_tests_properties(site_fold_e2e PROPERTIES TIMEOUT 240 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/e2e-site-fold")
ks_add_unit(test_import_parse ${CMAKE_SOURCE_DIR}/tests/test_import_parse.c)
target_link_libraries(test_import_parse PRIVATE keysup_sup)
add_test(NAME resume_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/resume_e2e.sh)
set_tests_properties(resume_e2e PROPERTIES TIMEOUT 120 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/e2e-resume")
# The heartbeat outside the database lock: device-cache invalidation
# (commands, protocol, revocation under load) and shed heartbeats that are
# not a lost link.
add_test(NAME devcache_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/devcache_e2e.sh)
set_tests_properties(devcache_e2e PROPERTIES TIMEOUT 180 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_TESTS=${CMAKE_BINARY_DIR}/tests;KS_WORK=${CMAKE_BINARY_DIR}/e2e-devcache")
# One request per heartbeat: the answer's next nonce, bound to its
# controller, single use, refused after a restart without a replay.
add_test(NAME hbnonce_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/hbnonce_e2e.sh)
set_tests_properties(hbnonce_e2e PROPERTIES TIMEOUT 120 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_TESTS=${CMAKE_BINARY_DIR}/tests;KS_WORK=${CMAKE_BINARY_DIR}/e2e-hbnonce")
# The same on PostgreSQL (cluster nonces: a MAC with the controller's id).
add_test(NAME hbnonce_e2e_pg COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/hbnonce_e2e.sh)
set_tests_properties(hbnonce_e2e_pg PROPERTIES TIMEOUT 180 RUN_SERIAL TRUE
  ENVIRONMENT "KS_DB=postgresql;KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_TESTS=${CMAKE_BINARY_DIR}/tests;KS_WORK=${CMAKE_BINARY_DIR}/e2e-hbnonce-pg")

# The heartbeat session (issue 13; docs/protocol.md "Heartbeat session"):
# keys, MACs, counters, expiry, replacement, a restart, a bounded table.
ks_add_unit(test_sup_hbsess ${CMAKE_SOURCE_DIR}/tests/test_sup_hbsess.c)
target_link_libraries(test_sup_hbsess PRIVATE keysup_sup)
add_test(NAME hbsess_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/hbsess_e2e.sh)
set_tests_properties(hbsess_e2e PROPERTIES TIMEOUT 150 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_TESTS=${CMAKE_BINARY_DIR}/tests;KS_WORK=${CMAKE_BINARY_DIR}/e2e-hbsess")
# The same on PostgreSQL (a private server, pg_lib.sh): sessions stay per
# keysupd instance, the device lookup reads the database.
add_test(NAME hbsess_e2e_pg COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/hbsess_e2e.sh)
set_tests_properties(hbsess_e2e_pg PROPERTIES TIMEOUT 180 RUN_SERIAL TRUE
  ENVIRONMENT "KS_DB=postgresql;KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_TESTS=${CMAKE_BINARY_DIR}/tests;KS_WORK=${CMAKE_BINARY_DIR}/e2e-hbsess-pg")
