# keysup-sim against a real keysupd (issue 13): 200 simulated controllers
# converge, a revocation reaches all of them, injected faults show in the
# diagnosis with the right codes and counts.
add_test(NAME sim_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/sim_e2e.sh)
set_tests_properties(sim_e2e PROPERTIES TIMEOUT 180 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/e2e-sim")

# Heartbeat soft state: folded per controller, written in batches (sup_soft.c).
ks_add_unit(test_sup_soft ${CMAKE_SOURCE_DIR}/tests/test_sup_soft.c)
target_link_libraries(test_sup_soft PRIVATE keysup_sup)
