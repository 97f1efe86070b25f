# Diagnosis scenarios (issue 7): real keysupd and keysup-controller agents with
# 1 s heartbeats, faults injected; each names its root cause and shows MTTD/MTTR.
add_test(NAME diagnosis_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/diagnosis_e2e.sh)
set_tests_properties(diagnosis_e2e PROPERTIES TIMEOUT 300 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/e2e-diagnosis")

# The walk itself, as a pure function of constructed facts.
ks_add_unit(test_diag_rules ${CMAKE_SOURCE_DIR}/tests/test_diag_rules.c)
target_link_libraries(test_diag_rules PRIVATE keysup_sup)
# What a KSE-800 finding says: licence, feature and fix (docs/licences.md).
ks_add_unit(test_diag_licence ${CMAKE_SOURCE_DIR}/tests/test_diag_licence.c)
target_link_libraries(test_diag_licence PRIVATE keysup_sup)
# The diagnosis queue: one entry per controller and agent instance, the
# newest report judged (issue 13: memory O(controllers), not O(heartbeats)).
ks_add_unit(test_sup_hbq ${CMAKE_SOURCE_DIR}/tests/test_sup_hbq.c)
target_link_libraries(test_sup_hbq PRIVATE keysup_sup)
