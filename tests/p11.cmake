# Issue 11: keys on PKCS#11 tokens (SoftHSM2 token made by the test itself).
ks_add_unit(test_p11 ${CMAKE_SOURCE_DIR}/tests/test_p11.c)
