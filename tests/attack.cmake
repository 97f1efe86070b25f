# Outside-in attacks with real processes (tests/e2e/attack_*.sh): what a
# stolen controller, a site-LAN attacker or a careless importer can do, each
# test failing on the defect it was written for.
foreach(t attack_version attack_console attack_drip attack_pgargv attack_import
    attack_replay attack_audit attack_clone attack_hang)
  add_test(NAME ${t}_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/${t}_e2e.sh)
  set_tests_properties(${t}_e2e PROPERTIES TIMEOUT 120 RUN_SERIAL TRUE
    ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_TESTS=${CMAKE_BINARY_DIR}/tests;KS_WORK=${CMAKE_BINARY_DIR}/e2e-${t}")
endforeach()
# The console's audit CSV export defuses spreadsheet formulas (node only).
add_test(NAME attack_csv_cell COMMAND node ${CMAKE_SOURCE_DIR}/tests/web/csv_cell.test.mjs)
set_tests_properties(attack_csv_cell PROPERTIES TIMEOUT 30)
# The URL given to pg_dump/pg_restore without its password (attack_pgargv_e2e).
ks_add_unit(test_sup_pgurl ${CMAKE_SOURCE_DIR}/tests/test_sup_pgurl.c)
target_link_libraries(test_sup_pgurl PRIVATE keysup_sup)
# Console sessions on the monotonic clock; unknown names locked like real ones.
ks_add_unit(test_sup_conmem ${CMAKE_SOURCE_DIR}/tests/test_sup_conmem.c)
target_link_libraries(test_sup_conmem PRIVATE keysup_sup)
# A layout-2 page map written by something else, CRCs that check.
ks_add_unit(test_store_pagemap ${CMAKE_SOURCE_DIR}/tests/test_store_pagemap.c)
# A sector zeroed by a surge, each in turn, under layout 2.
ks_add_unit(test_store_zeroed ${CMAKE_SOURCE_DIR}/tests/test_store_zeroed.c)
# The console lock per source address, the global one sparing familiar addresses.
add_test(NAME attack_lockout_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/attack_lockout_e2e.sh)
set_tests_properties(attack_lockout_e2e PROPERTIES TIMEOUT 120 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_TESTS=${CMAKE_BINARY_DIR}/tests;KS_WORK=${CMAKE_BINARY_DIR}/e2e-attack_lockout")
# The heartbeat session table on the monotonic clock: keysupd's wall clock steps.
add_test(NAME attack_hbclock_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/attack_hbclock_e2e.sh)
set_tests_properties(attack_hbclock_e2e PROPERTIES TIMEOUT 120 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_TESTS=${CMAKE_BINARY_DIR}/tests;KS_WORK=${CMAKE_BINARY_DIR}/e2e-attack_hbclock")
# The licence policy sequence after keysupd's clock ran ahead and a restore.
add_test(NAME attack_rtcjump_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/attack_rtcjump_e2e.sh)
set_tests_properties(attack_rtcjump_e2e PROPERTIES TIMEOUT 120 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_TESTS=${CMAKE_BINARY_DIR}/tests;KS_WORK=${CMAKE_BINARY_DIR}/e2e-attack_rtcjump")
# The licence policy sequence with two keysupd on one PostgreSQL.
add_test(NAME policy_seq_pg_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/policy_seq_pg_e2e.sh)
set_tests_properties(policy_seq_pg_e2e PROPERTIES TIMEOUT 180 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_TESTS=${CMAKE_BINARY_DIR}/tests;KS_WORK=${CMAKE_BINARY_DIR}/e2e-policy_seq_pg")
# The console lock per source: IPv4 address, IPv6 /64, familiar, forget.
ks_add_unit(test_sup_srclock ${CMAKE_SOURCE_DIR}/tests/test_sup_srclock.c)
target_link_libraries(test_sup_srclock PRIVATE keysup_sup)
