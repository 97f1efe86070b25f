# Issue 11: keys on PKCS#11 tokens (SoftHSM2 token made by the test itself).
ks_add_unit(test_p11 ${CMAKE_SOURCE_DIR}/tests/test_p11.c)
# SoftHSM2's own OpenSSL leaks are not keysup's (tests/lsan-softhsm.supp).
set_property(TEST test_p11 APPEND PROPERTY
  ENVIRONMENT "LSAN_OPTIONS=suppressions=${CMAKE_SOURCE_DIR}/tests/lsan-softhsm.supp")
