# The supervisor link (issue 10): signed answers and the one-time code of
# Replace Supervisor Credential, as units; and a proxy between a real
# keysup-controller and a real keysupd that bends, replays and reorders answers
# (and, with answer_sign, signs its own with another key).
ks_add_unit(test_answer ${CMAKE_SOURCE_DIR}/tests/test_answer.c)
add_executable(answer_sign ${CMAKE_SOURCE_DIR}/tests/answer_sign.c)
target_link_libraries(answer_sign PRIVATE keysup_host)
set_target_properties(answer_sign PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
add_test(NAME link_mitm_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/mitm_e2e.sh)
set_tests_properties(link_mitm_e2e PROPERTIES TIMEOUT 180 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_TESTS=${CMAKE_BINARY_DIR}/tests;KS_WORK=${CMAKE_BINARY_DIR}/e2e-mitm;KS_SRC=${CMAKE_SOURCE_DIR}")
