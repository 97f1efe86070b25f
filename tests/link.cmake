# The supervisor link (issue 10): signed answers and the one-time code of
# Replace Supervisor Credential, as units; and a proxy between a real
# keysup-controller and a real keysupd that bends, replays and reorders answers.
ks_add_unit(test_answer ${CMAKE_SOURCE_DIR}/tests/test_answer.c)
add_test(NAME link_mitm_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/mitm_e2e.sh)
set_tests_properties(link_mitm_e2e PROPERTIES TIMEOUT 180 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/e2e-mitm;KS_SRC=${CMAKE_SOURCE_DIR}")
