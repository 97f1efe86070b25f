# keysupd against hostile clients (issue 10, "Hardening"): permissions, the
# data directory lock, bad request targets, log injection, floods, refusal
# sampling, retention (harden_e2e); connection exhaustion, slowloris and
# unauthenticated bodies with the python3 load clients (harden_load).
add_test(NAME harden_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/harden_e2e.sh)
set_tests_properties(harden_e2e PROPERTIES TIMEOUT 120
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_TESTS=${CMAKE_BINARY_DIR}/tests;KS_WORK=${CMAKE_BINARY_DIR}/harden-e2e")
add_test(NAME harden_load COMMAND bash ${CMAKE_SOURCE_DIR}/tests/harden_load.sh)
set_tests_properties(harden_load PROPERTIES TIMEOUT 120 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/harden-load")

# The pure parts: escaping, target checks, the owner-tagged nonce table.
ks_add_unit(test_sup_guard ${CMAKE_SOURCE_DIR}/tests/test_sup_guard.c)
target_link_libraries(test_sup_guard PRIVATE keysup_sup)
# Request body buffers and the worker thread's cache of request states
# (sup_reqbuf.h): the body limit, wiping on reuse, bounded reuse.
ks_add_unit(test_sup_reqbuf ${CMAKE_SOURCE_DIR}/tests/test_sup_reqbuf.c)
target_link_libraries(test_sup_reqbuf PRIVATE keysup_sup)
