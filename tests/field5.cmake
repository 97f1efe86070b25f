# field5: the security items left open by field4, and faults from outside.
# Device nonces when keysupd's wall clock steps (one keysupd, then two on PostgreSQL).
add_test(NAME attack_nonceclock_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/attack_nonceclock_e2e.sh)
set_tests_properties(attack_nonceclock_e2e PROPERTIES TIMEOUT 120 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_TESTS=${CMAKE_BINARY_DIR}/tests;KS_WORK=${CMAKE_BINARY_DIR}/e2e-attack_nonceclock")
# The wall-clock step detector the nonces use.
ks_add_unit(test_sup_clockstep ${CMAKE_SOURCE_DIR}/tests/test_sup_clockstep.c)
target_link_libraries(test_sup_clockstep PRIVATE keysup_sup)
# The console's familiar addresses across a restart and two keysupd; the trusted proxy.
add_test(NAME attack_familiar_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/attack_familiar_e2e.sh)
set_tests_properties(attack_familiar_e2e PROPERTIES TIMEOUT 120 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_TESTS=${CMAKE_BINARY_DIR}/tests;KS_WORK=${CMAKE_BINARY_DIR}/e2e-attack_familiar")
# X-Forwarded-For's last hop behind console_trusted_proxy.
ks_add_unit(test_sup_proxyaddr ${CMAKE_SOURCE_DIR}/tests/test_sup_proxyaddr.c)
target_link_libraries(test_sup_proxyaddr PRIVATE keysup_sup)
# keysupd's disk full (the shim): errors, an honest log, heartbeats kept, recovery.
add_test(NAME fault_diskfull_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/fault_diskfull_e2e.sh)
set_tests_properties(fault_diskfull_e2e PROPERTIES TIMEOUT 120 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_TESTS=${CMAKE_BINARY_DIR}/tests;KS_WORK=${CMAKE_BINARY_DIR}/e2e-fault_diskfull")
# A shim that makes writes to chosen files fail (fault_flashwrite_e2e).
add_library(ks_failwrite SHARED ${CMAKE_SOURCE_DIR}/tests/shim_failwrite.c)
target_link_libraries(ks_failwrite PRIVATE dl)
# Preloaded into a sanitized agent: no instrumentation of its own (the
# sanitizer and coverage options of the build are not for a preload).
set_target_properties(ks_failwrite PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests
  COMPILE_OPTIONS "-Wall;-Wextra;-Werror" LINK_OPTIONS "")
# The controller's flash file cannot be written while a revocation arrives.
add_test(NAME fault_flashwrite_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/fault_flashwrite_e2e.sh)
set_tests_properties(fault_flashwrite_e2e PROPERTIES TIMEOUT 120 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_TESTS=${CMAKE_BINARY_DIR}/tests;KS_WORK=${CMAKE_BINARY_DIR}/e2e-fault_flashwrite")
