# End to end: real keysupd and real keysup-controller agents on loopback.
add_test(NAME controller_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/controller_e2e.sh)
set_tests_properties(controller_e2e PROPERTIES TIMEOUT 300 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/e2e-controller")

# Issue 17: field faults made the way the field makes them (no fault hooks:
# their agents run without --enable-fault-hooks).
foreach(t fault_hang fault_scrub fault_clock fault_identity fault_restart fault_restore)
  add_test(NAME ${t}_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/${t}_e2e.sh)
  set_tests_properties(${t}_e2e PROPERTIES TIMEOUT 120 RUN_SERIAL TRUE
    ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/e2e-${t};KS_FAULT_HOOKS=0")
endforeach()
# Store faults written into the image file the way the field does (issue 17
# rows 1, 4, 11): fallback refuses keys changed since, no download loop,
# `keysup flash check FILE` with no geometry flags.
add_test(NAME store_faults_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/store_faults_e2e.sh)
set_tests_properties(store_faults_e2e PROPERTIES TIMEOUT 120 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/e2e-store-faults")

# Issue 11: keys on PKCS#11 tokens (SoftHSM2 tokens made inside the test).
add_test(NAME pkcs11_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/pkcs11_e2e.sh)
set_tests_properties(pkcs11_e2e PROPERTIES TIMEOUT 120 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/e2e-pkcs11")
add_test(NAME pkcs11_sup_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/pkcs11_sup_e2e.sh)
set_tests_properties(pkcs11_sup_e2e PROPERTIES TIMEOUT 180 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/e2e-pkcs11-sup")
add_test(NAME licence_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/licence_e2e.sh)
set_tests_properties(licence_e2e PROPERTIES TIMEOUT 180 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/e2e-licence")
# The control socket's operations table and the fault-hook switch (issue 15).
add_test(NAME ctl_ops_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/ctl_ops_e2e.sh)
set_tests_properties(ctl_ops_e2e PROPERTIES TIMEOUT 60
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/e2e-ctl-ops")
# Issue 18: a new agent formats layout 2; a layout 1 image keeps working.
add_test(NAME ctl_layout_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/ctl_layout_e2e.sh)
set_tests_properties(ctl_layout_e2e PROPERTIES TIMEOUT 120 RUN_SERIAL TRUE
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/e2e-ctl-layout")
# Issue 18: failing flash sectors retired, KSE-311 in the diagnosis, the wear offline.
add_test(NAME flash_life_e2e COMMAND bash ${CMAKE_SOURCE_DIR}/tests/e2e/flash_life_e2e.sh)
set_tests_properties(flash_life_e2e PROPERTIES TIMEOUT 90
  ENVIRONMENT "KS_BIN=${CMAKE_BINARY_DIR}/bin;KS_WORK=${CMAKE_BINARY_DIR}/e2e-flash-life")
